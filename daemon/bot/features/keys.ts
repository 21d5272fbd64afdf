/**
 * 🔑 My Keys: masked keys with remaining tokens and expiry. The full key is never shown again; a customer
 * who lost one taps 🔁 Replace: a new key for the same allocation (tokens, expiry and usage carry over), the
 * old one stops working at once, and the new key arrives in a message of its own (key-message.ts).
 */
import { Composer, InlineKeyboard } from 'grammy';
import { InputError } from '../../../src/errors.js';
import { KeyAlreadyReplacedError, replaceKey } from '../../../src/keys/replace.js';
import type { ShopContext } from '../context.js';
import { cb, cbPattern } from '../callback-data.js';
import { listCustomerKeys } from '../data.js';
import { fitBlocks, MAX_MESSAGE_CHARS, renderedLength } from '../format.js';
import { sendKey } from '../key-message.js';
import { show } from '../screens.js';
import { toDbTime } from '../../../src/time.js';

export const KEYS_SHOWN = 30;
/** Replace buttons on the screen (the newest active keys). */
export const REPLACE_BUTTONS = 20;
const HASH_PREFIX = 12;

async function showKeys(ctx: ShopContext): Promise<void> {
  const customer = ctx.customer;
  if (!customer) return;
  const { rows, total } = await listCustomerKeys(ctx.shop.handle, customer.id, KEYS_SHOWN);
  const kb = new InlineKeyboard();
  const now = toDbTime(ctx.shop.now());
  for (const k of rows.filter((r) => r.status === 'active' && r.expiresAt > now).slice(0, REPLACE_BUTTONS)) kb.text(ctx.t.btn.replaceKey(k.maskedKey), cb.keyReplace(k.id)).row();
  kb.text(ctx.t.btn.aiTokens, cb.shop()).text(ctx.t.btn.mainMenu, cb.menu());
  if (rows.length === 0) return show(ctx, ctx.t.keys.none, kb);
  const head = ctx.t.keys.title(total);
  const foot = ctx.t.keys.footer(ctx.shop.apiBaseUrl);
  const blocks = rows.map((k) =>
    ctx.t.keys.key({ masked: k.maskedKey, model: k.model, description: k.description, total: k.tokensTotal, used: k.tokensUsed, reserved: k.tokensReserved, expiresAt: k.expiresAt, status: k.status }),
  );
  const omittedByQuery = total - rows.length;
  const budget = MAX_MESSAGE_CHARS - renderedLength(head + foot) - 8;
  const body = fitBlocks(blocks, '\n\n', (n) => ctx.t.keys.more(n), budget, omittedByQuery);
  await show(ctx, `${head}\n\n${body}\n\n${foot}`, kb);
}

async function ownKey(ctx: ShopContext, allocationId: number) {
  const customer = ctx.customer;
  if (!customer) return undefined;
  return ctx.shop.handle.db.selectFrom('ai_token_allocations').selectAll().where('id', '=', allocationId).where('user_id', '=', customer.id).executeTakeFirst();
}

async function askReplace(ctx: ShopContext, allocationId: number): Promise<void> {
  const back = new InlineKeyboard().text(ctx.t.btn.back, cb.keys());
  const key = await ownKey(ctx, allocationId);
  if (!key || key.status !== 'active' || key.expires_at <= toDbTime(ctx.shop.now())) return show(ctx, ctx.t.keys.cannotReplace, back);
  const kb = new InlineKeyboard()
    .text(ctx.t.btn.replaceConfirm, cb.keyReplaceDo(key.id, key.api_key_hash.slice(0, HASH_PREFIX)))
    .row()
    .text(ctx.t.btn.cancel, cb.keys());
  await show(ctx, ctx.t.keys.replaceConfirm(key.api_key), kb);
}

async function doReplace(ctx: ShopContext, allocationId: number, hashPrefix: string): Promise<void> {
  const back = new InlineKeyboard().text(ctx.t.btn.myKeys, cb.keys()).text(ctx.t.btn.mainMenu, cb.menu());
  const key = await ownKey(ctx, allocationId);
  if (!key) return show(ctx, ctx.t.keys.cannotReplace, back);
  let result;
  try {
    result = await replaceKey(ctx.shop.handle, allocationId, { logger: ctx.shop.logger, now: ctx.shop.now(), by: 'customer', expectHashPrefix: hashPrefix });
  } catch (err) {
    if (err instanceof KeyAlreadyReplacedError) return void (await ctx.answerCallbackQuery({ text: ctx.t.keys.alreadyReplaced, show_alert: true }));
    if (err instanceof InputError) return show(ctx, ctx.t.keys.cannotReplace, back);
    throw err;
  }
  const pkg = await ctx.shop.handle.db.selectFrom('ai_token_packages').select('description').where('id', '=', result.allocation.packageId).executeTakeFirst();
  await show(ctx, ctx.t.keys.replaced(result.oldMasked), back);
  const a = result.allocation;
  await sendKey(ctx, { key: result.apiKey, model: a.model, description: pkg?.description ?? null, tokens: a.tokensTotal, expiresAt: a.expiresAt, baseUrl: ctx.shop.apiBaseUrl });
}

export function keysFeature(): Composer<ShopContext> {
  const composer = new Composer<ShopContext>();
  composer.command('keys', showKeys);
  composer.callbackQuery(cbPattern.keys, showKeys);
  composer.callbackQuery(cbPattern.keyReplace, (ctx) => askReplace(ctx, Number(ctx.match[1])));
  composer.callbackQuery(cbPattern.keyReplaceDo, (ctx) => doReplace(ctx, Number(ctx.match[1]), ctx.match[2]));
  return composer;
}
