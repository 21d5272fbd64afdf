/**
 * Group commit for SQLite's metering hot path: operations submitted in the same turn of the event loop
 * run in ONE `BEGIN IMMEDIATE … COMMIT`, and each caller's promise settles only after the COMMIT. Under
 * load this writes the hot pages to the WAL once per batch instead of once per request (bench/proxy).
 *
 * Each operation is still all-or-nothing and one failing does not touch the others: the batch first runs
 * the operations one after the other; if any throws (a duplicate settle, a constraint), the whole batch is
 * rolled back and run again with each operation inside its own SAVEPOINT — the savepoints (two statements
 * each) are paid only then. The operations only read and write this database, so running them again gives
 * the same results. It never runs inside an async kysely transaction (the bot's, a purchase's) on the same
 * connection: when one is open, the batch waits for kysely's connection mutex, which the transaction holds.
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
  const runQueued = () => {
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
  };
  const flush = (): Promise<void> | void => {
    if (gate?.paused) return void gate.whenOpen().then(flush);
    // No transaction is open on the connection: the batch runs at once. It is synchronous, so nothing else
    // runs on the connection until it has committed, and it needs no turn of kysely's mutex.
    if (!s.inTransaction) return runQueued();
    return waitForTransaction();
  };
  // An async kysely transaction is open (BEGIN sent, its next statement awaited): the batch waits for
  // kysely's connection mutex, which that transaction holds until its COMMIT or ROLLBACK, so the batch never
  // runs inside it. Taken without building a Kysely for the batch (db.connection() does).
  const executor = db.getExecutor();
  const waitForTransaction = () =>
    executor
      .provideConnection(async () => {
        if (gate?.paused) {
          void gate.whenOpen().then(flush);
          return;
        }
        runQueued();
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
