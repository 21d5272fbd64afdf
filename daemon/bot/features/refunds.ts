/**
 * 💸 Refund a Stars payment (admins, from a support ticket): a confirmation screen says what it does — the
 * Stars go back and the credit is taken from the balance, or, when the customer already spent it, that a
 * loss will be recorded (a second, explicit button) — then src/ledger/stars-refunds.ts refunds it through
 * refundStarPayment exactly once (a double tap answers "already refunded"), and the customer is told.
 */
import { Composer, InlineKeyboard } from 'grammy';
import { InputError } from '../../../src/errors.js';
import { findStarsPaymentByTransaction, refundStarsPayment, StarRefundError, starsRefundState } from '../../../src/ledger/stars-refunds.js';
import { isUnreachableUser } from '../api-errors.js';
import { cb, cbPattern } from '../callback-data.js';
import type { ShopContext } from '../context.js';
import { adminOnly } from '../middlewares/admin-gate.js';
import { show } from '../screens.js';

async function customerName(ctx: ShopContext, telegramId: number): Promise<string> {
  const u = await ctx.shop.handle.db.selectFrom('users').select(['first_name', 'username']).where('telegram_id', '=', telegramId).executeTakeFirst();
  return [u?.first_name, u?.username ? `@${u.username}` : ''].filter(Boolean).join(' ') || String(telegramId);
}

async function askRefund(ctx: ShopContext, transactionId: number): Promise<void> {
  const back = new InlineKeyboard().text(ctx.t.btn.back, cb.adminTickets(0));
  const payment = await findStarsPaymentByTransaction(ctx.shop.handle, transactionId);
  if (!payment) return show(ctx, ctx.t.refunds.gone, back);
  const state = await starsRefundState(ctx.shop.handle, payment);
  if (state.refunded?.status === 'done') return show(ctx, ctx.t.refunds.already(state.refunded.completedAt), back);
  const kb = new InlineKeyboard();
  if (state.shortfallMicros > 0) kb.text(ctx.t.btn.refundAnyway(state.shortfallMicros), cb.adminRefundForce(transactionId));
  else kb.text(ctx.t.btn.refundConfirm(payment.stars), cb.adminRefundDo(transactionId));
  kb.row().text(ctx.t.btn.back, cb.adminTickets(0));
  await show(
    ctx,
    ctx.t.refunds.confirm({
      stars: payment.stars,
      amount: payment.creditedMicros,
      name: await customerName(ctx, payment.telegramId),
      telegramId: payment.telegramId,
      balance: state.balanceMicros,
      shortfall: state.shortfallMicros,
    }),
    kb,
  );
}

async function doRefund(ctx: ShopContext, transactionId: number, force: boolean): Promise<void> {
  const back = new InlineKeyboard().text(ctx.t.btn.back, cb.adminTickets(0));
  const { handle, logger } = ctx.shop;
  const payment = await findStarsPaymentByTransaction(handle, transactionId);
  if (!payment) return show(ctx, ctx.t.refunds.gone, back);
  let result;
  try {
    result = await refundStarsPayment(
      { handle, logger, now: ctx.shop.now, refund: (userId, chargeId) => ctx.api.refundStarPayment(userId, chargeId) },
      { chargeId: payment.chargeId, force, requestedBy: `telegram:${ctx.from!.id}` },
    );
  } catch (err) {
    if (!(err instanceof InputError) && !(err instanceof StarRefundError)) throw err;
    // e.g. the customer spent the credit between the confirmation and the tap: ask again with the new figures
    if (err instanceof InputError && !force) return askRefund(ctx, transactionId);
    return show(ctx, ctx.t.refunds.failed(err.message), back);
  }
  if (result.alreadyRefunded) return show(ctx, ctx.t.refunds.already(null), back);
  await show(ctx, ctx.t.refunds.done({ stars: payment.stars, takenBack: result.takenBackMicros, loss: result.lossMicros }), back);
  const row = await handle.db.selectFrom('users').select('language_code').where('telegram_id', '=', payment.telegramId).executeTakeFirst();
  const t = ctx.shop.locales.pick(row?.language_code);
  try {
    await ctx.api.sendMessage(payment.telegramId, t.refunds.customerNotice({ stars: payment.stars, amount: payment.creditedMicros }), { parse_mode: 'HTML' });
  } catch (err) {
    if (!isUnreachableUser(err)) throw err;
  }
}

export function refundsFeature(): Composer<ShopContext> {
  const composer = new Composer<ShopContext>();
  const admin = composer.filter((ctx) => cbPattern.admin.test(ctx.callbackQuery?.data ?? ''));
  admin.use(adminOnly);
  admin.callbackQuery(cbPattern.adminRefund, (ctx) => askRefund(ctx, Number(ctx.match[1])));
  admin.callbackQuery(cbPattern.adminRefundDo, (ctx) => doRefund(ctx, Number(ctx.match[1]), false));
  admin.callbackQuery(cbPattern.adminRefundForce, (ctx) => doRefund(ctx, Number(ctx.match[1]), true));
  return composer;
}
