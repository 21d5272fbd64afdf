/**
 * Keeps SQLite's WAL checkpoints off the event loop and the WAL bounded (issue 15: PASSIVE checkpoints
 * alone race the new frames of sustained writes, so the WAL never wraps, grows, and the connection's own
 * autocheckpoint then stalls requests inside a COMMIT every few seconds).
 *
 * A worker thread with its own connection runs `wal_checkpoint(PASSIVE)` every `intervalMs`: it copies
 * the WAL into the database without taking any lock a writer needs (the bulk of the work, with its
 * fsyncs). SQLite starts the WAL over from its beginning when a write transaction begins with every frame
 * already copied — which sustained writes never leave time for. So once the WAL holds `wrapFrames` frames,
 * the worker asks the daemon to pause its metering writes (the connection's write gate: the group commit
 * queues its batches, nothing waits inside SQLite), runs one more PASSIVE checkpoint over the few frames
 * written since, and lets the writes go on: the next batch restarts the WAL (cut back to
 * `journal_size_limit` only when a long reader let it grow past it). The pause lasts one short checkpoint;
 * a checkpoint that cannot complete (another process reading an old snapshot) is retried less and less often. The daemon's connection checkpoints by
 * itself only past a large WAL, as a safety net should the worker stop. bench/proxy.bench.ts prints the
 * p99 this is about; test/daemon/sqlite-checkpointer.test.ts the WAL's size under sustained writes.
 */
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';
import type { WriteGate } from '../src/db/write-gate.js';
import type { Logger } from '../src/logger.js';

export interface Checkpointer {
  stop(): Promise<void>;
}

export interface CheckpointerOptions {
  logger: Logger;
  /** the connection's write gate (DbHandle.writeGate); without it the WAL is checkpointed but not wrapped */
  gate?: WriteGate;
  /** how often the worker checkpoints, default 100 ms */
  intervalMs?: number;
  /**
   * the worker wraps the WAL once it holds this many frames, default 8,000 (~32 MB of 4 KiB pages). Each
   * wrap pauses the metering writes for one short checkpoint (its fsyncs: 1–10 ms, rarely 25); at 1,000
   * frames the pauses came ~8 times a second under the proxy bench's load and held the writes ~2 % of it
   */
  wrapFrames?: number;
  /** called with each pause's length (s) once the writes go on: the arb_sqlite_write_pause_seconds metric */
  onPause?: (seconds: number) => void;
  /**
   * the WAL file is cut back to this size when it starts over, default 64 MiB: above the WAL of a wrap
   * (~33 MB), so an ordinary wrap reuses the file as it is. Cutting it back frees the file's blocks: 20–40
   * ms of I/O inside the COMMIT that starts the WAL over, on the event loop (at 8 MiB, every wrap did it and
   * it was the largest stall in `npm run bench proxy`'s paced p99); only a WAL that a long reader let grow
   * past the limit is cut back now
   */
  sizeLimitBytes?: number;
  /** longest the writes stay paused should the worker not answer, default 1 s */
  maxPauseMs?: number;
}

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.modulePath);
const db = new Database(workerData.file, { timeout: 5000 });
let pausing = false;
let skip = 0;
let backoff = 1;
const report = (e) => parentPort.postMessage({ error: String(e && e.message) });
const tick = () => {
  if (pausing) return;
  try {
    const passive = db.pragma('wal_checkpoint(PASSIVE)')[0];
    if (!workerData.wrap || passive.log < workerData.wrapFrames) return;
    if (skip > 0) return void skip--;
    pausing = true;
    parentPort.postMessage({ pause: true });
  } catch (e) { report(e); }
};
const timer = setInterval(tick, workerData.intervalMs);
parentPort.on('message', (m) => {
  if (m === 'paused') {
    let complete = false;
    try {
      const tail = db.pragma('wal_checkpoint(PASSIVE)')[0];
      complete = tail.busy === 0 && tail.checkpointed === tail.log;
    } catch (e) { report(e); }
    pausing = false;
    parentPort.postMessage({ resume: true, complete });
    if (complete) backoff = 1;
    else { skip = backoff; backoff = Math.min(backoff * 2, 32); }
    return;
  }
  if (m !== 'stop') return;
  clearInterval(timer);
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch (e) { report(e); }
  db.close();
  parentPort.postMessage({ stopped: true });
});
`;

/** The daemon's own connection checkpoints by itself only past this many WAL pages (~80 MB), well past a wrap. */
const FALLBACK_AUTOCHECKPOINT_PAGES = 20_000;

export function startCheckpointer(connection: BetterSqlite3.Database, file: string, options: CheckpointerOptions): Checkpointer {
  const require = createRequire(import.meta.url);
  const previous = Number(connection.pragma('wal_autocheckpoint', { simple: true }));
  const { gate } = options;
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { modulePath: require.resolve('better-sqlite3'), file, intervalMs: options.intervalMs ?? 100, wrapFrames: options.wrapFrames ?? 8_000, wrap: gate !== undefined },
  });
  worker.unref();
  connection.pragma(`wal_autocheckpoint = ${FALLBACK_AUTOCHECKPOINT_PAGES}`);
  connection.pragma(`journal_size_limit = ${options.sizeLimitBytes ?? 64 * 1024 * 1024}`);
  let pauseTimer: NodeJS.Timeout | undefined;
  let pausedAt = 0;
  const resume = () => {
    clearTimeout(pauseTimer);
    pauseTimer = undefined;
    if (pausedAt !== 0) {
      options.onPause?.((performance.now() - pausedAt) / 1000);
      pausedAt = 0;
    }
    gate?.resume();
  };
  let lastError = '';
  worker.on('message', (m: { error?: string; pause?: boolean; resume?: boolean }) => {
    if (m.pause && gate) {
      gate.pause();
      pausedAt = performance.now();
      pauseTimer = setTimeout(resume, options.maxPauseMs ?? 1_000);
      worker.postMessage('paused');
    } else if (m.resume) {
      resume();
    } else if (m.error && m.error !== lastError) {
      lastError = m.error;
      options.logger.warn({ error: m.error }, 'background WAL checkpoint failed (will retry)');
    }
  });
  worker.on('error', (err) => {
    resume();
    options.logger.error({ err }, 'the WAL checkpoint worker stopped: the database connection checkpoints by itself again');
    try {
      connection.pragma(`wal_autocheckpoint = ${previous}`);
    } catch {
      /* connection closed */
    }
  });
  let exited = false;
  worker.once('exit', () => {
    exited = true;
    resume();
  });
  let stopped: Promise<void> | undefined;
  return {
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        if (exited) return resolve();
        const timer = setTimeout(() => void worker.terminate().then(() => resolve()), 5_000);
        worker.on('message', (m: { stopped?: boolean }) => {
          if (!m.stopped) return;
          clearTimeout(timer);
          void worker.terminate().then(() => resolve());
        });
        worker.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        worker.ref(); // keep the process alive until the last checkpoint is done
        worker.postMessage('stop');
      }).then(() => {
        resume();
        try {
          if (connection.open) connection.pragma(`wal_autocheckpoint = ${previous}`);
        } catch {
          /* connection closed */
        }
      });
      return stopped;
    },
  };
}
