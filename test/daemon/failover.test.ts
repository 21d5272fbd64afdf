/**
 * Failover to OPENROUTER_BACKUP_BASE_URL (two simulators): on a connection error or a 5xx before any
 * output the backup serves the request and the customer sees a normal answer; after output there is no
 * failover (the customer already has part of an answer).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import OpenAI from 'openai';
import { simulatedText } from '../../src/catalog/simulator.js';
import { auditLedger } from '../../src/ledger/audit.js';
import { HELLO, startStack, usageEvents } from './harness.js';

/** A loopback port with nothing listening. */
async function deadPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

test('5xx from the primary before any output: the backup answers (stream and non-stream)', async (t) => {
  const stack = await startStack(t, { backup: true });
  const { key, allocationId } = await stack.buyKey();
  stack.sim.setFault({ kind: 'status', status: 503 });
  const client = stack.client(key);
  const r = await client.chat.completions.create({ model: 'gpt-4', messages: HELLO, max_tokens: 7 });
  assert.equal(r.choices[0].message.content, simulatedText(7));
  let text = '';
  for await (const c of await client.chat.completions.create({ model: 'gpt-4', messages: HELLO, max_tokens: 5, stream: true })) text += c.choices[0]?.delta?.content ?? '';
  assert.equal(text, simulatedText(5));
  assert.deepEqual(
    stack.sim.requests.map((x) => x.status),
    [503, 503],
  );
  assert.deepEqual(
    stack.backup!.requests.map((x) => [x.status, x.completionTokensSent]),
    [
      [200, 7],
      [200, 5],
    ],
  );
  await stack.daemon.idle();
  const events = await usageEvents(stack.handle, allocationId);
  const p = stack.backup!.requests[0].promptTokens;
  assert.deepEqual(
    events.map((e) => [e.outcome, e.weighted_tokens]),
    [
      ['ok', p + 14],
      ['ok', p + 10],
    ],
  );
  const line = stack.logs.lines().find((l) => l.api_call === true && l.status === 200);
  assert.equal(line?.upstream, 'backup');
  assert.equal((await auditLedger(stack.handle)).ok, true);
});

test('connection refused on the primary: the backup answers', async (t) => {
  const stack = await startStack(t, { backup: true, primaryBaseUrl: `http://127.0.0.1:${await deadPort()}/api/v1` });
  const { key } = await stack.buyKey();
  const r = await stack.client(key).chat.completions.create({ model: 'gpt-4', messages: HELLO, max_tokens: 4 });
  assert.equal(r.choices[0].message.content, simulatedText(4));
  assert.equal(stack.backup!.requests.length, 1);
});

test('no failover after output; both upstreams failing is a 502 that costs nothing', async (t) => {
  const stack = await startStack(t, { backup: true });
  const { key, allocationId } = await stack.buyKey();
  const client = stack.client(key);
  stack.sim.queueFault({ kind: 'midstream_error', afterTokens: 2 });
  const mid = await (async () => {
    for await (const _c of await client.chat.completions.create({ model: 'gpt-4', messages: HELLO, stream: true })) {
      /* drain */
    }
  })().catch((e: unknown) => e);
  assert.ok(mid instanceof OpenAI.APIError);
  assert.equal(stack.backup!.requests.length, 0, 'the backup was not asked after output');

  stack.sim.setFault({ kind: 'status', status: 500 });
  stack.backup!.setFault({ kind: 'status', status: 502 });
  const both = await client.chat.completions.create({ model: 'gpt-4', messages: HELLO }).catch((e: unknown) => e);
  assert.ok(both instanceof OpenAI.APIError);
  assert.equal(both.status, 502);
  await stack.daemon.idle();
  const events = await usageEvents(stack.handle, allocationId);
  assert.equal(events.at(-1)!.weighted_tokens, 0);
  assert.equal(events.at(-1)!.outcome, 'upstream_error');
});
