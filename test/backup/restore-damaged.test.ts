/**
 * `arb restore` exists for the day the database is damaged: a corrupt or truncated current file is moved
 * aside (`*.corrupt-<stamp>`, byte for byte, with its WAL) instead of being copied, and the backup comes in.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { openAndMigrate } from '../../src/db/dialect.js';
import { DatabaseCorruptError } from '../../src/errors.js';
import { checkCurrentDatabase } from '../../src/backup/restore.js';
import { tempDir } from '../support/db.js';
import { arbEnv, runArb, seedShop, type ArbEnv } from '../commands/support.js';

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

function ledgerCount(file: string): number {
  const db = new BetterSqlite3(file, { readonly: true });
  try {
    return (db.prepare('select count(*) as n from transactions').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

async function shopWithBackup(t: { after: (fn: () => void) => void }): Promise<{ env: ArbEnv; backupFile: string; ledgerRows: number }> {
  const env = arbEnv(tempDir(t));
  const handle = await openAndMigrate({ dbName: env.dbFile });
  await seedShop(handle);
  // enough rows that the file spans many pages
  handle.sqlite!.exec(`create table padding (x text); with recursive n(i) as (select 1 union all select i + 1 from n where i < 400) insert into padding select hex(randomblob(200)) from n`);
  await handle.close();
  const r = await runArb(['backup', '--json'], env);
  assert.equal(r.code, 0, r.stderr);
  return { env, backupFile: JSON.parse(r.stdout).file as string, ledgerRows: ledgerCount(env.dbFile) };
}

async function restoresOver(env: ArbEnv, ledgerRows: number, damagedSha: string): Promise<void> {
  assert.equal(checkCurrentDatabase(env.dbFile).state, 'corrupt');
  const r = await runArb(['restore', 'latest', '--yes', '--json'], env);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.equal(doc.pre_restore, null);
  assert.match(doc.corrupt_moved_to, /arbitrage\.db\.corrupt-\d{8}-\d{6}$/);
  assert.equal(sha(doc.corrupt_moved_to), damagedSha, 'the damaged file is kept byte for byte');
  assert.deepEqual(readdirSync(env.dir).filter((f) => /pre-restore|restore-tmp|partial/.test(f)), [], 'no empty *.pre-restore left behind');
  assert.equal(ledgerCount(env.dbFile), ledgerRows);
  const audit = await runArb(['audit'], env);
  assert.equal(audit.code, 0, audit.stdout + audit.stderr);
  const log = readFileSync(join(env.logDir, 'arbitrage.log'), 'utf8');
  assert.match(log, /"event_type":"database_restored".*"corrupt_moved_to":"[^"]+corrupt-/);
}

test('arb restore over a corrupt database moves it aside as *.corrupt-<stamp> and restores', async (t) => {
  const { env, ledgerRows } = await shopWithBackup(t);
  const bytes = readFileSync(env.dbFile);
  bytes.fill(0xa5, 4096 * 2, bytes.length - 4096); // wipe the b-tree pages after the schema
  writeFileSync(env.dbFile, bytes);
  await restoresOver(env, ledgerRows, sha(env.dbFile));
});

test('arb restore over a truncated database moves it aside and restores', async (t) => {
  const { env, ledgerRows } = await shopWithBackup(t);
  truncateSync(env.dbFile, Math.floor(statSync(env.dbFile).size / 3) + 100);
  await restoresOver(env, ledgerRows, sha(env.dbFile));
});

test('checkCurrentDatabase: missing, intact, and damaged (a DatabaseCorruptError naming arb restore)', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'arbitrage.db');
  assert.equal(checkCurrentDatabase(file).state, 'missing');
  const handle = await openAndMigrate({ dbName: file });
  await handle.close();
  assert.equal(checkCurrentDatabase(file).state, 'ok');
  writeFileSync(file, Buffer.concat([Buffer.from('SQLite format 3\0'), Buffer.alloc(200, 0xff)]));
  const damaged = checkCurrentDatabase(file);
  assert.equal(damaged.state, 'corrupt');
  assert.ok(damaged.state === 'corrupt' && damaged.error instanceof DatabaseCorruptError);
  assert.match(damaged.state === 'corrupt' ? damaged.error.message : '', /is damaged .*arb restore/);
  assert.ok(existsSync(file), 'checking changes nothing');
});
