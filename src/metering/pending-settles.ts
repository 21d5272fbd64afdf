/**
 * Settles the database refused, kept until it accepts them (METERING.md §8, served means billed): a
 * bounded in-memory queue keyed by request id, retried with backoff (at once when the database recovers),
 * saved to a 0600 file beside the database on every change and on a clean shutdown, and applied at the
 * next start before serving. Settling twice is harmless: the store answers `duplicate`.
 *
 * Files: `<DB_NAME>.pending-settles.<daemon>.json` (on PostgreSQL `LOG_DIR/arbitrage.pending-settles.<daemon>.json`),
 * one per daemon process so two daemons on one database never overwrite each other's; a starting daemon
 * takes over every such file it finds (a live daemon's included: applying a settle twice changes nothing).
 *
 * The usual reason the database refuses is a full disk, the same disk the file goes to: a small ballast
 * file (`…pending-settles.ballast`, 64 KiB) is kept there and deleted to make room when the file cannot be
 * written (ENOSPC); it is put back once nothing is pending.
 */
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Config } from '../config.js';
import { DatabaseUnavailableError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { SettleInput, SettleResult } from './store.js';

/**
 * Where the pending-settles files of a database live: a path prefix, `<DB_NAME>` for SQLite, and
 * `LOG_DIR/arbitrage` for PostgreSQL (which has no file of its own on this host).
 */
export function pendingSettlesLocation(config: Pick<Config, 'dbName' | 'databaseUrl' | 'logDir'>): string {
  return config.databaseUrl ? join(resolve(config.logDir), 'arbitrage') : resolve(config.dbName);
}

const SUFFIX = '.pending-settles.';

/** The pending-settles files at a location (every daemon's). */
export function pendingSettlesFiles(location: string): string[] {
  const dir = dirname(location);
  const prefix = `${basename(location)}${SUFFIX}`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.filter((n) => n.startsWith(prefix) && n.endsWith('.json')).map((n) => join(dir, n));
}

interface PendingFile {
  version: 1;
  written_at: string;
  settles: SettleInput[];
}

/** The settles a file holds ([] when there is none); throws on a file that is not one of ours. */
export function readPendingSettles(file: string): SettleInput[] {
  if (!existsSync(file)) return [];
  const doc = JSON.parse(readFileSync(file, 'utf8')) as PendingFile;
  if (doc?.version !== 1 || !Array.isArray(doc.settles)) throw new Error(`${file} is not a pending-settles file (version 1)`);
  return doc.settles;
}

function writePendingSettles(file: string, settles: SettleInput[]): void {
  if (settles.length === 0) {
    rmSync(file, { force: true });
    return;
  }
  const doc: PendingFile = { version: 1, written_at: new Date().toISOString(), settles };
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(doc)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
}

const BALLAST_BYTES = 64 * 1024;

function putBallast(ballast: string): void {
  try {
    if (existsSync(ballast) && statSync(ballast).size === BALLAST_BYTES) return;
    writeFileSync(ballast, Buffer.alloc(BALLAST_BYTES), { mode: 0o600 });
  } catch {
    rmSync(ballast, { force: true }); // no room for it now; tried again once nothing is pending
  }
}

export interface SettleQueueOptions {
  /** the store's settle (throws DatabaseUnavailableError when the database refuses it) */
  settle: (input: SettleInput) => Promise<SettleResult>;
  /** where the queue is kept across restarts (pendingSettlesLocation); none = memory only */
  location?: string;
  /** this daemon's name in its file name (letters, digits, - and _), default a random one */
  owner?: string;
  logger?: Logger;
  /** most settles kept, default 10,000 (a request beyond is logged CRITICAL with its charge and dropped) */
  max?: number;
  /** first retry after this many ms, doubling up to maxRetryMs; defaults 100 / 5,000 */
  retryMs?: number;
  maxRetryMs?: number;
}

export interface SettleQueue {
  add(input: SettleInput): void;
  readonly size: number;
  /** this daemon's file, when the queue is kept on disk */
  readonly file: string | undefined;
  /** Tries every pending settle now; resolves when the attempt is over. */
  flush(): Promise<void>;
  /** Takes over the files previous runs (or other daemons) left and applies them. */
  load(): Promise<{ loaded: number; applied: number }>;
  /** Stops retrying, tries once more, and saves what is left to the file. */
  close(): Promise<{ saved: number }>;
}

export function createSettleQueue(options: SettleQueueOptions): SettleQueue {
  const max = options.max ?? 10_000;
  const firstRetry = options.retryMs ?? 100;
  const maxRetry = options.maxRetryMs ?? 5_000;
  const owner = (options.owner ?? `${process.pid}-${Math.random().toString(36).slice(2, 8)}`).replace(/[^\w-]/g, '-');
  const file = options.location ? `${options.location}${SUFFIX}${owner}.json` : undefined;
  const ballast = options.location ? `${options.location}${SUFFIX}ballast` : undefined;
  const pending = new Map<string, SettleInput>();
  let delay = firstRetry;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let closed = false;
  let saveFailed = false;
  /** the file does not hold what is pending */
  let dirty = false;
  /** files of earlier runs taken over: removed once this daemon's own file holds their settles */
  let adopted: string[] = [];
  if (ballast) putBallast(ballast);

  const save = () => {
    if (!file || !dirty) return;
    const settles = [...pending.values()];
    try {
      try {
        writePendingSettles(file, settles);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOSPC' || !ballast || !existsSync(ballast)) throw e;
        rmSync(ballast, { force: true });
        writePendingSettles(file, settles);
      }
      dirty = false;
      for (const f of adopted) if (f !== file) rmSync(f, { force: true });
      adopted = [];
      if (saveFailed) options.logger?.warn({ pending_settles: pending.size, file }, 'pending settles saved again');
      saveFailed = false;
      if (settles.length === 0 && ballast) putBallast(ballast);
    } catch (err) {
      if (!saveFailed) options.logger?.error({ err, file, pending_settles: pending.size }, 'cannot save the pending settles (they stay in memory and in this log)');
      saveFailed = true;
    }
  };

  const schedule = () => {
    if (closed || timer || pending.size === 0) return;
    timer = setTimeout(() => {
      timer = undefined;
      void queue.flush();
    }, delay);
    timer.unref();
    delay = Math.min(delay * 2, maxRetry);
  };

  const attempt = async () => {
    const batch = [...pending.values()];
    let refused = false;
    const results = await Promise.allSettled(batch.map((s) => options.settle(s)));
    for (const [i, r] of results.entries()) {
      const input = batch[i];
      if (r.status === 'fulfilled') {
        pending.delete(input.requestId);
        options.logger?.warn({ request_id: input.requestId, allocation_id: input.allocationId, charged: r.value.charged, duplicate: r.value.duplicate }, 'pending settle applied');
      } else if (r.reason instanceof DatabaseUnavailableError) {
        refused = true;
      } else {
        // not a refusal of the database: it will never succeed (a deleted allocation, a bug)
        pending.delete(input.requestId);
        options.logger?.critical({ err: r.reason, settle: input }, 'pending settle failed for good: charge it by hand');
      }
    }
    if (refused) schedule();
    else delay = firstRetry;
    if (pending.size < batch.length) dirty = true;
    save();
  };

  const queue: SettleQueue = {
    add(input) {
      if (pending.has(input.requestId)) return;
      if (pending.size >= max) {
        options.logger?.critical({ settle: input, pending_settles: pending.size }, 'pending settle queue full: this charge was dropped; charge it by hand');
        return;
      }
      pending.set(input.requestId, input);
      options.logger?.error({ settle: input, pending_settles: pending.size }, 'settle kept in memory until the database accepts it');
      dirty = true;
      save();
      schedule();
    },
    get size() {
      return pending.size;
    },
    file,
    flush() {
      running ??= attempt().finally(() => (running = undefined));
      return running;
    },
    async load() {
      if (!options.location) return { loaded: 0, applied: 0 };
      const loaded: SettleInput[] = [];
      for (const f of pendingSettlesFiles(options.location)) {
        try {
          for (const s of readPendingSettles(f)) {
            loaded.push(s);
            if (!pending.has(s.requestId)) pending.set(s.requestId, s);
          }
          adopted.push(f);
        } catch (err) {
          const aside = `${f}.unreadable-${Date.now()}`;
          renameSync(f, aside);
          options.logger?.critical({ err, file: aside }, 'a pending-settles file is unreadable: moved aside; charge its settles by hand');
        }
      }
      if (loaded.length === 0) return { loaded: 0, applied: 0 };
      dirty = true;
      await queue.flush();
      const applied = loaded.filter((s) => !pending.has(s.requestId)).length;
      options.logger?.warn({ loaded: loaded.length, applied, file }, 'pending settles of an earlier run applied');
      return { loaded: loaded.length, applied };
    },
    async close() {
      closed = true;
      clearTimeout(timer);
      timer = undefined;
      await running;
      if (pending.size > 0) await attempt();
      save();
      if (pending.size > 0 && (saveFailed || !file)) {
        for (const s of pending.values()) options.logger?.critical({ settle: s }, 'pending settle NOT saved: charge it by hand');
      }
      return { saved: saveFailed || !file ? 0 : pending.size };
    },
  };
  return queue;
}
