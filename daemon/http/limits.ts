/**
 * Request limits (SPEC §2 RATE_LIMIT_RPM, §4 429): per key, RATE_LIMIT_RPM requests per minute; per
 * client IP, a cap on failed authentications (key guessing). In memory by default; with a Redis client
 * the counters are shared by every replica (RateLimiterRedis) and an in-memory insurance limiter takes
 * over while Redis is unreachable.
 */
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Redis } from 'ioredis';

export interface LimitVerdict {
  ok: boolean;
  /** seconds until the next request is allowed (when !ok) */
  retryAfterSec: number;
}

export interface ProxyLimits {
  /** counts one request for a key; `keyId` must not be the key itself */
  consumeKey(keyId: string): Promise<LimitVerdict>;
  /** whether this IP is currently throttled for failed authentications */
  authBlocked(ip: string): Promise<LimitVerdict>;
  /** counts one failed authentication for this IP */
  authFailed(ip: string): Promise<void>;
}

export interface LimitsOptions {
  rpm: number;
  /** failed authentications allowed per IP per minute, default 20 */
  authFailuresPerMinute?: number;
  /** shared counters across replicas */
  redis?: Redis;
  keyPrefix?: string;
}

export function createProxyLimits(options: LimitsOptions): ProxyLimits {
  const authMax = options.authFailuresPerMinute ?? 20;
  const prefix = options.keyPrefix ?? 'arb';
  const make = (name: string, points: number): RateLimiterAbstract => {
    const memory = new RateLimiterMemory({ keyPrefix: `${prefix}:${name}`, points, duration: 60 });
    if (!options.redis) return memory;
    return new RateLimiterRedis({
      storeClient: options.redis,
      keyPrefix: `${prefix}:${name}`,
      points,
      duration: 60,
      rejectIfRedisNotReady: true,
      insuranceLimiter: memory,
    });
  };
  const perKey = make('rpm', options.rpm);
  const authFailures = make('authfail', authMax);

  const verdict = (res: RateLimiterRes | null | undefined): LimitVerdict => ({ ok: false, retryAfterSec: Math.max(1, Math.ceil((res?.msBeforeNext ?? 1000) / 1000)) });

  return {
    async consumeKey(keyId) {
      try {
        await perKey.consume(keyId, 1);
        return { ok: true, retryAfterSec: 0 };
      } catch (e) {
        if (e instanceof RateLimiterRes) return verdict(e);
        return { ok: true, retryAfterSec: 0 }; // limiter store failure without insurance: do not block customers
      }
    },
    async authBlocked(ip) {
      try {
        const res = await authFailures.get(ip);
        if (res && res.consumedPoints >= authMax) return verdict(res);
      } catch {
        /* store failure: not blocked */
      }
      return { ok: true, retryAfterSec: 0 };
    },
    async authFailed(ip) {
      try {
        await authFailures.consume(ip, 1);
      } catch {
        /* over the limit already, or store failure */
      }
    },
  };
}
