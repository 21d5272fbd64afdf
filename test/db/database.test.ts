import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { sql } from 'kysely';
import { tempDb, tempDir, testDialects, PG_SKIP_REASON } from '../support/db.js';
import { migrate, openDb, transact } from '../../src/db/dialect.js';
import { nowDb, toDbTime } from '../../src/time.js';
import { creditUser, purchasePackage } from '../../src/ledger/ledger.js';

const hasSqlite3 = spawnSync('sqlite3', ['-version']).status === 0;

if (!process.env.TEST_DATABASE_URL) test('schema on PostgreSQL', { skip: PG_SKIP_REASON }, () => {});

for (const dialect of testDialects()) {
  test(`[${dialect}] migrations create the SPEC §7 schema and are idempotent`, async (t) => {
    const handle = await tempDb(t, dialect);
    assert.deepEqual(await migrate(handle), [], 'second run applies nothing');
    const tables = (await handle.db.introspection.getTables()).map((x) => x.name).sort();
    for (const name of ['users', 'transactions', 'categories', 'ai_models', 'ai_token_packages', 'ai_token_allocations', 'usage_events', 'processed_updates']) {
      assert.ok(tables.includes(name), `${name} exists`);
    }
    const indexes =
      dialect === 'sqlite'
        ? (await sql<{ name: string }>`select name from sqlite_master where type = 'index'`.execute(handle.db)).rows.map((r) => r.name)
        : (await sql<{ name: string }>`select indexname as name from pg_indexes`.execute(handle.db)).rows.map((r) => r.name);
    for (const name of ['idx_ai_token_packages_available', 'idx_ai_token_allocations_user', 'idx_ai_token_allocations_expires']) {
      assert.ok(indexes.includes(name), `${name} exists`);
    }
    // the manual's queries
    const pkgNow = nowDb();
    await handle.db
      .insertInto('ai_token_packages')
      .values([
        {
          model: 'openai/gpt-4',
          tokens: 100000,
          description: 'on',
          category_id: null,
          subcategory_id: null,
          cost: 3_000_000,
          price: 3_750_000,
          validity_days: 30,
          is_available: 1,
          hold_reason: null,
          created_at: pkgNow,
          updated_at: pkgNow,
        },
        {
          model: 'openai/gpt-4',
          tokens: 5,
          description: 'off',
          category_id: null,
          subcategory_id: null,
          cost: 1,
          price: 10_000,
          validity_days: 30,
          is_available: 0,
          hold_reason: null,
          created_at: pkgNow,
          updated_at: pkgNow,
        },
      ])
      .execute();
    const available = await sql<{ description: string }>`SELECT * FROM ai_token_packages WHERE is_available = 1;`.execute(handle.db);
    assert.deepEqual(
      available.rows.map((r) => r.description),
      ['on'],
    );
    // every table has an integer id primary key; the allocation check constraint refuses overspend
    await creditUser({ handle }, { telegramId: 9, amountMicros: 10_000_000, type: 'topup' });
    const { allocation } = await purchasePackage({ handle }, { telegramId: 9, packageId: 1 });
    await assert.rejects(handle.db.updateTable('ai_token_allocations').set({ tokens_used: 100_001 }).where('id', '=', allocation.id).execute());
    await handle.db.updateTable('ai_token_allocations').set({ expires_at: '2020-01-01 00:00:00' }).where('id', '=', allocation.id).execute();
    const expired = await sql<{ api_key: string; expires_at: string }>`SELECT api_key, expires_at FROM ai_token_allocations WHERE expires_at < datetime('now');`.execute(handle.db);
    assert.deepEqual(expired.rows, [{ api_key: allocation.maskedKey, expires_at: '2020-01-01 00:00:00' }]);
    assert.match(allocation.createdAt, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
  });
}

test("the manual's SQL runs as written in the sqlite3 shell on the database file", { skip: hasSqlite3 ? false : 'sqlite3 is not installed (.ci/run installs it)' }, async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'arbitrage.db');
  const handle = openDb({ dbName: file });
  await migrate(handle);
  await creditUser({ handle }, { telegramId: 77, amountMicros: 20_000_000, type: 'topup' });
  const now = nowDb();
  await handle.db
    .insertInto('ai_token_packages')
    .values({
      model: 'openai/gpt-4',
      tokens: 100000,
      description: 'GPT-4 Premium',
      category_id: null,
      subcategory_id: null,
      cost: 3_000_000,
      price: 3_750_000,
      validity_days: 30,
      is_available: 1,
      hold_reason: null,
      created_at: now,
      updated_at: now,
    })
    .execute();
  const old = await purchasePackage({ handle }, { telegramId: 77, packageId: 1 });
  const fresh = await purchasePackage({ handle }, { telegramId: 77, packageId: 1 });
  await handle.db
    .updateTable('ai_token_allocations')
    .set({ expires_at: toDbTime(new Date(Date.now() - 3_600_000)) })
    .where('id', '=', old.allocation.id)
    .execute();
  await handle.close();
  const packages = execFileSync('sqlite3', [file, 'SELECT * FROM ai_token_packages WHERE is_available = 1;'], { encoding: 'utf8' });
  assert.match(packages, /^1\|openai\/gpt-4\|100000\|GPT-4 Premium\|/);
  const expired = execFileSync('sqlite3', [file, "SELECT api_key, expires_at FROM ai_token_allocations WHERE expires_at < datetime('now');"], { encoding: 'utf8' });
  assert.equal(expired.trim().split('\n').length, 1);
  assert.ok(expired.startsWith(`${old.allocation.maskedKey}|`));
  assert.ok(!expired.includes(fresh.allocation.maskedKey));
  assert.equal(execFileSync('sqlite3', [file, 'PRAGMA journal_mode;'], { encoding: 'utf8' }).trim(), 'wal');
});

test('SQLite: writers in several processes queue instead of failing (WAL, busy timeout, BEGIN IMMEDIATE)', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'arbitrage.db');
  const a = openDb({ dbName: file });
  t.after(() => a.close());
  await migrate(a);
  assert.equal(a.sqlite!.pragma('busy_timeout', { simple: true }), 10000);
  assert.equal(a.sqlite!.pragma('foreign_keys', { simple: true }), 1);
  const worker = new URL('../support/credit-worker.ts', import.meta.url).pathname;
  const run = () =>
    new Promise<number>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', worker, file, '50'], { stdio: 'inherit' });
      child.on('exit', (code) => resolve(code ?? 1));
    });
  const codes = await Promise.all([run(), run(), run()]);
  assert.deepEqual(codes, [0, 0, 0]);
  const user = await a.db.selectFrom('users').selectAll().executeTakeFirstOrThrow();
  assert.equal(user.balance, 150_000);
  // a failing transaction rolls back completely
  await assert.rejects(
    transact(a, async (trx) => {
      await trx.updateTable('users').set({ balance: 1 }).execute();
      throw new Error('boom');
    }),
    /boom/,
  );
  assert.equal((await a.db.selectFrom('users').selectAll().executeTakeFirstOrThrow()).balance, 150_000);
});
