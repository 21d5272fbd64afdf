/**
 * The money-critical database statements of the proxy (METERING.md §1–§4):
 * - `reserve`: ONE conditional UPDATE takes the hold (`tokens_total - tokens_used - tokens_reserved >= h`
 *   on an active, unexpired key), with the `reservations` row written in the same transaction;
 * - `settle`: one transaction deletes the reservation, releases the hold, adds the charge (capped so the
 *   key never goes over its total; the excess is recorded as loss) and inserts the usage event, idempotent on
 *   the request id;
 * - `releaseHolds`: gives back the holds of daemon instances that are gone.
 * Quota is never cached: every hold is decided by the database.
 *
 * SQLite runs the hot path on prepared better-sqlite3 statements, each operation in its own (nested)
 * transaction, group-committed: what arrives in one turn of the event loop shares one IMMEDIATE
 * transaction taken under kysely's single-connection mutex (see createGroupCommit). PostgreSQL uses kysely: the hold is a single
 * `UPDATE … RETURNING` feeding the reservation insert (one statement), the settle a transaction with the
 * allocation row locked.
 */
import { sql, type Kysely } from 'kysely';
import type BetterSqlite3 from 'better-sqlite3';
import type { DbHandle } from '../db/dialect.js';
import { transact } from '../db/dialect.js';
import type { AllocationStatus, Database, UsageOutcome } from '../db/database.js';
import { toDbTime } from '../time.js';

let stampSecond = -1;
let stampText = '';
/** nowDb(), computed once per second (the column's resolution) — it runs twice per request. */
function nowDb(): string {
  const second = Math.floor(Date.now() / 1000);
  if (second !== stampSecond) {
    stampSecond = second;
    stampText = toDbTime(new Date(second * 1000));
  }
  return stampText;
}

/** What the proxy needs to know about a key: the allocation and its model's rates. */
export interface KeyRecord {
  allocationId: number;
  userId: number;
  packageId: number;
  model: string;
  /** masked display form */
  maskedKey: string;
  status: AllocationStatus;
  /** UTC `YYYY-MM-DD HH:MM:SS` */
  expiresAt: string;
  tokensTotal: number;
  tokensUsed: number;
  tokensReserved: number;
  /** µ$ paid for the package */
  pricePaid: number;
  /** µ$/Mtok, null when the model is not in the catalog or has no fixed price */
  promptRate: number | null;
  completionRate: number | null;
  maxCompletionTokens: number | null;
  contextLength: number | null;
}

export interface ReserveInput {
  allocationId: number;
  requestId: string;
  instanceId: string;
  /** prompt-equivalent tokens to hold (> 0) */
  tokens: number;
  /**
   * the hold is taken only if the key has at least this many tokens left before it (default `tokens`):
   * the headroom a hold sized on a fast prompt bound needs (see fastHoldHeadroom), decided by the same
   * atomic statement as the hold, so a cached view of the key cannot make it pass
   */
  minRemaining?: number;
  /** UTC `YYYY-MM-DD HH:MM:SS`, default now */
  now?: string;
}

export interface SettleInput {
  requestId: string;
  allocationId: number;
  model: string;
  promptTokens: number;
  completionTokens: number;
  /** prompt-equivalent tokens the request consumed (before the cap) */
  weightedTokens: number;
  /** µ$ reported by the upstream (usage.cost), 0 when unknown */
  upstreamCostMicros: number;
  latencyMs: number;
  statusCode: number;
  outcome: UsageOutcome;
  estimated: boolean;
  stream: boolean;
  now?: string;
}

export interface SettleResult {
  /** prompt-equivalent tokens added to tokens_used */
  charged: number;
  /** tokens consumed beyond what the key could pay (operator loss) */
  lossTokens: number;
  /** the hold that was released (0 when it was already released by recovery) */
  released: number;
  /** this request id was already settled; nothing changed */
  duplicate: boolean;
}

export interface ReleaseResult {
  reservations: number;
  tokens: number;
}

export interface MeteringStore {
  findKeyByHash(hash: string): Promise<KeyRecord | undefined>;
  /** A fresh read of one allocation (after a refused hold). */
  getKey(allocationId: number): Promise<KeyRecord | undefined>;
  /** Takes the hold atomically; false when the key cannot cover it (or is no longer active/unexpired). */
  reserve(input: ReserveInput): Promise<boolean>;
  /** Replaces the hold by the charge and writes the usage event, exactly once per request id. */
  settle(input: SettleInput): Promise<SettleResult>;
  /** Releases every hold owned by these daemon instances. */
  releaseHolds(instanceIds: readonly string[]): Promise<ReleaseResult>;
}

/** The store for a database handle (SQLite fast path or PostgreSQL). */
export function createMeteringStore(handle: DbHandle): MeteringStore {
  return handle.dialect === 'sqlite' && handle.sqlite ? createSqliteStore(handle, handle.sqlite) : createKyselyStore(handle);
}

const KEY_COLUMNS = `a.id as allocationId, a.user_id as userId, a.package_id as packageId, a.model as model,
  a.api_key as maskedKey, a.status as status, a.expires_at as expiresAt, a.tokens_total as tokensTotal,
  a.tokens_used as tokensUsed, a.tokens_reserved as tokensReserved, a.price_paid as pricePaid,
  m.prompt_rate as promptRate, m.completion_rate as completionRate,
  m.max_completion_tokens as maxCompletionTokens, m.context_length as contextLength`;

/** Charge for one request given the allocation's counters and the released hold (never over the total). */
function capCharge(alloc: { tokens_total: number; tokens_used: number; tokens_reserved: number }, released: number, weighted: number) {
  const room = Math.max(0, alloc.tokens_total - alloc.tokens_used - (alloc.tokens_reserved - released));
  const charged = Math.max(0, Math.min(weighted, room));
  return { charged, lossTokens: Math.max(0, weighted - charged) };
}

/** A KEY_COLUMNS row read with `.raw()` (an array, in column order: no per-row property definitions). */
function keyFromRow(r: unknown[] | undefined): KeyRecord | undefined {
  if (!r) return undefined;
  return {
    allocationId: r[0] as number,
    userId: r[1] as number,
    packageId: r[2] as number,
    model: r[3] as string,
    maskedKey: r[4] as string,
    status: r[5] as AllocationStatus,
    expiresAt: r[6] as string,
    tokensTotal: r[7] as number,
    tokensUsed: r[8] as number,
    tokensReserved: r[9] as number,
    pricePaid: r[10] as number,
    promptRate: r[11] as number | null,
    completionRate: r[12] as number | null,
    maxCompletionTokens: r[13] as number | null,
    contextLength: r[14] as number | null,
  };
}

function createSqliteStore(handle: DbHandle, s: BetterSqlite3.Database): MeteringStore {
  // The hot statements bind positional parameters and read rows as arrays: cheaper than named
  // parameters and row objects in better-sqlite3 (about 3 µs per request).
  const byHash = s.prepare(`select ${KEY_COLUMNS} from ai_token_allocations a left join ai_models m on m.model_id = a.model where a.api_key_hash = ?`).raw(true);
  const byId = s.prepare(`select ${KEY_COLUMNS} from ai_token_allocations a left join ai_models m on m.model_id = a.model where a.id = ?`).raw(true);
  // (tokens, allocation id, now, tokens or the larger minRemaining)
  const takeHold = s.prepare(
    `update ai_token_allocations set tokens_reserved = tokens_reserved + ?
     where id = ? and status = 'active' and expires_at > ? and tokens_total - tokens_used - tokens_reserved >= ?`,
  );
  const insertReservation = s.prepare(`insert into reservations (request_id, allocation_id, tokens, instance_id, created_at) values (?, ?, ?, ?, ?)`);
  const deleteReservation = s.prepare(`delete from reservations where request_id = ? returning tokens`).pluck(true);
  const counters = s.prepare(`select tokens_total, tokens_used, tokens_reserved from ai_token_allocations where id = ?`).raw(true);
  // (released, charged, now, allocation id)
  const applyCharge = s.prepare(`update ai_token_allocations set tokens_reserved = tokens_reserved - ?, tokens_used = tokens_used + ?, updated_at = ? where id = ?`);
  // The usual settle: the hold covers the charge. Then the charge is the whole usage (the hold is part of
  // tokens_reserved, so releasing it leaves room for at least the hold) and no read of the counters is
  // needed; the WHERE re-checks exactly that, and 0 rows changed sends the settle to the general path.
  // (released, charged, now, allocation id, released, released, charged)
  const applyCoveredCharge = s.prepare(
    `update ai_token_allocations set tokens_reserved = tokens_reserved - ?, tokens_used = tokens_used + ?, updated_at = ?
     where id = ? and tokens_reserved >= ? and tokens_total - tokens_used - tokens_reserved + ? >= ?`,
  );
  const insertEvent = s.prepare(
    `insert into usage_events (request_id, allocation_id, model, prompt_tokens, completion_tokens, weighted_tokens, loss_tokens,
       upstream_cost, latency_ms, status_code, outcome, estimated, stream, created_at)
     values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );

  // Each operation is all or nothing: the batch below runs them bare and, if one throws, undoes the whole
  // batch and runs each in its own SAVEPOINT.
  const reserveOp = (input: ReserveInput, now: string): boolean => {
    if (takeHold.run(input.tokens, input.allocationId, now, Math.max(input.tokens, input.minRemaining ?? 0)).changes !== 1) return false;
    insertReservation.run(input.requestId, input.allocationId, input.tokens, input.instanceId, now);
    return true;
  };

  const settleOp = (input: SettleInput, now: string): SettleResult => {
    const reserved = deleteReservation.get(input.requestId) as number | undefined;
    let released: number;
    let charged: number;
    let lossTokens = 0;
    if (reserved !== undefined && input.weightedTokens <= reserved && applyCoveredCharge.run(reserved, input.weightedTokens, now, input.allocationId, reserved, reserved, input.weightedTokens).changes === 1) {
      released = reserved;
      charged = input.weightedTokens;
    } else {
      const row = counters.get(input.allocationId) as [number, number, number] | undefined;
      if (!row) throw new Error(`settle: allocation ${input.allocationId} not found`);
      const alloc = { tokens_total: row[0], tokens_used: row[1], tokens_reserved: row[2] };
      released = Math.min(reserved ?? 0, alloc.tokens_reserved);
      ({ charged, lossTokens } = capCharge(alloc, released, input.weightedTokens));
      applyCharge.run(released, charged, now, input.allocationId);
    }
    // usage_events.request_id is unique: a second settle of the same request throws here and the
    // savepoint undoes everything above
    insertEvent.run(
      input.requestId,
      input.allocationId,
      input.model,
      input.promptTokens,
      input.completionTokens,
      charged,
      lossTokens,
      input.upstreamCostMicros,
      Math.round(input.latencyMs),
      input.statusCode,
      input.outcome,
      input.estimated ? 1 : 0,
      input.stream ? 1 : 0,
      now,
    );
    return { charged, lossTokens, released, duplicate: false };
  };

  const batcher = createGroupCommit(handle, s);
  return {
    // Reads need no write lock; they never decide a hold (the conditional UPDATE does).
    findKeyByHash: async (hash) => keyFromRow(byHash.get(hash) as unknown[] | undefined),
    getKey: async (id) => keyFromRow(byId.get(id) as unknown[] | undefined),
    reserve: (input) => batcher.submit(() => reserveOp(input, input.now ?? nowDb())),
    async settle(input) {
      try {
        return await batcher.submit(() => settleOp(input, input.now ?? nowDb()));
      } catch (e) {
        if (isUniqueViolation(e)) return { charged: 0, lossTokens: 0, released: 0, duplicate: true };
        throw e;
      }
    },
    releaseHolds: (ids) => releaseHolds(handle, ids),
  };
}

/**
 * Group commit for SQLite: operations submitted in the same turn of the event loop run in ONE
 * `BEGIN IMMEDIATE … COMMIT`, and each caller's promise settles only after the COMMIT. Under load this
 * writes the hot pages to the WAL once per batch instead of once per request. Each operation is still
 * all-or-nothing and one failing does not touch the others: the batch first runs the operations one after
 * the other; if any throws (a duplicate settle, a constraint), the whole batch is rolled back and run again
 * with each operation inside its own SAVEPOINT — the savepoints (two statements each) are paid only then.
 * The operations only read and write this database, so running them again gives the same results. The
 * batch runs under kysely's single-connection mutex, so it never interleaves with an async kysely
 * transaction (the bot's, the CLI's) on the same connection.
 */
function createGroupCommit(handle: DbHandle, s: BetterSqlite3.Database) {
  interface Op {
    run: () => unknown;
    resolve: (v: unknown) => void;
    reject: (e: unknown) => void;
    ok?: boolean;
    value?: unknown;
  }
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
  const flush = () =>
    handle.db
      .connection()
      .execute(async () => {
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
          setImmediate(flush);
        }
      });
    },
  };
}

function createKyselyStore(handle: DbHandle): MeteringStore {
  const { db } = handle;
  const pg = handle.dialect === 'postgres';
  const selectKey = (where: 'hash' | 'id', value: string | number) =>
    sql<KeyRecord>`select ${sql.raw(pg ? KEY_COLUMNS.replace(/ as (\w+)/g, ' as "$1"') : KEY_COLUMNS)}
      from ai_token_allocations a left join ai_models m on m.model_id = a.model
      where ${where === 'hash' ? sql`a.api_key_hash = ${value}` : sql`a.id = ${value}`}`.execute(db);

  return {
    async findKeyByHash(hash) {
      return (await selectKey('hash', hash)).rows[0];
    },
    async getKey(id) {
      return (await selectKey('id', id)).rows[0];
    },
    async reserve(input) {
      const now = input.now ?? nowDb();
      const h = input.tokens;
      const need = Math.max(h, input.minRemaining ?? 0);
      if (pg) {
        const r = await sql<{ id: number }>`
          with hold as (
            update ai_token_allocations set tokens_reserved = tokens_reserved + ${h}
            where id = ${input.allocationId} and status = 'active' and expires_at > ${now}
              and tokens_total - tokens_used - tokens_reserved >= ${need}
            returning id)
          insert into reservations (request_id, allocation_id, tokens, instance_id, created_at)
          select ${input.requestId}, id, ${h}, ${input.instanceId}, ${now} from hold
          returning id`.execute(db);
        return r.rows.length === 1;
      }
      return transact(handle, async (trx) => {
        const r = await trx
          .updateTable('ai_token_allocations')
          .set((eb) => ({ tokens_reserved: eb('tokens_reserved', '+', h) }))
          .where('id', '=', input.allocationId)
          .where('status', '=', 'active')
          .where('expires_at', '>', now)
          .where((eb) => eb(eb(eb('tokens_total', '-', eb.ref('tokens_used')), '-', eb.ref('tokens_reserved')), '>=', need))
          .executeTakeFirst();
        if (Number(r.numUpdatedRows) !== 1) return false;
        await trx.insertInto('reservations').values({ request_id: input.requestId, allocation_id: input.allocationId, tokens: h, instance_id: input.instanceId, created_at: now }).execute();
        return true;
      });
    },
    async settle(input) {
      const now = input.now ?? nowDb();
      try {
        return await transact(handle, (trx) => settleWith(trx, input, now, pg));
      } catch (e) {
        if (isUniqueViolation(e)) return { charged: 0, lossTokens: 0, released: 0, duplicate: true };
        throw e;
      }
    },
    releaseHolds: (ids) => releaseHolds(handle, ids),
  };
}

async function settleWith(trx: Kysely<Database>, input: SettleInput, now: string, pg: boolean): Promise<SettleResult> {
  const dup = await trx.selectFrom('usage_events').select('id').where('request_id', '=', input.requestId).executeTakeFirst();
  if (dup) return { charged: 0, lossTokens: 0, released: 0, duplicate: true };
  const reservation = await trx.deleteFrom('reservations').where('request_id', '=', input.requestId).returning(['tokens']).executeTakeFirst();
  let q = trx.selectFrom('ai_token_allocations').select(['tokens_total', 'tokens_used', 'tokens_reserved']).where('id', '=', input.allocationId);
  if (pg) q = q.forUpdate();
  const alloc = await q.executeTakeFirst();
  if (!alloc) throw new Error(`settle: allocation ${input.allocationId} not found`);
  const released = Math.min(reservation?.tokens ?? 0, alloc.tokens_reserved);
  const { charged, lossTokens } = capCharge(alloc, released, input.weightedTokens);
  await trx
    .updateTable('ai_token_allocations')
    .set((eb) => ({ tokens_reserved: eb('tokens_reserved', '-', released), tokens_used: eb('tokens_used', '+', charged), updated_at: now }))
    .where('id', '=', input.allocationId)
    .execute();
  await trx
    .insertInto('usage_events')
    .values({
      request_id: input.requestId,
      allocation_id: input.allocationId,
      model: input.model,
      prompt_tokens: input.promptTokens,
      completion_tokens: input.completionTokens,
      weighted_tokens: charged,
      loss_tokens: lossTokens,
      upstream_cost: input.upstreamCostMicros,
      latency_ms: Math.round(input.latencyMs),
      status_code: input.statusCode,
      outcome: input.outcome,
      estimated: input.estimated ? 1 : 0,
      stream: input.stream ? 1 : 0,
      created_at: now,
    })
    .execute();
  return { charged, lossTokens, released, duplicate: false };
}

/**
 * Releases every hold owned by the given instances: deletes their reservation rows and gives the tokens
 * back to the allocations, in one transaction per allocation.
 */
export async function releaseHolds(handle: DbHandle, instanceIds: readonly string[]): Promise<ReleaseResult> {
  if (instanceIds.length === 0) return { reservations: 0, tokens: 0 };
  const pg = handle.dialect === 'postgres';
  const rows = await handle.db.selectFrom('reservations').select(['allocation_id']).distinct().where('instance_id', 'in', instanceIds).execute();
  let reservations = 0;
  let tokens = 0;
  for (const { allocation_id } of rows) {
    const r = await transact(handle, async (trx) => {
      let q = trx.selectFrom('ai_token_allocations').select(['tokens_reserved']).where('id', '=', allocation_id);
      if (pg) q = q.forUpdate();
      const alloc = await q.executeTakeFirst();
      const held = await trx.deleteFrom('reservations').where('allocation_id', '=', allocation_id).where('instance_id', 'in', instanceIds).returning(['tokens']).execute();
      const sum = held.reduce((n, h) => n + Number(h.tokens), 0);
      const release = Math.min(sum, alloc?.tokens_reserved ?? 0);
      if (release > 0) {
        await trx
          .updateTable('ai_token_allocations')
          .set((eb) => ({ tokens_reserved: eb('tokens_reserved', '-', release), updated_at: nowDb() }))
          .where('id', '=', allocation_id)
          .execute();
      }
      return { count: held.length, tokens: release };
    });
    reservations += r.count;
    tokens += r.tokens;
  }
  return { reservations, tokens };
}

function isUniqueViolation(e: unknown): boolean {
  const err = e as { code?: string; message?: string } | null;
  return err?.code === '23505' || err?.code === 'SQLITE_CONSTRAINT_UNIQUE' || /unique constraint/i.test(err?.message ?? '');
}
