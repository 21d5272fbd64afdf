/**
 * Per-user rate limit for the bot (in memory, fixed window). Payment updates are never limited: a
 * pre_checkout_query must be answered and a successful_payment credited whatever the user did before.
 * Over the limit, the user is told once per window and further updates are dropped.
 *
 * With Redis (REDIS_HOST; daemon replicas behind one webhook) the count is shared by every replica;
 * while Redis is unreachable each replica counts on its own, so the limit never switches off.
 */
import type { MiddlewareFn } from 'grammy';
import type { Redis } from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { logSecurityEvent } from '../../../src/logger.js';
import type { ShopContext } from '../context.js';

export interface RateLimitOptions {
  /** updates per window per user, default 30 */
  limit?: number;
  /** window length, default 10 s */
  windowMs?: number;
  /** counters shared by the replicas */
  redis?: Redis;
}

interface Window {
  start: number;
  count: number;
  warned: boolean;
}

export function rateLimit(options: RateLimitOptions = {}, clock: () => number = Date.now): MiddlewareFn<ShopContext> {
  const limit = options.limit ?? 30;
  const windowMs = options.windowMs ?? 10_000;
  const windows = new Map<number, Window>();
  let lastSweep = clock();
  const shared = options.redis
    ? new RateLimiterRedis({ storeClient: options.redis, keyPrefix: 'arb:bot', points: limit, duration: Math.max(1, Math.ceil(windowMs / 1000)), rejectIfRedisNotReady: true })
    : undefined;

  /** the shared verdict, or undefined when Redis did not answer */
  const countShared = async (userId: number): Promise<{ over: boolean; firstOver: boolean } | undefined> => {
    try {
      await shared!.consume(String(userId), 1);
      return { over: false, firstOver: false };
    } catch (e) {
      if (e instanceof RateLimiterRes) return { over: true, firstOver: e.consumedPoints === limit + 1 };
      return undefined;
    }
  };

  const countLocally = (userId: number): { over: boolean; firstOver: boolean } => {
    const now = clock();
    if (now - lastSweep > windowMs * 6) {
      for (const [id, w] of windows) if (now - w.start >= windowMs) windows.delete(id);
      lastSweep = now;
    }
    let w = windows.get(userId);
    if (!w || now - w.start >= windowMs) {
      w = { start: now, count: 0, warned: false };
      windows.set(userId, w);
    }
    w.count += 1;
    if (w.count <= limit) return { over: false, firstOver: false };
    const firstOver = !w.warned;
    w.warned = true;
    return { over: true, firstOver };
  };

  return async (ctx, next) => {
    const userId = ctx.from?.id;
    if (userId === undefined || ctx.preCheckoutQuery || ctx.message?.successful_payment) return next();
    const verdict = (shared && (await countShared(userId))) || countLocally(userId);
    if (!verdict.over) return next();
    if (verdict.firstOver) {
      logSecurityEvent(ctx.shop.logger, { event: 'bot_rate_limited', reason: `more than ${limit} updates in ${windowMs} ms`, telegram_user_id: userId });
      if (ctx.callbackQuery) await ctx.answerCallbackQuery({ text: ctx.t.errors.rateLimited });
      else if (ctx.chat) await ctx.reply(ctx.t.errors.rateLimited);
    } else if (ctx.callbackQuery) {
      // the spinner on the button should stop even when we drop the update
      await ctx.answerCallbackQuery();
    }
  };
}
