/**
 * METERING.md "What proves it": 200 concurrent requests on a key whose quota covers ~20 of them never
 * spend more than the key holds; what the key was charged equals its usage events and what the simulator
 * served (weighted); no hold is left open; the ledger audit is clean. Then again with a third of the
 * requests cut or failing upstream, (PostgreSQL) across two daemon replicas, and with every protocol at
 * once — Messages, Responses, Chat and legacy Completions on one Claude key, stream and not, with faults
 * and cache/reasoning classes — plus Embeddings on a second key.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { openAndMigrate } from '../../src/db/dialect.js';
import { meteringRule, weightedTokens, weighTokenClasses } from '../../src/pricing.js';
import { auditLedger } from '../../src/ledger/audit.js';
import type { SimFault } from '../../src/catalog/simulator.js';
import { startDaemon, type Daemon } from '../../daemon/main.js';
import { createSilentLogger } from '../../src/logger.js';
import { PG_SKIP_REASON, testDialects } from '../support/db.js';
import { insertModel } from '../support/models.js';
import { allocation, HELLO, openReservations, startStack, usageEvents, type Stack } from './harness.js';

const CONCURRENCY = 200;
const MAX_TOKENS = 20;
const gpt4 = meteringRule(30_000_000, 60_000_000);

/** Fires CONCURRENCY requests at once (alternating stream / non-stream) spread over the daemons. */
async function storm(stack: Stack, daemons: Daemon[], key: string) {
  const clients = daemons.map((d) => new OpenAI({ apiKey: key, baseURL: `${d.url}/v1`, maxRetries: 0, timeout: 30_000 }));
  const results = await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, i) => {
      const client = clients[i % clients.length];
      try {
        if (i % 2 === 0) {
          await client.chat.completions.create({ model: 'gpt-4', messages: HELLO, max_tokens: MAX_TOKENS });
        } else {
          const s = await client.chat.completions.create({ model: 'gpt-4', messages: HELLO, max_tokens: MAX_TOKENS, stream: true });
          for await (const _chunk of s) {
            /* drain */
          }
        }
        return 200;
      } catch (e) {
        // an error event inside a 200 stream (cut, mid-stream error) has no HTTP status: -1
        return e instanceof OpenAI.APIError ? (e.status ?? -1) : -2;
      }
    }),
  );
  await Promise.all(daemons.map((d) => d.idle()));
  await stack.sim.idle();
  return results;
}

/** The invariants, checked against the database and the simulator's record. */
async function checkBooks(stack: Stack, allocationId: number, results: number[]) {
  const a = await allocation(stack.handle, allocationId);
  const events = await usageEvents(stack.handle, allocationId);
  const charged = events.reduce((n, e) => n + e.weighted_tokens, 0);
  const loss = events.reduce((n, e) => n + e.loss_tokens, 0);
  assert.ok(a.tokens_used <= a.tokens_total, `overspent: used ${a.tokens_used} of ${a.tokens_total}`);
  assert.equal(a.tokens_used, charged, 'tokens_used = sum of the usage events');
  assert.equal(a.tokens_reserved, 0, 'no hold left on the key');
  assert.equal(await openReservations(stack.handle), 0, 'no reservation row left');
  assert.equal(loss, 0, 'holds covered the real usage (no operator loss)');
  // What the simulator served with a 200 (prompt + completion tokens actually sent), weighted per request.
  const chat = stack.sim.requests.filter((r) => r.endpoint === 'chat');
  const served = chat.reduce((n, r) => n + (r.status === 200 ? weightedTokens(gpt4, r.promptTokens, r.completionTokensSent) : 0), 0);
  assert.equal(charged, served, 'charged = what the upstream served (weighted)');
  // every forwarded request has exactly one usage event; refused ones were never forwarded
  assert.equal(events.length, chat.length);
  assert.equal(results.filter((s) => s === 402).length, CONCURRENCY - chat.length);
  assert.ok(
    results.every((s) => [200, 402, 502, -1].includes(s)),
    `unexpected statuses: ${[...new Set(results)].join(', ')}`,
  );
  const audit = await auditLedger(stack.handle);
  assert.deepEqual(audit.problems, []);
  return { used: a.tokens_used, total: a.tokens_total, forwarded: chat.length, ok: results.filter((s) => s === 200).length };
}

for (const dialect of testDialects()) {
  test(`no overspend: ${CONCURRENCY} concurrent requests on a quota for ~20 (${dialect})`, async (t) => {
    const stack = await startStack(t, { dialect, tokens: 20 * (14 + 2 * MAX_TOKENS) });
    const { key, allocationId } = await stack.buyKey();
    const results = await storm(stack, [stack.daemon], key);
    const books = await checkBooks(stack, allocationId, results);
    // the quota pays for 20 full answers; the last requests get max_tokens shortened to what is left, so a
    // few more than 20 can succeed (21–27 seen across runs)
    assert.ok(books.ok >= 15 && books.ok <= 30, `about 20 requests fit, ${books.ok} did`);
    assert.ok(books.used > books.total - 2 * (14 + 2 * MAX_TOKENS), 'the quota was actually used up');
  });

  test(`no overspend with a third of the requests cut or failing upstream (${dialect})`, async (t) => {
    const stack = await startStack(t, { dialect, tokens: 20 * (14 + 2 * MAX_TOKENS) });
    const { key, allocationId } = await stack.buyKey();
    const pattern: SimFault[] = [
      { kind: 'cut', afterTokens: 5 },
      { kind: 'slow', delayMs: 0 },
      { kind: 'status', status: 500 },
      { kind: 'slow', delayMs: 0 },
      { kind: 'midstream_error', afterTokens: 3 },
      { kind: 'slow', delayMs: 0 },
      { kind: 'no_usage' },
      { kind: 'slow', delayMs: 0 },
      { kind: 'slow', delayMs: 0 },
    ];
    for (let i = 0; i < CONCURRENCY; i++) stack.sim.queueFault(pattern[i % pattern.length]);
    const results = await storm(stack, [stack.daemon], key);
    const books = await checkBooks(stack, allocationId, results);
    const events = await usageEvents(stack.handle, allocationId);
    const outcomes = new Set(events.map((e) => e.outcome));
    // (which request meets which fault depends on arrival order: a cut non-stream request is an upstream_error)
    for (const o of ['ok', 'upstream_error'] as const) assert.ok(outcomes.has(o), `outcome ${o} occurred`);
    assert.ok(events.some((e) => e.estimated === 1));
    assert.ok(books.forwarded > 20, 'failed requests gave their holds back to others');
  });
}

// A request that does not fit only because a request in flight holds the tokens waits a little (up to
// 375 ms, src/metering/hold.ts) for it to settle and give back what it did not use, then is refused.
for (const [name, chunkDelayMs, served] of [
  ['settles within the wait: the second request is served with what came back', 2, true],
  ['holds past the wait: the second request is refused, and nothing is charged for it', 60, false],
] as const) {
  test(`a request that does not fit while another holds the tokens: the first ${name}`, async (t) => {
    // one full hold is 63 tokens (HELLO, max_tokens 20) and the smallest 25 (one output token): 85 leaves
    // 22 beside the first's hold, too few for any hold, and 31 once it is charged its 54
    const stack = await startStack(t, { tokens: 85, sim: { chunkDelayMs } });
    const { key, allocationId } = await stack.buyKey();
    const client = new OpenAI({ apiKey: key, baseURL: `${stack.daemon.url}/v1`, maxRetries: 0 });
    const first = await client.chat.completions.create({ model: 'gpt-4', messages: HELLO, max_tokens: MAX_TOKENS, stream: true });
    const iterator = first[Symbol.asyncIterator]();
    await iterator.next(); // the first is upstream and holds its tokens
    const firstDone = (async () => {
      for (let r = await iterator.next(); !r.done; r = await iterator.next());
    })();
    const started = performance.now();
    const second = await client.chat.completions.create({ model: 'gpt-4', messages: HELLO, max_tokens: MAX_TOKENS }).then(
      (c) => ({ status: 200, tokens: c.usage!.completion_tokens }),
      (e: unknown) => ({ status: (e as { status?: number }).status, tokens: 0 }),
    );
    const waited = performance.now() - started;
    await firstDone;
    if (served) {
      assert.equal(second.status, 200, 'served once the first gave its hold back');
      assert.ok(second.tokens > 0 && second.tokens < MAX_TOKENS, `its output limit shortened to what was left (${second.tokens} tokens)`);
    } else {
      assert.equal(second.status, 402);
      assert.ok(waited >= 300, `refused after waiting for the hold (${waited.toFixed(0)} ms)`);
    }
    const a = await allocation(stack.handle, allocationId);
    const events = await usageEvents(stack.handle, allocationId);
    assert.equal(events.length, served ? 2 : 1);
    assert.equal(
      a.tokens_used,
      events.reduce((n, e) => n + e.weighted_tokens, 0),
    );
    assert.ok(a.tokens_used <= a.tokens_total);
    assert.equal(a.tokens_reserved, 0);
    assert.deepEqual((await auditLedger(stack.handle)).problems, []);
  });
}

test('no overspend across two daemon replicas on one PostgreSQL database', { skip: process.env.TEST_DATABASE_URL ? false : PG_SKIP_REASON }, async (t) => {
  const stack = await startStack(t, { dialect: 'postgres', tokens: 20 * (14 + 2 * MAX_TOKENS) });
  const { key, allocationId } = await stack.buyKey();
  const handle2 = await openAndMigrate({ databaseUrl: stack.handle.url!, poolSize: 10 });
  t.after(() => handle2.close());
  const replica = await startDaemon({ config: stack.config, handle: handle2, logger: createSilentLogger(), host: '127.0.0.1', port: 0, bot: false, alerts: false, defaultMetrics: false });
  t.after(() => replica.stop());
  for (let i = 0; i < CONCURRENCY; i += 3) stack.sim.queueFault({ kind: 'cut', afterTokens: 4 });
  const results = await storm(stack, [stack.daemon, replica], key);
  await checkBooks(stack, allocationId, results);
  await replica.stop();
});

/** The four generating protocols, stream and not, each request with its own fault (a prompt marker) or none. */
const MIX: Array<{ path: string; body: (prompt: string, stream: boolean) => Record<string, unknown> }> = [
  { path: '/v1/messages', body: (p, stream) => ({ model: 'claude-sonnet-4-6', max_tokens: MAX_TOKENS, system: 'Be brief.', messages: [{ role: 'user', content: p }], stream }) },
  { path: '/v1/chat/completions', body: (p, stream) => ({ model: 'anthropic/claude-sonnet-4.6', max_tokens: MAX_TOKENS, messages: [{ role: 'user', content: p }], stream }) },
  { path: '/v1/responses', body: (p, stream) => ({ model: 'anthropic/claude-sonnet-4.6', max_output_tokens: MAX_TOKENS, input: [{ role: 'user', content: p }], stream }) },
  { path: '/v1/completions', body: (p, stream) => ({ model: 'anthropic/claude-sonnet-4.6', max_tokens: MAX_TOKENS, prompt: p, stream }) },
];
const MARKERS = ['', '[sim:fault=cut:5]', '', '[sim:fault=status:500]', '[sim:cache_read=4][sim:reasoning=3]', '[sim:fault=midstream:3]', '', '[sim:fault=no_usage]', '[sim:cache_write=5]'];

for (const dialect of testDialects()) {
  test(`no overspend with every protocol at once: Messages, Responses, Chat, Completions (stream and not, faults, cache and reasoning) and Embeddings (${dialect})`, async (t) => {
    const sonnet = meteringRule(3_000_000, 15_000_000, { cacheReadRate: 300_000, cacheWriteRate: 3_750_000 });
    // ~20 answers of MAX_TOKENS at completion weight 5
    const stack = await startStack(t, { dialect, model: 'anthropic/claude-sonnet-4.6', tokens: 20 * (30 + 5 * MAX_TOKENS) });
    const { key, allocationId } = await stack.buyKey();
    await insertModel(stack.handle, { model: 'openai/text-embedding-3-small', name: 'Embedding', promptRate: 20_000, completionRate: 0 }, '2026-01-01 00:00:00');
    const emb = await stack.buyKey({ pkg: await stack.addPackage('openai/text-embedding-3-small', 200) });
    const post = async (k: string, path: string, body: Record<string, unknown>) => {
      try {
        const r = await fetch(`${stack.daemon.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${k}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
        await r.text();
        return r.status;
      } catch {
        return -2;
      }
    };
    const results = await Promise.all(
      Array.from({ length: CONCURRENCY }, (_, i) => {
        if (i % 10 === 9) return post(emb.key, '/v1/embeddings', { model: 'text-embedding-3-small', input: [`embed me ${i}`, 'and me'] });
        const m = MIX[i % MIX.length];
        return post(key, m.path, m.body(`Say hello in five words. ${MARKERS[i % MARKERS.length]}`, i % 3 !== 0));
      }),
    );
    await stack.daemon.idle();
    await stack.sim.idle();
    assert.ok(
      results.every((s) => [200, 402, 502].includes(s)),
      `unexpected statuses: ${[...new Set(results)].join(', ')}`,
    );

    // each key: never over its total, charges = its events, no hold left, and each event = what the
    // simulator served for that request (exactly with usage; never less when estimated)
    const byRequest = new Map(stack.sim.requests.map((r) => [String(r.headers['x-request-id']), r]));
    for (const [id, rule] of [
      [allocationId, sonnet],
      [emb.allocationId, meteringRule(20_000, 0)],
    ] as const) {
      const a = await allocation(stack.handle, id);
      const events = await usageEvents(stack.handle, id);
      assert.ok(a.tokens_used <= a.tokens_total, `overspent: used ${a.tokens_used} of ${a.tokens_total}`);
      assert.equal(
        a.tokens_used,
        events.reduce((n, e) => n + e.weighted_tokens, 0),
      );
      assert.equal(a.tokens_reserved, 0);
      assert.equal(
        events.reduce((n, e) => n + e.loss_tokens, 0),
        0,
        'holds covered the real usage',
      );
      for (const e of events) {
        const rec = byRequest.get(e.request_id);
        assert.ok(rec, `event ${e.request_id} was never forwarded`);
        const served = rec.status === 200 ? weighTokenClasses(rule, rec.tokens) : 0;
        if (e.estimated) assert.ok(e.weighted_tokens >= served && e.weighted_tokens <= served + 12, `${rec.endpoint} estimated ${e.weighted_tokens} for ${served} served`);
        else assert.equal(e.weighted_tokens, served, `${rec.endpoint} ${e.outcome}: charged ${e.weighted_tokens}, served ${served}`);
      }
      assert.ok(a.tokens_used > a.tokens_total / 2, 'the quota was used');
    }
    const events = await usageEvents(stack.handle, allocationId);
    assert.equal(events.length + (await usageEvents(stack.handle, emb.allocationId)).length, stack.sim.requests.length, 'every forwarded request has one usage event');
    for (const o of ['ok', 'upstream_error', 'upstream_cut'] as const)
      assert.ok(
        events.some((e) => e.outcome === o),
        `outcome ${o} occurred`,
      );
    assert.ok(events.some((e) => e.cache_read_tokens > 0) && events.some((e) => e.reasoning_tokens > 0 || e.completion_tokens > MAX_TOKENS - 1));
    assert.ok(results.filter((s) => s === 402).length > 0, 'the quota ran out');
    assert.equal(await openReservations(stack.handle), 0);
    assert.deepEqual((await auditLedger(stack.handle)).problems, []);
  });
}
