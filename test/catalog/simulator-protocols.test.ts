/**
 * The simulator's non-chat protocols, driven by the official clients customers use (`@anthropic-ai/sdk`,
 * `openai`): shapes, SSE sequences, usage per class in each protocol's own shape, OpenRouter's cost
 * fields, faults, routing behaviour, and the per-class record.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { request } from 'undici';
import { countTextTokens, PREMIUM_PROVIDER, simulatedText, simulatedThinking, startSimulator, type SimulatorOptions } from '../../src/catalog/simulator.js';

async function sim(t: { after: (fn: () => Promise<void>) => void }, opts: SimulatorOptions = {}) {
  const s = await startSimulator({ chunkDelayMs: 0, ...opts });
  t.after(() => s.close());
  return s;
}

const anthropic = (baseUrl: string) => new Anthropic({ baseURL: baseUrl.replace(/\/v1$/, ''), apiKey: 'sk-or-test', maxRetries: 0 });
const openai = (baseUrl: string) => new OpenAI({ baseURL: baseUrl, apiKey: 'sk-or-test', maxRetries: 0 });

// µ$/Mtok = $/Mtok; claude-sonnet-4.6: prompt 3, completion 15, cache read 0.3, cache write 3.75
const SONNET = 'anthropic/claude-sonnet-4.6';
const SONNET_RATES = { prompt: 3, completion: 15, cacheRead: 0.3, cacheWrite: 3.75 };
// gpt-4.1: prompt 2, completion 8, cache read 0.5 (no cache-write rate: the prompt rate)
const GPT41 = 'openai/gpt-4.1';
const GPT41_RATES = { prompt: 2, completion: 8, cacheRead: 0.5, cacheWrite: 2 };

function usd(t: { input: number; cacheRead: number; cacheWrite: number; output: number; reasoning: number }, r: typeof SONNET_RATES, times = 1) {
  return ((t.input * r.prompt + t.cacheRead * r.cacheRead + t.cacheWrite * r.cacheWrite + (t.output + t.reasoning) * r.completion) * times) / 1e6;
}

const near = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-12, `${what}: ${a} vs ${b}`);

/** `event:` names of an SSE body, in order. */
function sseNames(text: string): string[] {
  return [...text.matchAll(/^event: (.+)$/gm)].map((m) => m[1]);
}

async function raw(url: string, body: unknown) {
  const res = await request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  let text = '';
  let error: unknown;
  try {
    for await (const part of res.body) text += Buffer.from(part as Buffer).toString('utf8');
  } catch (err) {
    error = err;
  }
  return { status: res.statusCode, text, error };
}

const PROMPT = 'Summarise the attached repository for a new engineer. '.repeat(20);

test('messages.create: Anthropic shape, cache classes beside input_tokens, thinking inside output, cost per class', async (t) => {
  const s = await sim(t, { completionTokens: 12 });
  const system = [{ type: 'text' as const, text: `You are terse. [sim:cache_read=200][sim:cache_write=50][sim:reasoning=7]`, cache_control: { type: 'ephemeral' as const } }];
  const messages = [{ role: 'user' as const, content: PROMPT }];
  const msg = await anthropic(s.baseUrl).messages.create({ model: SONNET, max_tokens: 1000, system, messages });
  const prompt = 3 + countTextTokens(system) + countTextTokens(messages);
  assert.equal(msg.type, 'message');
  assert.equal(msg.model, SONNET);
  assert.equal(msg.stop_reason, 'end_turn');
  assert.deepEqual(
    msg.content.map((b) => b.type),
    ['thinking', 'text'],
  );
  assert.equal((msg.content[1] as { text: string }).text, simulatedText(12));
  assert.equal((msg.content[0] as { thinking: string }).thinking, simulatedThinking(7));
  assert.equal(msg.usage.input_tokens, prompt - 250);
  assert.equal(msg.usage.cache_read_input_tokens, 200);
  assert.equal(msg.usage.cache_creation_input_tokens, 50);
  assert.equal(msg.usage.output_tokens, 19);
  const [rec] = s.requests;
  assert.deepEqual(rec.tokens, { input: prompt - 250, cacheRead: 200, cacheWrite: 50, output: 12, reasoning: 7 });
  assert.equal(rec.promptTokens, prompt);
  const usage = msg.usage as unknown as { cost: number; is_byok: boolean; cost_details: object };
  near(usage.cost, usd(rec.tokens, SONNET_RATES), 'usage.cost');
  assert.equal(rec.costUsd, usage.cost);
  assert.equal(usage.is_byok, false);
  assert.ok(usage.cost_details);
  assert.equal((msg as unknown as { provider: string }).provider, 'Simulator');
  assert.deepEqual(rec.routing, []);
});

test('messages.stream: the real SSE sequence; usage from message_start + message_delta; max_tokens caps thinking and text', async (t) => {
  const s = await sim(t, { completionTokens: 30 });
  const body = { model: SONNET, max_tokens: 10, stream: true, messages: [{ role: 'user', content: `hi [sim:reasoning=4][sim:cache_read=all]` }] };
  const r = await raw(`${s.baseUrl}/messages`, body);
  assert.equal(r.status, 200);
  const names = sseNames(r.text);
  assert.deepEqual(names.slice(0, 3), ['message_start', 'ping', 'content_block_start']);
  assert.deepEqual(names.slice(-3), ['content_block_stop', 'message_delta', 'message_stop']);
  assert.equal(names.filter((n) => n === 'content_block_start').length, 2, 'a thinking block then a text block');
  assert.equal(names.filter((n) => n === 'content_block_delta').length, 4 + 6 + 1, '4 thinking deltas, a signature, 6 text deltas');
  const delta = JSON.parse(/event: message_delta\ndata: (.+)/.exec(r.text)![1]);
  assert.equal(delta.delta.stop_reason, 'max_tokens');
  assert.equal(delta.usage.output_tokens, 10);
  const start = JSON.parse(/event: message_start\ndata: (.+)/.exec(r.text)![1]);
  assert.equal(start.message.usage.input_tokens, 0);
  assert.equal(start.message.usage.output_tokens, 1);
  assert.equal(start.message.provider, 'Simulator');
  assert.deepEqual(s.requests[0].tokens, { input: 0, cacheRead: s.requests[0].promptTokens, cacheWrite: 0, output: 6, reasoning: 4 });
  assert.equal(s.requests[0].usageReported, true);

  // the SDK assembles the same stream
  const final = await anthropic(s.baseUrl)
    .messages.stream({ model: SONNET, max_tokens: 1000, messages: [{ role: 'user', content: 'hello [sim:cache_write=5]' }] })
    .finalMessage();
  assert.equal((final.content[0] as { text: string }).text, simulatedText(30));
  assert.equal(final.usage.output_tokens, 30);
  assert.equal(final.usage.cache_creation_input_tokens, 5);
  near(s.requests[1].costUsd, usd(s.requests[1].tokens, SONNET_RATES), 'stream cost');
  const streamedCost = JSON.parse(/event: message_delta\ndata: (.+)/.exec(r.text)![1]).usage.cost;
  near(streamedCost, usd(s.requests[0].tokens, SONNET_RATES), 'message_delta carries the cost');
});

test('responses.create (non-stream and stream): cached inside input_tokens, reasoning inside output_tokens', async (t) => {
  const s = await sim(t, { completionTokens: 9 });
  const client = openai(s.baseUrl);
  const input = [
    { role: 'developer' as const, content: 'Be brief. [sim:cache_read=20][sim:reasoning=5]' },
    { role: 'user' as const, content: PROMPT },
  ];
  const prompt = 3 + countTextTokens(input);
  const whole = await client.responses.create({ model: GPT41, input, store: false });
  assert.equal(whole.status, 'completed');
  assert.equal(whole.output_text, simulatedText(9));
  assert.deepEqual(
    whole.output.map((o) => o.type),
    ['reasoning', 'message'],
  );
  assert.equal(whole.usage?.input_tokens, prompt);
  assert.equal(whole.usage?.input_tokens_details.cached_tokens, 20);
  assert.equal(whole.usage?.output_tokens, 14);
  assert.equal(whole.usage?.output_tokens_details.reasoning_tokens, 5);
  assert.deepEqual(s.requests[0].tokens, { input: prompt - 20, cacheRead: 20, cacheWrite: 0, output: 9, reasoning: 5 });
  near((whole.usage as unknown as { cost: number }).cost, usd(s.requests[0].tokens, GPT41_RATES), 'cost');

  const events: string[] = [];
  let completed: OpenAI.Responses.Response | undefined;
  for await (const ev of await client.responses.create({ model: GPT41, input, stream: true })) {
    events.push(ev.type);
    if (ev.type === 'response.completed') completed = ev.response;
  }
  assert.deepEqual(events.slice(0, 4), ['response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added']);
  assert.equal(events.filter((e) => e === 'response.reasoning_text.delta').length, 5);
  assert.equal(events.filter((e) => e === 'response.output_text.delta').length, 9);
  assert.equal(events.at(-1), 'response.completed');
  assert.equal(completed?.usage?.output_tokens, 14);
  assert.equal(completed?.usage?.input_tokens_details.cached_tokens, 20);

  // the stream helper too, and a cap: response.incomplete carries the usage
  const helper = client.responses.stream({ model: GPT41, input: 'Hello', max_output_tokens: 4 });
  const final = await helper.finalResponse();
  assert.equal(final.status, 'incomplete');
  assert.equal(final.incomplete_details?.reason, 'max_output_tokens');
  assert.equal(final.output_text, simulatedText(4));
  assert.equal(final.usage?.output_tokens, 4);
  assert.equal(s.requests[2].maxTokens, 4);
});

test('completions (legacy): text_completion shape, stream with the usage chunk when asked', async (t) => {
  const s = await sim(t, { completionTokens: 6 });
  const client = openai(s.baseUrl);
  const c = await client.completions.create({ model: 'openai/gpt-3.5-turbo-instruct', prompt: 'Once upon a time', max_tokens: 50 });
  assert.equal(c.object, 'text_completion');
  assert.equal(c.choices[0].text, simulatedText(6));
  assert.equal(c.usage?.prompt_tokens, countTextTokens('Once upon a time'));
  assert.equal(c.usage?.completion_tokens, 6);
  const chunks: OpenAI.Completions.Completion[] = [];
  for await (const ch of await client.completions.create({ model: 'openai/gpt-3.5-turbo-instruct', prompt: ['a', 'b'], max_tokens: 3, stream: true, stream_options: { include_usage: true } }))
    chunks.push(ch);
  assert.equal(chunks.map((ch) => ch.choices[0]?.text ?? '').join(''), simulatedText(3));
  assert.equal(chunks.filter((ch) => ch.usage).length, 1);
  assert.equal(chunks.at(-1)?.usage?.completion_tokens, 3);
  assert.equal(chunks.find((ch) => ch.choices[0]?.finish_reason)?.choices[0].finish_reason, 'length');
  assert.equal(s.requests[1].usageReported, true);
});

test('embeddings: base64 (the SDK default) and float give the same vectors; usage and cost; own model list', async (t) => {
  const s = await sim(t);
  const client = openai(s.baseUrl);
  const b64 = await client.embeddings.create({ model: 'openai/text-embedding-3-small', input: ['alpha', 'beta gamma'] });
  const float = await client.embeddings.create({ model: 'openai/text-embedding-3-small', input: ['alpha', 'beta gamma'], encoding_format: 'float' });
  assert.equal(s.requests[0].body?.encoding_format, 'base64');
  assert.equal(b64.data.length, 2);
  assert.equal(b64.data[0].embedding.length, 8);
  assert.deepEqual(b64.data[1].embedding, float.data[1].embedding);
  assert.notDeepEqual(b64.data[0].embedding, b64.data[1].embedding);
  const tokens = countTextTokens('alpha') + countTextTokens('beta gamma');
  assert.equal(b64.usage.prompt_tokens, tokens);
  near((b64.usage as unknown as { cost: number }).cost, (tokens * 0.02) / 1e6, 'embedding cost');
  assert.deepEqual(s.requests[0].tokens, { input: tokens, cacheRead: 0, cacheWrite: 0, output: 0, reasoning: 0 });
  const dims = await client.embeddings.create({ model: 'openai/text-embedding-3-large', input: 'x', dimensions: 3, encoding_format: 'float' });
  assert.equal(dims.data[0].embedding.length, 3);
  const list = (await (await fetch(`${s.baseUrl}/embeddings/models`)).json()) as { data: Array<{ id: string; architecture: { output_modalities: string[] } }> };
  assert.deepEqual(
    list.data.map((m) => m.id),
    ['openai/text-embedding-3-small', 'openai/text-embedding-3-large'],
  );
  assert.deepEqual(list.data[0].architecture.output_modalities, ['embeddings']);
  await assert.rejects(client.embeddings.create({ model: 'openai/gpt-4', input: 'x' }), (e: Error & { status?: number }) => e.status === 400);
});

test('faults on every endpoint, in each protocol’s shape', async (t) => {
  const s = await sim(t, { completionTokens: 20 });
  // a status on Messages is an Anthropic error
  s.queueFault({ kind: 'status', status: 529, endpoint: 'messages' });
  await assert.rejects(
    anthropic(s.baseUrl).messages.create({ model: SONNET, max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }),
    (e: Error & { status?: number; error?: { type: string; error: { type: string } } }) => {
      assert.equal(e.status, 529);
      assert.equal(e.error?.type, 'error');
      assert.equal(e.error?.error.type, 'overloaded_error');
      return true;
    },
  );
  // mid-stream error event after 3 tokens
  s.queueFault({ kind: 'midstream_error', afterTokens: 3, endpoint: ['messages', 'responses'] });
  const m = await raw(`${s.baseUrl}/messages`, { model: SONNET, max_tokens: 50, stream: true, messages: [{ role: 'user', content: 'x' }] });
  assert.equal(sseNames(m.text).at(-1), 'error');
  assert.equal(sseNames(m.text).filter((n) => n === 'content_block_delta').length, 3);
  assert.equal(s.requests[1].completionTokensSent, 3);
  assert.equal(s.requests[1].usageReported, false);
  // a cut Responses stream, forced by a prompt marker (passes through any proxy)
  const cut = await raw(`${s.baseUrl}/responses`, { model: GPT41, input: 'x [sim:fault=cut:4]', stream: true });
  assert.ok(cut.error, 'the socket was cut');
  assert.ok(!cut.text.includes('response.completed'));
  await s.idle();
  assert.equal(s.requests[2].fault?.kind, 'cut');
  assert.equal(s.requests[2].tokens.output, 4);
  // endpoint lists and `any`
  s.queueFault({ kind: 'status', status: 503, endpoint: 'any' });
  assert.equal((await raw(`${s.baseUrl}/embeddings`, { model: 'openai/text-embedding-3-small', input: 'x' })).status, 503);
  s.queueFault({ kind: 'no_usage', endpoint: 'completions' });
  const nu = await raw(`${s.baseUrl}/completions`, { model: 'openai/gpt-3.5-turbo-instruct', prompt: 'x' });
  assert.equal(JSON.parse(nu.text).usage, undefined);
  // a Responses stream without usage: response.completed with usage null
  const nr = await raw(`${s.baseUrl}/responses`, { model: GPT41, input: 'x [sim:fault=no_usage]', stream: true });
  const completed = JSON.parse(/event: response.completed\ndata: (.+)/.exec(nr.text)![1]);
  assert.equal(completed.response.usage, null);
  // faults still default to chat completions only
  s.queueFault({ kind: 'status', status: 500 });
  assert.equal((await raw(`${s.baseUrl}/responses`, { model: GPT41, input: 'x' })).status, 200);
});

test('OpenRouter routing: a fallback list, provider preferences, web plugins, :online and server tools cost more and are recorded', async (t) => {
  const s = await sim(t, { completionTokens: 10 });
  const client = openai(s.baseUrl);
  // models: the requested model is taken as unavailable; a dearer one answers and says so
  const fb = await client.chat.completions.create({
    model: 'openai/gpt-4o-mini',
    messages: [{ role: 'user', content: 'hi' }],
    models: ['openai/gpt-4o-mini', 'openai/o1-pro'],
  } as OpenAI.ChatCompletionCreateParamsNonStreaming);
  assert.equal(fb.model, 'openai/o1-pro');
  const rec0 = s.requests[0];
  assert.equal(rec0.model, 'openai/gpt-4o-mini');
  assert.equal(rec0.servedModel, 'openai/o1-pro');
  assert.deepEqual(rec0.routing, ['models']);
  near((fb.usage as unknown as { cost: number }).cost, (rec0.promptTokens * 150 + 10 * 600) / 1e6, 'o1-pro rates');

  // provider preferences: a premium provider at 2×
  const pv = await client.responses.create({ model: GPT41, input: 'hi', provider: { order: ['Azure'] } } as OpenAI.Responses.ResponseCreateParamsNonStreaming);
  assert.equal((pv as unknown as { provider: string }).provider, PREMIUM_PROVIDER);
  near((pv.usage as unknown as { cost: number }).cost, usd(s.requests[1].tokens, GPT41_RATES, 2), 'premium provider');

  // web plugin and :online: 5 results at $0.004; Messages fallbacks and a server web search tool
  const web = await raw(`${s.baseUrl}/chat/completions`, { model: 'openai/gpt-4.1:online', messages: [{ role: 'user', content: 'news?' }] });
  const webBody = JSON.parse(web.text);
  assert.equal(webBody.model, GPT41);
  assert.deepEqual(s.requests[2].routing, ['suffix:online']);
  assert.equal(s.requests[2].webSearches, 5);
  near(webBody.usage.cost, usd(s.requests[2].tokens, GPT41_RATES) + 0.02, ':online');
  await raw(`${s.baseUrl}/completions`, { model: 'openai/gpt-3.5-turbo-instruct', prompt: 'x', plugins: [{ id: 'web', max_results: 2 }], transforms: ['middle-out'], route: 'fallback' });
  assert.deepEqual(s.requests[3].routing.sort(), ['plugins', 'plugins:web', 'route', 'transforms']);
  near(s.requests[3].costUsd, (s.requests[3].promptTokens * 1.5 + 10 * 2) / 1e6 + 0.008, 'web plugin');
  const msg = await anthropic(s.baseUrl).messages.create({
    model: SONNET,
    max_tokens: 100,
    messages: [{ role: 'user', content: 'search' }],
    tools: [{ type: 'web_search_20250305', name: 'web_search', max_uses: 8 }],
    fallbacks: [{ model: 'anthropic/claude-opus-4.1' }],
    speed: 'fast',
  } as unknown as Anthropic.MessageCreateParamsNonStreaming);
  assert.equal(msg.model, 'anthropic/claude-opus-4.1');
  assert.deepEqual(s.requests[4].routing.sort(), ['fallbacks', 'speed', 'tool:web_search_20250305']);
  assert.equal((msg.usage as unknown as { server_tool_use: { web_search_requests: number } }).server_tool_use.web_search_requests, 1);
  near((msg.usage as unknown as { cost: number }).cost, usd(s.requests[4].tokens, { prompt: 15, completion: 75, cacheRead: 1.5, cacheWrite: 18.75 }, 6) + 0.01, 'fast opus + search');

  // a plain request records nothing
  await client.chat.completions.create({ model: 'openai/gpt-4', messages: [{ role: 'user', content: 'hi' }], tools: [{ type: 'function', function: { name: 'f', parameters: {} } }] });
  assert.deepEqual(s.requests[5].routing, []);
  assert.equal(s.requests[5].servedModel, 'openai/gpt-4');

  // /key usage grows by what was served
  const key = (await (await fetch(`${s.baseUrl}/key`)).json()) as { data: { usage: number } };
  near(
    key.data.usage,
    s.requests.reduce((n, r) => n + r.costUsd, 0),
    '/key usage',
  );
});

test('bad input is a 400 in the protocol’s shape; unknown paths 404', async (t) => {
  const s = await sim(t);
  const m = await raw(`${s.baseUrl}/messages`, { model: SONNET, max_tokens: 0, messages: [{ role: 'user', content: 'x' }] });
  assert.equal(m.status, 400);
  assert.deepEqual(Object.keys(JSON.parse(m.text)), ['type', 'error']);
  assert.match(JSON.parse(m.text).error.message, /max_tokens/);
  const nm = await raw(`${s.baseUrl}/messages`, { model: 'nope/none', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] });
  assert.equal(JSON.parse(nm.text).error.type, 'invalid_request_error');
  const r = await raw(`${s.baseUrl}/responses`, { model: GPT41 });
  assert.equal(r.status, 400);
  assert.match(JSON.parse(r.text).error.message, /input/);
  assert.equal((await raw(`${s.baseUrl}/embeddings`, { model: 'openai/text-embedding-3-small', input: 'x', encoding_format: 'hex' })).status, 400);
  assert.equal((await fetch(`${s.baseUrl}/messages/count_tokens`, { method: 'POST', body: '{}' })).status, 404);
});

test('chat: cache reads and writes inside prompt_tokens, reasoning inside completion_tokens, streamed as delta.reasoning', async (t) => {
  const s = await sim(t, { completionTokens: 8 });
  const client = openai(s.baseUrl);
  const messages = [{ role: 'user' as const, content: `${PROMPT} [sim:cache_read=100][sim:cache_write=30][sim:reasoning=6]` }];
  const whole = await client.chat.completions.create({ model: SONNET, messages });
  const usage = whole.usage as OpenAI.CompletionUsage & { prompt_tokens_details: { cache_write_tokens: number }; cost: number };
  const rec = s.requests[0];
  assert.equal(usage.prompt_tokens, rec.promptTokens);
  assert.equal(usage.prompt_tokens_details.cached_tokens, 100);
  assert.equal(usage.prompt_tokens_details.cache_write_tokens, 30);
  assert.equal(usage.completion_tokens, 14);
  assert.equal(usage.completion_tokens_details?.reasoning_tokens, 6);
  assert.equal((whole.choices[0].message as unknown as { reasoning: string }).reasoning, simulatedThinking(6));
  assert.deepEqual(rec.tokens, { input: rec.promptTokens - 130, cacheRead: 100, cacheWrite: 30, output: 8, reasoning: 6 });
  near(usage.cost, usd(rec.tokens, SONNET_RATES), 'chat cost per class');

  let reasoning = '';
  let content = '';
  let last: OpenAI.CompletionUsage | undefined;
  for await (const ch of await client.chat.completions.create({ model: SONNET, messages, stream: true, stream_options: { include_usage: true }, max_tokens: 10 })) {
    const delta = ch.choices[0]?.delta as { content?: string; reasoning?: string } | undefined;
    reasoning += delta?.reasoning ?? '';
    content += delta?.content ?? '';
    if (ch.usage) last = ch.usage;
  }
  assert.equal(reasoning, simulatedThinking(6));
  assert.equal(content, simulatedText(4));
  assert.equal(last?.completion_tokens, 10);
  assert.equal(last?.completion_tokens_details?.reasoning_tokens, 6);
  assert.deepEqual(s.requests[1].tokens, { input: rec.promptTokens - 130, cacheRead: 100, cacheWrite: 30, output: 4, reasoning: 6 });
});
