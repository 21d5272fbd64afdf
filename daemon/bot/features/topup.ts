/**
 * ⭐ Telegram Stars: amount choice → XTR invoice (empty provider_token, one price) → pre_checkout_query
 * answered (payload checked against the payer, the amount and, for a purchase, the package) →
 * successful_payment credited through the ledger with reference = telegram_payment_charge_id, so a replayed
 * payment credits nothing. STARS_USD_RATE sets the µ$ credited per Star.
 *
 * Invoice payloads (≤ 128 bytes):
 * - `stars:<telegram id>:<stars>[:<package id>]` — a top-up; with a package (the customer came from it) the
 *   receipt offers to continue with that package;
 * - `buy:<telegram id>:<stars>:<package id>:<nonce>` — "Pay N ⭐ and buy": exactly what was missing; the
 *   payment is credited, then the package bought with reference `tg-buy:<id>:<nonce>`, so the purchase
 *   happens once however often the payment is delivered.
 *
 * A successful_payment that is not a positive whole amount of XTR with a charge id is not credited: it is
 * logged as a security event and the admins are told.
 * /paysupport (Telegram asks Stars sellers to offer it) is in support.ts.
 */
import { Composer, InlineKeyboard } from 'grammy';
import type { SuccessfulPayment } from 'grammy/types';
import { creditUser } from '../../../src/ledger/ledger.js';
import { starsTopupNote } from '../../../src/ledger/stars-refunds.js';
import { logSecurityEvent } from '../../../src/logger.js';
import type { ShopContext } from '../context.js';
import { cb, cbPattern, newNonce } from '../callback-data.js';
import { getPackageView } from '../data.js';
import { clip } from '../format.js';
import { show, say } from '../screens.js';
import { askConfirmation, buyAndDeliver, starsFor } from './shop.js';

export const DEFAULT_STAR_AMOUNTS = [50, 100, 250, 500, 1000, 2500] as const;
/** Telegram's ceiling for one Stars invoice. */
export const MAX_STARS_PER_INVOICE = 100_000;
/** Longest charge id credited (Telegram's are far shorter). */
const MAX_CHARGE_ID = 256;

export type InvoicePayload = { kind: 'topup'; telegramId: number; stars: number; packageId?: number } | { kind: 'buy'; telegramId: number; stars: number; packageId: number; nonce: string };

export function invoicePayload(telegramId: number, stars: number, packageId?: number): string {
  return packageId === undefined ? `stars:${telegramId}:${stars}` : `stars:${telegramId}:${stars}:${packageId}`;
}

export function buyPayload(telegramId: number, stars: number, packageId: number, nonce: string): string {
  return `buy:${telegramId}:${stars}:${packageId}:${nonce}`;
}

export function parsePayload(payload: string): InvoicePayload | null {
  const topup = /^stars:(\d{1,15}):(\d{1,7})(?::(\d{1,15}))?$/.exec(payload);
  if (topup) return { kind: 'topup', telegramId: Number(topup[1]), stars: Number(topup[2]), ...(topup[3] ? { packageId: Number(topup[3]) } : {}) };
  const buy = /^buy:(\d{1,15}):(\d{1,7}):(\d{1,15}):([A-Za-z0-9_-]{8,32})$/.exec(payload);
  if (buy) return { kind: 'buy', telegramId: Number(buy[1]), stars: Number(buy[2]), packageId: Number(buy[3]), nonce: buy[4] };
  return null;
}

/** Why a successful_payment must not be credited, or null when it is a valid Stars payment. */
export function paymentProblem(payment: Pick<SuccessfulPayment, 'currency' | 'total_amount' | 'telegram_payment_charge_id'>): string | null {
  if (payment.currency !== 'XTR') return `currency is ${JSON.stringify(payment.currency)}, not XTR (this bot sells in Telegram Stars only)`;
  const amount = payment.total_amount as unknown;
  if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount <= 0) return `total_amount ${JSON.stringify(amount)} is not a positive whole number of Stars`;
  if (amount > MAX_STARS_PER_INVOICE) return `total_amount ${amount} is over Telegram's ${MAX_STARS_PER_INVOICE} Stars per invoice`;
  const charge = payment.telegram_payment_charge_id as unknown;
  if (typeof charge !== 'string' || charge.trim() === '') return 'telegram_payment_charge_id is empty';
  if (charge.length > MAX_CHARGE_ID || /\s/.test(charge)) return 'telegram_payment_charge_id is malformed';
  return null;
}

async function showTopup(ctx: ShopContext, packageId?: number): Promise<void> {
  const rate = ctx.shop.config.starsMicrosPerStar;
  const kb = new InlineKeyboard();
  ctx.shop.starAmounts.forEach((stars, i) => {
    kb.text(ctx.t.btn.stars(stars, stars * rate), cb.topupAmount(stars, packageId));
    if (i % 2 === 1) kb.row();
  });
  kb.row().text(ctx.t.btn.back, packageId === undefined ? cb.balance() : cb.buy(packageId));
  await show(ctx, ctx.t.topup.choose({ microsPerStar: rate }), kb);
}

async function sendTopupInvoice(ctx: ShopContext, stars: number, packageId?: number): Promise<void> {
  if (!ctx.shop.starAmounts.includes(stars)) return showTopup(ctx, packageId);
  const micros = stars * ctx.shop.config.starsMicrosPerStar;
  await ctx.replyWithInvoice(
    clip(ctx.t.topup.invoiceTitle(micros), 32),
    clip(ctx.t.topup.invoiceDescription(stars, micros), 255),
    invoicePayload(ctx.from!.id, stars, packageId),
    'XTR',
    [{ label: ctx.t.topup.priceLabel, amount: stars }],
    { provider_token: '' },
  );
}

/** "Pay N ⭐ and buy": an invoice for exactly what the balance lacks (at least Telegram's 1 ⭐). */
async function sendBuyInvoice(ctx: ShopContext, packageId: number): Promise<void> {
  const pkg = await getPackageView(ctx.shop.handle, packageId);
  if (!pkg || !pkg.available) return show(ctx, ctx.t.shop.unavailable, new InlineKeyboard().text(ctx.t.btn.aiTokens, cb.shop()));
  const balance = ctx.customer?.balanceMicros ?? 0;
  if (balance >= pkg.priceMicros) return askConfirmation(ctx, packageId);
  const rate = ctx.shop.config.starsMicrosPerStar;
  const stars = starsFor(pkg.priceMicros - balance, rate);
  if (stars > MAX_STARS_PER_INVOICE) return showTopup(ctx, packageId);
  await ctx.replyWithInvoice(
    clip(ctx.t.topup.buyInvoiceTitle(pkg.description), 32),
    clip(ctx.t.topup.buyInvoiceDescription({ stars, amount: stars * rate, description: pkg.description, price: pkg.priceMicros }), 255),
    buyPayload(ctx.from!.id, stars, packageId, newNonce()),
    'XTR',
    [{ label: ctx.t.topup.buyPriceLabel, amount: stars }],
    { provider_token: '' },
  );
}

async function answerPreCheckout(ctx: ShopContext): Promise<void> {
  const q = ctx.preCheckoutQuery!;
  const parsed = parsePayload(q.invoice_payload);
  const valid = parsed !== null && q.currency === 'XTR' && parsed.telegramId === q.from.id && parsed.stars === q.total_amount && q.total_amount > 0 && q.total_amount <= MAX_STARS_PER_INVOICE;
  if (!valid) {
    logSecurityEvent(ctx.shop.logger, {
      event: 'invoice_rejected',
      reason: 'pre_checkout_query does not match an invoice this bot issued to this user',
      telegram_user_id: q.from.id,
      currency: q.currency,
      total_amount: q.total_amount,
    });
    await ctx.answerPreCheckoutQuery(false, { error_message: ctx.t.topup.invalidInvoice });
    return;
  }
  if (parsed.kind === 'buy') {
    // take the Stars only if the purchase will go through: the package still sells at a price they cover
    const pkg = await getPackageView(ctx.shop.handle, parsed.packageId);
    const balance = ctx.customer?.balanceMicros ?? 0;
    if (!pkg || !pkg.available || balance + parsed.stars * ctx.shop.config.starsMicrosPerStar < pkg.priceMicros) {
      await ctx.answerPreCheckoutQuery(false, { error_message: ctx.t.topup.purchaseChanged });
      return;
    }
  }
  await ctx.answerPreCheckoutQuery(true);
}

async function rejectPayment(ctx: ShopContext, payment: SuccessfulPayment, reason: string): Promise<void> {
  logSecurityEvent(ctx.shop.logger, {
    event: 'payment_rejected',
    reason,
    telegram_user_id: ctx.from!.id,
    currency: String(payment.currency),
    total_amount: payment.total_amount,
    charge_id: String(payment.telegram_payment_charge_id ?? ''),
  });
  await ctx.shop.messageAdmins((t) =>
    t.admin.paymentRejected({ telegramId: ctx.from!.id, currency: String(payment.currency), amount: payment.total_amount, chargeId: String(payment.telegram_payment_charge_id ?? ''), reason }),
  );
  await say(ctx, ctx.t.topup.notCredited);
}

async function creditPayment(ctx: ShopContext): Promise<void> {
  const payment = ctx.message!.successful_payment!;
  const { logger, handle, config } = ctx.shop;
  const problem = paymentProblem(payment);
  if (problem) return rejectPayment(ctx, payment, problem);
  const parsed = parsePayload(payment.invoice_payload);
  if (parsed && parsed.telegramId !== ctx.from!.id) {
    logger.warn({ telegram_user_id: ctx.from!.id, payload_user_id: parsed.telegramId }, 'Stars payment by a different user than the invoice was made for; crediting the payer');
  }
  const stars = payment.total_amount;
  const amountMicros = stars * config.starsMicrosPerStar;
  const result = await creditUser(
    { handle, logger },
    { telegramId: ctx.from!.id, amountMicros, type: 'topup', reference: payment.telegram_payment_charge_id, note: starsTopupNote(stars), source: 'telegram_stars' },
  );
  if (parsed?.kind === 'buy' && parsed.telegramId === ctx.from!.id) {
    // also on a replayed payment: the purchase reference makes a completed purchase a no-op, and a purchase
    // interrupted after the credit is completed now
    ctx.customer = result.user;
    const outcome = await buyAndDeliver(ctx, parsed.packageId, `tg-buy:${ctx.from!.id}:${parsed.nonce}`, 'telegram');
    if (outcome.kind === 'insufficient' || outcome.kind === 'unavailable') {
      const balance = (await handle.db.selectFrom('users').select('balance').where('id', '=', result.user.id).executeTakeFirstOrThrow()).balance;
      await say(ctx, ctx.t.topup.buyFailed({ amount: amountMicros, balance }), new InlineKeyboard().text(ctx.t.btn.aiTokens, cb.shop()).text(ctx.t.btn.balance, cb.balance()));
    }
    return;
  }
  if (result.duplicate) {
    logger.info({ telegram_user_id: ctx.from!.id, transaction_id: result.transaction.id }, 'Stars payment already credited; replay ignored');
    return;
  }
  const balance = result.transaction.balanceAfterMicros;
  let text = ctx.t.topup.credited({ stars, amount: amountMicros, balance });
  const next = new InlineKeyboard();
  const pkg = parsed?.kind === 'topup' && parsed.packageId !== undefined ? await getPackageView(handle, parsed.packageId) : undefined;
  if (pkg?.available) {
    const enough = balance >= pkg.priceMicros;
    text += ctx.t.topup.continueWith({ description: pkg.description, price: pkg.priceMicros, enough });
    if (enough) next.text(ctx.t.btn.continueBuy(pkg.description, pkg.priceMicros), cb.buy(pkg.id)).row();
    else next.text(ctx.t.btn.payAndBuy(starsFor(pkg.priceMicros - balance, config.starsMicrosPerStar)), cb.payAndBuy(pkg.id)).row();
  }
  next.text(ctx.t.btn.aiTokens, cb.shop()).text(ctx.t.btn.balance, cb.balance());
  await say(ctx, text, next);
}

export function topupFeature(): Composer<ShopContext> {
  const composer = new Composer<ShopContext>();
  composer.command('topup', (ctx) => showTopup(ctx));
  composer.callbackQuery(cbPattern.topup, (ctx) => showTopup(ctx));
  composer.callbackQuery(cbPattern.topupFor, (ctx) => showTopup(ctx, Number(ctx.match[1])));
  composer.callbackQuery(cbPattern.topupAmount, (ctx) => sendTopupInvoice(ctx, Number(ctx.match[1]), ctx.match[2] === undefined ? undefined : Number(ctx.match[2])));
  composer.callbackQuery(cbPattern.payAndBuy, (ctx) => sendBuyInvoice(ctx, Number(ctx.match[1])));
  composer.on('pre_checkout_query', answerPreCheckout);
  composer.on('message:successful_payment', creditPayment);
  return composer;
}
