/**
 * The proxy as a customer uses it: the official `openai` client against a real daemon on loopback, which
 * forwards to the OpenRouter simulator. Every case checks what the customer sees and what was metered.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { simulatedText } from '../../src/catalog/simulator.js';
import type { Updateable } from 'kysely';
import type { AiTokenAllocationsTable } from '../../src/db/database.js';
import { auditLedger } from '../../src/ledger/audit.js';
import { promptHold } from '../../src/metering/plan.js';
import { allocation, HELLO, openReservations, startStack, usageEvents, type Stack } from './harness.js';

async function settled(stack: Stack) {
  await stack.daemon.idle();
}

function assertNoKeyInLogs(stack: Stack, ...keys: string[]) {
  const text = stack.logs.text();
  for (const k of keys) assert.ok(!text.includes(k), 'a customer key reached the log');
  assert.ok(!/sk-arb-[A-Za-z0-9_-]{8,}/.test(text), 'something key-shaped reached the log');
  assert.ok(!text.includes(stack.config.openrouterApiKey!), 'the OpenRouter key reached the log');
}

test('non-stream completion: answer, usage, overhead header, one usage event, one api_call line, no key logged', async (t) => {
  const stack = await startStack(t);
  const { key, allocationId } = await stack.buyKey();
  const { data, response } = await stack.client(key).chat.completions.create({ model: 'openai/gpt-4', messages: HELLO }).withResponse();
  assert.equal(data.choices[0].message.content, simulatedText(40));
  const rec = stack.sim.requests.at(-1)!;
  assert.equal(data.usage?.prompt_tokens, rec.promptTokens);
  assert.equal(data.usage?.completion_tokens, 40);
  assert.match(response.headers.get('x-arb-overhead-ms') ?? '', /^\d+(\.\d+)?$/);
  const requestId = response.headers.get('x-request-id');
  assert.ok(requestId);

  await settled(stack);
  const events = await usageEvents(stack.handle, allocationId);
  assert.equal(events.length, 1);
  const ev = events[0];
  assert.equal(ev.request_id, requestId);
  assert.equal(ev.outcome, 'ok');
  assert.equal(ev.estimated, 0);
  assert.equal(ev.prompt_tokens, rec.promptTokens);
  assert.equal(ev.completion_tokens, 40);
  assert.equal(ev.weighted_tokens, rec.promptTokens + 80); // gpt-4: a completion token counts 2
  assert.equal(ev.upstream_cost, Math.round(rec.costUsd * 1e6));
  const a = await allocation(stack.handle, allocationId);
  assert.equal(a.tokens_used, ev.weighted_tokens);
  assert.equal(a.tokens_reserved, 0);
  assert.equal(await openReservations(stack.handle), 0);
  // forwarded body: model resolved, max_tokens set (4096 = the model's max completion tokens)
  assert.equal(rec.model, 'openai/gpt-4');
  assert.equal(rec.maxTokens, 4096);

  const calls = stack.logs.lines().filter((l) => l.api_call === true && l.request_id === requestId);
  assert.equal(calls.length, 1);
  assert.equal(calls[0].status, 200);
  assert.equal(calls[0].weighted_tokens, ev.weighted_tokens);
  assertNoKeyInLogs(stack, key);
  assert.equal((await auditLedger(stack.handle)).ok, true);
});

test('stream: chunks reach the client as they arrive, usage forced on, last usage chunk charged', async (t) => {
  const stack = await startStack(t, { sim: { chunkDelayMs: 3 } });
  const { key, allocationId } = await stack.buyKey();
  // the customer did not ask for usage: arb forces include_usage upstream
  const stream = await stack.client(key).chat.completions.create({ model: 'gpt-4', messages: HELLO, stream: true });
  let text = '';
  let simDoneAtFirstChunk: boolean | undefined;
  let usage: OpenAI.CompletionUsage | undefined;
  for await (const chunk of stream) {
    const delta = chunk.choices[0]?.delta?.content ?? '';
    if (delta && simDoneAtFirstChunk === undefined) simDoneAtFirstChunk = stack.sim.requests.at(-1)!.done;
    text += delta;
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(simDoneAtFirstChunk, false, 'the first chunk arrived only after the upstream had finished');
  assert.equal(text, simulatedText(40));
  const rec = stack.sim.requests.at(-1)!;
  assert.equal(rec.stream, true);
  assert.equal(rec.usageReported, true);
  assert.equal(usage?.completion_tokens, 40);

  await settled(stack);
  const [ev] = await usageEvents(stack.handle, allocationId);
  assert.equal(ev.stream, 1);
  assert.equal(ev.outcome, 'ok');
  assert.equal(ev.estimated, 0);
  assert.equal(ev.weighted_tokens, rec.promptTokens + 80);
  assert.equal((await allocation(stack.handle, allocationId)).tokens_used, ev.weighted_tokens);
  assert.equal(await openReservations(stack.handle), 0);
  assertNoKeyInLogs(stack, key);
});

test('GET /v1/models, GET /v1/key and the /api/v1 alias', async (t) => {
  const stack = await startStack(t);
  const { key } = await stack.buyKey();
  const models = await stack.client(key).models.list();
  assert.deepEqual(
    models.data.map((m) => m.id),
    ['openai/gpt-4'],
  );
  await stack.client(key).chat.completions.create({ model: 'gpt-4', messages: HELLO, max_tokens: 5 });
  await settled(stack);
  for (const prefix of ['/v1', '/api/v1']) {
    const r = await fetch(`${stack.daemon.url}${prefix}/key`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(r.status, 200);
    const { data } = (await r.json()) as { data: Record<string, unknown> };
    assert.equal(data.model, 'openai/gpt-4');
    assert.equal(data.tokens_total, 100_000);
    assert.equal(data.completion_weight, 2);
    assert.equal(data.tokens_remaining, 100_000 - (data.tokens_used as number));
    assert.ok((data.tokens_used as number) > 10);
    assert.match(String(data.expires_at), /^\d{4}-\d\d-\d\dT/);
    assert.match(String(data.metering_rule), /completion token counts 2/);
    assert.ok(!JSON.stringify(data).includes(key));
  }
  const alias = new OpenAI({ apiKey: key, baseURL: `${stack.daemon.url}/api/v1`, maxRetries: 0 });
  const r = await alias.chat.completions.create({ model: 'gpt-4', messages: HELLO, max_tokens: 3 });
  assert.equal(r.choices[0].message.content, simulatedText(3));
});

test('401 invalid / expired (names the expiry) / revoked; 403 wrong model; no key echoed', async (t) => {
  const stack = await startStack(t);
  const { key, allocationId } = await stack.buyKey();
  const wrong = `sk-arb-${'A'.repeat(32)}`;
  const cases: Array<[string, RegExp, string]> = [];
  for (const [k, expect] of [
    [wrong, /invalid API key/],
    ['not-a-key', /invalid API key/],
  ] as const) {
    const err = await stack
      .client(k)
      .chat.completions.create({ model: 'gpt-4', messages: HELLO })
      .catch((e: unknown) => e);
    assert.ok(err instanceof OpenAI.AuthenticationError, String(err));
    assert.match(err.message, expect);
    assert.equal(err.code, 'invalid_api_key');
    assert.ok(!err.message.includes(k));
    cases.push([k, expect, err.message]);
  }
  const noAuth = await fetch(`${stack.baseURL}/chat/completions`, { method: 'POST', body: '{}' });
  assert.equal(noAuth.status, 401);
  assert.deepEqual(Object.keys(((await noAuth.json()) as { error: object }).error).sort(), ['code', 'message', 'type']);

  // wrong model
  const forbidden = await stack
    .client(key)
    .chat.completions.create({ model: 'anthropic/claude-3-haiku', messages: HELLO })
    .catch((e: unknown) => e);
  assert.ok(forbidden instanceof OpenAI.PermissionDeniedError);
  assert.equal(forbidden.code, 'model_not_allowed');
  assert.match(forbidden.message, /openai\/gpt-4/);

  // expired
  await stack.handle.db.updateTable('ai_token_allocations').set({ expires_at: '2020-01-02 03:04:05' }).where('id', '=', allocationId).execute();
  const expired = await stack
    .client(key)
    .chat.completions.create({ model: 'gpt-4', messages: HELLO })
    .catch((e: unknown) => e);
  assert.ok(expired instanceof OpenAI.AuthenticationError);
  assert.equal(expired.code, 'key_expired');
  assert.match(expired.message, /expired at 2020-01-02 03:04:05 UTC/);
  assert.ok(!expired.message.includes(key));

  // revoked
  await stack.handle.db.updateTable('ai_token_allocations').set({ expires_at: '2099-01-01 00:00:00', status: 'revoked' }).where('id', '=', allocationId).execute();
  const revoked = await stack
    .client(key)
    .models.list()
    .catch((e: unknown) => e);
  assert.ok(revoked instanceof OpenAI.AuthenticationError);
  assert.equal(revoked.code, 'key_revoked');

  // nothing was forwarded, nothing metered, and each refusal logged without the key
  assert.equal(stack.sim.requests.length, 0);
  assert.equal((await usageEvents(stack.handle, allocationId)).length, 0);
  const sec = stack.logs.lines().filter((l) => l.security_event === true);
  assert.ok(sec.length >= 4);
  assertNoKeyInLogs(stack, key, wrong);
});

test('402 insufficient_quota once the key is spent; max_tokens capped to what the quota pays for', async (t) => {
  const stack = await startStack(t, { tokens: 100 });
  const { key, allocationId } = await stack.buyKey();
  const client = stack.client(key);
  const first = await client.chat.completions.create({ model: 'gpt-4', messages: HELLO, max_tokens: 1000 });
  const rec = stack.sim.requests.at(-1)!;
  // 100 tokens: after the prompt's hold, max_tokens is the most completion tokens (weight 2) the rest pays for
  const held = promptHold(rec.promptTokens);
  const sent = rec.maxTokens ?? 0;
  assert.ok(sent > 0 && sent < 1000, `max_tokens sent upstream: ${rec.maxTokens}`);
  assert.ok(held + 2 * sent <= 100, 'the hold fits the quota');
  assert.ok(held + 2 * (sent + 1) > 100, 'one more completion token would not');
  assert.equal(first.choices[0].finish_reason, 'length');
  await settled(stack);
  const a = await allocation(stack.handle, allocationId);
  assert.ok(a.tokens_used <= 100 && a.tokens_used > 0);

  const err = await client.chat.completions.create({ model: 'gpt-4', messages: HELLO }).catch((e: unknown) => e);
  assert.ok(err instanceof OpenAI.APIError);
  assert.equal(err.status, 402);
  assert.equal(err.code, 'insufficient_quota');
  assert.equal(err.type, 'insufficient_quota');
  assert.match(err.message, /insufficient quota/);
  assert.equal(stack.sim.requests.length, 1, 'a refused request is not forwarded');
  const lines = stack.logs.lines().filter((l) => l.api_call === true && l.status === 402);
  assert.equal(lines.length, 1);
  assert.equal((await auditLedger(stack.handle)).ok, true);
});

test('400 malformed body / bad fields, 413 over 1 MiB, 429 with retry-after', async (t) => {
  const stack = await startStack(t, { env: { RATE_LIMIT_RPM: '5' } });
  const { key } = await stack.buyKey();
  const post = (body: string | Buffer) => fetch(`${stack.baseURL}/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body });

  const bad = await post('{"model": "gpt-4", "messages": [');
  assert.equal(bad.status, 400);
  const badBody = (await bad.json()) as { error: { message: string; type: string; code: string } };
  assert.equal(badBody.error.type, 'invalid_request_error');
  assert.equal(badBody.error.code, 'invalid_json');

  const noMessages = await stack
    .client(key)
    .chat.completions.create({ model: 'gpt-4', messages: [] })
    .catch((e: unknown) => e);
  assert.ok(noMessages instanceof OpenAI.BadRequestError);
  assert.match(noMessages.message, /messages: required/);
  assert.equal(noMessages.param, 'messages');

  const negative = await stack
    .client(key)
    .chat.completions.create({ model: 'gpt-4', messages: HELLO, max_tokens: -1 })
    .catch((e: unknown) => e);
  assert.ok(negative instanceof OpenAI.BadRequestError);
  assert.match(negative.message, /max_tokens: must be a positive whole number/);

  const huge = await post(JSON.stringify({ model: 'gpt-4', messages: [{ role: 'user', content: 'x'.repeat(1024 * 1024) }] }));
  assert.equal(huge.status, 413);
  assert.equal(((await huge.json()) as { error: { code: string } }).error.code, 'request_too_large');

  // RATE_LIMIT_RPM=5: the three authenticated requests above counted (the 413 was refused before auth);
  // two more pass, the 6th is refused
  await stack.client(key).chat.completions.create({ model: 'gpt-4', messages: HELLO, max_tokens: 2 });
  await stack.client(key).chat.completions.create({ model: 'gpt-4', messages: HELLO, max_tokens: 2 });
  const limited = await stack
    .client(key)
    .chat.completions.create({ model: 'gpt-4', messages: HELLO, max_tokens: 2 })
    .withResponse()
    .catch((e: unknown) => e);
  assert.ok(limited instanceof OpenAI.RateLimitError, String(limited));
  assert.equal(limited.code, 'rate_limit_exceeded');
  assert.ok(Number(limited.headers?.get('retry-after')) >= 1);
  assert.ok(!limited.message.includes(key));
  assert.equal(stack.sim.requests.length, 2);
  assertNoKeyInLogs(stack, key);
});

test('failed authentications are throttled per client address', async (t) => {
  const stack = await startStack(t);
  const { key } = await stack.buyKey();
  const statuses: number[] = [];
  for (let i = 0; i < 22; i++) {
    const r = await fetch(`${stack.baseURL}/models`, { headers: { authorization: `Bearer sk-arb-${String(i).padStart(30, 'x')}` } });
    statuses.push(r.status);
    await r.arrayBuffer();
  }
  assert.deepEqual(statuses.slice(0, 20), Array(20).fill(401));
  assert.equal(statuses[21], 429);
  // even a good key is refused from that address while throttled
  const good = await fetch(`${stack.baseURL}/models`, { headers: { authorization: `Bearer ${key}` } });
  assert.equal(good.status, 429);
  assert.ok(Number(good.headers.get('retry-after')) >= 1);
  assert.ok(stack.logs.lines().some((l) => l.security_event === true && l.event === 'auth_throttled'));
});

test('upstream failures: 502 before output costs nothing; 504 on timeout; mid-stream error and cut charge what was delivered', async (t) => {
  const stack = await startStack(t, { daemon: { upstream: { headersTimeoutMs: 300 } } });
  const { key, allocationId } = await stack.buyKey();
  const client = stack.client(key);

  stack.sim.queueFault({ kind: 'status', status: 500 });
  const e502 = await client.chat.completions.create({ model: 'gpt-4', messages: HELLO }).catch((e: unknown) => e);
  assert.ok(e502 instanceof OpenAI.APIError);
  assert.equal(e502.status, 502);

  stack.sim.queueFault({ kind: 'hang' });
  const e504 = await client.chat.completions.create({ model: 'gpt-4', messages: HELLO }).catch((e: unknown) => e);
  assert.ok(e504 instanceof OpenAI.APIError);
  assert.equal(e504.status, 504);

  stack.sim.queueFault({ kind: 'midstream_error', afterTokens: 5 });
  let got = '';
  const mid = await (async () => {
    const s = await client.chat.completions.create({ model: 'gpt-4', messages: HELLO, stream: true });
    for await (const c of s) got += c.choices[0]?.delta?.content ?? '';
  })().catch((e: unknown) => e);
  assert.ok(mid instanceof OpenAI.APIError, 'the mid-stream error reaches the client');
  assert.equal(got, simulatedText(5));

  stack.sim.queueFault({ kind: 'cut', afterTokens: 7 });
  let cutText = '';
  const cut = await (async () => {
    const s = await client.chat.completions.create({ model: 'gpt-4', messages: HELLO, stream: true });
    for await (const c of s) cutText += c.choices[0]?.delta?.content ?? '';
  })().catch((e: unknown) => e);
  assert.ok(cut instanceof OpenAI.APIError, 'a cut stream ends with an error event');
  assert.equal(cutText, simulatedText(7));

  stack.sim.queueFault({ kind: 'no_usage' });
  await client.chat.completions.create({ model: 'gpt-4', messages: HELLO, max_tokens: 9 });

  await settled(stack);
  const events = await usageEvents(stack.handle, allocationId);
  const p = stack.sim.requests.find((r) => r.promptTokens > 0)!.promptTokens;
  assert.deepEqual(
    events.map((e) => [e.outcome, e.status_code, e.weighted_tokens, e.estimated]),
    [
      ['upstream_error', 502, 0, 0],
      ['timeout', 504, 0, 0],
      ['upstream_error', 200, p + 10, 1],
      ['upstream_cut', 200, p + 14, 1],
      ['ok', 200, p + 18, 1],
    ],
  );
  assert.equal((await allocation(stack.handle, allocationId)).tokens_used, 3 * p + 42);
  assert.equal(await openReservations(stack.handle), 0);
  assert.equal((await auditLedger(stack.handle)).ok, true);
});

test('client disconnect mid-stream aborts the upstream request and charges what was delivered', async (t) => {
  const stack = await startStack(t, { sim: { chunkDelayMs: 5, completionTokens: 200 } });
  const { key, allocationId } = await stack.buyKey();
  const controller = new AbortController();
  const stream = await stack.client(key).chat.completions.create({ model: 'gpt-4', messages: HELLO, stream: true }, { signal: controller.signal });
  let n = 0;
  await (async () => {
    for await (const c of stream) {
      if (c.choices[0]?.delta?.content) n++;
      if (n === 10) controller.abort();
    }
  })().catch(() => {});
  await settled(stack);
  await stack.sim.idle();
  const rec = stack.sim.requests.at(-1)!;
  assert.equal(rec.aborted, true, 'the upstream request was aborted');
  assert.ok(rec.completionTokensSent < 200);
  const [ev] = await usageEvents(stack.handle, allocationId);
  assert.equal(ev.outcome, 'client_abort');
  assert.equal(ev.estimated, 1);
  assert.ok(ev.completion_tokens >= 10 && ev.completion_tokens <= rec.completionTokensSent, `${ev.completion_tokens} vs ${rec.completionTokensSent}`);
  assert.equal(ev.weighted_tokens, ev.prompt_tokens + 2 * ev.completion_tokens);
  assert.equal(await openReservations(stack.handle), 0);
  assert.equal((await auditLedger(stack.handle)).ok, true);
});

test('an estimated charge counts the prompt as it was sent: a stream without usage and a 150 KB prompt in two scripts, its prompt read back from the bytes sent', async (t) => {
  const stack = await startStack(t, { tokens: 2_000_000, sim: { chunkDelayMs: 1, completionTokens: 40 } });
  const { key, allocationId } = await stack.buyKey();
  const long = 'Съешь же ещё этих мягких французских булок, да выпей чаю. The quick brown fox jumps over the lazy dog. '.repeat(1000);
  const messages = [
    { role: 'system' as const, content: 'Answer briefly.' },
    { role: 'user' as const, content: long },
  ];
  stack.sim.queueFault({ kind: 'no_usage' });
  let text = '';
  const s = await stack.client(key).chat.completions.create({ model: 'gpt-4', messages, stream: true, max_tokens: 40 });
  for await (const c of s) text += c.choices[0]?.delta?.content ?? '';
  assert.equal(text, simulatedText(40));
  await settled(stack);
  const rec = stack.sim.requests.at(-1)!;
  assert.ok(rec.promptTokens > 20_000, `a long prompt: ${rec.promptTokens} tokens`);
  const [ev] = await usageEvents(stack.handle, allocationId);
  assert.equal(ev.estimated, 1);
  assert.deepEqual([ev.prompt_tokens, ev.completion_tokens, ev.weighted_tokens], [rec.promptTokens, 40, rec.promptTokens + 80]);
  assert.equal(await openReservations(stack.handle), 0);
  assert.equal((await auditLedger(stack.handle)).ok, true);
});

test('a key read kept from an earlier request decides nothing: revoked, expired or drained since, the answer is the one a fresh read gives', async (t) => {
  const { planHold, fastHoldPlan } = await import('../../src/metering/plan.js');
  const { countPromptTokens, promptUpperBound } = await import('../../src/metering/tokens.js');
  const { chatPrompt } = await import('../../daemon/http/protocols/chat.js');
  const { ruleForRates } = await import('../../src/metering/usage.js');
  // a cache that outlives the test: a request reuses the read of the key the last successful one made
  const stack = await startStack(t, { daemon: { keyCacheTtlMs: 600_000 } });
  const { key, allocationId } = await stack.buyKey();
  const client = stack.client(key);
  const ask = () => client.chat.completions.create({ model: 'gpt-4', messages: HELLO, max_tokens: 16 });
  const alloc = () => stack.handle.db.updateTable('ai_token_allocations').where('id', '=', allocationId);
  /** sets the allocation's fields, then a successful request keeps a read of the key */
  const keepReadWith = async (fields?: Updateable<AiTokenAllocationsTable>) => {
    if (fields) await alloc().set(fields).execute();
    await ask();
    await settled(stack);
  };
  await keepReadWith();

  // revoked
  await alloc().set({ status: 'revoked' }).execute();
  const revoked = await ask().catch((e: unknown) => e);
  assert.ok(revoked instanceof OpenAI.AuthenticationError, String(revoked));
  assert.equal(revoked.code, 'key_revoked');

  // expired (the refusal forgot the read: the next success keeps a new one)
  await keepReadWith({ status: 'active' });
  await alloc().set({ expires_at: '2020-01-02 03:04:05' }).execute();
  const expired = await ask().catch((e: unknown) => e);
  assert.ok(expired instanceof OpenAI.AuthenticationError, String(expired));
  assert.equal(expired.code, 'key_expired');
  assert.match(expired.message, /expired at 2020-01-02 03:04:05 UTC/);

  // drained: the remaining tokens come from the database, not from the kept read
  await keepReadWith({ expires_at: '2099-01-01 00:00:00' });
  const before = await allocation(stack.handle, allocationId);
  await alloc().set({ tokens_total: before.tokens_used }).execute();
  const drained = await ask().catch((e: unknown) => e);
  assert.ok(drained instanceof OpenAI.APIError, String(drained));
  assert.equal(drained.status, 402);
  assert.match(drained.message, /insufficient quota: 0 of/);
  assert.equal(stack.sim.requests.length, 3, 'no refused request was forwarded');

  // the read is really kept: a catalog change reaches chat completions only with the next read of the key
  // (up to the TTL later), while GET /v1/models reads afresh
  await keepReadWith({ tokens_total: before.tokens_total });
  const models = () => stack.handle.db.updateTable('ai_models').where('model_id', '=', 'openai/gpt-4');
  await models().set({ max_completion_tokens: 8 }).execute();
  await ask();
  await settled(stack);
  assert.equal(stack.sim.requests.at(-1)!.maxTokens, 16, 'the kept read (model limit 4096) was used');
  assert.equal(((await client.models.list()).data[0] as { max_completion_tokens?: number }).max_completion_tokens, 8);
  await models().set({ max_completion_tokens: 4096 }).execute();

  // Near the end of the quota: the kept read still shows ~100k tokens left, where the fast hold (on the
  // prompt's upper bound) would pass; the key really has less than the fast plan's headroom, so the hold
  // must be the exact plan, as with a fresh read.
  const now = await allocation(stack.handle, allocationId);
  await alloc()
    .set({ tokens_total: now.tokens_used + 3000 })
    .execute();
  const body = { model: 'openai/gpt-4', messages: HELLO, max_tokens: 16 };
  const m = await stack.handle.db.selectFrom('ai_models').selectAll().where('model_id', '=', 'openai/gpt-4').executeTakeFirstOrThrow();
  const input = { rule: ruleForRates(m.prompt_rate, m.completion_rate), requestedMaxTokens: 16, modelMaxCompletionTokens: m.max_completion_tokens, contextLength: m.context_length, choices: 1 };
  const fast = fastHoldPlan({ ...input, available: 100_000 }, promptUpperBound(chatPrompt(body)))!;
  const exact = planHold({ ...input, available: 3000, promptEstimate: await countPromptTokens(chatPrompt(body)) })!;
  assert.ok(fast.hold > exact.hold && fast.hold * 65 > 3000, 'the test needs a fast hold bigger than the exact one, without headroom in 3,000 tokens');
  await ask();
  await settled(stack);
  const holds = stack.logs
    .lines()
    .filter((l) => l.api_call === true && l.status === 200)
    .map((l) => l.hold_tokens);
  assert.equal(holds[0], fast.hold, 'with room, the first request took the fast hold');
  assert.equal(holds.at(-1), exact.hold);
  assert.equal(await openReservations(stack.handle), 0);
  assert.equal((await auditLedger(stack.handle)).ok, true);
});

test('api_call lines name the customer by Telegram user id and carry the client address; a proxied request over 1 s writes a performance line', async (t) => {
  const stack = await startStack(t);
  const { key } = await stack.buyKey({ telegramId: 987_654_321 });
  await stack.client(key).chat.completions.create({ model: 'gpt-4', messages: HELLO, max_tokens: 3 });
  stack.sim.queueFault({ kind: 'slow', delayMs: 1100 });
  const { response } = await stack.client(key).chat.completions.create({ model: 'gpt-4', messages: HELLO, max_tokens: 3 }).withResponse();
  const slowId = response.headers.get('x-request-id');
  await settled(stack);
  const calls = stack.logs.lines().filter((l) => l.api_call === true);
  assert.equal(calls.length, 2);
  for (const c of calls) {
    assert.equal(c.user_id, 987_654_321, 'the Telegram user id, not the internal one');
    assert.equal(c.ip, '127.0.0.1');
  }
  const perf = stack.logs.lines().filter((l) => l.performance === true);
  assert.equal(perf.length, 1, 'only the slow request');
  assert.equal(perf[0].operation, 'proxy_request');
  assert.equal(perf[0].request_id, slowId);
  assert.equal(perf[0].user_id, 987_654_321);
  assert.ok((perf[0].execution_time as number) >= 1.1 && (perf[0].execution_time as number) < 10, String(perf[0].execution_time));
  // the manual's recipe finds it
  assert.match(JSON.stringify(perf[0]), /"execution_time":[1-9]/);
});
