/**
 * The metering store: the money-critical statements of the proxy (METERING.md §1–§4), one interface with
 * one implementation per database — ./store-sqlite.ts (prepared statements, group commit) and
 * ./store-postgres.ts (kysely; any number of replicas) — with the same semantics, proven by one property
 * test run on both (test/metering/store-property.test.ts). Quota is never cached: every hold is decided by
 * the database.
 */
import type { DbHandle } from '../db/dialect.js';
import type { AllocationStatus, UsageOutcome } from '../db/database.js';
import { createPostgresMeteringStore } from './store-postgres.js';
import { createSqliteMeteringStore } from './store-sqlite.js';

export { releaseHolds } from './store-common.js';

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
  /**
   * Takes the hold with ONE conditional update (`tokens_total - tokens_used - tokens_reserved >= h` on an
   * active, unexpired key) and writes its `reservations` row (owned by `instanceId`) in the same
   * transaction; false when the key cannot cover it or is no longer active/unexpired.
   */
  reserve(input: ReserveInput): Promise<boolean>;
  /**
   * Replaces the hold by the charge and writes the usage event, in one transaction, exactly once per
   * request id:
   * - the hold released is the reservation row's tokens, never more than `tokens_reserved` shows (a hold
   *   already released by recovery releases 0);
   * - the charge is `weightedTokens` capped so the key never goes over its total; the excess is recorded
   *   as `loss_tokens` on the usage event (operator loss);
   * - when the hold covers the charge, one guarded UPDATE applies it without reading the counters (the
   *   hold is part of `tokens_reserved`, so releasing it leaves room for at least the hold); if its guard
   *   does not hold (counters edited by hand), the general path above decides;
   * - a second settle of a settled request id changes nothing and answers `duplicate: true`: the unique
   *   request id of `usage_events` refuses the insert and the transaction is undone (both databases: no
   *   check-first race).
   */
  settle(input: SettleInput): Promise<SettleResult>;
  /** Releases every hold owned by these daemon instances. */
  releaseHolds(instanceIds: readonly string[]): Promise<ReleaseResult>;
}

/** The store for a database handle. */
export function createMeteringStore(handle: DbHandle): MeteringStore {
  if (handle.dialect === 'postgres') return createPostgresMeteringStore(handle);
  if (!handle.sqlite) throw new Error('createMeteringStore: a SQLite handle without its connection');
  return createSqliteMeteringStore(handle, handle.sqlite);
}
