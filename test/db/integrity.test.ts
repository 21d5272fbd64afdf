/**
 * Start-up database checks on real files: a real writer process is killed (SIGKILL) with frames in its
 * WAL, then the main file is replaced the way the manual's recovery does (`cp backup.db arbitrage.db`), or
 * damaged by truncating or overwriting pages. Healthy crashes (with and without checkpoints, in a fresh
 * WAL generation) must never read as damage.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, openSync, closeSync, writeSync, truncateSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import BetterSqlite3 from 'better-sqlite3';
import { checkSqliteDatabase, inspectWal } from '../../src/db/integrity.js';
import { DatabaseCorruptError } from '../../src/errors.js';
import { openAndMigrate } from '../../src/db/dialect.js';
import { createBackup } from '../../src/backup/backup.js';
import { tempDir } from '../support/db.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Runs `body` (JavaScript with `db`, a better-sqlite3 connection in WAL mode without autocheckpoint, and
 * `D`, the driver) in a child process, then kills it with SIGKILL: whatever its WAL and -shm hold stays.
 */
async function crashAfter(file: string, body: string): Promise<void> {
  const child = spawn(
    process.execPath,
    [
      '-e',
      `const D = require('better-sqlite3'); const db = new D(${JSON.stringify(file)}); db.pragma('journal_mode = WAL'); db.pragma('wal_autocheckpoint = 0');\n${body}\nprocess.stdout.write('ready\\n'); setInterval(() => {}, 1000);`,
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise((r) => child.once('exit', r));
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    void exited.then(() => reject(new Error(`writer exited early: ${err}`)));
  });
  child.kill('SIGKILL');
  await exited;
  assert.ok(existsSync(`${file}-wal`), 'the crash left a WAL');
}

const INSERTS = (n: number, text = 'x') => `{ const ins = db.prepare('insert into t (v) values (?)'); for (let i = 0; i < ${n}; i++) ins.run(${JSON.stringify(text)}.repeat(300) + i); }`;
const CREATE = `db.exec('create table if not exists t (id integer primary key, v text)');`;

function rows(file: string): number {
  const db = new BetterSqlite3(file, { readonly: true });
  try {
    return (db.prepare('select count(*) as n from t').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

function assertCorrupt(file: string, detail: RegExp) {
  assert.throws(
    () => checkSqliteDatabase(file),
    (e: unknown) => {
      assert.ok(e instanceof DatabaseCorruptError, String(e));
      assert.match(e.message, detail);
      assert.match(e.message, /arb restore/);
      assert.equal(e.code, 'ARB_DB_CORRUPT');
      return true;
    },
  );
}

test('healthy crashes read as healthy: WAL without checkpoint, after a partial and a full checkpoint, in a new WAL generation', async (t) => {
  const dir = tempDir(t);
  const cases: Array<[string, string, number]> = [
    ['no checkpoint', `${CREATE} ${INSERTS(300)}`, 300],
    ['passive checkpoint midway', `${CREATE} ${INSERTS(200)} db.pragma('wal_checkpoint(PASSIVE)'); ${INSERTS(50)}`, 250],
    [
      'checkpoint held back by a reader (nBackfill between 0 and the end)',
      `${CREATE} ${INSERTS(100)} db.exec("update t set v = 'a' where id % 2 = 0"); const r = new D(db.name); r.prepare('begin').run(); r.prepare('select count(*) from t').get(); ${INSERTS(100)} db.exec("update t set v = 'b' where id % 5 = 0"); db.pragma('wal_checkpoint(PASSIVE)'); ${INSERTS(10)}`,
      210,
    ],
    ['checkpointed to the end, nothing after', `${CREATE} ${INSERTS(200)} db.pragma('wal_checkpoint(PASSIVE)');`, 200],
    ['new WAL generation after a full checkpoint', `${CREATE} ${INSERTS(200)} db.pragma('wal_checkpoint(RESTART)'); ${INSERTS(400, 'y')}`, 600],
  ];
  for (const [name, body, expected] of cases) {
    const file = join(dir, `${name.replace(/\W+/g, '-')}.db`);
    await crashAfter(file, body);
    const verdict = inspectWal(file);
    assert.equal(verdict.state, 'ok', `${name}: ${JSON.stringify(verdict)}`);
    checkSqliteDatabase(file);
    assert.equal(rows(file), expected, `${name}: every committed row is there`);
  }
});

test("the manual's recovery by copying: `cp backup/arbitrage_latest.db arbitrage.db` after a crash is refused, naming arb restore", async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'arbitrage.db');
  const handle = await openAndMigrate({ dbName: file });
  await handle.db.insertInto('settings').values({ key: 'before-backup', value: '1', updated_at: '2026-01-01 00:00:00' }).execute();
  const backup = await createBackup(handle, { dir: join(dir, 'backup') });
  await handle.close();
  assert.ok(existsSync(join(dir, 'backup', 'arbitrage_latest.db')), backup.file);
  // the daemon keeps writing after the backup, then crashes
  await crashAfter(file, `db.exec("create table t (id integer primary key, v text)"); ${INSERTS(50)}`);
  // the manual's line, as written, from the data directory
  const cp = spawnSync('cp', ['backup/arbitrage_latest.db', 'arbitrage.db'], { cwd: dir });
  assert.equal(cp.status, 0, String(cp.stderr));
  assert.equal(inspectWal(file).state, 'foreign');
  assertCorrupt(file, /WAL file from another database/);
  // nothing was changed: the WAL is still there and the copied file is still the backup
  assert.ok(existsSync(`${file}-wal`));
  assert.deepEqual(readFileSync(file), readFileSync(join(dir, 'backup', 'arbitrage_latest.db')));
});

test('a page-for-page copy older than the WAL is refused too: shorter than the WAL says, or holding none of the checkpointed versions', async (t) => {
  const dir = tempDir(t);
  // copies of the main file right after a full checkpoint: exact page images, in WAL mode (as `sqlite3
  // .backup` or a cp of a checkpointed live database makes them)
  const copyMain = (to: string) => `require('node:fs').copyFileSync(db.name, ${JSON.stringify(to)});`;

  // (1) the database grew after the copy: the WAL needs pages the copy does not have
  const grew = join(dir, 'grew.db');
  const grewCopy = join(dir, 'grew-copy.db');
  await crashAfter(grew, `${CREATE} ${INSERTS(20)} db.pragma('wal_checkpoint(TRUNCATE)'); ${copyMain(grewCopy)} ${INSERTS(300)} db.pragma('wal_checkpoint(PASSIVE)'); ${INSERTS(100)}`);
  copyFileSync(grewCopy, grew);
  assertCorrupt(grew, /older than the WAL/);

  // (2) same size, rows changed after the copy and checkpointed (a reader held the checkpoint partway): the
  // structure is intact, only the page contents tell
  const same = join(dir, 'same.db');
  const sameCopy = join(dir, 'same-copy.db');
  await crashAfter(
    same,
    `${CREATE} ${INSERTS(300)} db.pragma('wal_checkpoint(TRUNCATE)'); ${copyMain(sameCopy)}
     db.exec("update t set v = 'changed-after-the-copy' where id % 7 = 0"); db.pragma('wal_checkpoint(TRUNCATE)');
     db.exec("update t set v = 'and-again' where id % 5 = 0");
     const r = new D(db.name); r.prepare('begin').run(); r.prepare('select count(*) from t').get();
     db.exec("update t set v = 'after-the-reader' where id < 10"); db.pragma('wal_checkpoint(PASSIVE)');`,
  );
  copyFileSync(sameCopy, same);
  assert.equal(new BetterSqlite3(sameCopy, { readonly: true }).pragma('quick_check', { simple: true }), 'ok', 'the copy itself is a sound database');
  assertCorrupt(same, /checkpointed from its WAL file but the file holds another version/);
});

test('damaged files: overwritten pages, a truncated file, not a database at all', async (t) => {
  const dir = tempDir(t);
  const make = (name: string) => {
    const file = join(dir, name);
    const db = new BetterSqlite3(file);
    db.exec('create table t (id integer primary key, v text); create index t_v on t (v)');
    const ins = db.prepare('insert into t (v) values (?)');
    db.transaction(() => {
      for (let i = 0; i < 2000; i++) ins.run(`row ${i} `.repeat(20));
    })();
    db.close();
    return file;
  };
  const overwritten = make('overwritten.db');
  const fd = openSync(overwritten, 'r+');
  writeSync(fd, Buffer.alloc(4096 * 3, 0x5a), 0, 4096 * 3, 4096 * 5);
  closeSync(fd);
  assertCorrupt(overwritten, /damaged/);

  const truncated = make('truncated.db');
  truncateSync(truncated, Math.floor(statSync(truncated).size / 2));
  assertCorrupt(truncated, /damaged/);

  const notDb = join(dir, 'not-a-db.db');
  writeFileSync(notDb, Buffer.alloc(8192, 0x41));
  assertCorrupt(notDb, /not a database|damaged/);

  // a healthy file and a missing one pass
  checkSqliteDatabase(make('healthy.db'));
  checkSqliteDatabase(join(dir, 'missing.db'));
});

test('killed at random moments of a busy life (writes, readers, checkpoints from another connection), a database always reads as healthy', async (t) => {
  // the checkpointing connection does not wait for the reader's snapshot (busy timeout 0): a RESTART or
  // TRUNCATE checkpoint it blocks copies what it can and returns busy at once, where the default 5 s wait
  // only idled the writer (the same thread) for 10 s a run
  const dir = tempDir(t);
  for (let run = 0; run < 6; run++) {
    const file = join(dir, `busy-${run}.db`);
    const child = spawn(
      process.execPath,
      [
        '-e',
        `const D = require('better-sqlite3'); const db = new D(${JSON.stringify(file)}); db.pragma('journal_mode = WAL'); db.pragma('wal_autocheckpoint = 0');
         const ck = new D(${JSON.stringify(file)}, { timeout: 0 }); const rd = new D(${JSON.stringify(file)});
         db.exec('create table t (id integer primary key, v text, n integer)'); db.exec('create index t_n on t (n)');
         const ins = db.prepare('insert into t (v, n) values (?, ?)'); const upd = db.prepare('update t set n = n + 1, v = ? where id = ?');
         let i = 0; let snapshot = false;
         const tick = () => { db.transaction(() => { for (let k = 0; k < 5; k++) { ins.run('v'.repeat(50 + (i % 400)), i); upd.run('u' + i, 1 + (i * 7919) % (i + 1)); i++; } })();
           if (i % 40 === 0) ck.pragma(['wal_checkpoint(PASSIVE)', 'wal_checkpoint(RESTART)', 'wal_checkpoint(TRUNCATE)'][i % 3]);
           if (i % 55 === 0) { if (snapshot) rd.prepare('commit').run(); else { rd.prepare('begin').run(); rd.prepare('select count(*) from t').get(); } snapshot = !snapshot; }
           if (i === 200) process.stdout.write('ready\\n'); setImmediate(tick); };
         tick();`,
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const exited = new Promise((r) => child.once('exit', r));
    await new Promise((r) => child.stdout.once('data', r));
    await new Promise((r) => setTimeout(r, 20 + run * 37));
    child.kill('SIGKILL');
    await exited;
    const verdict = inspectWal(file);
    assert.notEqual(verdict.state, 'foreign', `run ${run}: ${JSON.stringify(verdict)}`);
    checkSqliteDatabase(file);
  }
});
