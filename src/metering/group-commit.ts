/**
 * Group commit for SQLite's metering hot path: operations submitted in the same turn of the event loop
 * run in ONE `BEGIN IMMEDIATE … COMMIT`, and each caller's promise settles only after the COMMIT. Under
 * load this writes the hot pages to the WAL once per batch instead of once per request (bench/proxy).
 *
 * Each operation is still all-or-nothing and one failing does not touch the others: the batch first runs
 * the operations one after the other; if any throws (a duplicate settle, a constraint), the whole batch is
 * rolled back and run again with each operation inside its own SAVEPOINT — the savepoints (two statements
 * each) are paid only then. The operations only read and write this database, so running them again gives
 * the same results. The batch runs under kysely's single-connection mutex, so it never interleaves with an
 * async kysely transaction (the bot's, the CLI's) on the same connection.
 */
import type BetterSqlite3 from 'better-sqlite3';
import type { Kysely } from 'kysely';
import type { Database } from '../db/database.js';
import type { WriteGate } from '../db/write-gate.js';

export interface GroupCommit {
  /** Runs `op` (synchronous better-sqlite3 statements) in the next batch; resolves after its COMMIT. */
  submit<T>(op: () => T): Promise<T>;
}

interface Op {
  run: () => unknown;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  ok?: boolean;
  value?: unknown;
}

export function createGroupCommit(db: Kysely<Database>, s: BetterSqlite3.Database, gate?: WriteGate): GroupCommit {
  let queue: Op[] = [];
  let scheduled = false;
  let opFailed = false;
  const runAll = s.transaction((ops: Op[]) => {
    for (const op of ops) {
      try {
        op.value = op.run();
      } catch (e) {
        opFailed = true;
        throw e;
      }
      op.ok = true;
    }
  });
  const inSavepoint = s.transaction((op: Op) => op.run());
  const runEachInSavepoint = s.transaction((ops: Op[]) => {
    for (const op of ops) {
      try {
        op.value = inSavepoint(op);
        op.ok = true;
      } catch (e) {
        op.value = e;
        op.ok = false;
      }
    }
  });
  const runBatch = (ops: Op[]) => {
    opFailed = false;
    try {
      runAll.immediate(ops);
    } catch (e) {
      // BEGIN or COMMIT failed: nothing of the batch happened and every caller sees the error
      if (!opFailed) throw e;
      for (const op of ops) op.ok = undefined;
      runEachInSavepoint.immediate(ops);
    }
  };
  const flush = (): Promise<void> | void => {
    if (gate?.paused) return void gate.whenOpen().then(flush);
    return flushNow();
  };
  // kysely's connection mutex, taken without building a Kysely for the batch (db.connection() does)
  const executor = db.getExecutor();
  const flushNow = () =>
    executor
      .provideConnection(async () => {
        if (gate?.paused) {
          void gate.whenOpen().then(flush);
          return;
        }
        const ops = queue;
        queue = [];
        scheduled = false;
        if (ops.length === 0) return;
        try {
          runBatch(ops);
        } catch (e) {
          for (const op of ops) op.reject(e); // the COMMIT failed: nothing of this batch happened
          return;
        }
        for (const op of ops) (op.ok ? op.resolve : op.reject)(op.value);
      })
      .catch((e: unknown) => {
        const ops = queue;
        queue = [];
        scheduled = false;
        for (const op of ops) op.reject(e);
      });
  return {
    submit<T>(run: () => T): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        queue.push({ run, resolve: resolve as (v: unknown) => void, reject });
        if (!scheduled) {
          scheduled = true;
          setImmediate(() => void flush()); // flush settles every queued op (a failure rejects them) and never rejects
        }
      });
    },
  };
}
