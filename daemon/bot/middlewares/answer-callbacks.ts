/**
 * Every callback query gets exactly one answer (so the button's spinner stops): handlers answer with a
 * toast when they have something to say; otherwise an empty answer is sent after they ran.
 */
import type { MiddlewareFn } from 'grammy';
import type { ShopContext } from '../context.js';

export const answerCallbacks: MiddlewareFn<ShopContext> = async (ctx, next) => {
  if (!ctx.callbackQuery) return next();
  let answered = false;
  ctx.api.config.use((prev, method, payload, signal) => {
    if (method === 'answerCallbackQuery') answered = true;
    return prev(method, payload, signal);
  });
  try {
    await next();
  } finally {
    if (!answered) {
      try {
        await ctx.answerCallbackQuery();
      } catch {
        /* a stale query (older than Telegram keeps them) cannot be answered; nothing to do */
      }
    }
  }
};
