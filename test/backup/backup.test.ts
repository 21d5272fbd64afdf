import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { createBackup, LATEST_NAME, listBackups, sha256File } from '../../src/backup/backup.js';
import { inspectBackup, restoreBackup } from '../../src/backup/restore.js';
import { openAndMigrate, openDb } from '../../src/db/dialect.js';
import { LATEST_MIGRATION, migrationProvider } from '../../src/db/migrations/index.js';
import { auditLedger } from '../../src/ledger/audit.js';
import { InputError } from '../../src/errors.js';
import { tempDb, tempDir, testDialects } from '../support/db.js';
import { seedShop } from '../commands/support.js';

const known = async () => Object.keys(await migrationProvider('sqlite').getMigrations()).sort();

test('createBackup (SQLite, VACUUM INTO): verified copy, latest, SHA256SUMS that sha256sum -c accepts, --keep prunes the oldest', async (t) => {
  const handle = await tempDb(t, 'sqlite');
  await seedShop(handle);
  const dir = join(tempDir(t), 'backup');
  const stamps = ['2026-11-20T10:00:00Z', '2026-11-21T10:00:00Z', '2026-11-22T10:00:00Z'];
  let last;
  for (const s of stamps) last = await createBackup(handle, { dir, keep: 2, now: new Date(s) });
  assert.ok(last);
  assert.equal(last.integrity, 'ok');
  assert.equal(last.tables.ai_token_allocations, 4);
  assert.deepEqual(last.pruned, ['arbitrage_20261120-100000.db']);
  assert.deepEqual(listBackups(dir), ['arbitrage_20261122-100000.db', 'arbitrage_20261121-100000.db']);
  assert.deepEqual(readdirSync(dir).sort(), ['SHA256SUMS', LATEST_NAME, 'arbitrage_20261121-100000.db', 'arbitrage_20261122-100000.db'].sort());
  assert.equal(await sha256File(join(dir, LATEST_NAME)), last.sha256);
  const check = execFileSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: dir, encoding: 'utf8' });
  assert.equal(check.trim().split('\n').length, 3);
  assert.doesNotMatch(check, /FAILED/);
  // two backups in the same second do not overwrite each other
  const again = await createBackup(handle, { dir, now: new Date(stamps[2]) });
  assert.match(again.file, /arbitrage_20261122-100000-2\.db$/);
});

test('createBackup (SQLite): an unwritable directory is an InputError naming the setting; nothing written', async (t) => {
  const handle = await tempDb(t, 'sqlite');
  const base = tempDir(t);
  writeFileSync(join(base, 'a-file'), 'x');
  await assert.rejects(createBackup(handle, { dir: join(base, 'a-file', 'backup'), dirSource: '--dir' }), (e: unknown) => {
    assert.ok(e instanceof InputError);
    assert.match((e as Error).message, /^--dir: cannot write backups to .*a-file\/backup \((ENOTDIR|EEXIST)\); point --dir at a writable directory/);
    return true;
  });
});

if (testDialects().includes('postgres')) {
  test('createBackup on PostgreSQL is refused with the pg_dump hint', async (t) => {
    const handle = await tempDb(t, 'postgres');
    await assert.rejects(createBackup(handle, { dir: tempDir(t) }), /DATABASE_URL: createBackup copies an SQLite database; on PostgreSQL arb backup uses pg_dump/);
  });
}

test('inspectBackup (SQLite files) refuses corrupt, foreign, non-SQLite, tampered and newer-schema files', async (t) => {
  const handle = await tempDb(t, 'sqlite');
  await seedShop(handle);
  const dir = tempDir(t);
  const good = await createBackup(handle, { dir: join(dir, 'backup') });
  const names = await known();
  const ok = await inspectBackup(good.file, names);
  assert.equal(ok.schema, LATEST_MIGRATION);
  assert.equal(ok.checksumListed, true);

  const text = join(dir, 'notes.db');
  writeFileSync(text, 'hello, not a database');
  await assert.rejects(inspectBackup(text, names), /notes\.db is not an SQLite database \(wrong header\)/);

  const corrupt = join(dir, 'corrupt.db');
  const bytes = readFileSync(good.file);
  bytes.fill(0xa5, 4096 * 2, bytes.length - 1); // wipe every page after the second
  writeFileSync(corrupt, bytes);
  await assert.rejects(inspectBackup(corrupt, names), /corrupt\.db is corrupt \(integrity check: /);

  const foreign = join(dir, 'foreign.db');
  const f = new BetterSqlite3(foreign);
  f.exec('create table notes (id integer primary key, body text)');
  f.close();
  await assert.rejects(inspectBackup(foreign, names), /foreign\.db is not an arb database \(no kysely_migration, users, transactions, ai_token_packages, ai_token_allocations table\)/);

  const newer = join(dir, 'newer.db');
  copyFileSync(good.file, newer);
  const n = new BetterSqlite3(newer);
  n.prepare('insert into kysely_migration (name, timestamp) values (?, ?)').run('29990101_000000_future', new Date().toISOString());
  n.close();
  await assert.rejects(inspectBackup(newer, names), new RegExp(`newer\\.db was written by a newer arb \\(schema 29990101_000000_future, this arb knows up to ${LATEST_MIGRATION}\\); upgrade arb`));

  const tampered = join(dir, 'backup', 'arbitrage_latest.db');
  const t2 = new BetterSqlite3(tampered);
  t2.exec('update users set balance = balance + 1000000');
  t2.close();
  await assert.rejects(inspectBackup(tampered, names), /arbitrage_latest\.db does not match its SHA-256 in .*SHA256SUMS/);
});

test('restoreBackup: keeps the current database as *.pre-restore and brings the backup in', async (t) => {
  const dir = tempDir(t);
  const dbFile = join(dir, 'arbitrage.db');
  const handle = await openAndMigrate({ dbName: dbFile });
  await seedShop(handle);
  const backup = await createBackup(handle, { dir: join(dir, 'backup') });
  await handle.db.deleteFrom('usage_events').execute(); // a later mistake the restore undoes
  await handle.close();

  const inspection = await inspectBackup(backup.file, await known());
  const result = await restoreBackup({ dbFile, backup: inspection, now: new Date('2026-11-25T12:00:00Z') });
  assert.equal(result.preRestore, `${dbFile}.20261125-120000.pre-restore`);
  assert.ok(existsSync(result.preRestore!));
  const restored = openDb({ dbName: dbFile });
  t.after(() => restored.close());
  assert.equal((await restored.db.selectFrom('usage_events').selectAll().execute()).length, 4);
  assert.equal((await auditLedger(restored)).ok, true);
  const kept = new BetterSqlite3(result.preRestore!, { readonly: true });
  assert.equal((kept.prepare('select count(*) as n from usage_events').get() as { n: number }).n, 0);
  kept.close();
});
