/**
 * The metering store: the money-critical statements of the proxy (METERING.md §1–§4), one interface with
 * one implementation per database — ./store-sqlite.ts (prepared statements, group commit) and
 * ./store-postgres.ts (kysely; any number of replicas) — with the same semantics, proven by one property
 * test run on both (test/metering/store-property.test.ts) — and the policy both share: database health
 * (src/db/health.ts) and the settles kept until the database accepts them (./pending-settles.ts). Quota is
 * never cached: every hold is decided by the database.
 */
import type { DbHandle } from '../db/dialect.js';
import type { UsageOutcome } from '../db/database.js';
import { createDatabaseHealth, diskRoom, type DatabaseHealth } from '../db/health.js';
import type { KeyAllocation } from '../keys/allocations.js';
import type { Logger } from '../logger.js';
import { nowDb } from '../time.js';
import { createSettleQueue } from './pending-settles.js';
import { createPostgresMeteringStatements } from './store-postgres.js';
import { createSqliteMeteringStatements } from './store-sqlite.js';

export { releaseHolds } from './store-common.js';

/** What the proxy needs to know about a key: the allocation (its stored status) and its model's rates. */
export interface MeteredKey extends KeyAllocation {
  /** µ$/Mtok, null when the model is not in the catalog or has no fixed price */
  promptRate: number | null;
  completionRate: number | null;
  maxCompletionTokens: number | null;
  contextLength: number | null;
  /** µ$/Mtok of cache reads / writes, null when the catalog lists none */
  cacheReadRate: number | null;
  cacheWriteRate: number | null;
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
  /** token classes (parts of promptTokens / completionTokens), default 0 */
  cacheReadTokens?: number;
  cacheWriteTokens?: number;
  reasoningTokens?: number;
  /** the model the upstream said answered */
  answeredModel?: string | null;
  /** µ$ the upstream reported above the cost basis of what was charged (operator loss), default 0 */
  costLossMicros?: number;
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

/** The statements one database implementation provides (store-sqlite.ts, store-postgres.ts): no policy. */
export interface MeteringStatements {
  findKeyByHash(hash: string): Promise<MeteredKey | undefined>;
  getKey(allocationId: number): Promise<MeteredKey | undefined>;
  reserve(input: ReserveInput): Promise<boolean>;
  settle(input: SettleInput): Promise<SettleResult>;
  releaseHolds(instanceIds: readonly string[]): Promise<ReleaseResult>;
  /** a cheap write that succeeds only when the database accepts writes (the health probe) */
  probeWrite(): Promise<void>;
}

/**
 * The metering store. Served means billed (METERING.md §8) — the contract with the proxy:
 * - Every method throws `DatabaseUnavailableError` (`.reason`: "disk full", "I/O error", "database
 *   connection lost", …; `DatabaseCorruptError` for a damaged file) when the database fails with an
 *   integrity or I/O error, and that marks the database unhealthy (`database.status()`, `/health` 503).
 * - `reserve` throws `DatabaseUnavailableError` at once while the database is unhealthy (a write probe
 *   runs at most every 500 ms; when it succeeds, or any write does, reserve works again — on SQLite only
 *   once the disk has 1 MiB free, as a write can fit in room the WAL already has): answer 503
 *   `service_unavailable` and forward nothing.
 * - `settle` always tries the write; it throws `DatabaseUnavailableError` when the database refuses it
 *   (no retry inside). Then:
 *   - non-streamed response (not sent yet): do not send it; answer 503 and `settleLater` a zero-charge
 *     release (`weightedTokens: 0`, the real prompt/completion counts and upstream cost, `statusCode: 503`):
 *     the hold is given back and the usage event records what the operator paid upstream;
 *   - streamed response (already delivered): `settleLater` the real charge.
 * - `settleLater` never throws: it keeps the settle in a bounded in-memory queue (idempotent by request id;
 *   `input.now` defaults to the time of the call, so the usage event keeps it) and retries with backoff
 *   until the database accepts it; the queue is saved beside the database (`<DB_NAME>.pending-settles.<daemon>.json`,
 *   0600) whenever it changes and on `close()`, and `applyPendingSettles()` applies it at the next start.
 */
export interface MeteringStore {
  findKeyByHash(hash: string): Promise<MeteredKey | undefined>;
  /** A fresh read of one allocation (after a refused hold). */
  getKey(allocationId: number): Promise<MeteredKey | undefined>;
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
  /** Keeps a settle the database refused until it accepts it (see the interface's contract). */
  settleLater(input: SettleInput): void;
  /** Releases every hold owned by these daemon instances. */
  releaseHolds(instanceIds: readonly string[]): Promise<ReleaseResult>;
  /** Whether the database accepts writes (for /health). */
  readonly database: Pick<DatabaseHealth, 'status' | 'probeIfDue'>;
  /** Settles kept by settleLater and not yet accepted. */
  readonly pendingSettles: number;
  /** the file they are saved to, when they are kept across restarts */
  readonly pendingSettlesFile: string | undefined;
  /** Applies the settles a previous run saved (before serving); they stay pending if the database refuses. */
  applyPendingSettles(): Promise<{ loaded: number; applied: number }>;
  /** Stops retrying and saves the pending settles (clean shutdown). */
  close(): Promise<{ savedSettles: number }>;
}

export interface MeteringStoreOptions {
  logger?: Logger;
  /** where pending settles are kept across restarts (pendingSettlesLocation(config)); default: memory only */
  pendingSettlesAt?: string;
  /** this daemon's name in its pending-settles file (the instance id), default a random one */
  owner?: string;
  /** while the database is unhealthy, at most one write probe per this many ms, default 500 */
  probeEveryMs?: number;
  /** first retry of a pending settle after this many ms (doubling up to 5 s), default 100 */
  settleRetryMs?: number;
  /** most settles kept pending, default 10,000 */
  maxPendingSettles?: number;
}

/** The store for a database handle. */
export function createMeteringStore(handle: DbHandle, options: MeteringStoreOptions = {}): MeteringStore {
  let statements: MeteringStatements;
  if (handle.dialect === 'postgres') statements = createPostgresMeteringStatements(handle);
  else if (handle.sqlite) statements = createSqliteMeteringStatements(handle, handle.sqlite);
  else throw new Error('createMeteringStore: a SQLite handle without its connection');

  const health = createDatabaseHealth({
    probe: () => statements.probeWrite(),
    where: handle.file ?? 'PostgreSQL database (DATABASE_URL)',
    logger: options.logger,
    probeEveryMs: options.probeEveryMs,
    room: handle.file ? diskRoom(handle.file) : undefined,
  });
  const fail = (e: unknown): never => {
    throw health.failure(e) ?? e;
  };
  const wrote = <T>(value: T): T => {
    health.wrote();
    return value;
  };
  const settle = (input: SettleInput) => statements.settle(input).then(wrote, fail);
  const queue = createSettleQueue({ settle, location: options.pendingSettlesAt, owner: options.owner, logger: options.logger, max: options.maxPendingSettles, retryMs: options.settleRetryMs });
  health.onChange((s) => {
    if (s.state === 'ok' && queue.size > 0) void queue.flush();
  });
  const tookHold = (ok: boolean) => (ok ? wrote(ok) : ok);

  return {
    findKeyByHash: (hash) => statements.findKeyByHash(hash).catch(fail),
    getKey: (id) => statements.getKey(id).catch(fail),
    reserve: (input) => (health.healthy ? statements.reserve(input).then(tookHold, fail) : health.ensureWritable().then(() => statements.reserve(input).then(tookHold, fail))),
    settle,
    settleLater: (input) => queue.add({ ...input, now: input.now ?? nowDb() }),
    releaseHolds: (ids) => statements.releaseHolds(ids).then(wrote, fail),
    database: health,
    get pendingSettles() {
      return queue.size;
    },
    pendingSettlesFile: queue.file,
    applyPendingSettles: () => queue.load(),
    async close() {
      const { saved } = await queue.close();
      return { savedSettles: saved };
    },
  };
}
