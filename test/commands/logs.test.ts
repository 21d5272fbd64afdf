import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ARB_BIN, CLI_FROM_SOURCE, runArb } from '../support/cli.js';
import { tempDir } from '../support/db.js';
import { closeLogger, createLogger, logApiCall, logSecurityEvent, logTransaction } from '../../src/logger.js';
import { openAndMigrate } from '../../src/db/dialect.js';
import { arbEnv, seedShop } from './support.js';
import { until } from '../support/wait.js';

const HAVE_JQ = spawnSync('bash', ['-c', 'command -v jq'], { encoding: 'utf8' }).status === 0;
const NO_JQ = 'jq is not installed (the manual recipes need it; .ci/run installs it)';

function bash(cwd: string, script: string): string {
  const r = spawnSync('bash', ['-c', script], { cwd, encoding: 'utf8' });
  assert.equal(r.status, 0, `${script}\n${r.stderr}`);
  return r.stdout.trim();
}

/** A log in <cwd>/logs written by the real logger, plus a few lines from yesterday. */
async function writeShopLog(cwd: string): Promise<void> {
  const dir = join(cwd, 'logs');
  mkdirSync(dir, { recursive: true });
  const yesterday = new Date(Date.now() - 86_400_000).toISOString();
  appendFileSync(
    join(dir, 'arbitrage.log'),
    `${JSON.stringify({ timestamp: yesterday, level: 'INFO', transaction: true, type: 'token_package_purchase', amount: 3.75, amount_micros: 3_750_000, user_id: 7, package_id: 1, message: 'transaction token_package_purchase' })}\n` +
      `${JSON.stringify({ timestamp: yesterday, level: 'ERROR', message: 'yesterday failed' })}\n`,
  );
  const logger = createLogger({ logDir: dir, secrets: ['sk-or-v1-secretsecretsecret'] });
  const amounts = [10, 3.75, 125.5, 50, 0.01, 7.333333, 200];
  amounts.forEach((amount, i) => {
    logTransaction(logger, { type: i % 2 ? 'topup' : 'token_package_purchase', amount, amount_micros: Math.round(amount * 1e6), user_id: 100 + i, package_id: i % 2 ? undefined : 2 });
    logApiCall(logger, { service: 'openrouter', endpoint: '/chat/completions', status: i % 3 ? 200 : 502, success: i % 3 !== 0, latency_ms: 100 * i });
  });
  logger.error(new Error('upstream timeout'));
  logger.critical('database unreachable');
  logSecurityEvent(logger, { event: 'admin_access_denied', reason: 'not in ADMIN_ID_LIST', telegram_user_id: 5 });
  appendFileSync(join(dir, 'arbitrage.log'), 'garbage line with "transaction":true in it\n');
  await closeLogger(logger);
}

test('arb logs … --json agrees with the manual grep/jq recipes on the same file', async (t) => {
  if (!HAVE_JQ) return t.skip(NO_JQ);
  const cwd = tempDir(t);
  await writeShopLog(cwd);
  const env = { LOG_DIR: join(cwd, 'logs') };

  const txs = await runArb(['logs', 'transactions', '--json', '--limit', '3'], { cwd, env });
  assert.equal(txs.code, 0, txs.stderr);
  const doc = JSON.parse(txs.stdout);
  const recipeSum = Number(bash(cwd, `grep '"transaction":true' logs/arbitrage.log | jq -r '.amount' 2>/dev/null | awk '{sum+=$1} END {print sum}'`));
  const recipeCount = Number(bash(cwd, `grep '"transaction":true' logs/arbitrage.log | jq -c 'select(.transaction == true)' 2>/dev/null | wc -l`));
  assert.equal(doc.total, recipeCount);
  assert.equal(doc.total, 8);
  assert.ok(Math.abs(doc.amount_usd - recipeSum) < 1e-6 * Math.max(1, recipeSum), `${doc.amount_usd} vs awk ${recipeSum}`);
  assert.equal(doc.amount_micros, 3_750_000 + 10_000_000 + 3_750_000 + 125_500_000 + 50_000_000 + 10_000 + 7_333_333 + 200_000_000);
  assert.equal(doc.malformed_lines, 1, 'the garbage line is counted, not fatal');
  assert.equal(doc.shown, 3);
  assert.deepEqual(
    doc.entries.map((e: { amount: number }) => e.amount),
    [0.01, 7.333333, 200],
  );
  assert.equal(doc.entries[2].amount_micros, 200_000_000);
  assert.equal(doc.files.length, 1);

  const errors = JSON.parse((await runArb(['logs', 'errors', '--json'], { cwd, env })).stdout);
  const errorLines = Number(bash(cwd, `grep '"level":"ERROR"' logs/arbitrage.log | wc -l`));
  const criticalLines = Number(bash(cwd, `grep '"level":"CRITICAL"' logs/arbitrage.log | wc -l`));
  assert.equal(errors.total, errorLines + criticalLines);
  assert.equal(errors.entries.at(-1).level, 'CRITICAL');

  const high = JSON.parse((await runArb(['logs', 'high-value', '--min-amount', '50', '--json'], { cwd, env })).stdout);
  const highCount = Number(bash(cwd, `grep '"transaction":true' logs/arbitrage.log | jq -c 'select(.amount >= 50)' 2>/dev/null | wc -l`));
  assert.equal(high.total, highCount);
  assert.equal(high.min_amount_usd, 50);
  assert.equal(high.min_amount_micros, 50_000_000);

  const revenue = JSON.parse((await runArb(['logs', 'revenue', '--json'], { cwd, env })).stdout);
  const perDay = bash(
    cwd,
    `grep '"transaction":true' logs/arbitrage.log | jq -r 'select(.type | test("purchase")) | "\\(.timestamp[0:10]) \\(.amount)"' 2>/dev/null | awk '{s[$1]+=$2} END {for (d in s) print d, s[d]}' | sort`,
  )
    .split('\n')
    .map((l) => l.split(' '));
  assert.deepEqual(
    revenue.days.map((d: { day: string; revenue_usd: number }) => [d.day, d.revenue_usd]),
    perDay.map(([day, usd]) => [day, Number(usd)]),
  );
  assert.equal(revenue.days.length, 2, 'yesterday and today');
});

test('arb logs prints tables on a non-TTY stdout, reads rotated files, and treats a missing LOG_DIR as empty', async (t) => {
  const cwd = tempDir(t);
  await writeShopLog(cwd);
  const env = { LOG_DIR: join(cwd, 'logs') };
  appendFileSync(
    join(cwd, 'logs', 'arbitrage-20240101-000000.log'),
    `${JSON.stringify({ timestamp: '2024-01-01T00:00:00.000Z', level: 'WARN', api_call: true, service: 'openrouter', endpoint: '/models', status: 500, success: false, latency_ms: 2500, message: 'old failure' })}\n`,
  );
  const failures = await runArb(['logs', 'api-failures', '--limit', '2'], { cwd, env });
  assert.equal(failures.code, 0, failures.stderr);
  assert.match(failures.stdout, /^time \(UTC\) +endpoint +status +failure /m);
  assert.match(failures.stdout, /4 failed API calls \(all time\), showing the last 2 \(--limit\); 2 files read/);
  assert.ok(!failures.stdout.includes('/models'), 'only the last 2 rows are shown');

  const missing = await runArb(['logs', 'security', '--json'], { cwd, env: { LOG_DIR: join(cwd, 'no-such-dir') } });
  assert.equal(missing.code, 0, missing.stderr);
  assert.match(missing.stderr, /log directory .*no-such-dir does not exist yet/);
  assert.equal(JSON.parse(missing.stdout).total, 0);
});

test('bad --since, --limit and --min-amount: one line naming the option and the fix, exit 2', async (t) => {
  const cwd = tempDir(t);
  const env = { LOG_DIR: join(cwd, 'logs') };
  for (const [args, pattern] of [
    [['logs', 'errors', '--since', 'yesterday'], /--since: "yesterday" is not a time window; use 24h, 7d, 30d, all or a date like/],
    [['logs', 'tail', '--limit', '0'], /--limit: "0" is not a whole number between 1 and 1,000,000; use e.g. --limit 100/],
    [['logs', 'high-value', '--min-amount', 'lots'], /--min-amount: "lots" is not a USD amount; write it like 3.75/],
  ] as const) {
    const r = await runArb([...args], { cwd, env });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, pattern);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.equal(r.stdout, '');
  }
});

test('arb logs transactions --follow --json streams appended lines until SIGINT', async (t) => {
  const cwd = tempDir(t);
  await writeShopLog(cwd);
  const dir = join(cwd, 'logs');
  const child = spawn(process.execPath, [ARB_BIN, 'logs', 'transactions', '--follow', '--json', '--limit', '1'], {
    cwd,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ARB_FROM_SOURCE: CLI_FROM_SOURCE, LOG_DIR: dir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => child.kill('SIGKILL'));
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const waitFor = (n: number) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${n} lines; got ${stdout} ${stderr}`)), 30_000);
      const check = () => {
        if (stdout.split('\n').filter(Boolean).length >= n) {
          clearTimeout(timer);
          child.stdout.off('data', onData);
          resolve();
        }
      };
      const onData = (d: Buffer) => {
        stdout += d;
        check();
      };
      child.stdout.on('data', onData);
      check();
    });
  await waitFor(1);
  const logger = createLogger({ logDir: dir });
  logger.info('not a transaction');
  logTransaction(logger, { type: 'topup', amount: 12.34, user_id: 4242 });
  await closeLogger(logger);
  await waitFor(2);
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  child.kill('SIGINT');
  assert.equal(await exit, 0, stderr);
  const lines = stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    lines.map((l) => l.amount),
    [200, 12.34],
  );
  assert.equal(lines[1].amount_micros, 12_340_000);
});

test('arb logs errors shows the failure reason and request id; --request-id and --key filter, a whole key is never echoed', async (t) => {
  const cwd = tempDir(t);
  const env = arbEnv(cwd);
  const handle = await openAndMigrate(env.db);
  const shop = await seedShop(handle);
  const [mine, other] = await handle.db.selectFrom('ai_token_allocations').select(['id', 'api_key']).where('id', 'in', [shop.allocations[0], shop.allocations[2]]).orderBy('id').execute();
  await handle.close();
  const logger = createLogger({ logDir: env.logDir });
  logApiCall(logger, {
    service: 'proxy',
    endpoint: '/v1/chat/completions',
    status: 502,
    success: false,
    latency_ms: 40,
    request_id: 'req-aaa',
    allocation_id: mine.id,
    failure: 'upstream status 500',
  });
  logApiCall(logger, { service: 'proxy', endpoint: '/v1/chat/completions', status: 200, success: true, latency_ms: 40, request_id: 'req-bbb', allocation_id: other.id });
  logApiCall(logger, { service: 'proxy', endpoint: '/v1/chat/completions', status: 200, success: true, latency_ms: 40, request_id: 'req-ccc', allocation_id: mine.id });
  logSecurityEvent(logger, { event: 'key_revoked', reason: 'revoked by the operator', key_masked: mine.api_key });
  await closeLogger(logger);

  const table = await runArb(['logs', 'errors'], { cwd, env: env.env });
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^time \(UTC\) .* failure +request id$/m);
  assert.match(table.stdout, /upstream status 500 +req-aaa/);
  const errors = JSON.parse((await runArb(['logs', 'errors', '--json'], { cwd, env: env.env })).stdout);
  assert.equal(errors.entries[0].failure_reason, 'upstream status 500');
  assert.equal(errors.entries[0].request_id, 'req-aaa');

  const request = JSON.parse((await runArb(['logs', '--request-id', 'req-bbb', '--json'], { cwd, env: env.env })).stdout);
  assert.deepEqual([request.query, request.total, request.entries[0].request_id, request.filter.request_id], ['all', 1, 'req-bbb', 'req-bbb']);

  const prefix = `${mine.api_key.split('…')[0]}…`;
  const byKey = await runArb(['logs', '--key', prefix, '--json'], { cwd, env: env.env });
  assert.equal(byKey.code, 0, byKey.stderr);
  const doc = JSON.parse(byKey.stdout);
  assert.deepEqual(
    doc.entries.map((e: { request_id?: string; event?: string }) => e.request_id ?? e.event),
    ['req-aaa', 'req-ccc', 'key_revoked'],
    'api_call lines by allocation id, the security event by masked key',
  );
  assert.deepEqual(doc.filter.allocation_ids, [mine.id]);
  const typed = await runArb(['logs', 'api-failures', '--key', prefix.replace('…', '...'), '--json'], { cwd, env: env.env });
  assert.equal(JSON.parse(typed.stdout).total, 1, '"..." typed for "…"');

  const full = shop.keys[0];
  const byFullKey = await runArb(['logs', '--key', full, '--json'], { cwd, env: env.env });
  assert.equal(byFullKey.code, 0, byFullKey.stderr);
  assert.equal(JSON.parse(byFullKey.stdout).total, 3);
  assert.ok(!byFullKey.stdout.includes(full) && !byFullKey.stderr.includes(full), 'the whole key is looked up by its hash and never printed');

  for (const [args, pattern] of [
    [['logs', '--key', 'AbCd'], /--key: "AbCd" is not a key; give it as logs and arb keys list show it, e.g. --key sk-arb-AbCd…/],
    [['logs', 'errors', '--request-id', ''], /--request-id: "" is not a request id/],
    [['logs'], /arb logs: name a query \(errors, transactions/],
  ] as const) {
    const r = await runArb([...args], { cwd, env: env.env });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, pattern);
  }
});

test('arb logs tail --follow takes the same filters: --request-id and --key stream only the matching new lines', async (t) => {
  const cwd = tempDir(t);
  const env = arbEnv(cwd);
  const handle = await openAndMigrate(env.db);
  const shop = await seedShop(handle);
  const [mine, other] = await handle.db.selectFrom('ai_token_allocations').select(['id', 'api_key']).where('id', 'in', [shop.allocations[0], shop.allocations[2]]).orderBy('id').execute();
  await handle.close();
  mkdirSync(env.logDir, { recursive: true });
  appendFileSync(join(env.logDir, 'arbitrage.log'), '');

  const follow = (filter: string[]) => {
    const child = spawn(process.execPath, [ARB_BIN, 'logs', 'tail', '--follow', '--json', '--limit', '1', ...filter], { cwd, env: env.env, stdio: ['ignore', 'pipe', 'pipe'] });
    t.after(() => child.kill('SIGKILL'));
    const out = { stdout: '', stderr: '', child };
    child.stdout.on('data', (d) => (out.stdout += d));
    child.stderr.on('data', (d) => (out.stderr += d));
    return out;
  };
  const byRequest = follow(['--request-id', 'req-want']);
  const byKey = follow(['--key', `${mine.api_key.split('…')[0]}…`]);
  const lines = (o: { stdout: string }) =>
    o.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { request_id?: string; allocation_id?: number });

  // keep appending until both followers have seen their match (they may start reading after the first lines);
  // every round writes the non-matching line first, so a follower that ignored its filter would print it first
  let round = 0;
  await until(
    'both followers printed their matching line',
    async () => {
      round += 1;
      const logger = createLogger({ logDir: env.logDir });
      logApiCall(logger, { service: 'proxy', endpoint: '/v1/chat/completions', status: 200, success: true, latency_ms: 5, request_id: `req-other-${round}`, allocation_id: other.id });
      logApiCall(logger, { service: 'proxy', endpoint: '/v1/chat/completions', status: 200, success: true, latency_ms: 5, request_id: 'req-want', allocation_id: mine.id });
      await closeLogger(logger);
      await new Promise((r) => setTimeout(r, 300));
      return lines(byRequest).length > 0 && lines(byKey).length > 0;
    },
    45_000,
    0,
  );

  for (const [o, what] of [
    [byRequest, '--request-id'],
    [byKey, '--key'],
  ] as const) {
    assert.ok(lines(o).length >= 1, `${what}: ${o.stdout} ${o.stderr}`);
    assert.deepEqual([...new Set(lines(o).map((l) => l.request_id))], ['req-want'], `${what} follows only its own lines: ${o.stdout}`);
    assert.ok(lines(o).every((l) => l.allocation_id === mine.id));
    const exit = new Promise<number | null>((resolve) => o.child.on('close', (code) => resolve(code)));
    o.child.kill('SIGINT');
    assert.equal(await exit, 0, o.stderr);
  }
});
