/**
 * `arb backup` / `arb restore` on PostgreSQL (pg_dump / pg_restore / psql), through the real CLI on fresh
 * databases: real data round-trips; the current data is kept and can be restored back; corrupt,
 * truncated, foreign, SQLite, tampered and newer-schema files and a running daemon are refused with
 * nothing changed; a load that fails half-way is rolled back; a missing pg_dump is a clear message.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { openAndMigrate, type DbHandle } from '../../src/db/dialect.js';
import { auditLedger } from '../../src/ledger/audit.js';
import { creditUser } from '../../src/ledger/ledger.js';
import { createPgDatabase, PG_SKIP_REASON, tempDir } from '../support/db.js';
import { arbEnv, runArb, seedShop, type ArbEnv } from '../commands/support.js';

const HAVE_PG_TOOLS = ['pg_dump', 'pg_restore', 'psql'].every((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0);
const SKIP = !process.env.TEST_DATABASE_URL ? PG_SKIP_REASON : !HAVE_PG_TOOLS ? 'pg_dump/pg_restore/psql are not installed (apt-get install postgresql-client)' : false;

type After = { after: (fn: () => Promise<void> | void) => void };

/** A fresh, migrated PostgreSQL database with the CLI pointed at it. */
async function pgShop(t: After, seed = true): Promise<{ env: ArbEnv; url: string; handle: DbHandle }> {
  const url = await createPgDatabase(t as never);
  const handle = await openAndMigrate({ databaseUrl: url, poolSize: 2 });
  t.after(() => handle.close());
  if (seed) await seedShop(handle);
  const base = arbEnv(tempDir(t as never));
  const env = { ...base, env: { ...base.env, DATABASE_URL: url }, db: { databaseUrl: url } };
  return { env, url, handle };
}

/** Everything a restore could change, as one comparable value. */
async function fingerprint(handle: DbHandle): Promise<string> {
  const out: Record<string, unknown> = {};
  for (const table of ['users', 'transactions', 'ai_token_packages', 'ai_token_allocations', 'usage_events'] as const) {
    out[table] = await handle.db.selectFrom(table).selectAll().orderBy('id').execute();
  }
  return JSON.stringify(out);
}

async function sql(url: string, ...statements: string[]): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    for (const s of statements) await c.query(s);
  } finally {
    await c.end();
  }
}

test('arb backup / arb restore on PostgreSQL: real data round-trips; the data it replaced is kept and restores back', { skip: SKIP }, async (t) => {
  const { env, handle } = await pgShop(t);
  const original = await fingerprint(handle);

  const backup = await runArb(['backup', '--json'], env);
  assert.equal(backup.code, 0, backup.stderr);
  const doc = JSON.parse(backup.stdout);
  assert.match(doc.file, /backup\/arbitrage_\d{8}-\d{6}\.dump$/);
  assert.equal(doc.latest, join(env.backupDir, 'arbitrage_latest.dump'));
  assert.equal(doc.format, 'pg_dump custom');
  assert.equal(doc.integrity, 'ok');
  assert.deepEqual(doc.tables, { users: 3, transactions: 6, ai_token_packages: 2, ai_token_allocations: 4, usage_events: 4 });
  assert.equal(readFileSync(doc.file).subarray(0, 5).toString(), 'PGDMP');
  const check = spawnSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: env.backupDir, encoding: 'utf8' });
  assert.equal(check.status, 0, check.stdout + check.stderr);
  const listed = spawnSync('pg_restore', ['--list', doc.file], { encoding: 'utf8' });
  assert.match(listed.stdout, /TABLE DATA public transactions/);

  // life goes on after the backup: a top-up, a lost usage history, a new package
  await creditUser({ handle }, { telegramId: 1001, amountMicros: 7_000_000, type: 'topup', reference: 'after-backup' });
  await handle.db.deleteFrom('usage_events').execute();
  await handle.db.updateTable('ai_token_packages').set({ is_available: 0 }).execute();
  const changed = await fingerprint(handle);
  assert.notEqual(changed, original);

  const restore = await runArb(['restore', 'latest', '--yes', '--json'], env);
  assert.equal(restore.code, 0, restore.stderr);
  const r = JSON.parse(restore.stdout);
  assert.equal(r.restored_from, doc.latest);
  assert.match(r.pre_restore, /backup\/arbitrage_\d{8}-\d{6}\.pre-restore\.dump$/);
  assert.deepEqual(r.tables, doc.tables);
  assert.equal(await fingerprint(handle), original, 'the database is the backup, row for row');
  assert.deepEqual((await auditLedger(handle)).problems, []);
  assert.equal((await runArb(['audit'], env)).code, 0);
  // sequences came back too: new rows continue after the restored ones
  const credit = await runArb(['user', 'credit', '1002', '1.50'], env);
  assert.equal(credit.code, 0, credit.stderr);
  const last = await handle.db.selectFrom('transactions').select('id').orderBy('id', 'desc').executeTakeFirstOrThrow();
  assert.equal(last.id, 7);

  // the replaced data was kept: restoring the pre-restore dump brings it back
  const back = await runArb(['restore', r.pre_restore, '--yes'], env);
  assert.equal(back.code, 0, back.stderr);
  assert.match(back.stdout, /restored arbitrage_\d{8}-\d{6}\.pre-restore\.dump into 127\.0\.0\.1:\d+\/arb_test_\w+ \(3 users, 7 ledger rows, 4 keys, 0 usage events\)/);
  assert.equal(await fingerprint(handle), changed);
});

test('arb restore on PostgreSQL refuses damaged, foreign, SQLite, tampered and newer-schema files and a running daemon; nothing changes', { skip: SKIP }, async (t) => {
  const { env, url, handle } = await pgShop(t);
  const made = await runArb(['backup', '--json'], env);
  assert.equal(made.code, 0, made.stderr);
  const good = JSON.parse(made.stdout).file as string;
  const before = await fingerprint(handle);
  const bytes = readFileSync(good);

  const corrupt = Buffer.from(bytes);
  corrupt.fill(0x5a, Math.floor(bytes.length * 0.6), bytes.length - 16);
  writeFileSync(join(env.dir, 'corrupt.dump'), corrupt);
  writeFileSync(join(env.dir, 'truncated.dump'), bytes.subarray(0, Math.floor(bytes.length * 0.7)));
  writeFileSync(join(env.dir, 'junk.dump'), 'not a dump at all');
  // an SQLite backup handed to a PostgreSQL restore
  const sqliteDir = tempDir(t);
  const sqliteHandle = await openAndMigrate({ dbName: join(sqliteDir, 'a.db') });
  await sqliteHandle.close();
  copyFileSync(join(sqliteDir, 'a.db'), join(env.dir, 'sqlite.db'));
  // a dump of some other application's database
  const foreignUrl = await createPgDatabase(t as never);
  await sql(foreignUrl, 'create table orders (id int primary key, total int)', 'insert into orders values (1, 10)');
  spawnSync('pg_dump', ['--format=custom', `--file=${join(env.dir, 'foreign.dump')}`, foreignUrl]);
  // a dump written by a newer arb (a migration this arb does not know)
  const newerUrl = await createPgDatabase(t as never);
  const newer = await openAndMigrate({ databaseUrl: newerUrl, poolSize: 1 });
  await newer.close();
  await sql(newerUrl, `insert into kysely_migration (name, timestamp) values ('29990101_000000_from_the_future', '2999-01-01T00:00:00.000Z')`);
  spawnSync('pg_dump', ['--format=custom', `--file=${join(env.dir, 'newer.dump')}`, newerUrl]);
  // a file that changed after SHA256SUMS listed it
  mkdirSync(join(env.dir, 'listed'));
  copyFileSync(good, join(env.dir, 'listed', 'arbitrage_20260101-000000.dump'));
  writeFileSync(join(env.dir, 'listed', 'SHA256SUMS'), `${'0'.repeat(64)}  arbitrage_20260101-000000.dump\n`);

  const cases: [string[], RegExp][] = [
    [['restore', 'nope.dump', '--yes'], /^error: file: no backup "nope\.dump" \(looked for .*\); pass a path or a name from .*backup/],
    [['restore', 'corrupt.dump', '--yes'], /^error: file: corrupt\.dump (is damaged|is not a readable pg_dump archive) \(pg_restore: .+\); pick another backup/],
    [['restore', 'truncated.dump', '--yes'], /^error: file: truncated\.dump (is damaged|is not a readable pg_dump archive)/],
    [['restore', 'junk.dump', '--yes'], /^error: file: junk\.dump is not a pg_dump archive \(wrong header\); pick a \.dump file written by arb backup/],
    [['restore', 'sqlite.db', '--yes'], /^error: file: sqlite\.db is an SQLite backup, but DATABASE_URL points arb at PostgreSQL/],
    [['restore', 'foreign.dump', '--yes'], /^error: file: foreign\.dump is not an arb database dump \(no kysely_migration, users, transactions, ai_token_packages, ai_token_allocations table\)/],
    [['restore', 'newer.dump', '--yes'], /^error: file: newer\.dump was written by a newer arb \(schema 29990101_000000_from_the_future, this arb knows up to \d{8}_\d{6}_\w+\); upgrade arb/],
    [['restore', join(env.dir, 'listed', 'arbitrage_20260101-000000.dump'), '--yes'], /^error: file: arbitrage_20260101-000000\.dump does not match its SHA-256 in .*SHA256SUMS/],
    [['restore', good], /^error: arb restore needs confirmation and there is no terminal to ask on; rerun with --yes/],
  ];
  // all refusals are read-only: run them side by side
  const results = await Promise.all(cases.map(([args]) => runArb(args, env)));
  cases.forEach(([args, message], i) => {
    const r = results[i];
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message, args.join(' '));
    assert.doesNotMatch(r.stderr, /password|postgres:\/\//i);
  });
  assert.equal(await fingerprint(handle), before, 'no refused restore changed the database');

  // a replica of the daemon is alive (fresh heartbeat on another host)
  await sql(url, `insert into instances (instance_id, pid, hostname, started_at, heartbeat_at) values ('other:1:ab', 1, 'some-other-host', datetime('now'), datetime('now'))`);
  const live = await runArb(['restore', 'latest', '--yes'], env);
  assert.equal(live.code, 2);
  assert.match(live.stderr, /^error: the daemon is running on this database \(1 replica; pid 1 on some-other-host, heartbeat .* UTC\); stop every replica first/);
  await sql(url, 'delete from instances');
  assert.equal(await fingerprint(handle), before);
  assert.deepEqual(readdirSync(env.backupDir).filter((f) => /pre-restore|\.restore\.sql$/.test(f)), [], 'no pre-restore copy, no leftover SQL');
});

test('arb restore on PostgreSQL: a load that fails half-way is rolled back and the old data stays', { skip: SKIP }, async (t) => {
  // the backup carries an extra schema the target already has: CREATE SCHEMA fails after arb's tables were dropped
  const source = await pgShop(t);
  await sql(source.url, 'create schema arb_extra', 'create table arb_extra.notes (id int)');
  const made = await runArb(['backup', '--json'], source.env);
  assert.equal(made.code, 0, made.stderr);
  const dump = JSON.parse(made.stdout).file as string;

  const target = await pgShop(t);
  await creditUser({ handle: target.handle }, { telegramId: 4242, amountMicros: 1_000_000, type: 'topup', reference: 'target-only' });
  await sql(target.url, 'create schema arb_extra');
  const before = await fingerprint(target.handle);
  const r = await runArb(['restore', dump, '--yes'], target.env);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /^error: restore failed and was rolled back — the database is unchanged \(psql: .*arb_extra.*already exists.*\); the current data is also kept in .*\.pre-restore\.dump/);
  assert.equal(await fingerprint(target.handle), before, 'every table and row is still there');
  assert.deepEqual((await auditLedger(target.handle)).problems, []);
});

test('arb backup on PostgreSQL without pg_dump installed: a clear message, exit 1, nothing written', { skip: process.env.TEST_DATABASE_URL ? false : PG_SKIP_REASON }, async (t) => {
  const { env } = await pgShop(t, false);
  const emptyPath = tempDir(t); // no pg_dump here
  const r = await runArb(['backup'], { ...env, env: { ...env.env, PATH: emptyPath } });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /pg_dump is not installed \(or not on PATH\): .*install the PostgreSQL client tools .*apt-get install postgresql-client/);
  assert.ok(!existsSync(env.backupDir) || readdirSync(env.backupDir).every((f) => !f.endsWith('.dump')));
});
