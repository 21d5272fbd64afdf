import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createUpstream, AbortFlag, ownBytes } from '../../daemon/http/upstream.js';
import { startSimulator } from '../../src/catalog/simulator.js';
import { HELLO, startStack } from './harness.js';
import { assertBooksBalance } from './books.js';

const chat = (stream: boolean) => ownBytes(JSON.stringify({ model: 'openai/gpt-4', stream, max_tokens: 20, messages: HELLO }));

test('no fixed pool: 300 streams at once all reach the upstream without waiting for a socket', async (t) => {
  // streams of ~100 s (aborted below): with a 256-socket pool the last 44 would get their headers only
  // after the first ended
  const sim = await startSimulator({ chunkDelayMs: 100, completionTokens: 1000 });
  t.after(() => sim.close());
  const upstream = createUpstream({ baseUrl: sim.baseUrl });
  t.after(() => upstream.close());
  const flags = Array.from({ length: 300 }, () => new AbortFlag());
  const opened = await Promise.all(flags.map((signal, i) => upstream.post('/chat/completions', chat(true), { stream: true, signal, requestId: `r${i}` })));
  assert.equal(opened.length, 300);
  assert.equal(upstream.inFlight, 300, 'all 300 answered and still streaming');
  for (const f of flags) f.abort();
  await Promise.all(opened.map((r) => r.body.bytes().catch(() => undefined)));
  assert.equal(upstream.inFlight, 0, 'every place is given back when its stream ends');
});

test('UPSTREAM_MAX_CONCURRENCY: one request over the limit is refused at once (503, retry-after), charged nothing; a slot frees when a stream ends', async (t) => {
  const stack = await startStack(t, { sim: { chunkDelayMs: 30, completionTokens: 30 }, env: { UPSTREAM_MAX_CONCURRENCY: '2' } });
  const { key, allocationId } = await stack.buyKey();
  const url = `${stack.baseURL}/chat/completions`;
  const post = (stream: boolean) => fetch(url, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: chat(stream) });

  // two streams hold both places (their headers are in: they are at the upstream)
  const a = await post(true);
  const b = await post(true);
  assert.deepEqual([a.status, b.status], [200, 200]);
  const refused = await post(false);
  assert.equal(refused.status, 503);
  assert.equal(refused.headers.get('retry-after'), '1');
  const body = (await refused.json()) as { error: { code: string; message: string } };
  assert.equal(body.error.code, 'server_busy');
  assert.match(body.error.message, /limit of 2 requests in progress; nothing was charged/);

  // the streams finish intact; then a place is free again
  const [ta, tb] = await Promise.all([a.text(), b.text()]);
  assert.ok(ta.includes('[DONE]') && tb.includes('[DONE]'));
  const after = await post(false);
  assert.equal(after.status, 200);
  await after.json();

  const events = await assertBooksBalance(stack, allocationId);
  const refusedEvent = events.find((e) => e.status_code === 503);
  assert.ok(refusedEvent, 'the refusal is recorded');
  assert.equal(refusedEvent.weighted_tokens, 0, 'and charged nothing');
  assert.equal(stack.sim.requests.length, 3, 'the refused request never reached the upstream');
});
