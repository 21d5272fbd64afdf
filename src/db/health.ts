/**
 * Whether the database can record money right now (issue: a full disk or a damaged file must stop paid
 * work instead of serving it unbilled). Any statement that fails with an integrity or I/O error
 * (classifyDbError) marks the database unhealthy; from then on `ensureWritable` refuses at once with the
 * typed error, except that every `probeEveryMs` one caller runs the cheap write probe and, when it
 * succeeds, the database is healthy again. A successful write anywhere also makes it healthy. A damaged
 * file (SQLITE_CORRUPT, NOTADB) stays unhealthy: it does not heal, the fix is `arb restore`.
 *
 * On SQLite a write can succeed on a disk that is still full: into room the WAL file already has, or into
 * the 64 KiB the pending-settles ballast gave back. Healing on that would forward paid requests whose
 * settle then fails (the operator pays upstream for answers held back), so SQLite heals only once the
 * database's file system has room again (`diskRoom`: 1 MiB free).
 */
import { statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseCorruptError, DatabaseUnavailableError } from '../errors.js';
import type { Logger } from '../logger.js';
import { classifyDbError } from './errors.js';

export type DatabaseState = 'ok' | 'unavailable' | 'corrupt';

export interface DatabaseStatus {
  state: DatabaseState;
  /** why not ok: "disk full", "I/O error", "database file damaged", … */
  reason?: string;
  /** ISO time the database became unhealthy */
  since?: string;
}

export interface DatabaseHealth {
  status(): DatabaseStatus;
  readonly healthy: boolean;
  /**
   * Records a failed statement. Returns the typed error the caller should throw instead
   * (DatabaseUnavailableError, DatabaseCorruptError), or undefined when `e` is an ordinary error.
   */
  failure(e: unknown): DatabaseUnavailableError | undefined;
  /** A write succeeded: the database is healthy (unless its file is damaged). */
  wrote(): void;
  /** Resolves when writes are accepted; throws the typed error while they are not (probing when due). */
  ensureWritable(): Promise<void>;
  /** Runs the write probe now if the database is unhealthy and a probe is due; never throws. */
  probeIfDue(): Promise<DatabaseStatus>;
  /** Called after every change of state (the store retries its pending settles on recovery). */
  onChange(listener: (status: DatabaseStatus) => void): void;
}

export interface DatabaseHealthOptions {
  /** a cheap write that succeeds only when the database accepts writes */
  probe: () => Promise<void>;
  /** the SQLite file, or a description of the PostgreSQL database (for DatabaseCorruptError) */
  where: string;
  logger?: Logger;
  /** at most one probe per this many ms while unhealthy, default 500 */
  probeEveryMs?: number;
  /** why the database cannot heal yet whatever a write says (diskRoom), or undefined when it can */
  room?: () => string | undefined;
}

/** The free space a SQLite database's file system needs before the database counts as writable again. */
export const DISK_ROOM_BYTES = 1024 * 1024;

/**
 * For DatabaseHealthOptions.room: "disk full (… free)" while the file system holding `file` has less than
 * `minBytes` free to this process (root may also write the blocks ext4 keeps for it); undefined when it
 * has room or cannot be asked.
 */
export function diskRoom(file: string, minBytes = DISK_ROOM_BYTES): () => string | undefined {
  const dir = dirname(file);
  const root = process.getuid?.() === 0;
  return () => {
    let free: number;
    try {
      const s = statfsSync(dir);
      free = Number(root ? s.bfree : s.bavail) * Number(s.bsize);
    } catch {
      return undefined;
    }
    return free < minBytes ? `disk full (${Math.floor(free / 1024)} KiB free, ${Math.floor(minBytes / 1024)} KiB needed)` : undefined;
  };
}

export function createDatabaseHealth(options: DatabaseHealthOptions): DatabaseHealth {
  const probeEveryMs = options.probeEveryMs ?? 500;
  const listeners: Array<(s: DatabaseStatus) => void> = [];
  let status: DatabaseStatus = { state: 'ok' };
  let error: DatabaseUnavailableError | undefined;
  let lastProbe = 0;
  let probing: Promise<void> | undefined;

  const changed = () => {
    for (const l of listeners) l(status);
  };

  const health: DatabaseHealth = {
    status: () => status,
    get healthy() {
      return status.state === 'ok';
    },
    failure(e) {
      if (e instanceof DatabaseUnavailableError) return e;
      const f = classifyDbError(e);
      if (!f) return undefined;
      const typed = f.kind === 'corrupt' ? new DatabaseCorruptError(options.where, (e as Error).message ?? f.reason, { cause: e }) : new DatabaseUnavailableError(f.reason, { cause: e });
      if (status.state === 'corrupt') return error ?? typed;
      if (status.state === 'ok' || f.kind === 'corrupt') {
        status = { state: f.kind, reason: f.reason, since: new Date().toISOString() };
        error = typed;
        lastProbe = Date.now();
        options.logger?.critical(
          { err: e, database_state: f.kind, reason: f.reason },
          f.kind === 'corrupt'
            ? `the database is damaged (${f.reason}): paid requests are refused; restore it with arb restore`
            : `the database cannot record writes (${f.reason}): paid requests are refused (503) until it accepts writes again`,
        );
        changed();
      }
      return typed;
    },
    wrote() {
      if (status.state !== 'unavailable' || options.room?.()) return;
      options.logger?.warn({ database_state: 'ok', was: status.reason, since: status.since }, 'the database accepts writes again: serving paid requests');
      status = { state: 'ok' };
      error = undefined;
      changed();
    },
    async ensureWritable() {
      if (status.state === 'ok') return;
      if (status.state === 'unavailable') await health.probeIfDue();
      if (!health.healthy) throw error ?? new DatabaseUnavailableError(status.reason ?? 'unavailable');
    },
    async probeIfDue() {
      if (status.state !== 'unavailable') return status;
      if (!probing && Date.now() - lastProbe >= probeEveryMs) {
        lastProbe = Date.now();
        // without room on the disk no write proves anything (see wrote): no probe
        if (!options.room?.())
          probing = options
            .probe()
            .then(
              () => health.wrote(),
              (e: unknown) => void health.failure(e),
            )
            .finally(() => {
              probing = undefined;
              lastProbe = Date.now();
            });
      }
      if (probing) await probing;
      return status;
    },
    onChange(listener) {
      listeners.push(listener);
    },
  };
  return health;
}
