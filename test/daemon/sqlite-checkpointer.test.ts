/**
 * The WAL checkpoint leaves the event loop and the WAL stays bounded:
 * under sustained metering writes (reserve + settle from many concurrent callers), the worker wraps the
 * WAL: its file stays about the wrap size (it grows without bound with PASSIVE checkpoints alone), so the
 * connection's own autocheckpoint — a checkpoint on the event loop — never comes into play. A reader that
 * holds an old snapshot (a long `arb stats`, a backup) stops every checkpoint short of it, so the WAL grows
 * while it reads; once it lets go, the next wrap starts the WAL over and cuts its file back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createConfig } from '../../src/config.js';
import { openAndMigrate } from '../../src/db/dialect.js';
import { auditLedger } from '../../src/ledger/audit.js';
import { purchasePackage } from '../../src/ledger/ledger.js';
import { createSilentLogger } from '../../src/logger.js';
import { registerInstance, newInstanceId } from '../../src/metering/instances.js';
import { createMeteringStore, type MeteringStore } from '../../src/metering/store.js';
import { startCheckpointer } from '../../daemon/sqlite-checkpointer.js';
import { tempDir } from '../support/db.js';
import { seedPackage } from '../support/seed.js';

async function setup(t: import('node:test').TestContext) {
  const dir = tempDir(t);
  const file = join(dir, 'arbitrage.db');
  const handle = await openAndMigrate({ dbName: file });
  const config = createConfig({});
  const pkg = await seedPackage(handle, { config, tokens: 2_000_000_000 });
  const { allocation } = await purchasePackage({ handle, config }, { telegramId: 1, packageId: pkg.id, free: true });
  const instance = newInstanceId();
  await registerInstance(handle, instance);
  return { file, handle, allocationId: allocation.id, instanceId: instance.instanceId };
}

/** The WAL header's salts: they change each time the WAL starts over from its beginning. */
const walSalts = (file: string) => {
  try {
    const fd = openSync(`${file}-wal`, 'r');
    try {
      const b = Buffer.alloc(8);
      readSync(fd, b, 0, 8, 16);
      return b.toString('hex');
    } finally {
      closeSync(fd);
    }
  } catch {
    return '';
  }
};

const walSize = (file: string) => {
  try {
    return statSync(`${file}-wal`).size;
  } catch {
    return 0;
  }
};

/** Metered requests on one key: each caller holds, then settles, one request after another. */
function metering(store: MeteringStore, allocationId: number, instanceId: string) {
  let n = 0;
  const usage = { allocationId, model: 'openai/gpt-4', promptTokens: 10, completionTokens: 15, weightedTokens: 40, upstreamCostMicros: 1, latencyMs: 1, statusCode: 200 };
  return {
    /** requests done so far */
    get done() {
      return n;
    },
    /** `count` more requests, from `callers` concurrent callers */
    async run(count: number, callers: number) {
      const until = n + count;
      await Promise.all(
        Array.from({ length: callers }, async (_, w) => {
          while (n < until) {
            const requestId = `w${w}-${n++}`;
            assert.equal(await store.reserve({ allocationId, requestId, instanceId, tokens: 50 }), true);
            await store.settle({ ...usage, requestId, outcome: 'ok', estimated: false, stream: false });
          }
        }),
      );
    },
  };
}

test('sustained writes: the worker wraps the WAL, which stays about its wrap size', async (t) => {
  const { file, handle, allocationId, instanceId } = await setup(t);
  handle.sqlite!.pragma('temp_store = MEMORY');
  // wrap at ~1 MB (250 frames of 4 KiB): without the wrap the WAL passes 4 MB within a second of these writes
  const pauses: number[] = [];
  const checkpointer = startCheckpointer(handle.sqlite!, file, {
    logger: createSilentLogger(),
    gate: handle.writeGate,
    wrapFrames: 250,
    intervalMs: 50,
    onPause: (seconds) => pauses.push(seconds),
  });
  t.after(async () => {
    await checkpointer.stop();
    await handle.close();
  });
  const store = createMeteringStore(handle);
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  let maxWal = 0;
  let restarts = 0;
  let salts = '';
  const sampler = setInterval(() => {
    maxWal = Math.max(maxWal, walSize(file));
    const now = walSalts(file);
    if (now && now !== salts) restarts++;
    salts = now;
  }, 20);
  // a count of requests, not a time: the WAL without wrapping grows with what is written, whatever the
  // machine's speed
  const REQUESTS = 30_000;
  const requests = metering(store, allocationId, instanceId);
  const began = Date.now();
  await requests.run(REQUESTS, 64);
  const n = requests.done;
  clearInterval(sampler);
  delay.disable();
  const perSecond = (n * 2 * 1000) / (Date.now() - began);
  t.diagnostic(
    `${n} requests (~${Math.round(perSecond)} writes/s), WAL at most ${(maxWal / 1e6).toFixed(1)} MB, started over ${restarts} times, event loop max ${(delay.max / 1e6).toFixed(1)} ms, p99 ${(delay.percentile(99) / 1e6).toFixed(1)} ms`,
  );
  assert.ok(restarts >= 5, `the WAL starts over again and again (${restarts} times)`);
  assert.ok(maxWal < 16 * 1024 * 1024, `the WAL stays bounded: at most ${maxWal} bytes`);
  // the wraps paused the writes, and each pause was reported with its length (the metric); the WAL may
  // also start over without one, when a write finds every frame already copied
  assert.ok(pauses.length >= 3, `${pauses.length} pauses reported for ${restarts} restarts`);
  assert.ok(
    pauses.every((p) => p > 0 && p < 1.5),
    `pauses between 0 and the 1 s bound: ${pauses.map((p) => p.toFixed(4)).join(', ')}`,
  );
  assert.equal(handle.writeGate!.paused, false);
  // (the event loop's delay is printed, not asserted: these writers keep it saturated on purpose, and on a
  // shared 2-core machine its figures are the machine's; bench/proxy.bench.ts measures the p99 it is about)
  assert.deepEqual((await auditLedger(handle)).problems, []);
});

test('a reader holding an old snapshot: the WAL grows while it reads, and is wrapped and cut back once it lets go', async (t) => {
  const { file, handle, allocationId, instanceId } = await setup(t);
  const checkpointer = startCheckpointer(handle.sqlite!, file, { logger: createSilentLogger(), gate: handle.writeGate, wrapFrames: 250, intervalMs: 20, sizeLimitBytes: 1024 * 1024 });
  const Database = (await import('better-sqlite3')).default;
  const reader = new Database(file, { readonly: true });
  t.after(async () => {
    if (reader.open) reader.close();
    await checkpointer.stop();
    await handle.close();
  });
  const store = createMeteringStore(handle);
  const metered = metering(store, allocationId, instanceId);
  const requests = (count: number) => metered.run(count, 16);
  // an `arb stats` or a backup in another process: one read transaction, its snapshot held
  reader.exec('begin');
  const before = reader.prepare('select count(*) from usage_events').pluck().get() as number;
  await requests(6000);
  // no checkpoint can pass the reader's snapshot: the WAL grows past its wrap size while it reads
  const held = walSize(file);
  assert.ok(held > 4 * 1024 * 1024, `the WAL grows while the snapshot is held (${held} bytes)`);
  assert.equal(reader.prepare('select count(*) from usage_events').pluck().get(), before, 'the reader still sees its snapshot');
  reader.exec('commit');
  reader.close();
  // once it lets go, the next wrap starts the WAL over and cuts its file back to the size limit
  const salts = walSalts(file);
  for (let i = 0; i < 100 && (walSalts(file) === salts || walSize(file) > 1024 * 1024); i++) await requests(100);
  assert.notEqual(walSalts(file), salts, 'the WAL started over');
  assert.ok(walSize(file) <= 1024 * 1024, `the WAL file is cut back to the limit (${walSize(file)} bytes)`);
  assert.equal(handle.writeGate!.paused, false);
  assert.deepEqual((await auditLedger(handle)).problems, []);
});

test('a WAL that starts over reuses its file as it is, up to the size limit: it is not cut back (freeing its blocks stalls the COMMIT that starts it over)', async (t) => {
  const { file, handle, allocationId, instanceId } = await setup(t);
  // no checkpoint of the worker's during the test (its first tick is a minute away): the WAL only grows
  const checkpointer = startCheckpointer(handle.sqlite!, file, { logger: createSilentLogger(), gate: handle.writeGate, intervalMs: 60_000 });
  t.after(async () => {
    await checkpointer.stop();
    await handle.close();
  });
  const metered = metering(createMeteringStore(handle), allocationId, instanceId);
  // past the 8 MiB the WAL was once cut back to each time it started over (a wrap's WAL is ~33 MB), below the default limit
  for (let i = 0; i < 400 && walSize(file) <= 9 * 1024 * 1024; i++) await metered.run(50, 16);
  const grown = walSize(file);
  assert.ok(grown > 9 * 1024 * 1024, `the WAL grew to ${grown} bytes`);
  // every frame copied into the database: the next write starts the WAL over from its beginning
  const salts = walSalts(file);
  handle.sqlite!.pragma('wal_checkpoint(PASSIVE)');
  await metered.run(1, 1);
  assert.notEqual(walSalts(file), salts, 'the WAL started over');
  assert.equal(walSize(file), grown, 'its file was reused as it was, not cut back');
  assert.deepEqual((await auditLedger(handle)).problems, []);
});
