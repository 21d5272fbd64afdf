import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { countTokens } from 'gpt-tokenizer';
import { countPromptTokens, simulatedText, startSimulator, SIM_FAULT_HEADER, type SimulatorOptions } from '../../src/catalog/simulator.js';

async function sim(t: { after: (fn: () => Promise<void>) => void }, opts: SimulatorOptions = {}) {
  const s = await startSimulator({ chunkDelayMs: 0, ...opts });
  t.after(() => s.close());
  return s;
}

const messages = [{ role: 'user', content: 'Say hello to the operator.' }];

async function chat(baseUrl: string, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  const res = await request(`${baseUrl}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model: 'openai/gpt-4', messages, ...body }),
  });
  let text = '';
  let error: unknown;
  try {
    for await (const part of res.body) text += Buffer.from(part as Buffer).toString('utf8');
  } catch (err) {
    error = err;
  }
  return { status: res.statusCode, headers: res.headers, text, error };
}

/** Data payloads of an SSE body (comments skipped). */
function sseEvents(text: string): string[] {
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .flatMap((block) =>
      block
        .split('\n')
        .filter((l) => l.startsWith('data: '))
        .map((l) => l.slice(6)),
    );
}

test('GET /models serves the 371-model fixture; /key and /credits report credit', async (t) => {
  const s = await sim(t, { credits: { limit: 50, usage: 12.5, totalCredits: 80 } });
  const models = (await (await fetch(`${s.baseUrl}/models`)).json()) as { data: Array<{ id: string }> };
  assert.equal(models.data.length, 371);
  assert.ok(models.data.some((m) => m.id === 'openai/gpt-4'));
  const key = (await (await fetch(`${s.baseUrl}/key`)).json()) as { data: { usage: number; limit: number; limit_remaining: number } };
  assert.deepEqual([key.data.usage, key.data.limit, key.data.limit_remaining], [12.5, 50, 37.5]);
  const credits = (await (await fetch(`${s.baseUrl}/credits`)).json()) as { data: { total_credits: number; total_usage: number } };
  assert.deepEqual(credits.data, { total_credits: 80, total_usage: 12.5 });
});

test('apiKey: requests without the bearer key get a 401 in OpenRouter error shape', async (t) => {
  const s = await sim(t, { apiKey: 'sk-or-test' });
  const bad = await fetch(`${s.baseUrl}/models`);
  assert.equal(bad.status, 401);
  const body = (await bad.json()) as { error: { code: number; message: string } };
  assert.equal(body.error.code, 401);
  assert.equal(typeof body.error.message, 'string');
  const good = await fetch(`${s.baseUrl}/models`, { headers: { authorization: 'Bearer sk-or-test' } });
  assert.equal(good.status, 200);
  await good.arrayBuffer();
});

test('non-stream completion: OpenAI shape, deterministic usage and USD cost', async (t) => {
  const s = await sim(t, { completionTokens: 40 });
  const r = await chat(s.baseUrl, {});
  assert.equal(r.status, 200);
  const body = JSON.parse(r.text);
  assert.equal(body.object, 'chat.completion');
  assert.equal(body.model, 'openai/gpt-4');
  const content = body.choices[0].message.content as string;
  assert.equal(countTokens(content), 40);
  assert.equal(content, simulatedText(40));
  const prompt = countPromptTokens(messages);
  assert.deepEqual({ p: body.usage.prompt_tokens, c: body.usage.completion_tokens, t: body.usage.total_tokens }, { p: prompt, c: 40, t: prompt + 40 });
  // gpt-4: $30/Mtok prompt, $60/Mtok completion
  assert.ok(Math.abs(body.usage.cost - (prompt * 30 + 40 * 60) / 1e6) < 1e-12);
  const [rec] = s.requests;
  assert.equal(rec.model, 'openai/gpt-4');
  assert.equal(rec.stream, false);
  assert.equal(rec.promptTokens, prompt);
  assert.equal(rec.completionTokensSent, 40);
  assert.equal(rec.usageReported, true);
  assert.equal(rec.aborted, false);
  assert.equal(rec.costUsd, body.usage.cost);
});

test('max_tokens is honoured and finish_reason is length', async (t) => {
  const s = await sim(t, { completionTokens: 40 });
  const r = await chat(s.baseUrl, { max_tokens: 7 });
  const body = JSON.parse(r.text);
  assert.equal(body.usage.completion_tokens, 7);
  assert.equal(countTokens(body.choices[0].message.content), 7);
  assert.equal(body.choices[0].finish_reason, 'length');
  const big = JSON.parse((await chat(s.baseUrl, { max_tokens: 1000 })).text);
  assert.equal(big.usage.completion_tokens, 40);
  assert.equal(big.choices[0].finish_reason, 'stop');
});

test('stream: processing comments, one token per chunk, usage chunk with choices, [DONE]', async (t) => {
  const s = await sim(t, { completionTokens: 12, chunkDelayMs: 1 });
  const r = await chat(s.baseUrl, { stream: true, stream_options: { include_usage: true } });
  assert.equal(r.status, 200);
  assert.match(String(r.headers['content-type']), /text\/event-stream/);
  assert.ok(r.text.startsWith(': OPENROUTER PROCESSING\n\n'));
  const events = sseEvents(r.text);
  assert.equal(events.at(-1), '[DONE]');
  const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
  const tokenChunks = chunks.filter((c) => c.choices[0].delta.content);
  assert.equal(tokenChunks.length, 12);
  assert.equal(tokenChunks.map((c) => c.choices[0].delta.content).join(''), simulatedText(12));
  const usageChunk = chunks.at(-1);
  assert.ok(Array.isArray(usageChunk.choices) && usageChunk.choices.length === 1, 'usage chunk still carries choices');
  assert.equal(usageChunk.usage.completion_tokens, 12);
  assert.equal(chunks.filter((c) => c.usage).length, 1);
  assert.equal(s.requests[0].usageReported, true);
  assert.equal(s.requests[0].completionTokensSent, 12);
});

test('stream without include_usage sends no usage chunk', async (t) => {
  const s = await sim(t, { completionTokens: 5 });
  const r = await chat(s.baseUrl, { stream: true, max_tokens: 3 });
  const chunks = sseEvents(r.text)
    .slice(0, -1)
    .map((e) => JSON.parse(e));
  assert.equal(chunks.filter((c) => c.usage).length, 0);
  assert.equal(chunks.filter((c) => c.choices[0].delta.content).length, 3);
  assert.equal(s.requests[0].usageReported, false);
});

test('unknown model and bad JSON are 400 in OpenRouter error shape', async (t) => {
  const s = await sim(t);
  const r = await chat(s.baseUrl, { model: 'nope/not-a-model' });
  assert.equal(r.status, 400);
  assert.equal(JSON.parse(r.text).error.code, 400);
  assert.match(JSON.parse(r.text).error.message, /nope\/not-a-model/);
  const bad = await fetch(`${s.baseUrl}/chat/completions`, { method: 'POST', body: '{not json' });
  assert.equal(bad.status, 400);
  assert.equal(((await bad.json()) as { error: { code: number } }).error.code, 400);
});

test('fault: status (setFault persists, queueFault applies once, header per request)', async (t) => {
  const s = await sim(t);
  s.queueFault({ kind: 'status', status: 429, retryAfter: 3 });
  const first = await chat(s.baseUrl, {});
  assert.equal(first.status, 429);
  assert.equal(first.headers['retry-after'], '3');
  assert.equal(JSON.parse(first.text).error.code, 429);
  assert.equal((await chat(s.baseUrl, {})).status, 200);
  s.setFault({ kind: 'status', status: 503 });
  assert.equal((await chat(s.baseUrl, {})).status, 503);
  assert.equal((await chat(s.baseUrl, {})).status, 503);
  s.setFault(null);
  const viaHeader = await chat(s.baseUrl, {}, { [SIM_FAULT_HEADER]: JSON.stringify({ kind: 'status', status: 402 }) });
  assert.equal(viaHeader.status, 402);
  assert.equal((await chat(s.baseUrl, {})).status, 200);
  assert.deepEqual(
    s.requests.map((r) => r.status),
    [429, 200, 503, 503, 402, 200],
  );
  assert.equal(s.requests[0].completionTokensSent, 0);
  assert.equal(s.requests[0].costUsd, 0);
  // faults target chat completions unless told otherwise
  s.queueFault({ kind: 'status', status: 500, endpoint: 'models' });
  assert.equal((await chat(s.baseUrl, {})).status, 200);
  assert.equal((await fetch(`${s.baseUrl}/models`)).status, 500);
});

test('fault: midstream_error sends n tokens then an error event and ends', async (t) => {
  const s = await sim(t, { completionTokens: 20 });
  s.queueFault({ kind: 'midstream_error', afterTokens: 4 });
  const r = await chat(s.baseUrl, { stream: true, stream_options: { include_usage: true } });
  assert.equal(r.status, 200);
  const events = sseEvents(r.text);
  assert.notEqual(events.at(-1), '[DONE]');
  const last = JSON.parse(events.at(-1)!);
  assert.equal(last.error.code, 'server_error');
  const tokens = events
    .slice(0, -1)
    .map((e) => JSON.parse(e))
    .filter((c) => c.choices[0].delta.content);
  assert.equal(tokens.length, 4);
  assert.equal(s.requests[0].completionTokensSent, 4);
  assert.equal(s.requests[0].usageReported, false);
});

test('fault: cut destroys the socket after n tokens (no usage, no [DONE])', async (t) => {
  const s = await sim(t, { completionTokens: 20, chunkDelayMs: 1 });
  s.queueFault({ kind: 'cut', afterTokens: 5 });
  const r = await chat(s.baseUrl, { stream: true, stream_options: { include_usage: true } });
  assert.ok(r.error, 'the body read fails');
  assert.ok(!r.text.includes('[DONE]'));
  assert.ok(!r.text.includes('"usage"'));
  assert.equal(sseEvents(r.text).length, 5);
  await s.idle();
  assert.equal(s.requests[0].completionTokensSent, 5);
  assert.equal(s.requests[0].aborted, false);
});

test('fault: no_usage streams without the usage chunk even when asked', async (t) => {
  const s = await sim(t, { completionTokens: 6 });
  s.queueFault({ kind: 'no_usage' });
  const r = await chat(s.baseUrl, { stream: true, stream_options: { include_usage: true } });
  assert.equal(sseEvents(r.text).at(-1), '[DONE]');
  assert.ok(!r.text.includes('"usage"'));
  assert.equal(s.requests[0].usageReported, false);
  assert.equal(s.requests[0].completionTokensSent, 6);
});

test('fault: slow delays the response; hang never answers until the client leaves', async (t) => {
  const s = await sim(t, { completionTokens: 3 });
  s.queueFault({ kind: 'slow', delayMs: 30 });
  assert.equal((await chat(s.baseUrl, {})).status, 200);
  s.queueFault({ kind: 'hang' });
  await assert.rejects(
    request(`${s.baseUrl}/chat/completions`, {
      method: 'POST',
      body: JSON.stringify({ model: 'openai/gpt-4', messages }),
      headersTimeout: 100,
    }),
    (err: Error & { code?: string }) => err.code === 'UND_ERR_HEADERS_TIMEOUT',
  );
  await s.idle();
  assert.equal(s.requests[1].fault?.kind, 'hang');
  assert.equal(s.requests[1].aborted, true);
  assert.equal(s.requests[1].status, 0);
});

test('a client that disconnects mid-stream stops the generation', async (t) => {
  const s = await sim(t, { completionTokens: 500, chunkDelayMs: 2 });
  const ac = new AbortController();
  const res = await request(`${s.baseUrl}/chat/completions`, {
    method: 'POST',
    body: JSON.stringify({ model: 'openai/gpt-4', messages, stream: true }),
    signal: ac.signal,
  });
  let seen = 0;
  await assert.rejects(async () => {
    for await (const part of res.body) {
      seen += (
        Buffer.from(part as Buffer)
          .toString('utf8')
          .match(/"content":"[^"]/g) ?? []
      ).length;
      if (seen >= 3) ac.abort();
    }
  });
  await s.idle();
  const rec = s.requests[0];
  assert.equal(rec.aborted, true);
  assert.ok(rec.completionTokensSent >= 3 && rec.completionTokensSent < 500, `sent ${rec.completionTokensSent}`);
  assert.equal(rec.usageReported, false);
});

test('reset clears the record and faults; close is idempotent', async (t) => {
  const s = await sim(t);
  s.setFault({ kind: 'status', status: 500 });
  await chat(s.baseUrl, {});
  s.reset();
  assert.equal(s.requests.length, 0);
  assert.equal((await chat(s.baseUrl, {})).status, 200);
  await s.close();
  await s.close();
});

test('special-token strings in a prompt are counted as text, not an error', () => {
  const n = countPromptTokens([{ role: 'user', content: 'before <|endoftext|> after' }]);
  assert.ok(n > 6, `counted ${n}`);
});
