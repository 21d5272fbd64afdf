/**
 * Moves SQLite's WAL checkpoints off the request path. By default the connection that commits runs the
 * checkpoint (copying WAL pages into the database and fsyncing) inside that COMMIT — on the event loop,
 * in the middle of a customer's request. Here a worker thread with its own connection runs a PASSIVE
 * checkpoint every `intervalMs` (it never blocks writers), and the daemon's connection only checkpoints
 * by itself past a large WAL size, as a safety net should the worker stop.
 */
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';
import type { Logger } from '../src/logger.js';

export interface Checkpointer {
  stop(): Promise<void>;
}

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.modulePath);
const db = new Database(workerData.file, { timeout: 5000 });
const tick = () => {
  try { db.pragma('wal_checkpoint(PASSIVE)'); }
  catch (e) { parentPort.postMessage({ error: String(e && e.message) }); }
};
const timer = setInterval(tick, workerData.intervalMs);
parentPort.on('message', (m) => {
  if (m !== 'stop') return;
  clearInterval(timer);
  tick();
  db.close();
  parentPort.postMessage({ stopped: true });
});
`;

/** The daemon's own connection checkpoints by itself only past this many WAL pages (~40 MB). */
const FALLBACK_AUTOCHECKPOINT_PAGES = 10_000;

export function startCheckpointer(connection: BetterSqlite3.Database, file: string, options: { intervalMs?: number; logger: Logger }): Checkpointer {
  const require = createRequire(import.meta.url);
  const previous = Number(connection.pragma('wal_autocheckpoint', { simple: true }));
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { modulePath: require.resolve('better-sqlite3'), file, intervalMs: options.intervalMs ?? 250 } });
  worker.unref();
  connection.pragma(`wal_autocheckpoint = ${FALLBACK_AUTOCHECKPOINT_PAGES}`);
  let lastError = '';
  worker.on('message', (m: { error?: string }) => {
    if (m.error && m.error !== lastError) {
      lastError = m.error;
      options.logger.warn({ error: m.error }, 'background WAL checkpoint failed (will retry)');
    }
  });
  worker.on('error', (err) => {
    options.logger.error({ err }, 'the WAL checkpoint worker stopped: the database connection checkpoints by itself again');
    try {
      connection.pragma(`wal_autocheckpoint = ${previous}`);
    } catch {
      /* connection closed */
    }
  });
  let exited = false;
  worker.once('exit', () => (exited = true));
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
