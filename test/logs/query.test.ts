import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/db.js';
import { closeLogger, createLogger, listLogFiles, logApiCall, logTransaction } from '../../src/logger.js';
import { followLogs, queryLogs, summarizeApiCalls, type LogEntry } from '../../src/logs/query.js';

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
