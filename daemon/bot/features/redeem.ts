/**
 * 🎁 Gift codes: `/redeem CODE`, or 🎁 Redeem a code (under 💰 Balance) and a reply with the code. A code
 * credits the balance or grants its package exactly once (src/codes/gift-codes.ts); wrong, used and expired
 * codes get a clear answer. Wrong guesses (unknown codes, someone else's used code) are logged as security
 * events and limited per user — shared by the replicas through Redis when it is configured.
 */
import { Composer, InlineKeyboard } from 'grammy';
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { GiftCodeRefused, redeemCode } from '../../../src/codes/gift-codes.js';
import { logSecurityEvent } from '../../../src/logger.js';
import { cb, cbPattern } from '../callback-data.js';
import type { ShopContext } from '../context.js';
import { getPackageView } from '../data.js';
import { sendKey } from '../key-message.js';
import { say } from '../screens.js';

export interface RedeemOptions {
  /** wrong codes allowed per user per window (default 5) */
  wrongGuesses?: number;
  /** the window, default 1 h */
  windowSeconds?: number;
  redis?: Redis;
}

/** The bot's 🎁 prompt (a reply to it carries the code) starts with this and shows the code's shape. */
const REDEEM_MARKER = '🎁 ';
const CODE_SHAPE = 'ARB-XXXX-XXXX-XXXX-XXXX';

function wrongGuessLimiter(options: RedeemOptions): RateLimiterAbstract {
  const base = { points: options.wrongGuesses ?? 5, duration: options.windowSeconds ?? 3600 };
  const memory = new RateLimiterMemory({ ...base, keyPrefix: 'arb:redeem' });
  return options.redis ? new RateLimiterRedis({ ...base, storeClient: options.redis, keyPrefix: 'arb:redeem', insuranceLimiter: memory }) : memory;
}

async function redeem(ctx: ShopContext, text: string, limiter: RateLimiterAbstract, limit: number): Promise<void> {
  const from = ctx.from!;
  const key = String(from.id);
  const state = await limiter.get(key);
  if (state && state.consumedPoints >= limit) {
    logSecurityEvent(ctx.shop.logger, { event: 'gift_code_rate_limited', reason: `more than ${limit} wrong gift codes; attempt refused unchecked`, telegram_user_id: from.id });
    return say(ctx, ctx.t.redeem.limited(Math.max(1, Math.ceil(state.msBeforeNext / 60_000))));
  }
  let result;
  try {
    result = await redeemCode(
      { handle: ctx.shop.handle, logger: ctx.shop.logger, config: ctx.shop.config, now: ctx.shop.now },
      { telegramId: from.id, code: text, profile: { username: from.username ?? null, firstName: from.first_name ?? null, languageCode: from.language_code ?? null } },
    );
  } catch (err) {
    if (!(err instanceof GiftCodeRefused)) throw err;
    if (err.reason === 'invalid' || err.reason === 'used') {
      // never the typed text in the log: it may be someone's valid code
      const counted = await limiter.consume(key).catch((r: unknown) => (r instanceof RateLimiterRes ? r : null));
      logSecurityEvent(ctx.shop.logger, {
        event: 'gift_code_rejected',
        reason: err.reason === 'invalid' ? 'unknown gift code' : "someone else's used gift code",
        telegram_user_id: from.id,
        attempts: counted?.consumedPoints,
      });
    }
    if (err.reason === 'expired') return say(ctx, ctx.t.redeem.expired(err.expiresAt ?? ''));
    return say(ctx, err.reason === 'invalid' ? ctx.t.redeem.invalid : err.reason === 'used' ? ctx.t.redeem.used : ctx.t.redeem.usedByYou);
  }
  const kb = new InlineKeyboard().text(ctx.t.btn.aiTokens, cb.shop()).text(ctx.t.btn.balance, cb.balance());
  if (result.kind === 'credited') return say(ctx, ctx.t.redeem.credited({ amount: result.amountMicros, balance: result.balanceMicros }), kb);
  const pkg = await getPackageView(ctx.shop.handle, result.packageId);
  if (result.apiKey === null) return say(ctx, ctx.t.redeem.grantedBefore, new InlineKeyboard().text(ctx.t.btn.myKeys, cb.keys()));
  await say(ctx, ctx.t.redeem.granted(pkg?.description ?? result.allocation.model), new InlineKeyboard().text(ctx.t.btn.myKeys, cb.keys()).text(ctx.t.btn.mainMenu, cb.menu()));
  const a = result.allocation;
  await sendKey(ctx, { key: result.apiKey, model: a.model, description: pkg?.description ?? null, tokens: a.tokensTotal, expiresAt: a.expiresAt, baseUrl: ctx.shop.apiBaseUrl });
}

export function redeemFeature(options: RedeemOptions = {}): Composer<ShopContext> {
  const composer = new Composer<ShopContext>();
  const limiter = wrongGuessLimiter(options);
  const limit = options.wrongGuesses ?? 5;
  const ask = (ctx: ShopContext) => ctx.reply(ctx.t.redeem.prompt, { parse_mode: 'HTML', reply_markup: { force_reply: true, input_field_placeholder: CODE_SHAPE } });
  composer.command('redeem', (ctx) => {
    const text = (typeof ctx.match === 'string' ? ctx.match : '').trim();
    return text ? redeem(ctx, text, limiter, limit) : ask(ctx);
  });
  composer.callbackQuery(cbPattern.redeem, ask);
  composer.on('message:text').filter(
    (ctx) => {
      const replied = ctx.message.reply_to_message;
      return replied?.from?.id === ctx.me.id && (replied.text ?? '').startsWith(REDEEM_MARKER) && (replied.text ?? '').includes(CODE_SHAPE);
    },
    (ctx) => redeem(ctx, ctx.message.text, limiter, limit),
  );
  return composer;
}
