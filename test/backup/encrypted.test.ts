/**
 * Encrypted backups (age) and private files: with BACKUP_ENCRYPTION_RECIPIENT every backup is an age
 * file the `age` CLI opens; `arb restore` decrypts with BACKUP_ENCRYPTION_IDENTITY and refuses, changing
 * nothing, without it or with the wrong key. Database, log and backup files are 0600 in 0700 directories.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { openAndMigrate } from '../../src/db/dialect.js';
import { tempDir } from '../support/db.js';
import { arbEnv, runArb, seedShop, type ArbEnv } from '../commands/support.js';
import { ageKey } from './age-key.js';

const AGE = spawnSync('age', ['--version']).status === 0;
const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const mode = (file: string) => (statSync(file).mode & 0o777).toString(8);

function withEnv(env: ArbEnv, extra: Record<string, string>): ArbEnv {
  return { ...env, env: { ...env.env, ...extra } };
}

function users(file: string): number {
  const db = new BetterSqlite3(file, { readonly: true });
  try {
    return (db.prepare('select count(*) as n from users').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

test('SQLite: with BACKUP_ENCRYPTION_RECIPIENT the backup is an age file (age -d opens it), no plaintext copy is left; restore needs the right identity', async (t) => {
  const base = arbEnv(tempDir(t));
  const key = await ageKey(base.dir);
  const other = await ageKey(base.dir, 'other-key.txt');
  const env = withEnv(base, { BACKUP_ENCRYPTION_RECIPIENT: key.recipient });
  const handle = await openAndMigrate({ dbName: env.dbFile });
  await seedShop(handle);
  await handle.close();

  const made = await runArb(['backup', '--json'], env);
  assert.equal(made.code, 0, made.stderr);
  const doc = JSON.parse(made.stdout);
  assert.equal(doc.encrypted, true);
  assert.match(doc.file, /backup\/arbitrage_\d{8}-\d{6}\.db\.age$/);
  assert.equal(doc.latest, join(env.backupDir, 'arbitrage_latest.db.age'));
  assert.deepEqual(readdirSync(env.backupDir).sort(), ['SHA256SUMS', 'arbitrage_latest.db.age', doc.file.split('/').pop()].sort(), 'nothing in plaintext');
  assert.equal(readFileSync(doc.file).subarray(0, 21).toString(), 'age-encryption.org/v1');
  assert.equal(spawnSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: env.backupDir }).status, 0);
  if (AGE) {
    const plain = join(env.dir, 'decrypted.db');
    const r = spawnSync('age', ['-d', '-i', key.file, '-o', plain, doc.file], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(readFileSync(plain).subarray(0, 16).toString('latin1'), 'SQLite format 3\0');
    assert.equal(users(plain), 3);
  } else t.diagnostic('age CLI not installed: skipped the age -d check (apt-get install age)');

  // the database moves on; each refused restore changes nothing
  const db = new BetterSqlite3(env.dbFile);
  db.exec(`insert into users (telegram_id, balance, created_at, updated_at) values (9999, 0, datetime('now'), datetime('now'))`);
  db.close();
  const before = sha(env.dbFile);
  const missing = await runArb(['restore', 'latest', '--yes'], env);
  assert.equal(missing.code, 2, missing.stderr);
  assert.match(missing.stderr, /^error: BACKUP_ENCRYPTION_IDENTITY: arbitrage_latest\.db\.age is encrypted \(age\); set BACKUP_ENCRYPTION_IDENTITY to the file with its secret key/);
  const wrong = await runArb(['restore', 'latest', '--yes'], withEnv(env, { BACKUP_ENCRYPTION_IDENTITY: other.file }));
  assert.equal(wrong.code, 2, wrong.stderr);
  assert.match(wrong.stderr, /^error: BACKUP_ENCRYPTION_IDENTITY: the key in .*other-key\.txt does not open arbitrage_latest\.db\.age \(it was encrypted for another recipient\)/);
  const notKey = await runArb(['restore', 'latest', '--yes'], withEnv(env, { BACKUP_ENCRYPTION_IDENTITY: env.dbFile }));
  assert.equal(notKey.code, 2);
  assert.match(notKey.stderr, /BACKUP_ENCRYPTION_IDENTITY: .*arbitrage\.db holds no age secret key/);
  const absent = await runArb(['restore', 'latest', '--yes'], withEnv(env, { BACKUP_ENCRYPTION_IDENTITY: join(env.dir, 'nope.txt') }));
  assert.equal(absent.code, 2);
  assert.match(absent.stderr, /BACKUP_ENCRYPTION_IDENTITY: cannot read .*nope\.txt \(ENOENT\)/);
  assert.equal(sha(env.dbFile), before);
  assert.deepEqual(readdirSync(env.dir).filter((f) => /arb-restore|pre-restore|restore-tmp/.test(f)), [], 'no decrypted copy left behind');

  const ok = await runArb(['restore', 'latest', '--yes', '--json'], withEnv(env, { BACKUP_ENCRYPTION_IDENTITY: key.file }));
  assert.equal(ok.code, 0, ok.stderr);
  const r = JSON.parse(ok.stdout);
  assert.equal(r.encrypted, true);
  assert.equal(r.restored_from, join(env.backupDir, 'arbitrage_latest.db.age'));
  assert.equal(users(env.dbFile), 3);
  assert.equal(users(r.pre_restore), 4);
  assert.deepEqual(readdirSync(env.dir).filter((f) => f.startsWith('.arb-restore')), []);
  // a name without .age finds the encrypted file
  const byName = await runArb(['restore', doc.file.replace(/\.age$/, ''), '--yes'], withEnv(env, { BACKUP_ENCRYPTION_IDENTITY: key.file }));
  assert.equal(byName.code, 0, byName.stderr);

  // encryption switched off again: the next backup is plain and the stale encrypted "latest" goes
  const plain = await runArb(['backup', '--json'], base);
  assert.equal(plain.code, 0, plain.stderr);
  assert.ok(existsSync(join(env.backupDir, 'arbitrage_latest.db')));
  assert.ok(!existsSync(join(env.backupDir, 'arbitrage_latest.db.age')), 'latest is never an older backup');
  assert.equal(spawnSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: env.backupDir }).status, 0);
});

test('files the CLI creates are private: database, WAL, log and backups 0600, their directories 0700', async (t) => {
  const dir = tempDir(t);
  const env = arbEnv(dir, { DB_NAME: join(dir, 'data', 'arbitrage.db'), BACKUP_ENCRYPTION_RECIPIENT: (await ageKey(dir)).recipient });
  const credit = await runArb(['user', 'credit', '4242', '2.50'], env);
  assert.equal(credit.code, 0, credit.stderr);
  const backup = await runArb(['backup'], env);
  assert.equal(backup.code, 0, backup.stderr);
  const dbFile = join(dir, 'data', 'arbitrage.db');
  const files = [dbFile, ...['-wal', '-shm'].map((s) => `${dbFile}${s}`).filter(existsSync), join(env.logDir, 'arbitrage.log'), ...readdirSync(env.backupDir).map((f) => join(env.backupDir, f))];
  assert.ok(files.length >= 5, files.join(' '));
  for (const f of files) assert.equal(mode(f), '600', f);
  for (const d of [join(dir, 'data'), env.logDir, env.backupDir]) assert.equal(mode(d), '700', d);
});
