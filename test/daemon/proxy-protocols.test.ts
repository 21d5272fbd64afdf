/**
 * Every client protocol on the one metering core, with the official clients as customers use them
 * (`@anthropic-ai/sdk`: messages.create, messages.stream, countTokens; `openai`: responses, completions,
 * embeddings), over real sockets against the OpenRouter simulator. Each charge is compared with the
 * simulator's own record of what it served, per token class: cache reads and writes and reasoning are
 * weighed by the catalog's rates (0.1 and 1.25 for Claude Sonnet), summed and rounded up once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import { simulatedText } from '../../src/catalog/simulator.js';
import type { SimRequestRecord } from '../../src/catalog/simulator.js';
import { meteringRule, weighTokenClasses, type MeteringRule } from '../../src/pricing.js';
import { auditLedger } from '../../src/ledger/audit.js';
import { insertModel } from '../support/models.js';
import { allocation, openReservations, startStack, usageEvents, type Stack } from './harness.js';

const SONNET = 'anthropic/claude-sonnet-4.6';
const MINI = 'openai/gpt-4o-mini';
const EMBED = 'openai/text-embedding-3-small';
const sonnet = meteringRule(3_000_000, 15_000_000, { cacheReadRate: 300_000, cacheWriteRate: 3_750_000 });
const mini = meteringRule(150_000, 600_000, { cacheReadRate: 75_000 });

/** A system prompt long enough to carve cache classes out of. */
const SYSTEM = `You are a terse assistant. ${'Answer in plain words and keep it short. '.repeat(12)}`;

/** What the simulator served, weighed by the rule: the charge the key must show. */
function served(rule: MeteringRule, rec: SimRequestRecord): number {
  return weighTokenClasses(rule, rec.tokens);
}

async function lastEvent(stack: Stack, allocationId: number) {
  await stack.daemon.idle();
  await stack.sim.idle();
  return (await usageEvents(stack.handle, allocationId)).at(-1)!;
}

async function embeddingCatalog(stack: Stack) {
  await insertModel(stack.handle, { model: EMBED, name: 'Text Embedding 3 Small', promptRate: 20_000, completionRate: 0 }, '2026-01-01 00:00:00');
  return stack.addPackage(EMBED, 100_000);
}

test('Anthropic Messages with @anthropic-ai/sdk: create and stream, cache reads and writes weighed 0.1 and 1.25, thinking as output; max_tokens 32000 capped to the key', async (t) => {
  const stack = await startStack(t, { model: SONNET, tokens: 100_000 });
  const { key, allocationId } = await stack.buyKey();
  // Claude Code's base URL: the daemon's origin without /v1
  const anthropic = new Anthropic({ baseURL: stack.daemon.url, apiKey: key, maxRetries: 0 });

  const { data: msg, response } = await anthropic.messages
    .create({ model: 'claude-sonnet-4-6', max_tokens: 4096, system: `${SYSTEM}[sim:cache_read=40][sim:cache_write=30]`, messages: [{ role: 'user', content: 'Say hello' }] })
    .withResponse();
  assert.equal((msg.content[0] as { text: string }).text, simulatedText(40));
  assert.equal(msg.usage.cache_read_input_tokens, 40);
  assert.equal(msg.usage.cache_creation_input_tokens, 30);
  assert.ok(!('cost' in (msg.usage as object)), 'usage.cost reached the customer');
  assert.ok(!('provider' in (msg as object)));
  assert.equal(response.headers.get('x-ratelimit-limit-requests'), '100000');
  const rec = stack.sim.requests.at(-1)!;
  assert.equal(rec.model, SONNET, 'the package model exactly');
  assert.equal(rec.maxTokens, 4096);
  let ev = await lastEvent(stack, allocationId);
  assert.equal(ev.prompt_tokens, rec.promptTokens);
  assert.equal(ev.cache_read_tokens, 40);
  assert.equal(ev.cache_write_tokens, 30);
  assert.equal(ev.completion_tokens, 40);
  assert.equal(ev.weighted_tokens, served(sonnet, rec));
  assert.equal(ev.weighted_tokens, rec.tokens.input + Math.ceil(40 * 0.1 + 30 * 1.25 + 40 * 5));
  assert.equal(ev.upstream_cost, Math.ceil(rec.costUsd * 1e6 - 1e-6));
  assert.equal(ev.cost_loss, 0);
  assert.equal(ev.answered_model, SONNET);

  // stream, with thinking (reported inside output_tokens): the real SSE sequence reaches the client; Claude
  // Code's max_tokens 32000 is capped to what the key can pay for
  const stream = anthropic.messages.stream({
    model: 'claude-sonnet-4-6',
    max_tokens: 32000,
    system: `${SYSTEM}[sim:reasoning=12][sim:cache_read=all]`,
    messages: [{ role: 'user', content: 'Say hello' }],
  });
  const types: string[] = [];
  stream.on('streamEvent', (e) => types.push(e.type));
  const final = await stream.finalMessage();
  assert.deepEqual([...new Set(types)], ['message_start', 'content_block_start', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop']);
  assert.equal(final.content.find((c) => c.type === 'text')?.text, simulatedText(40));
  const srec = stack.sim.requests.at(-1)!;
  assert.equal(srec.stream, true);
  assert.ok(srec.maxTokens! < 32000 && srec.maxTokens! > 15_000, `max_tokens ${srec.maxTokens}: capped to what ~99,000 tokens pay for at weight 5`);
  ev = await lastEvent(stack, allocationId);
  assert.equal(ev.stream, 1);
  assert.equal(ev.estimated, 0);
  assert.equal(ev.cache_read_tokens, srec.tokens.cacheRead);
  assert.equal(ev.completion_tokens, 52);
  assert.equal(ev.weighted_tokens, served(sonnet, srec));

  // the receipt of the weights: /v1/key states them
  const info = (await (await fetch(`${stack.baseURL}/key`, { headers: { authorization: `Bearer ${key}` } })).json()) as { data: { token_weights: Record<string, number>; metering_rule: string } };
  assert.deepEqual(info.data.token_weights, { prompt: 1, completion: 5, reasoning: 5, cache_read: 0.1, cache_write: 1.25 });
  assert.match(info.data.metering_rule, /a cache read counts 0\.1 and a cache write counts 1\.25/);

  const a = await allocation(stack.handle, allocationId);
  const events = await usageEvents(stack.handle, allocationId);
  assert.equal(
    a.tokens_used,
    events.reduce((n, e) => n + e.weighted_tokens, 0),
  );
  assert.equal(await openReservations(stack.handle), 0);
  assert.deepEqual((await auditLedger(stack.handle)).problems, []);
});

test('Anthropic Messages: x-api-key or bearer, ?beta=true, count_tokens, Anthropic model names, refusals in Anthropic’s shape', async (t) => {
  const stack = await startStack(t, { model: SONNET, tokens: 200_000 });
  const { key, allocationId } = await stack.buyKey();
  const url = `${stack.daemon.url}/v1/messages`;
  const body = (model: string) => JSON.stringify({ model, max_tokens: 64, messages: [{ role: 'user', content: 'Say hello' }] });
  for (const [headers, model] of [
    [{ 'x-api-key': key }, 'claude-sonnet-4-6'],
    [{ authorization: `Bearer ${key}` }, 'claude-sonnet-4-6-20260217'],
    [{ 'x-api-key': key }, 'anthropic/claude-sonnet-4.6'],
  ] as const) {
    const r = await fetch(`${url}?beta=true`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'anthropic-beta': 'interleaved-thinking-2025-05-14' },
      body: body(model),
    });
    assert.equal(r.status, 200, await r.clone().text());
    const j = (await r.json()) as { type: string; model: string };
    assert.equal(j.type, 'message');
  }
  const fwd = stack.sim.requests.at(-1)!;
  assert.equal(fwd.headers['anthropic-beta'], 'interleaved-thinking-2025-05-14');
  assert.equal(fwd.headers['anthropic-version'], '2023-06-01');

  const anthropic = new Anthropic({ baseURL: stack.daemon.url, apiKey: key, maxRetries: 0 });
  const counted = await anthropic.messages.countTokens({ model: 'claude-sonnet-4-6', messages: [{ role: 'user', content: 'Say hello in five words.' }] });
  assert.ok(counted.input_tokens > 5 && counted.input_tokens < 40, String(counted.input_tokens));
  const beta = await anthropic.beta.messages.create({ model: 'claude-sonnet-4-6', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }], betas: ['context-management-2025-06-27'] });
  assert.equal(beta.type, 'message');

  // refusals: Anthropic's shape and the SDK's error classes
  const wrong = await anthropic.messages.create({ model: 'claude-opus-4-1', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
  assert.ok(wrong instanceof Anthropic.PermissionDeniedError, String(wrong));
  assert.match(wrong.message, /anthropic\/claude-sonnet-4\.6/);
  const bad = new Anthropic({ baseURL: stack.daemon.url, apiKey: `sk-arb-${'B'.repeat(32)}`, maxRetries: 0 });
  const unauth = await bad.messages.create({ model: 'claude-sonnet-4-6', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
  assert.ok(unauth instanceof Anthropic.AuthenticationError, String(unauth));
  const raw = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body('claude-sonnet-4-6') });
  assert.equal(raw.status, 401);
  const shape = (await raw.json()) as { type: string; error: { type: string; message: string } };
  assert.equal(shape.type, 'error');
  assert.equal(shape.error.type, 'authentication_error');
  assert.match(shape.error.message, /x-api-key/);
  const routing = await fetch(url, {
    method: 'POST',
    headers: { 'x-api-key': key, 'content-type': 'application/json' },
    body: JSON.stringify({ ...JSON.parse(body('claude-sonnet-4-6')), speed: 'fast' }),
  });
  assert.equal(routing.status, 400);
  assert.match(((await routing.json()) as { error: { message: string } }).error.message, /^speed: not allowed here/);
  // the WebSearch call's server tool never reaches the upstream (the model answers without it)
  const search = await anthropic.messages.create({
    model: 'claude-sonnet-4-6',
    max_tokens: 64,
    messages: [{ role: 'user', content: 'Perform a web search for the query: arb' }],
    tools: [{ type: 'web_search_20250305', name: 'web_search', max_uses: 8 }],
    tool_choice: { type: 'auto' },
  });
  assert.equal(search.type, 'message');
  const s = stack.sim.requests.at(-1)!;
  assert.equal(s.body?.tools, undefined);
  assert.equal(s.body?.tool_choice, undefined);
  assert.equal(s.webSearches, 0);
  // an exhausted key: 402 in Anthropic's shape, before anything is counted or forwarded
  await stack.handle.db.updateTable('ai_token_allocations').set({ tokens_used: 200_000 }).where('id', '=', allocationId).execute();
  const n = stack.sim.requests.length;
  const empty = await anthropic.messages.create({ model: 'claude-sonnet-4-6', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
  assert.ok(empty instanceof Anthropic.APIError && empty.status === 402, String(empty));
  assert.equal((empty.error as { error: { type: string } }).error.type, 'billing_error');
  assert.equal(stack.sim.requests.length, n);
});

test('OpenAI Responses with the openai client: create and stream without max_output_tokens; cache reads and reasoning weighed by the catalog', async (t) => {
  const stack = await startStack(t, { model: MINI, tokens: 1_000_000 });
  const { key, allocationId } = await stack.buyKey();
  const client = stack.client(key);
  const r = await client.responses.create({
    model: 'gpt-4o-mini',
    instructions: `${SYSTEM}[sim:cache_read=50][sim:reasoning=7]`,
    input: [
      { role: 'developer', content: 'Be brief.' },
      { role: 'user', content: 'Say hello' },
    ],
    store: false,
  });
  assert.equal(r.output_text, simulatedText(40));
  assert.equal(r.usage?.input_tokens_details.cached_tokens, 50);
  assert.equal(r.usage?.output_tokens_details.reasoning_tokens, 7);
  assert.ok(!('cost' in (r.usage as object)));
  const rec = stack.sim.requests.at(-1)!;
  assert.equal(rec.endpoint, 'responses');
  assert.ok(rec.maxTokens! > 0, 'a cap is always forwarded (Codex sends none)');
  let ev = await lastEvent(stack, allocationId);
  assert.equal(ev.cache_read_tokens, 50);
  assert.equal(ev.reasoning_tokens, 7);
  assert.equal(ev.prompt_tokens, rec.promptTokens);
  assert.equal(ev.completion_tokens, 47);
  assert.equal(ev.weighted_tokens, served(mini, rec));

  const stream = await client.responses.create({ model: 'gpt-4o-mini', input: 'Say hello [sim:reasoning=3]', stream: true });
  let text = '';
  let completed = false;
  for await (const e of stream) {
    if (e.type === 'response.output_text.delta') text += e.delta;
    if (e.type === 'response.completed') completed = true;
  }
  assert.equal(text, simulatedText(40));
  assert.ok(completed);
  const srec = stack.sim.requests.at(-1)!;
  ev = await lastEvent(stack, allocationId);
  assert.equal(ev.stream, 1);
  assert.equal(ev.reasoning_tokens, 3);
  assert.equal(ev.weighted_tokens, served(mini, srec));
  assert.deepEqual((await auditLedger(stack.handle)).problems, []);
});

test('legacy Completions and Embeddings with the openai client, stream and not: usage forced, charges equal what was served', async (t) => {
  const stack = await startStack(t, { model: MINI, tokens: 1_000_000 });
  const { key, allocationId } = await stack.buyKey();
  const client = stack.client(key);
  const c = await client.completions.create({ model: 'gpt-4o-mini', prompt: 'Once upon a time', max_tokens: 9 });
  assert.equal(c.choices[0].text, simulatedText(9));
  let rec = stack.sim.requests.at(-1)!;
  let ev = await lastEvent(stack, allocationId);
  assert.equal(ev.weighted_tokens, served(mini, rec));
  // the SDK sends no stream_options: the proxy forces the usage chunk
  const s = await client.completions.create({ model: 'gpt-4o-mini', prompt: 'Once upon a time', max_tokens: 6, stream: true });
  let text = '';
  for await (const chunk of s) text += chunk.choices[0]?.text ?? '';
  assert.equal(text, simulatedText(6));
  rec = stack.sim.requests.at(-1)!;
  assert.equal(rec.usageReported, true);
  ev = await lastEvent(stack, allocationId);
  assert.equal(ev.estimated, 0);
  assert.equal(ev.weighted_tokens, served(mini, rec));

  const pkg = await embeddingCatalog(stack);
  const emb = await stack.buyKey({ pkg });
  const e = await stack.client(emb.key).embeddings.create({ model: 'text-embedding-3-small', input: ['The food was delicious', 'and the waiter'] });
  assert.equal(e.data.length, 2);
  assert.equal(e.data[0].embedding.length, 8, 'the base64 vectors the SDK asked for decode');
  const erec = stack.sim.requests.at(-1)!;
  assert.equal(erec.endpoint, 'embeddings');
  assert.equal(erec.body?.encoding_format, 'base64');
  const eev = await lastEvent(stack, emb.allocationId);
  assert.equal(eev.prompt_tokens, erec.promptTokens);
  assert.equal(eev.completion_tokens, 0);
  assert.equal(eev.weighted_tokens, erec.promptTokens);
  assert.deepEqual((await auditLedger(stack.handle)).problems, []);
});

test('no protocol passes the wholesale cost on: cost, cost_details and provider are cut from every body and stream', async (t) => {
  const stack = await startStack(t, { model: SONNET, tokens: 1_000_000 });
  const { key } = await stack.buyKey();
  const miniKey = (await stack.buyKey({ pkg: await stack.addPackage(MINI, 1_000_000) })).key;
  const embKey = (await stack.buyKey({ pkg: await embeddingCatalog(stack) })).key;
  const cases: Array<[string, string, Record<string, unknown>]> = [
    [key, '/v1/messages', { model: 'claude-sonnet-4-6', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }],
    [miniKey, '/v1/responses', { model: 'gpt-4o-mini', input: 'hi' }],
    [miniKey, '/v1/chat/completions', { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }],
    [miniKey, '/v1/completions', { model: 'gpt-4o-mini', prompt: 'hi', max_tokens: 5 }],
    [embKey, '/v1/embeddings', { model: 'text-embedding-3-small', input: 'hi' }],
  ];
  for (const [k, path, body] of cases) {
    for (const stream of path.endsWith('embeddings') ? [false] : [false, true]) {
      const r = await fetch(`${stack.daemon.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${k}`, 'content-type': 'application/json' },
        body: JSON.stringify({ ...body, ...(stream ? { stream } : {}) }),
      });
      const text = await r.text();
      assert.equal(r.status, 200, `${path}: ${text}`);
      const upstream = stack.sim.requests.at(-1)!;
      assert.ok(upstream.costUsd > 0);
      for (const leak of ['"cost"', '"cost_details"', '"provider"', 'upstream_inference']) assert.ok(!text.includes(leak), `${path} (stream ${stream}) passed ${leak} on`);
      assert.ok(Number(r.headers.get('x-ratelimit-remaining-requests')) > 0, path);
      assert.ok(Number(r.headers.get('x-arb-tokens-remaining')) > 0, path);
    }
  }
});

test('Chat Completions: cached tokens inside prompt_tokens and reasoning inside completion_tokens are counted once, each at its weight, stream and not', async (t) => {
  const stack = await startStack(t, { model: MINI, tokens: 1_000_000 });
  const { key, allocationId } = await stack.buyKey();
  const client = stack.client(key);
  const messages = [
    { role: 'system' as const, content: `${SYSTEM}[sim:cache_read=60][sim:reasoning=9]` },
    { role: 'user' as const, content: 'Say hello' },
  ];
  const whole = await client.chat.completions.create({ model: 'gpt-4o-mini', messages });
  assert.equal(whole.usage?.prompt_tokens_details?.cached_tokens, 60);
  assert.equal(whole.usage?.completion_tokens_details?.reasoning_tokens, 9);
  let rec = stack.sim.requests.at(-1)!;
  let ev = await lastEvent(stack, allocationId);
  assert.equal(ev.prompt_tokens, whole.usage?.prompt_tokens);
  assert.equal(ev.cache_read_tokens, 60);
  assert.equal(ev.reasoning_tokens, 9);
  assert.equal(ev.completion_tokens, whole.usage?.completion_tokens);
  // 60 cache reads at 0.5: (prompt − 60) + 30 + 4 × completion
  assert.equal(ev.weighted_tokens, rec.promptTokens - 60 + Math.ceil(60 * 0.5 + 4 * ev.completion_tokens));
  assert.equal(ev.weighted_tokens, served(mini, rec));

  const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', messages, stream: true });
  for await (const _ of stream) {
    /* drain */
  }
  rec = stack.sim.requests.at(-1)!;
  ev = await lastEvent(stack, allocationId);
  assert.equal(ev.stream, 1);
  assert.equal(ev.cache_read_tokens, 60);
  assert.equal(ev.reasoning_tokens, 9);
  assert.equal(ev.weighted_tokens, served(mini, rec));
});
