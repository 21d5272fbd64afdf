/**
 * Served means billed, at the store: when the database refuses writes (a real full disk on a size-limited
 * tmpfs, a real lost PostgreSQL connection, a damaged file) reserve refuses with DatabaseUnavailableError,
 * settle throws it, settleLater keeps the charge (across a clean shutdown, in a 0600 file beside the
 * database) and applies it once the database accepts writes; the audit is clean afterwards.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync, statSync, openSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { createConfig } from '../../src/config.js';
import { openAndMigrate, openDb, type DbHandle } from '../../src/db/dialect.js';
import { DatabaseCorruptError, DatabaseUnavailableError } from '../../src/errors.js';
import { auditLedger } from '../../src/ledger/audit.js';
import { purchasePackage } from '../../src/ledger/ledger.js';
import { hashApiKey } from '../../src/keys/api-key.js';
import { createMeteringStore, type SettleInput } from '../../src/metering/store.js';
import { pendingSettlesFiles, readPendingSettles } from '../../src/metering/pending-settles.js';
import { createPgDatabase, PG_SKIP_REASON, tempDir } from '../support/db.js';
import { seedPackage } from '../support/seed.js';
import { fillDisk, mountTmpfs } from '../support/tmpfs.js';
import { until } from '../support/wait.js';

async function keyWith(handle: DbHandle, tokens: number) {
  const config = createConfig({});
  const pkg = await seedPackage(handle, { config, tokens });
  const r = await purchasePackage({ handle, config }, { telegramId: 4242, packageId: pkg.id, free: true });
  return { key: r.apiKey!, allocationId: r.allocation.id };
}

function settleInput(requestId: string, allocationId: number, weightedTokens: number, extra: Partial<SettleInput> = {}): SettleInput {
  return {
    requestId,
    allocationId,
    model: 'openai/gpt-4',
    promptTokens: 10,
    completionTokens: weightedTokens,
    weightedTokens,
    upstreamCostMicros: 5,
    latencyMs: 3,
    statusCode: 200,
    outcome: 'ok',
    estimated: false,
    stream: true,
    ...extra,
  };
}

const isUnavailable = (reason: RegExp) => (e: unknown) => {
  assert.ok(e instanceof DatabaseUnavailableError, String(e));
  assert.equal(e.code, 'ARB_DB_UNAVAILABLE');
  assert.match(e.reason, reason);
  return true;
};

async function counters(handle: DbHandle, id: number) {
  return handle.db.selectFrom('ai_token_allocations').select(['tokens_used', 'tokens_reserved']).where('id', '=', id).executeTakeFirstOrThrow();
}

/** A migrated SQLite database with a key, on a fresh 6 MiB tmpfs. */
async function onSmallDisk(t: import('node:test').TestContext) {
  const fs = mountTmpfs(6 * 1024 * 1024);
  if ('skip' in fs) {
    t.skip(fs.skip);
    return undefined;
  }
  // registered before anything that may fail: a failed setup leaves no mount behind
  let handle: DbHandle | undefined;
  t.after(async () => {
    await handle?.close();
    fs.unmount();
  });
  const file = join(fs.dir, 'arbitrage.db');
  handle = await openAndMigrate({ dbName: file });
  const { allocationId } = await keyWith(handle, 1000);
  /** Fills the disk, the WAL first cut back so that every write must grow it; returns the filler file. */
  const fill = () => {
    handle.sqlite!.pragma('wal_checkpoint(TRUNCATE)');
    const filler = join(fs.dir, 'filler');
    fillDisk(filler);
    return filler;
  };
  return { dir: fs.dir, file, handle, allocationId, fill };
}

test('a full disk (real tmpfs): reserve refuses, settle throws, settleLater applies once space returns, audit clean', async (t) => {
  const disk = await onSmallDisk(t);
  if (!disk) return;
  const { file, handle, allocationId } = disk;
  const store = createMeteringStore(handle, { pendingSettlesAt: file, probeEveryMs: 20, settleRetryMs: 20 });
  for (const id of ['a', 'b', 'c']) assert.equal(await store.reserve({ allocationId, requestId: id, instanceId: 'i1', tokens: 100 }), true);
  const filler = disk.fill();

  await assert.rejects(store.settle(settleInput('a', allocationId, 60)), isUnavailable(/disk full/));
  assert.deepEqual(store.database.status().state, 'unavailable');
  await assert.rejects(store.reserve({ allocationId, requestId: 'd', instanceId: 'i1', tokens: 10 }), isUnavailable(/disk full/));
  // a stream already delivered: its real charge; a response held back: a zero-charge release
  store.settleLater(settleInput('a', allocationId, 60));
  store.settleLater(settleInput('b', allocationId, 0, { statusCode: 503, completionTokens: 40, stream: false }));
  store.settleLater(settleInput('a', allocationId, 60)); // idempotent by request id
  assert.equal(store.pendingSettles, 2);
  // saving the queue deleted the ballast to make room for its file: fill what that freed too
  fillDisk(join(disk.dir, 'filler-2'));
  // the retries meet the full disk again (a probe ran and failed) while the queue keeps both
  const probedAt = Date.now();
  await until('a retry against the full disk', async () => (await store.database.probeIfDue()).state === 'unavailable' && Date.now() - probedAt > 100);
  assert.equal(store.pendingSettles, 2);

  rmSync(filler);
  rmSync(join(disk.dir, 'filler-2'));
  await until('the pending settles applied', () => store.pendingSettles === 0);
  assert.equal(store.database.status().state, 'ok');
  const events = await handle.db.selectFrom('usage_events').select(['request_id', 'weighted_tokens', 'status_code']).orderBy('request_id').execute();
  assert.deepEqual(
    events.map((e) => [e.request_id, Number(e.weighted_tokens), e.status_code]),
    [
      ['a', 60, 200],
      ['b', 0, 503],
    ],
  );
  assert.deepEqual(await counters(handle, allocationId), { tokens_used: 60, tokens_reserved: 100 });
  assert.equal(await store.reserve({ allocationId, requestId: 'e', instanceId: 'i1', tokens: 10 }), true);
  for (const id of ['c', 'e']) await store.settle(settleInput(id, allocationId, 5));
  assert.deepEqual(pendingSettlesFiles(file), [], 'nothing pending: no file');
  await store.close();
  assert.deepEqual((await auditLedger(handle)).problems, []);
});

test('a full disk: a write that still fits (the ballast the queue gave back) does not heal the database; room on the disk does', async (t) => {
  const disk = await onSmallDisk(t);
  if (!disk) return;
  const { file, handle, allocationId } = disk;
  const store = createMeteringStore(handle, { pendingSettlesAt: file, probeEveryMs: 20, settleRetryMs: 20 });
  for (const id of ['a', 'b']) assert.equal(await store.reserve({ allocationId, requestId: id, instanceId: 'i1', tokens: 100 }), true);
  const filler = disk.fill();
  await assert.rejects(store.settle(settleInput('a', allocationId, 60)), isUnavailable(/disk full/));
  // keeping the settle deletes the 64 KiB ballast for its file: the retry fits in what that freed
  store.settleLater(settleInput('a', allocationId, 60));
  await until('the kept settle applied in the ballast room', () => store.pendingSettles === 0);
  assert.deepEqual(await counters(handle, allocationId), { tokens_used: 60, tokens_reserved: 100 });
  // a write went in, but the disk is still full: paid requests stay refused, probes included
  assert.equal(store.database.status().state, 'unavailable');
  await new Promise((r) => setTimeout(r, 50));
  assert.equal((await store.database.probeIfDue()).state, 'unavailable');
  await assert.rejects(store.reserve({ allocationId, requestId: 'c', instanceId: 'i1', tokens: 10 }), isUnavailable(/disk full/));

  rmSync(filler);
  await until('a probe finds room', async () => (await store.database.probeIfDue()).state === 'ok');
  assert.equal(await store.reserve({ allocationId, requestId: 'c', instanceId: 'i1', tokens: 10 }), true);
  for (const id of ['b', 'c']) await store.settle(settleInput(id, allocationId, 5));
  await store.close();
  assert.deepEqual((await auditLedger(handle)).problems, []);
});

test('a full disk at shutdown: the pending settles are saved beside the database (0600) and applied by the next start', async (t) => {
  const disk = await onSmallDisk(t);
  if (!disk) return;
  const { file, handle, allocationId } = disk;
  const store = createMeteringStore(handle, { pendingSettlesAt: file, owner: 'daemon-1', probeEveryMs: 20, settleRetryMs: 20 });
  const pendingFile = `${file}.pending-settles.daemon-1.json`;
  assert.equal(store.pendingSettlesFile, pendingFile);
  const ballast = `${file}.pending-settles.ballast`;
  assert.ok(existsSync(ballast), 'room kept for the file');
  for (const id of ['s1', 's2']) assert.equal(await store.reserve({ allocationId, requestId: id, instanceId: 'i1', tokens: 100 }), true);
  const filler = disk.fill();
  await assert.rejects(store.settle(settleInput('s1', allocationId, 70)), isUnavailable(/disk full/));
  store.settleLater(settleInput('s1', allocationId, 70));
  store.settleLater(settleInput('s2', allocationId, 30));
  // the ballast made room for the file on the full disk; fill what it freed again
  assert.equal(statSync(pendingFile).mode & 0o777, 0o600);
  fillDisk(join(disk.dir, 'filler-2'));
  assert.deepEqual(await store.close(), { savedSettles: 2 });
  assert.deepEqual(
    readPendingSettles(pendingFile).map((s) => [s.requestId, s.weightedTokens]),
    [
      ['s1', 70],
      ['s2', 30],
    ],
  );
  assert.ok(
    readPendingSettles(pendingFile).every((s) => typeof s.now === 'string'),
    'each keeps the time it was served',
  );

  // space comes back; the next start applies the file before serving
  rmSync(filler);
  rmSync(join(disk.dir, 'filler-2'));
  const next = createMeteringStore(handle, { pendingSettlesAt: file, owner: 'daemon-2' });
  assert.deepEqual(await next.applyPendingSettles(), { loaded: 2, applied: 2 });
  assert.deepEqual(pendingSettlesFiles(file), [], 'the file taken over and emptied');
  assert.ok(existsSync(ballast), 'the ballast is back');
  assert.deepEqual(await counters(handle, allocationId), { tokens_used: 100, tokens_reserved: 0 });
  // applied twice (a crash before the file was removed) changes nothing
  const again = await next.settle(settleInput('s1', allocationId, 70));
  assert.equal(again.duplicate, true);
  await next.close();
  assert.deepEqual((await auditLedger(handle)).problems, []);
});

test('a damaged file at run time: every call fails as DatabaseCorruptError naming arb restore, and it stays so', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'arbitrage.db');
  const seeded = await openAndMigrate({ dbName: file });
  const { key, allocationId } = await keyWith(seeded, 1000);
  const pages = (seeded.sqlite!.prepare(`select pageno from dbstat where name = 'ai_token_allocations'`).all() as Array<{ pageno: number }>).map((r) => r.pageno);
  await seeded.close();
  // overwrite the allocations' pages: the schema is intact, the table is garbage
  const fd = openSync(file, 'r+');
  for (const p of pages) writeSync(fd, Buffer.alloc(4096, 0xa5), 0, 4096, (p - 1) * 4096);
  closeSync(fd);
  const handle = openDb({ dbName: file });
  t.after(() => handle.close());
  const store = createMeteringStore(handle, { probeEveryMs: 1 });
  await assert.rejects(store.findKeyByHash(hashApiKey(key)), (e: unknown) => e instanceof DatabaseCorruptError && /arb restore/.test(e.message));
  assert.equal(store.database.status().state, 'corrupt');
  await new Promise((r) => setTimeout(r, 5));
  await assert.rejects(store.reserve({ allocationId, requestId: 'x', instanceId: 'i1', tokens: 1 }), DatabaseCorruptError);
  assert.equal((await store.database.probeIfDue()).state, 'corrupt', 'no probe heals a damaged file');
});

test('a lost PostgreSQL connection: reserve refuses until the database takes connections again', async (t) => {
  if (!process.env.TEST_DATABASE_URL) return t.skip(PG_SKIP_REASON);
  const url = await createPgDatabase(t);
  const name = new URL(url).pathname.slice(1);
  const handle = await openAndMigrate({ databaseUrl: url, poolSize: 3 });
  t.after(() => handle.close());
  const { allocationId } = await keyWith(handle, 1000);
  const store = createMeteringStore(handle, { probeEveryMs: 20 });
  assert.equal(await store.reserve({ allocationId, requestId: 'before', instanceId: 'i1', tokens: 10 }), true);

  const admin = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
  await admin.connect();
  t.after(async () => {
    await admin.query(`alter database ${name} with allow_connections true`).catch(() => {});
    await admin.end();
  });
  await admin.query(`alter database ${name} with allow_connections false`);
  await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [name]);

  await until('the store sees the connection gone', async () => {
    try {
      await store.reserve({ allocationId, requestId: `during-${Date.now()}`, instanceId: 'i1', tokens: 10 });
      return false;
    } catch (e) {
      return isUnavailable(/connection/)(e);
    }
  });
  assert.equal(store.database.status().state, 'unavailable');
  await assert.rejects(store.settle(settleInput('before', allocationId, 5)), isUnavailable(/connection/));
  store.settleLater(settleInput('before', allocationId, 5));

  await admin.query(`alter database ${name} with allow_connections true`);
  await until('reserve works again', async () => {
    try {
      return await store.reserve({ allocationId, requestId: `after-${Date.now()}`, instanceId: 'i1', tokens: 10 });
    } catch {
      return false;
    }
  });
  await until('the pending settle applied', () => store.pendingSettles === 0);
  const ev = await handle.db.selectFrom('usage_events').select('weighted_tokens').where('request_id', '=', 'before').executeTakeFirstOrThrow();
  assert.equal(Number(ev.weighted_tokens), 5);
  await store.close();
});
