/**
 * The metering store's statements on SQLite: prepared better-sqlite3 statements (positional parameters, rows read as
 * arrays: about 3 µs per request cheaper than named parameters and row objects), every write operation
 * group-committed (./group-commit.ts). Semantics are MeteringStore's, shared with store-postgres.ts.
 */
import type BetterSqlite3 from 'better-sqlite3';
import type { DbHandle } from '../db/dialect.js';
import { isUniqueViolation } from '../db/errors.js';
import { nowDb } from '../time.js';
import { createGroupCommit } from './group-commit.js';
import { chargeFor, duplicateSettle, KEY_COLUMNS, KEY_FROM, keyFromRow, releaseHolds } from './store-common.js';
import type { MeteringStatements, ReserveInput, SettleInput, SettleResult } from './store.js';

export function createSqliteMeteringStatements(handle: DbHandle, s: BetterSqlite3.Database): MeteringStatements {
  const byHash = s.prepare(`select ${KEY_COLUMNS} from ${KEY_FROM} where a.api_key_hash = ?`).raw(true);
  const byId = s.prepare(`select ${KEY_COLUMNS} from ${KEY_FROM} where a.id = ?`).raw(true);
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
  // The covered settle (see MeteringStore.settle): (released, charged, now, allocation id, released, released, charged)
  const applyCoveredCharge = s.prepare(
    `update ai_token_allocations set tokens_reserved = tokens_reserved - ?, tokens_used = tokens_used + ?, updated_at = ?
     where id = ? and tokens_reserved >= ? and tokens_total - tokens_used - tokens_reserved + ? >= ?`,
  );
  const insertEvent = s.prepare(
    `insert into usage_events (request_id, allocation_id, model, prompt_tokens, completion_tokens, weighted_tokens, loss_tokens,
       upstream_cost, latency_ms, status_code, outcome, estimated, stream, created_at,
       cache_read_tokens, cache_write_tokens, reasoning_tokens, answered_model, cost_loss)
     values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const probe = s.prepare(`insert into settings (key, value, updated_at) values ('db_write_probe', ?, ?) on conflict (key) do update set value = excluded.value, updated_at = excluded.updated_at`);

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
    if (
      reserved !== undefined &&
      input.weightedTokens <= reserved &&
      applyCoveredCharge.run(reserved, input.weightedTokens, now, input.allocationId, reserved, reserved, input.weightedTokens).changes === 1
    ) {
      released = reserved;
      charged = input.weightedTokens;
    } else {
      const row = counters.get(input.allocationId) as [number, number, number] | undefined;
      if (!row) throw new Error(`settle: allocation ${input.allocationId} not found`);
      ({ released, charged, lossTokens } = chargeFor({ tokensTotal: row[0], tokensUsed: row[1], tokensReserved: row[2] }, reserved, input.weightedTokens));
      applyCharge.run(released, charged, now, input.allocationId);
    }
    // usage_events.request_id is unique: a second settle of the same request throws here, and the group
    // commit undoes everything above
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
      input.cacheReadTokens ?? 0,
      input.cacheWriteTokens ?? 0,
      input.reasoningTokens ?? 0,
      input.answeredModel ?? null,
      input.costLossMicros ?? 0,
    );
    return { charged, lossTokens, released, duplicate: false };
  };

  const batch = createGroupCommit(handle.db, s, handle.writeGate);
  return {
    // Reads need no write lock; they never decide a hold (the conditional UPDATE does).
    findKeyByHash: async (hash) => keyFromRow(byHash.get(hash) as unknown[] | undefined),
    getKey: async (id) => keyFromRow(byId.get(id) as unknown[] | undefined),
    reserve: (input) => batch.submit(() => reserveOp(input, input.now ?? nowDb())),
    async settle(input) {
      try {
        return await batch.submit(() => settleOp(input, input.now ?? nowDb()));
      } catch (e) {
        if (isUniqueViolation(e)) return duplicateSettle();
        throw e;
      }
    },
    releaseHolds: (ids) => releaseHolds(handle, ids),
    probeWrite: () =>
      batch.submit(() => {
        const now = nowDb();
        probe.run(now, now);
      }),
  };
}
