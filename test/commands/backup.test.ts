import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import BetterSqlite3 from 'better-sqlite3';
import { openAndMigrate, openDb } from '../../src/db/dialect.js';
import { creditUser } from '../../src/ledger/ledger.js';
import { auditLedger } from '../../src/ledger/audit.js';
import { tempDir } from '../support/db.js';
import { arbEnv, runArb, runArbOnTty, seedShop } from './support.js';

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

async function ledgerIds(file: string): Promise<number[]> {
  const db = new BetterSqlite3(file, { readonly: true });
  try {
    return (db.prepare('select id from transactions order by id').all() as { id: number }[]).map((r) => r.id);
  } finally {
    db.close();
  }
}

test('SQLite: backup while the ledger is being written, then restore: a consistent snapshot, nothing lost', async (t) => {
  const env = arbEnv(tempDir(t));
  const handle = await openAndMigrate({ dbName: env.dbFile });
  await seedShop(handle);
  // a writer in this process: top-ups, each one ledger transaction, until the backup is done
  let stop = false;
  let written = 0;
  const writer = (async () => {
    while (!stop) {
      await creditUser({ handle }, { telegramId: 5000 + (written % 7), amountMicros: 10_000, type: 'topup', reference: `w-${written}` });
      written++;
      await new Promise((r) => setImmediate(r));
    }
  })();
  const r = await runArb(['backup', '--json'], env);
  const duringBackup = written;
  stop = true;
  await writer;
  assert.equal(r.code, 0, r.stderr);
  assert.ok(duringBackup > 0, 'writes went on while the backup ran');
  const doc = JSON.parse(r.stdout);
  assert.equal(doc.integrity, 'ok');
  assert.match(doc.file, /backup\/arbitrage_\d{8}-\d{6}\.db$/);
  assert.equal(doc.latest, join(env.backupDir, 'arbitrage_latest.db'));
  assert.equal(sha(doc.file), doc.sha256);

  // the snapshot is a prefix of the ledger: contiguous ids, every balance equal to its ledger
  const snapshotIds = await ledgerIds(doc.file);
  assert.deepEqual(
    snapshotIds,
    snapshotIds.map((_, i) => i + 1),
  );
  const check = join(env.dir, 'check.db');
  copyFileSync(doc.file, check);
  const copy = openDb({ dbName: check });
  assert.equal((await auditLedger(copy)).ok, true);
  await copy.close();

  const liveIds = await ledgerIds(env.dbFile);
  assert.ok(liveIds.length >= snapshotIds.length);
  await handle.close();

  const restore = await runArb(['restore', 'latest', '--yes', '--json'], env);
  assert.equal(restore.code, 0, restore.stderr);
  const rdoc = JSON.parse(restore.stdout);
  assert.equal(rdoc.restored_from, join(env.backupDir, 'arbitrage_latest.db'));
  assert.match(rdoc.pre_restore, /arbitrage\.db\.\d{8}-\d{6}\.pre-restore$/);
  assert.deepEqual(await ledgerIds(env.dbFile), snapshotIds, 'the database is the snapshot');
  assert.deepEqual(await ledgerIds(rdoc.pre_restore), liveIds, 'the pre-restore copy holds every row written before the restore');
  const audit = await runArb(['audit'], env);
  assert.equal(audit.code, 0, audit.stdout);
});

test('SQLite: arb backup --keep, text output, and the unwritable-directory error', async (t) => {
  const env = arbEnv(tempDir(t));
  const handle = await openAndMigrate({ dbName: env.dbFile });
  await seedShop(handle);
  await handle.close();
  for (let i = 0; i < 3; i++) {
    const r = await runArb(['backup', '--keep', '2'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^backup written: backup\/arbitrage_\d{8}-\d{6}(-\d+)?\.db \([\d,]+ bytes, integrity ok\)$/m);
  }
  const files = readdirSync(env.backupDir).filter((f) => /^arbitrage_\d/.test(f));
  assert.equal(files.length, 2);

  writeFileSync(join(env.dir, 'plain-file'), 'x');
  const bad = await runArb(['backup', '--dir', 'plain-file/sub'], env);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^error: --dir: cannot write backups to .*plain-file\/sub \(\w+\); point --dir at a writable directory \(nothing was changed\)\n$/);
  const badEnv = await runArb(['backup'], { ...env, env: { ...env.env, BACKUP_DIR: join(env.dir, 'plain-file') } });
  assert.equal(badEnv.code, 2);
  assert.match(badEnv.stderr, /^error: BACKUP_DIR: cannot write backups to /);
  const keep = await runArb(['backup', '--keep', '0'], env);
  assert.equal(keep.code, 2);
  assert.match(keep.stderr, /--keep: "0" is not a whole number between 1 and 100,000; use e\.g\. --keep 7/);
});

test('SQLite: arb restore refuses bad files, unconfirmed runs, and an SQLite backup under DATABASE_URL; the database is untouched', async (t) => {
  const env = arbEnv(tempDir(t));
  const handle = await openAndMigrate({ dbName: env.dbFile });
  await seedShop(handle);
  await handle.close();
  const backup = await runArb(['backup', '--json'], env);
  assert.equal(backup.code, 0, backup.stderr);
  const good = JSON.parse(backup.stdout).file as string;
  const before = sha(env.dbFile);

  writeFileSync(join(env.dir, 'junk.db'), 'junk');
  const foreign = new BetterSqlite3(join(env.dir, 'foreign.db'));
  foreign.exec('create table t (x)');
  foreign.close();
  const corrupt = readFileSync(good);
  corrupt.fill(0x5a, 8192, corrupt.length - 1);
  writeFileSync(join(env.dir, 'corrupt.db'), corrupt);

  const cases: [string[], RegExp][] = [
    [['restore', 'nope.db', '--yes'], /^error: file: no backup "nope\.db" \(looked for .*\); pass a path or a name from .*backup/],
    [['restore', 'junk.db', '--yes'], /^error: file: junk\.db is not an SQLite database/],
    [['restore', 'foreign.db', '--yes'], /^error: file: foreign\.db is not an arb database/],
    [['restore', 'corrupt.db', '--yes'], /^error: file: corrupt\.db is corrupt/],
    [['restore', good], /^error: arb restore needs confirmation and there is no terminal to ask on; rerun with --yes to confirm \(nothing was changed\)/],
    [['restore', good, '--json'], /rerun with --yes/],
  ];
  for (const [args, message] of cases) {
    const r = await runArb(args, env);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(sha(env.dbFile), before, `${args.join(' ')} changed the database`);
  }
  assert.deepEqual(
    readdirSync(env.dir).filter((f) => f.includes('pre-restore') || f.includes('restore-tmp')),
    [],
  );

  const pg = await runArb(['restore', good, '--yes'], { ...env, env: { ...env.env, DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' } });
  assert.equal(pg.code, 2);
  assert.match(pg.stderr, /^error: file: arbitrage_\d{8}-\d{6}\.db is an SQLite backup, but DATABASE_URL points arb at PostgreSQL/);
  assert.ok(existsSync(env.dbFile));
});

test('SQLite: arb restore refuses while a daemon heartbeat is fresh', async (t) => {
  const env = arbEnv(tempDir(t));
  const handle = await openAndMigrate({ dbName: env.dbFile });
  await seedShop(handle);
  await handle.close();
  assert.equal((await runArb(['backup'], env)).code, 0);
  const db = new BetterSqlite3(env.dbFile);
  db.prepare(`insert into instances (instance_id, pid, hostname, started_at, heartbeat_at) values ('i-1', ?, 'some-other-host', datetime('now'), datetime('now'))`).run(process.pid);
  db.close();
  const r = await runArb(['restore', 'latest', '--yes'], env);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^error: the daemon is running on this database \(pid \d+ on some-other-host, heartbeat .* UTC\); stop it first/);
});

test('arb restore on a terminal: the confirmation screen; "n" changes nothing, "y" restores', async (t) => {
  const env = arbEnv(tempDir(t));
  const handle = await openAndMigrate({ dbName: env.dbFile });
  await seedShop(handle);
  await handle.close();
  assert.equal((await runArb(['backup'], env)).code, 0);
  const before = sha(env.dbFile);
  const no = await runArbOnTty(['restore', 'latest'], env, { waitFor: '(y/N)', answer: 'n' });
  assert.equal(no.code, 1, no.output);
  assert.match(no.output, /Replace arbitrage\.db with arbitrage_latest\.db\?/);
  assert.match(no.output, /schema \d{8}_\d{6}_\w+, 3 users, \d+ ledger rows, 4 keys, 4 usage events/);
  assert.match(no.output, /restore cancelled; nothing was changed/);
  assert.equal(sha(env.dbFile), before);
  const yes = await runArbOnTty(['restore', 'latest'], env, { waitFor: '(y/N)', answer: 'y' });
  assert.equal(yes.code, 0, yes.output);
  assert.match(yes.output, /✔.*Replace the database/);
  assert.match(yes.output, /the previous database is kept as .*\.pre-restore/);
});
