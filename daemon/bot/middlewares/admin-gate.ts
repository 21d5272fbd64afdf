/**
 * The admin gate: runs on every admin command and every admin callback (not once per session), against
 * ADMIN_ID_LIST as configured now. Anyone else gets a polite refusal and a `security_event` log line.
 */
import type { MiddlewareFn } from 'grammy';
import { logSecurityEvent } from '../../../src/logger.js';
import type { ShopContext } from '../context.js';

/** What the user tried, for the log line (never message text beyond the command). */
function attemptedAction(ctx: ShopContext): string {
  if (ctx.callbackQuery?.data) return `callback ${ctx.callbackQuery.data.split(':').slice(0, 2).join(':')}`;
  const command = /^\/[A-Za-z0-9_]+/.exec(ctx.message?.text ?? '');
  return command ? `command ${command[0]}` : 'unknown';
}

export const adminOnly: MiddlewareFn<ShopContext> = async (ctx, next) => {
  if (ctx.shop.isAdmin(ctx.from?.id)) return next();
  logSecurityEvent(ctx.shop.logger, {
    event: 'admin_access_denied',
    reason: 'user is not in ADMIN_ID_LIST',
    telegram_user_id: ctx.from?.id,
    action: attemptedAction(ctx),
  });
  if (ctx.callbackQuery) await ctx.answerCallbackQuery({ text: ctx.t.admin.denied, show_alert: true });
  else await ctx.reply(ctx.t.admin.denied);
};
