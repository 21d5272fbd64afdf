/**
 * What the SQLite and PostgreSQL metering stores share: the charge rule (METERING.md §3), the key read's
 * columns, the duplicate answer and the release of gone instances' holds (rare, so portable kysely).
 */
import type { AllocationStatus } from '../db/database.js';
import { transact, type DbHandle } from '../db/dialect.js';
import { nowDb } from '../time.js';
import type { MeteredKey, ReleaseResult, SettleResult } from './store.js';

/** The key read: the allocation and its model's rates, in MeteredKey's field order. */
export const KEY_COLUMNS = `a.id as id, u.telegram_id as telegramId, a.package_id as packageId, a.model as model,
  a.api_key as maskedKey, a.status as status, a.expires_at as expiresAt, a.tokens_total as tokensTotal,
  a.tokens_used as tokensUsed, a.tokens_reserved as tokensReserved, a.price_paid as pricePaidMicros,
  a.created_at as createdAt, m.prompt_rate as promptRate, m.completion_rate as completionRate,
  m.max_completion_tokens as maxCompletionTokens, m.context_length as contextLength,
  m.input_cache_read_rate as cacheReadRate, m.input_cache_write_rate as cacheWriteRate`;

export const KEY_FROM = 'ai_token_allocations a left join ai_models m on m.model_id = a.model left join users u on u.id = a.user_id';

/** A KEY_COLUMNS row read as an array (column order). */
export function keyFromRow(r: unknown[] | undefined): MeteredKey | undefined {
  if (!r) return undefined;
  return {
    id: r[0] as number,
    telegramId: r[1] as number,
    packageId: r[2] as number,
    model: r[3] as string,
    maskedKey: r[4] as string,
    status: r[5] as AllocationStatus,
    expiresAt: r[6] as string,
    tokensTotal: r[7] as number,
    tokensUsed: r[8] as number,
    tokensReserved: r[9] as number,
    pricePaidMicros: r[10] as number,
    createdAt: r[11] as string,
    promptRate: r[12] as number | null,
    completionRate: r[13] as number | null,
    maxCompletionTokens: r[14] as number | null,
    contextLength: r[15] as number | null,
    cacheReadRate: r[16] as number | null,
    cacheWriteRate: r[17] as number | null,
  };
}

export interface Counters {
  tokensTotal: number;
  tokensUsed: number;
  tokensReserved: number;
}

/**
 * The general settle: the hold released is what the reservation row says, never more than the counters
 * show (a hand edit or a recovery may have taken it back), and the charge never takes the key over its
 * total — the excess is operator loss.
 */
export function chargeFor(counters: Counters, reserved: number | undefined, weighted: number): { released: number; charged: number; lossTokens: number } {
  const released = Math.min(reserved ?? 0, counters.tokensReserved);
  const room = Math.max(0, counters.tokensTotal - counters.tokensUsed - (counters.tokensReserved - released));
  const charged = Math.max(0, Math.min(weighted, room));
  return { released, charged, lossTokens: Math.max(0, weighted - charged) };
}

/** What a settle of an already settled request id answers: nothing changed. */
export function duplicateSettle(): SettleResult {
  return { charged: 0, lossTokens: 0, released: 0, duplicate: true };
}

/**
 * Releases every hold owned by the given instances: deletes their reservation rows and gives the tokens
 * back to the allocations, in one transaction per allocation (rare: start-up, heartbeat, shutdown).
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
