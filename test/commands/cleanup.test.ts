import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import { openAndMigrate, openDb, type OpenDbOptions } from '../../src/db/dialect.js';
import { auditLedger } from '../../src/ledger/audit.js';
import { addDays, toDbTime } from '../../src/time.js';
import { tempDir } from '../support/db.js';
import { arbEnvDb, runArb, seedShop } from './support.js';

async function setup(t: Parameters<typeof tempDir>[0]) {
  const env = await arbEnvDb(t, tempDir(t));
  const handle = await openAndMigrate(env.db);
  const shop = await seedShop(handle);
  // two keys past expiry, one of them half used
  await sql`update ai_token_allocations set expires_at = ${toDbTime(addDays(new Date(), -1))} where id in (${shop.allocations[0]}, ${shop.allocations[3]})`.execute(handle.db);
  await handle.close();
  mkdirSync(env.logDir, { recursive: true });
  const old = addDays(new Date(), -45);
  for (const name of ['arbitrage-20260901-000000.log', 'arbitrage-20260902-000000.log']) {
    writeFileSync(join(env.logDir, name), '{"level":"INFO"}\n'.repeat(100));
    utimesSync(join(env.logDir, name), old, old);
  }
  writeFileSync(join(env.logDir, 'arbitrage-20261120-000000.log'), '{"level":"INFO"}\n');
  writeFileSync(join(env.logDir, 'arbitrage.log'), '');
  return { env, shop };
}

async function snapshot(db: OpenDbOptions) {
  const h = openDb(db);
  try {
    const statuses = (await h.db.selectFrom('ai_token_allocations').select(['id', 'status']).orderBy('id').execute()).map((r) => r.status);
    const balances = (await h.db.selectFrom('users').select(['telegram_id', 'balance']).orderBy('id').execute()).map((r) => [r.telegram_id, r.balance]);
    const ledger = await sql<{ n: number }>`select count(*) as n from transactions`.execute(h.db);
    return { statuses, balances, ledger: Number(ledger.rows[0].n), audit: (await auditLedger(h)).ok };
  } finally {
    await h.close();
  }
}

test('arb cleanup --dry-run lists what would change and changes nothing', async (t) => {
  const { env } = await setup(t);
  const before = await snapshot(env.db);
  const logsBefore = readdirSync(env.logDir).sort();
  const r = await runArb(['cleanup', '--dry-run', '--json'], env);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.equal(doc.dry_run, true);
  assert.equal(doc.expired_keys.count, 2);
  assert.deepEqual(doc.expired_keys.keys.map((k: { telegram_id: number }) => k.telegram_id).sort(), [1001, 1003]);
  assert.match(doc.expired_keys.keys[0].api_key, /^sk-arb-.{4}….{4}$/);
  assert.deepEqual(
    doc.logs.removed.map((f: { name: string }) => f.name),
    ['arbitrage-20260901-000000.log', 'arbitrage-20260902-000000.log'],
  );
  assert.deepEqual(await snapshot(env.db), before);
  assert.deepEqual(readdirSync(env.logDir).sort(), logsBefore);

  const text = await runArb(['cleanup', '--dry-run'], env);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^would expire 2 key\(s\) past expiry \(balances and the ledger are unchanged\)$/m);
  assert.match(text.stdout, /^would delete 2 rotated log file\(s\) older than 30 days/m);
  assert.match(text.stdout, /^dry run: nothing was changed$/m);
  assert.deepEqual(await snapshot(env.db), before);
});

test('arb cleanup: without a terminal, deleting logs needs --yes (exit 2, nothing changed); with --yes keys expire and money stays', async (t) => {
  const { env } = await setup(t);
  const before = await snapshot(env.db);
  const refused = await runArb(['cleanup'], env);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /^error: arb cleanup \(deleting 2 rotated log file\(s\) older than 30 days\) needs confirmation and there is no terminal to ask on; rerun with --yes/);
  assert.deepEqual(await snapshot(env.db), before);
  assert.ok(existsSync(join(env.logDir, 'arbitrage-20260901-000000.log')));

  const r = await runArb(['cleanup', '--yes', '--json'], env);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.equal(doc.dry_run, false);
  assert.equal(doc.expired_keys.count, 2);
  assert.equal(doc.logs.removed.length, 2);
  const after = await snapshot(env.db);
  assert.deepEqual(after.statuses, ['expired', 'active', 'active', 'expired']);
  assert.deepEqual(after.balances, before.balances, 'money stays');
  assert.equal(after.ledger, before.ledger);
  assert.equal(after.audit, true);
  assert.deepEqual(
    readdirSync(env.logDir)
      .filter((f) => f.startsWith('arbitrage-'))
      .sort(),
    ['arbitrage-20261120-000000.log'],
  );
  assert.ok(existsSync(join(env.logDir, 'arbitrage.log')), 'the live log is never deleted');

  // nothing left to do: exit 0, no confirmation needed
  const again = await runArb(['cleanup'], env);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /^expired 0 key\(s\)/m);
});

test('arb cleanup: keys only (no old logs) needs no confirmation; a bad retention is exit 2', async (t) => {
  const { env } = await setup(t);
  const r = await runArb(['cleanup', '--log-retention-days', '365'], env);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^expired 2 key\(s\)/m);
  assert.match(r.stdout, /^deleted 0 rotated log file\(s\) older than 365 days/m);
  for (const bad of ['abc', '0', '-3', '1.5']) {
    const b = await runArb(['cleanup', '--log-retention-days', bad], env);
    assert.equal(b.code, 2, bad);
    assert.match(b.stderr, new RegExp(`^error: --log-retention-days: "${bad.replace('.', '\\.')}" is not a whole number between 1 and 36,500; use e\\.g\\. --log-retention-days 30`));
  }
});

test('arb cleanup: the retention defaults to LOG_RETENTION_DAYS (0 keeps every rotated log); the cleanup writes a performance line', async (t) => {
  const { env } = await setup(t);
  const week = await runArb(['cleanup', '--dry-run', '--json'], { ...env, env: { ...env.env, LOG_RETENTION_DAYS: '7' } });
  assert.equal(week.code, 0, week.stderr);
  assert.equal(JSON.parse(week.stdout).logs.retention_days, 7);
  writeFileSync(join(env.logDir, 'arbitrage.log.20261101-000000'), '{"level":"INFO"}\n');
  utimesSync(join(env.logDir, 'arbitrage.log.20261101-000000'), addDays(new Date(), -8), addDays(new Date(), -8));
  const keep = await runArb(['cleanup', '--yes'], { ...env, env: { ...env.env, LOG_RETENTION_DAYS: '0' } });
  assert.equal(keep.code, 0, keep.stderr);
  assert.match(keep.stdout, /^kept every rotated log file \(LOG_RETENTION_DAYS=0; use --log-retention-days N to prune\)$/m);
  assert.ok(existsSync(join(env.logDir, 'arbitrage-20260901-000000.log')));
  const r = await runArb(['cleanup', '--yes', '--json'], { ...env, env: { ...env.env, LOG_RETENTION_DAYS: '7' } });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(
    JSON.parse(r.stdout).logs.removed.map((f: { name: string }) => f.name),
    ['arbitrage-20260901-000000.log', 'arbitrage-20260902-000000.log', 'arbitrage.log.20261101-000000'],
  );
  const perf = readFileSync(join(env.logDir, 'arbitrage.log'), 'utf8')
    .split('\n')
    .filter((l) => l.includes('"performance":true'));
  assert.equal(perf.length, 2, 'one per cleanup that changed something');
  assert.match(perf[0], /"operation":"cleanup","execution_time":\d+(\.\d+)?,"success":true/);
});
