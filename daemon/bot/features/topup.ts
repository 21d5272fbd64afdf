/**
 * ⭐ Top-ups in Telegram Stars: amount choice → XTR invoice (empty provider_token, one price) →
 * pre_checkout_query answered (payload checked against the payer and the amount) → successful_payment
 * credited through the ledger with reference = telegram_payment_charge_id, so a replayed payment credits
 * nothing. STARS_USD_RATE sets the µ$ credited per Star. /paysupport is the payment-support command
 * Telegram asks Stars sellers to offer; with text it forwards the request to the admins.
 */
import { Composer, InlineKeyboard } from 'grammy';
import { creditUser } from '../../../src/ledger/ledger.js';
import { logSecurityEvent } from '../../../src/logger.js';
import type { ShopContext } from '../context.js';
import { cb, cbPattern } from '../callback-data.js';
import { clip, esc } from '../format.js';
import { show, say } from '../screens.js';

export const DEFAULT_STAR_AMOUNTS = [50, 100, 250, 500, 1000, 2500] as const;
/** Telegram's ceiling for one Stars invoice. */
export const MAX_STARS_PER_INVOICE = 100_000;

export function invoicePayload(telegramId: number, stars: number): string {
  return `stars:${telegramId}:${stars}`;
}

function parsePayload(payload: string): { telegramId: number; stars: number } | null {
  const m = /^stars:(\d{1,15}):(\d{1,7})$/.exec(payload);
  return m ? { telegramId: Number(m[1]), stars: Number(m[2]) } : null;
}

async function showTopup(ctx: ShopContext): Promise<void> {
  const rate = ctx.shop.config.starsMicrosPerStar;
  const kb = new InlineKeyboard();
  ctx.shop.starAmounts.forEach((stars, i) => {
    kb.text(ctx.t.btn.stars(stars, stars * rate), cb.topupAmount(stars));
    if (i % 2 === 1) kb.row();
  });
  kb.row().text(ctx.t.btn.back, cb.balance());
  await show(ctx, ctx.t.topup.choose({ microsPerStar: rate }), kb);
}

async function sendInvoice(ctx: ShopContext, stars: number): Promise<void> {
  if (!ctx.shop.starAmounts.includes(stars)) return showTopup(ctx);
  const micros = stars * ctx.shop.config.starsMicrosPerStar;
  await ctx.replyWithInvoice(
    clip(ctx.t.topup.invoiceTitle(micros), 32),
    clip(ctx.t.topup.invoiceDescription(stars, micros), 255),
    invoicePayload(ctx.from!.id, stars),
    'XTR',
    [{ label: ctx.t.topup.priceLabel, amount: stars }],
    { provider_token: '' },
  );
}

export function topupFeature(): Composer<ShopContext> {
  const composer = new Composer<ShopContext>();
  composer.command('topup', showTopup);
  composer.callbackQuery(cbPattern.topup, showTopup);
  composer.callbackQuery(cbPattern.topupAmount, (ctx) => sendInvoice(ctx, Number(ctx.match[1])));

  composer.on('pre_checkout_query', async (ctx) => {
    const q = ctx.preCheckoutQuery;
    const parsed = parsePayload(q.invoice_payload);
    const valid =
      parsed !== null &&
      q.currency === 'XTR' &&
      parsed.telegramId === q.from.id &&
      parsed.stars === q.total_amount &&
      q.total_amount > 0 &&
      q.total_amount <= MAX_STARS_PER_INVOICE;
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
    await ctx.answerPreCheckoutQuery(true);
  });

  composer.on('message:successful_payment', async (ctx) => {
    const payment = ctx.message.successful_payment;
    const { logger, handle, config } = ctx.shop;
    if (payment.currency !== 'XTR') {
      logger.error({ telegram_user_id: ctx.from.id, currency: payment.currency, charge_id: payment.telegram_payment_charge_id }, 'successful_payment in a currency this bot does not sell; not credited');
      return;
    }
    const parsed = parsePayload(payment.invoice_payload);
    if (parsed && parsed.telegramId !== ctx.from.id) {
      logger.warn({ telegram_user_id: ctx.from.id, payload_user_id: parsed.telegramId }, 'Stars payment by a different user than the invoice was made for; crediting the payer');
    }
    const stars = payment.total_amount;
    const amountMicros = stars * config.starsMicrosPerStar;
    const result = await creditUser(
      { handle, logger },
      {
        telegramId: ctx.from.id,
        amountMicros,
        type: 'topup',
        reference: payment.telegram_payment_charge_id,
        note: `Telegram Stars: ${stars} XTR`,
        source: 'telegram_stars',
      },
    );
    if (result.duplicate) {
      logger.info({ telegram_user_id: ctx.from.id, transaction_id: result.transaction.id }, 'Stars payment already credited; replay ignored');
      return;
    }
    const next = new InlineKeyboard().text(ctx.t.btn.aiTokens, cb.shop()).text(ctx.t.btn.balance, cb.balance());
    await say(ctx, ctx.t.topup.credited({ stars, amount: amountMicros, balance: result.transaction.balance_after }), next);
  });

  composer.command('paysupport', async (ctx) => {
    const text = (typeof ctx.match === 'string' ? ctx.match : '').trim();
    if (!text) return say(ctx, ctx.t.topup.paysupport);
    const name = [ctx.from?.first_name, ctx.from?.username ? `@${ctx.from.username}` : ''].filter(Boolean).join(' ');
    await ctx.shop.messageAdmins((t) => esc(t.admin.supportRequest({ telegramId: ctx.from!.id, name: clip(name, 80), text: clip(text, 2000) })));
    await say(ctx, ctx.t.topup.paysupportSent);
  });
  return composer;
}
