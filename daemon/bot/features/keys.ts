/**
 * 🔑 My Keys: masked keys with remaining tokens and expiry. The full key is never shown again.
 */
import { Composer, InlineKeyboard } from 'grammy';
import type { ShopContext } from '../context.js';
import { cb, cbPattern } from '../callback-data.js';
import { listCustomerKeys } from '../data.js';
import { fitBlocks, MAX_MESSAGE_CHARS, renderedLength } from '../format.js';
import { show } from '../screens.js';

export const KEYS_SHOWN = 30;

async function showKeys(ctx: ShopContext): Promise<void> {
  const customer = ctx.customer;
  if (!customer) return;
  const { rows, total } = await listCustomerKeys(ctx.shop.handle, customer.id, KEYS_SHOWN);
  const kb = new InlineKeyboard().text(ctx.t.btn.aiTokens, cb.shop()).text(ctx.t.btn.mainMenu, cb.menu());
  if (rows.length === 0) return show(ctx, ctx.t.keys.none, kb);
  const head = ctx.t.keys.title(total);
  const foot = ctx.t.keys.footer(ctx.shop.apiBaseUrl);
  const blocks = rows.map((k) =>
    ctx.t.keys.key({ masked: k.api_key, model: k.model, description: k.description, total: k.tokens_total, used: k.tokens_used, reserved: k.tokens_reserved, expiresAt: k.expires_at, status: k.status }),
  );
  const omittedByQuery = total - rows.length;
  const budget = MAX_MESSAGE_CHARS - renderedLength(head + foot) - 8;
  const body = fitBlocks(blocks, '\n\n', (n) => ctx.t.keys.more(n), budget, omittedByQuery);
  await show(ctx, `${head}\n\n${body}\n\n${foot}`, kb);
}

export function keysFeature(): Composer<ShopContext> {
  const composer = new Composer<ShopContext>();
  composer.command('keys', showKeys);
  composer.callbackQuery(cbPattern.keys, showKeys);
  return composer;
}
