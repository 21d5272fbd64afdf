/**
 * The metering store's statements on PostgreSQL (kysely over a pg pool; any number of replicas). The hold is one
 * `UPDATE … RETURNING` feeding the reservation insert (one statement); the settle one READ COMMITTED
 * transaction whose charge update holds the allocation's row lock. Semantics are MeteringStore's, shared
 * with store-sqlite.ts.
 */
import { sql } from 'kysely';
import type { DbHandle } from '../db/dialect.js';
import { transact } from '../db/dialect.js';
import { isUniqueViolation } from '../db/errors.js';
import { nowDb } from '../time.js';
import { chargeFor, duplicateSettle, KEY_COLUMNS, KEY_FROM, releaseHolds } from './store-common.js';
import type { MeteredKey, MeteringStatements, SettleResult } from './store.js';

// PostgreSQL folds unquoted aliases to lower case
const PG_KEY_COLUMNS = KEY_COLUMNS.replace(/ as (\w+)/g, ' as "$1"');

export function createPostgresMeteringStatements(handle: DbHandle): MeteringStatements {
  const { db } = handle;
  const selectKey = async (where: 'hash' | 'id', value: string | number) =>
    (
      await sql<MeteredKey>`select ${sql.raw(PG_KEY_COLUMNS)} from ${sql.raw(KEY_FROM)}
        where ${where === 'hash' ? sql`a.api_key_hash = ${value}` : sql`a.id = ${value}`}`.execute(db)
    ).rows[0];

  return {
    findKeyByHash: (hash) => selectKey('hash', hash),
    getKey: (id) => selectKey('id', id),

    async reserve(input) {
      const now = input.now ?? nowDb();
      const need = Math.max(input.tokens, input.minRemaining ?? 0);
      const r = await sql<{ id: number }>`
        with hold as (
          update ai_token_allocations set tokens_reserved = tokens_reserved + ${input.tokens}
          where id = ${input.allocationId} and status = 'active' and expires_at > ${now}
            and tokens_total - tokens_used - tokens_reserved >= ${need}
          returning id)
        insert into reservations (request_id, allocation_id, tokens, instance_id, created_at)
        select ${input.requestId}, id, ${input.tokens}, ${input.instanceId}, ${now} from hold
        returning id`.execute(db);
      return r.rows.length === 1;
    },

    async settle(input) {
      const now = input.now ?? nowDb();
      try {
        return await transact(handle, async (trx): Promise<SettleResult> => {
          const reservation = await trx.deleteFrom('reservations').where('request_id', '=', input.requestId).returning(['tokens']).executeTakeFirst();
          const reserved = reservation?.tokens;
          let released: number;
          let charged: number;
          let lossTokens = 0;
          const covered =
            reserved !== undefined &&
            input.weightedTokens <= reserved &&
            Number(
              (
                await trx
                  .updateTable('ai_token_allocations')
                  .set((eb) => ({ tokens_reserved: eb('tokens_reserved', '-', reserved), tokens_used: eb('tokens_used', '+', input.weightedTokens), updated_at: now }))
                  .where('id', '=', input.allocationId)
                  .where('tokens_reserved', '>=', reserved)
                  .where(sql<boolean>`tokens_total - tokens_used - tokens_reserved + ${reserved} >= ${input.weightedTokens}`)
                  .executeTakeFirst()
              ).numUpdatedRows,
            ) === 1;
          if (covered) {
            released = reserved;
            charged = input.weightedTokens;
          } else {
            const row = await trx.selectFrom('ai_token_allocations').select(['tokens_total', 'tokens_used', 'tokens_reserved']).where('id', '=', input.allocationId).forUpdate().executeTakeFirst();
            if (!row) throw new Error(`settle: allocation ${input.allocationId} not found`);
            ({ released, charged, lossTokens } = chargeFor({ tokensTotal: row.tokens_total, tokensUsed: row.tokens_used, tokensReserved: row.tokens_reserved }, reserved, input.weightedTokens));
            await trx
              .updateTable('ai_token_allocations')
              .set((eb) => ({ tokens_reserved: eb('tokens_reserved', '-', released), tokens_used: eb('tokens_used', '+', charged), updated_at: now }))
              .where('id', '=', input.allocationId)
              .execute();
          }
          // usage_events.request_id is unique: a second settle of the same request fails here and the
          // transaction undoes everything above
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
              cache_read_tokens: input.cacheReadTokens ?? 0,
              cache_write_tokens: input.cacheWriteTokens ?? 0,
              reasoning_tokens: input.reasoningTokens ?? 0,
              answered_model: input.answeredModel ?? null,
              cost_loss: input.costLossMicros ?? 0,
            })
            .execute();
          return { charged, lossTokens, released, duplicate: false };
        });
      } catch (e) {
        if (isUniqueViolation(e)) return duplicateSettle();
        throw e;
      }
    },

    releaseHolds: (ids) => releaseHolds(handle, ids),
    async probeWrite() {
      const now = nowDb();
      await db
        .insertInto('settings')
        .values({ key: 'db_write_probe', value: now, updated_at: now })
        .onConflict((oc) => oc.column('key').doUpdateSet({ value: now, updated_at: now }))
        .execute();
    },
  };
}
