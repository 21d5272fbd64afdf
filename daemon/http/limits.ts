/**
 * Request limits (SPEC §2 RATE_LIMIT_RPM, §4 429): per key, RATE_LIMIT_RPM requests per minute; per
 * client IP, a cap on failed authentications (key guessing). In memory by default; with a Redis client
 * the counters are shared by every replica (RateLimiterRedis).
 *
 * When Redis is unreachable (down, restarting, not answering within the client's command timeout) the
 * limits never turn off: each replica falls back to its own in-memory counters with the budget divided
 * by the number of live replicas (from the `instances` heartbeats), i.e. RATE_LIMIT_RPM ÷ replicas per
 * key per replica, at least 1 — so the cluster as a whole still allows at most about RATE_LIMIT_RPM.
 * The switch both ways is logged, /health shows `"redis":"error"`, and the shared counters take over
 * again as soon as Redis answers.
 */
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Redis } from 'ioredis';
import type { Logger } from '../../src/logger.js';

export interface LimitVerdict {
  ok: boolean;
  /** seconds until the next request is allowed (when !ok) */
  retryAfterSec: number;
  /** requests allowed in the current minute (the budget this verdict was counted against) */
  limit?: number;
  /** requests left in the current minute after this one */
  remaining?: number;
}

/** where the counters live right now */
export type LimitsMode = 'memory' | 'redis' | 'fallback';

export interface ProxyLimits {
  /** counts one request for a key; `keyId` must not be the key itself */
  consumeKey(keyId: string): Promise<LimitVerdict>;
  /** whether this IP is currently throttled for failed authentications */
  authBlocked(ip: string): Promise<LimitVerdict>;
  /** counts one failed authentication for this IP */
  authFailed(ip: string): Promise<void>;
  /** 'redis' (shared), 'fallback' (Redis unreachable: per replica, budget ÷ replicas) or 'memory' (no Redis configured) */
  mode(): LimitsMode;
}

export interface LimitsOptions {
  rpm: number;
  /** failed authentications allowed per IP per minute, default 20 */
  authFailuresPerMinute?: number;
  /** shared counters across replicas */
  redis?: Redis;
  keyPrefix?: string;
  /** live daemon replicas sharing these limits; the Redis fallback divides each budget by it (default 1) */
  replicas?: () => Promise<number> | number;
  /** how long a replica count is reused, default 10 s */
  replicasCacheMs?: number;
  logger?: Logger;
}

export function createProxyLimits(options: LimitsOptions): ProxyLimits {
  const authMax = options.authFailuresPerMinute ?? 20;
  const prefix = options.keyPrefix ?? 'arb';
  const redis = options.redis;
  const replicasCacheMs = options.replicasCacheMs ?? 10_000;

  const shared = (name: string, points: number) =>
    redis ? new RateLimiterRedis({ storeClient: redis, keyPrefix: `${prefix}:${name}`, points, duration: 60, rejectIfRedisNotReady: true }) : undefined;
  const sharedRpm = shared('rpm', options.rpm);
  const sharedAuth = shared('authfail', authMax);

  // Per-process counters: the only ones without Redis, the fallback with it. One limiter per budget;
  // a change in the replica count starts fresh counters (at most one extra window's worth).
  const memory = new Map<string, RateLimiterMemory>();
  const local = (name: string, points: number) => {
    const id = `${name}:${points}`;
    let l = memory.get(id);
    if (!l) memory.set(id, (l = new RateLimiterMemory({ keyPrefix: `${prefix}:${id}`, points, duration: 60 })));
    return l;
  };

  let replicas = { n: 1, at: 0 };
  let refreshing: Promise<void> | undefined;
  const replicaCount = async (): Promise<number> => {
    if (!options.replicas) return 1;
    if (Date.now() - replicas.at > replicasCacheMs) {
      refreshing ??= (async () => {
        try {
          const n = await options.replicas!();
          replicas = { n: Number.isInteger(n) && n >= 1 ? n : 1, at: Date.now() };
        } catch {
          replicas = { ...replicas, at: Date.now() }; // keep the last known count
        } finally {
          refreshing = undefined;
        }
      })();
      await refreshing;
    }
    return replicas.n;
  };
  /** the per-replica budget while Redis is unreachable */
  const fallbackBudget = async (total: number) => Math.max(1, Math.floor(total / (await replicaCount())));

  let mode: LimitsMode = redis ? 'redis' : 'memory';
  const enterFallback = (err: unknown) => {
    if (mode === 'fallback') return;
    mode = 'fallback';
    options.logger?.error(
      { err: { message: (err as Error)?.message ?? String(err) }, replicas: replicas.n },
      'redis is unreachable: rate limits fall back to per-replica counters (RATE_LIMIT_RPM divided by the live replicas) until it answers again',
    );
  };
  const leaveFallback = () => {
    if (mode !== 'fallback') return;
    mode = 'redis';
    options.logger?.info('redis answers again: rate limits are shared through Redis');
  };

  const refused = (res: RateLimiterRes | null | undefined): LimitVerdict => ({ ok: false, retryAfterSec: Math.max(1, Math.ceil((res?.msBeforeNext ?? 1000) / 1000)) });

  /** consume one point; RateLimiterRes rejections are the limit, anything else is a store failure */
  async function consume(sharedLimiter: RateLimiterRedis | undefined, name: string, total: number, id: string): Promise<LimitVerdict> {
    if (sharedLimiter) {
      try {
        const r = await sharedLimiter.consume(id, 1);
        leaveFallback();
        return { ok: true, retryAfterSec: 0, limit: total, remaining: r.remainingPoints };
      } catch (e) {
        if (e instanceof RateLimiterRes) {
          leaveFallback();
          return refused(e);
        }
        enterFallback(e);
      }
    }
    const budget = sharedLimiter ? await fallbackBudget(total) : total;
    try {
      const r = await local(name, budget).consume(id, 1);
      return { ok: true, retryAfterSec: 0, limit: budget, remaining: r.remainingPoints };
    } catch (e) {
      if (e instanceof RateLimiterRes) return refused(e);
      throw e;
    }
  }

  return {
    consumeKey: (keyId) => consume(sharedRpm, 'rpm', options.rpm, keyId),
    async authBlocked(ip) {
      let res: RateLimiterRes | null = null;
      let max = authMax;
      try {
        if (sharedAuth) res = await sharedAuth.get(ip);
        else res = await local('authfail', authMax).get(ip);
      } catch (e) {
        enterFallback(e);
        max = await fallbackBudget(authMax);
        res = await local('authfail', max).get(ip);
      }
      if (res && res.consumedPoints >= max) return refused(res);
      return { ok: true, retryAfterSec: 0 };
    },
    async authFailed(ip) {
      await consume(sharedAuth, 'authfail', authMax, ip);
    },
    mode: () => mode,
  };
}
