/**
 * GET /health (SPEC §9): 200 {"status":"ok","checks":{database,redis,openrouter,telegram},"version","uptime_s"},
 * 503 with "status":"error" when the database fails: a query fails, or the metering store saw it refuse
 * writes (disk full, I/O error, damaged file, lost connection; `errors.database` says why) and its write
 * probe has not succeeded since. `pending_settles` counts charges kept in memory until the database
 * accepts them. Redis, OpenRouter and Telegram problems show in
 * `checks` (and `errors`) without failing the probe. The OpenRouter probe
 * (`GET /key`) is cached so a tight health poll does not hammer the upstream.
 */
import { sql } from 'kysely';
import type { Redis } from 'ioredis';
import type { DbHandle } from '../../src/db/dialect.js';
import type { OpenRouterClient } from '../../src/catalog/openrouter.js';
import type { DatabaseStatus } from '../../src/db/health.js';
import { VERSION } from '../../src/version.js';

export type CheckState = 'ok' | 'error' | 'disabled' | 'unknown';

export interface HealthReport {
  status: 'ok' | 'error';
  checks: { database: CheckState; redis: CheckState; openrouter: CheckState; telegram: CheckState };
  /** a short reason per failing check (never a secret) */
  errors?: Record<string, string>;
  version: string;
  uptime_s: number;
  instance_id: string;
  in_flight: number;
  /** replicas: whether this one holds the leader lease (Telegram long polling, alert rules) */
  leader?: boolean;
  /** where the rate-limit counters live: redis (shared), fallback (Redis unreachable: per replica, RATE_LIMIT_RPM ÷ replicas), memory */
  rate_limits?: string;
  /** settles the database refused, kept until it accepts them */
  pending_settles?: number;
}

export interface HealthDeps {
  handle: DbHandle;
  redis?: Redis;
  openrouter?: OpenRouterClient;
  /** bot status: undefined = no TOKEN (disabled) */
  telegram?: () => CheckState;
  instanceId: string;
  inFlight: () => number;
  startedAt: number;
  leader?: () => boolean;
  rateLimits?: () => string;
  /** the metering store's view of the database (runs its write probe when one is due) */
  databaseWrites?: { probeIfDue(): Promise<DatabaseStatus> };
  pendingSettles?: () => number;
  /** how long an OpenRouter probe result is reused, default 30 s */
  openrouterCacheMs?: number;
  timeoutMs?: number;
}

export interface Health {
  check(): Promise<{ httpStatus: number; report: HealthReport }>;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
      timer.unref();
    }),
  ]).finally(() => clearTimeout(timer));
}

export function createHealth(deps: HealthDeps): Health {
  const timeoutMs = deps.timeoutMs ?? 2_000;
  const cacheMs = deps.openrouterCacheMs ?? 30_000;
  let orCache: { at: number; state: CheckState; error?: string } | undefined;
  let orPending: Promise<{ state: CheckState; error?: string }> | undefined;

  async function database(): Promise<{ state: CheckState; error?: string }> {
    const writes = await deps.databaseWrites?.probeIfDue();
    if (writes && writes.state !== 'ok') {
      const fix = writes.state === 'corrupt' ? 'the database file is damaged: restore it with arb restore' : 'paid requests are refused until it accepts writes';
      return { state: 'error', error: `${writes.reason ?? writes.state} since ${writes.since ?? '?'}: ${fix}` };
    }
    try {
      if (deps.handle.sqlite) {
        // reads the schema page: a file that is no longer a database fails here, `select 1` would not
        deps.handle.sqlite.prepare('select count(*) from sqlite_master').get();
      } else {
        await withTimeout(sql`select 1`.execute(deps.handle.db), timeoutMs, 'database');
      }
      return { state: 'ok' };
    } catch (e) {
      return { state: 'error', error: (e as Error).message };
    }
  }

  async function redis(): Promise<{ state: CheckState; error?: string }> {
    if (!deps.redis) return { state: 'disabled' };
    try {
      await withTimeout(deps.redis.ping(), timeoutMs, 'redis');
      return { state: 'ok' };
    } catch (e) {
      return { state: 'error', error: (e as Error).message };
    }
  }

  async function openrouter(): Promise<{ state: CheckState; error?: string }> {
    if (!deps.openrouter) return { state: 'unknown' };
    if (orCache && Date.now() - orCache.at < cacheMs) return orCache;
    orPending ??= withTimeout(deps.openrouter.getKey(), timeoutMs, 'OpenRouter')
      .then(() => ({ state: 'ok' as CheckState }))
      .catch((e: unknown) => ({ state: 'error' as CheckState, error: (e as Error).message }))
      .then((r) => {
        orCache = { at: Date.now(), ...r };
        orPending = undefined;
        return r;
      });
    return orPending;
  }

  return {
    async check() {
      const [db, rd, or] = await Promise.all([database(), redis(), openrouter()]);
      const tg: CheckState = deps.telegram ? deps.telegram() : 'disabled';
      const errors: Record<string, string> = {};
      if (db.error) errors.database = db.error;
      if (rd.error) errors.redis = `${rd.error} (rate limits: per-replica fallback, RATE_LIMIT_RPM divided by the live replicas)`;
      if (or.error) errors.openrouter = or.error;
      if (tg === 'error') errors.telegram = 'the bot is not running';
      // Only the database decides the probe: without it nothing works; the other checks are informative.
      const status: HealthReport['status'] = db.state !== 'ok' ? 'error' : 'ok';
      const report: HealthReport = {
        status,
        checks: { database: db.state, redis: rd.state, openrouter: or.state, telegram: tg },
        ...(Object.keys(errors).length ? { errors } : {}),
        version: VERSION,
        uptime_s: Math.floor((Date.now() - deps.startedAt) / 1000),
        instance_id: deps.instanceId,
        in_flight: deps.inFlight(),
        ...(deps.leader ? { leader: deps.leader() } : {}),
        ...(deps.rateLimits ? { rate_limits: deps.rateLimits() } : {}),
        ...(deps.pendingSettles ? { pending_settles: deps.pendingSettles() } : {}),
      };
      return { httpStatus: status === 'error' ? 503 : 200, report };
    },
  };
}
