import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/db.js';
import { closeLogger, createLogger, listLogFiles, logApiCall, logTransaction } from '../../src/logger.js';
import { failureReason, followLogs, queryLogs, summarizeApiCalls, type LogEntry } from '../../src/logs/query.js';

function line(timestamp: string, level: string, fields: Record<string, unknown>, message = 'm'): string {
  return `${JSON.stringify({ timestamp, level, ...fields, message })}\n`;
}

const tx = (ts: string, type: string, amount: number, user = 1) => line(ts, 'INFO', { transaction: true, type, amount, user_id: user });
const api = (ts: string, success: boolean, latency: number, status = success ? 200 : 502) =>
  line(ts, success ? 'INFO' : 'ERROR', { api_call: true, service: 'openrouter', endpoint: '/chat/completions', status, success, latency_ms: latency });

/** Two rotated files and the live one, with malformed lines sprinkled in; mtimes match the content. */
function writeFixture(dir: string): void {
  const first = join(dir, 'arbitrage-20240110-000000.log');
  writeFileSync(
    first,
    tx('2024-01-09T10:00:00.000Z', 'topup', 50) +
      tx('2024-01-09T11:00:00.000Z', 'token_package_purchase', 3.75, 2) +
      line('2024-01-09T12:00:00.000Z', 'ERROR', { err: { message: 'db locked' } }, 'purchase failed') +
      'not json at all\n' +
      '{"timestamp":"2024-01-09T13:00:00.000Z","level":"INFO","transaction":true,"amount":\n' +
      api('2024-01-09T14:00:00.000Z', false, 30000),
  );
  utimesSync(first, new Date('2024-01-10T00:00:00Z'), new Date('2024-01-10T00:00:00Z'));
  const second = join(dir, 'arbitrage-20240114-000000.log');
  writeFileSync(
    second,
    tx('2024-01-13T09:00:00.000Z', 'token_package_purchase', 100, 3) +
      line('2024-01-13T09:30:00.000Z', 'CRITICAL', {}, 'database unreachable') +
      line('2024-01-13T10:00:00.000Z', 'WARN', { security_event: true, event: 'admin_access_denied', reason: 'not an admin', telegram_user_id: 9 }) +
      line('2024-01-13T11:00:00.000Z', 'INFO', { performance: true, operation: 'model_sync', execution_time: 2.5 }) +
      line('2024-01-13T11:30:00.000Z', 'INFO', { performance: true, operation: 'backup', execution_time: 1.9 }) +
      api('2024-01-13T12:00:00.000Z', true, 2500),
  );
  utimesSync(second, new Date('2024-01-14T00:00:00Z'), new Date('2024-01-14T00:00:00Z'));
  writeFileSync(
    join(dir, 'arbitrage.log'),
    tx('2024-01-15T08:00:00.000Z', 'token_package_purchase', 250.5, 4) +
      tx('2024-01-15T09:00:00.000Z', 'refund', -1.25, 4) +
      api('2024-01-15T10:00:00.000Z', false, 15, 401) +
      line('2024-01-15T10:30:00.000Z', 'ERROR', {}, 'webhook failed') +
      '\n' +
      tx('2024-01-15T11:00:00.000Z', 'token_package_purchase', 1, 5),
  );
}

test('each query over rotated files and the live file: matches, totals, money, malformed lines counted', async (t) => {
  const dir = tempDir(t);
  writeFixture(dir);

  const txs = await queryLogs(dir, 'transactions');
  assert.deepEqual(
    txs.files.map((f) => f.name),
    ['arbitrage-20240110-000000.log', 'arbitrage-20240114-000000.log', 'arbitrage.log'],
  );
  assert.equal(txs.total, 6);
  assert.equal(txs.amountMicros, 50_000_000 + 3_750_000 + 100_000_000 + 250_500_000 - 1_250_000 + 1_000_000);
  assert.deepEqual(txs.entries.map((e) => e.amount), [50, 3.75, 100, 250.5, -1.25, 1], 'oldest first');
  assert.equal(txs.malformed, 1, 'the truncated transaction line');

  const limited = await queryLogs(dir, 'transactions', { limit: 2 });
  assert.deepEqual(limited.entries.map((e) => e.amount), [-1.25, 1], 'the last N');
  assert.equal(limited.total, 6, 'totals cover every match');

  const errors = await queryLogs(dir, 'errors');
  assert.deepEqual(errors.entries.map((e) => e.message), ['purchase failed', 'm', 'database unreachable', 'm', 'webhook failed']);
  assert.equal(errors.malformed, 0, 'the truncated line has no level, so it is not a candidate');
  assert.deepEqual(errors.entries.map((e) => e.level), ['ERROR', 'ERROR', 'CRITICAL', 'ERROR', 'ERROR']);

  const revenue = await queryLogs(dir, 'revenue');
  assert.equal(revenue.total, 4);
  assert.equal(revenue.amountMicros, 3_750_000 + 100_000_000 + 250_500_000 + 1_000_000);
  assert.deepEqual(revenue.days, [
    { day: '2024-01-09', purchases: 1, revenueMicros: 3_750_000 },
    { day: '2024-01-13', purchases: 1, revenueMicros: 100_000_000 },
    { day: '2024-01-15', purchases: 2, revenueMicros: 251_500_000 },
  ]);

  const high = await queryLogs(dir, 'high-value');
  assert.deepEqual(high.entries.map((e) => e.amount), [100, 250.5], 'default threshold $100, inclusive');
  const high50 = await queryLogs(dir, 'high-value', { minAmountMicros: 50_000_000 });
  assert.deepEqual(high50.entries.map((e) => e.amount), [50, 100, 250.5]);

  const failures = await queryLogs(dir, 'api-failures');
  assert.deepEqual(failures.entries.map((e) => e.status), [502, 401]);

  const slow = await queryLogs(dir, 'slow');
  assert.deepEqual(slow.entries.map((e) => e.operation ?? e.latency_ms), [30000, 'model_sync', 2500]);

  const security = await queryLogs(dir, 'security');
  assert.deepEqual(security.entries.map((e) => e.event), ['admin_access_denied']);
});

test('--since skips older lines and rotated files last written before it; tail reads backwards across files', async (t) => {
  const dir = tempDir(t);
  writeFixture(dir);
  const since = new Date('2024-01-13T10:00:00Z');
  const txs = await queryLogs(dir, 'transactions', { since });
  assert.deepEqual(txs.entries.map((e) => e.amount), [250.5, -1.25, 1]);
  assert.deepEqual(txs.files.map((f) => f.name), ['arbitrage-20240114-000000.log', 'arbitrage.log'], 'the January 10 file is not even opened');
  const sec = await queryLogs(dir, 'security', { since });
  assert.equal(sec.total, 1, 'exactly at the boundary counts');

  const tail = await queryLogs(dir, 'tail', { limit: 8 });
  assert.equal(tail.entries.length, 8);
  assert.equal(tail.entries.at(-1)!.amount, 1);
  assert.equal(tail.entries[0].timestamp, '2024-01-13T11:00:00.000Z', 'spills into the previous file, oldest first');
  assert.deepEqual(tail.files.map((f) => f.name), ['arbitrage-20240114-000000.log', 'arbitrage.log']);

  const tailSince = await queryLogs(dir, 'tail', { limit: 50, since: new Date('2024-01-15T09:30:00Z') });
  assert.deepEqual(tailSince.entries.map((e) => e.timestamp), ['2024-01-15T10:00:00.000Z', '2024-01-15T10:30:00.000Z', '2024-01-15T11:00:00.000Z']);

  const all = await queryLogs(dir, 'tail', { limit: 1000 });
  assert.equal(all.entries.length, 15);
  assert.equal(all.malformed, 2);

  // a line still being written (no newline yet) is left for --follow
  appendFileSync(join(dir, 'arbitrage.log'), '{"timestamp":"2024-01-15T12:00:00.000Z","level":"INFO","transaction":tr');
  const partial = await queryLogs(dir, 'tail', { limit: 1 });
  assert.equal(partial.entries[0].amount, 1);
  assert.equal(partial.malformed, 0);
  const partialTx = await queryLogs(dir, 'transactions');
  assert.equal(partialTx.total, 6);
  assert.equal(partialTx.cursor.offset, readFileSync(join(dir, 'arbitrage.log')).lastIndexOf(10) + 1);
});

test('a missing log directory is an empty result; limits are checked', async (t) => {
  const dir = tempDir(t);
  const r = await queryLogs(join(dir, 'nope'), 'errors');
  assert.deepEqual([r.total, r.entries, r.files, r.malformed], [0, [], [], 0]);
  await assert.rejects(queryLogs(dir, 'errors', { limit: 0 }), /limit must be a positive integer/);
});

test('chunk boundaries and very long lines: the engine agrees with a naive line-by-line reading', async (t) => {
  const dir = tempDir(t);
  let text = '';
  let seed = 7;
  const rnd = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
  for (let i = 0; i < 30_000; i++) {
    const ts = new Date(Date.UTC(2024, 0, 1) + i * 1000).toISOString();
    const pad = 'p'.repeat(Math.floor(rnd() * 300));
    if (i % 3 === 0) text += line(ts, 'INFO', { transaction: true, type: i % 2 ? 'topup' : 'token_package_purchase', amount: Math.round(rnd() * 10_000) / 100, user_id: i, pad });
    else if (i === 5000) text += line(ts, 'ERROR', { blob: 'b'.repeat(5_000_000) }, 'huge line');
    else if (i % 997 === 0) text += '{"timestamp":"broken","transaction":true\n';
    else text += line(ts, i % 50 ? 'INFO' : 'ERROR', { pad });
  }
  writeFileSync(join(dir, 'arbitrage.log'), text);
  assert.ok(text.length > 9_000_000, 'longer than a read chunk, with one line longer than a chunk');

  const naive = text.split('\n').filter((l) => l.includes('"transaction":true'));
  const parsed = naive.flatMap((l) => {
    try {
      return [JSON.parse(l) as LogEntry];
    } catch {
      return [];
    }
  });
  const r = await queryLogs(dir, 'transactions', { limit: 3 });
  assert.equal(r.total, parsed.length);
  assert.equal(r.malformed, naive.length - parsed.length);
  assert.equal(r.amountMicros, parsed.reduce((s, e) => s + Math.round((e.amount as number) * 1e6), 0));
  assert.deepEqual(r.entries, parsed.slice(-3));

  const errors = await queryLogs(dir, 'errors', { limit: 1000 });
  assert.equal(errors.total, text.split('\n').filter((l) => l.includes('"level":"ERROR"')).length);
  assert.ok(errors.entries.some((e) => e.message === 'huge line'));

  const lines = text.split('\n').filter((l) => l !== '');
  const tail = await queryLogs(dir, 'tail', { limit: 9000 });
  const naiveTail = lines.flatMap((l) => {
    try {
      return [JSON.parse(l) as LogEntry];
    } catch {
      return [];
    }
  });
  assert.deepEqual(
    tail.entries.map((e) => e.timestamp),
    naiveTail.slice(-9000).map((e) => e.timestamp),
  );
});

test('followLogs streams new matches after the cursor, across a rotation, until aborted', async (t) => {
  const dir = tempDir(t);
  const logger = createLogger({ logDir: dir, rotateBytes: 1500 });
  logTransaction(logger, { type: 'topup', amount: 1, user_id: 0 });
  const initial = await queryLogs(dir, 'transactions');
  assert.equal(initial.total, 1);

  const seen: number[] = [];
  const ac = new AbortController();
  const timeout = setTimeout(() => ac.abort(), 20_000);
  t.after(() => clearTimeout(timeout));
  const done = followLogs(dir, 'transactions', {
    cursor: initial.cursor,
    signal: ac.signal,
    pollMs: 20,
    onEntry: (e) => {
      seen.push(e.user_id as number);
      if (seen.length === 40) ac.abort();
    },
  });
  // written while following: enough to rotate several times, with other lines in between
  for (let i = 1; i <= 40; i++) {
    logTransaction(logger, { type: 'topup', amount: i, user_id: i });
    logger.info({ filler: 'x'.repeat(100) }, 'not a transaction');
    if (i % 5 === 0) await new Promise((r) => setTimeout(r, 30));
  }
  await done;
  await closeLogger(logger);
  assert.ok(listLogFiles(dir).length > 2, 'the live file rotated while being followed');
  assert.deepEqual(seen, Array.from({ length: 40 }, (_, i) => i + 1), 'each new transaction once, in order, none from before the cursor');
});

test('summarizeApiCalls: total, failed and the nearest-rank p95 latency', async (t) => {
  const dir = tempDir(t);
  const logger = createLogger({ logDir: dir });
  for (let ms = 1; ms <= 100; ms++) logApiCall(logger, { service: 'proxy', endpoint: '/v1/chat/completions', status: ms % 10 ? 200 : 502, success: ms % 10 !== 0, latency_ms: ms });
  logApiCall(logger, { service: 'proxy', endpoint: '/v1/chat/completions', status: 200, success: true, latency_ms: 90_000 });
  await closeLogger(logger);
  const s = await summarizeApiCalls(dir, null);
  assert.deepEqual(s, { total: 101, failed: 10, p95LatencyMs: 96, malformed: 0 });
  const none = await summarizeApiCalls(dir, new Date(Date.now() + 60_000));
  assert.deepEqual(none, { total: 0, failed: 0, p95LatencyMs: null, malformed: 0 });
  assert.deepEqual(await summarizeApiCalls(join(dir, 'missing'), null), { total: 0, failed: 0, p95LatencyMs: null, malformed: 0 });
});

/** A shop's log: requests of two keys (api_call lines name the key only by allocation_id), errors with reasons. */
function writeRequestLog(dir: string): void {
  const logger = createLogger({ logDir: dir });
  for (let i = 0; i < 30; i++) {
    const failed = i % 10 === 3;
    logApiCall(logger, {
      service: 'proxy',
      endpoint: '/v1/chat/completions',
      status: failed ? 502 : 200,
      success: !failed,
      latency_ms: 100 + i,
      request_id: `req-${i}`,
      allocation_id: i % 2 ? 7 : 12,
      ...(failed ? { failure: `upstream status 502 (attempt ${i})` } : {}),
    });
  }
  logger.warn({ security_event: true, event: 'key_revoked', reason: 'revoked by the operator', key_masked: 'sk-arb-AbCd…wxyz', allocation_id: 7 }, 'security key_revoked');
  logger.warn({ security_event: true, event: 'invalid_api_key', reason: 'revoked key', key: 'sk-arb-ZzZz…0000' }, 'security invalid_api_key');
  logger.error({ request_id: 'req-13', err: { type: 'DatabaseUnavailableError', message: 'database is locked' } }, 'settle failed');
  logger.info({ request_id: 'req-130' }, 'a request id that only starts like req-13');
  return void closeLogger(logger);
}

test('--request-id and --key filters narrow any query; errors carry their reason', async (t) => {
  const dir = tempDir(t);
  await writeRequestLog(dir);

  const one = await queryLogs(dir, 'all', { filter: { requestId: 'req-13' } });
  assert.deepEqual(one.entries.map((e) => [e.request_id, e.message]), [['req-13', 'proxy /v1/chat/completions 502'], ['req-13', 'settle failed']], 'exactly that request, not req-130');
  const oneError = await queryLogs(dir, 'errors', { filter: { requestId: 'req-13' } });
  assert.equal(oneError.total, 2, 'the failed call (ERROR level) and the settle failure');
  assert.deepEqual(oneError.entries.map(failureReason), ['upstream status 502 (attempt 13)', 'DatabaseUnavailableError: database is locked']);

  const byId = await queryLogs(dir, 'all', { filter: { key: { prefixes: ['sk-arb-AbCd…'], allocationIds: [7] } } });
  assert.equal(byId.total, 16, "the key's 15 calls (by allocation id) and its revocation (by masked key)");
  assert.ok(byId.entries.every((e) => e.allocation_id === 7));
  const byPrefix = await queryLogs(dir, 'security', { filter: { key: { prefixes: ['sk-arb-ZzZz'], allocationIds: [] } } });
  assert.deepEqual(byPrefix.entries.map((e) => e.event), ['invalid_api_key']);
  const failures = await queryLogs(dir, 'api-failures', { filter: { key: { prefixes: [], allocationIds: [7] } } });
  assert.deepEqual(failures.entries.map((e) => e.request_id), ['req-3', 'req-13', 'req-23'], 'api-failures of key 7 only');
  const both = await queryLogs(dir, 'all', { filter: { requestId: 'req-13', key: { prefixes: [], allocationIds: [12] } } });
  assert.equal(both.total, 0, 'both filters must hold');

  const tail = await queryLogs(dir, 'tail', { limit: 3, filter: { key: { prefixes: [], allocationIds: [12] } } });
  assert.deepEqual(tail.entries.map((e) => e.request_id), ['req-24', 'req-26', 'req-28'], 'tail reads backwards through the needle hits');
});

test('followLogs applies the filter to new lines', async (t) => {
  const dir = tempDir(t);
  const logger = createLogger({ logDir: dir });
  logApiCall(logger, { service: 'proxy', endpoint: '/v1/chat/completions', status: 200, success: true, latency_ms: 1, request_id: 'before', allocation_id: 5 });
  const initial = await queryLogs(dir, 'all', { filter: { key: { prefixes: [], allocationIds: [5] } } });
  const seen: string[] = [];
  const ac = new AbortController();
  const timeout = setTimeout(() => ac.abort(), 20_000);
  t.after(() => clearTimeout(timeout));
  const done = followLogs(dir, 'tail', {
    cursor: initial.cursor,
    filter: { key: { prefixes: [], allocationIds: [5] } },
    signal: ac.signal,
    pollMs: 20,
    onEntry: (e) => {
      seen.push(e.request_id as string);
      if (e.request_id === 'last') ac.abort();
    },
  });
  for (let i = 0; i < 10; i++) logApiCall(logger, { service: 'proxy', endpoint: '/v1/chat/completions', status: 200, success: true, latency_ms: 1, request_id: `r${i}`, allocation_id: i % 2 ? 5 : 6 });
  logApiCall(logger, { service: 'proxy', endpoint: '/v1/chat/completions', status: 200, success: true, latency_ms: 1, request_id: 'last', allocation_id: 5 });
  await done;
  await closeLogger(logger);
  assert.deepEqual(seen, ['r1', 'r3', 'r5', 'r7', 'r9', 'last']);
});

test('ranges scanned on worker threads give the single-pass answer', async (t) => {
  const dir = tempDir(t);
  let seed = 11;
  const rnd = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
  const write = (name: string, count: number, day: number) => {
    let text = '';
    for (let i = 0; i < count; i++) {
      const ts = new Date(Date.UTC(2024, 0, day) + i * 1000).toISOString();
      const r = rnd();
      if (r < 0.2) text += tx(ts, r < 0.1 ? 'token_package_purchase' : 'refund', Math.round(rnd() * 30_000) / 100, i);
      else if (r < 0.25) text += line(ts, 'ERROR', { request_id: `req-${i}`, failure: 'upstream status 502' });
      else if (r < 0.26) text += '{"timestamp":"2024-01-02T00:00:00.000Z","transaction":true,"amount":\n';
      else text += api(ts, r > 0.3, Math.floor(rnd() * 4000));
    }
    writeFileSync(join(dir, name), text);
  };
  write('arbitrage-20240102-000000.log', 4000, 1);
  write('arbitrage-20240103-000000.log', 3000, 2);
  write('arbitrage.log', 5000, 3);
  for (const query of ['transactions', 'revenue', 'errors', 'api-failures', 'slow', 'high-value'] as const) {
    const single = await queryLogs(dir, query, { limit: 7, workers: 0 });
    for (const workers of [1, 3]) {
      const split = await queryLogs(dir, query, { limit: 7, workers, rangeBytes: 20_000 });
      assert.deepEqual(
        { ...split, files: split.files.map((f) => f.name) },
        { ...single, files: single.files.map((f) => f.name) },
        `${query} on ${workers} thread(s) in 20 kB ranges`,
      );
    }
  }
});
