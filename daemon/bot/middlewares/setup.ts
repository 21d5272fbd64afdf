/**
 * Puts the services and the user's locale on the context, then (after the rate limit) the customer's row. The bot only serves
 * private chats: keys and balances must never show up in a group.
 */
import type { MiddlewareFn } from 'grammy';
import { ensureUser, findUserByTelegramId } from '../../../src/ledger/ledger.js';
import type { ShopBaseContext, ShopContext, ShopServices } from '../context.js';

export function shopContext(services: ShopServices): MiddlewareFn<ShopContext> {
  return async (ctx, next) => {
    ctx.shop = services;
    ctx.t = services.locales.pick(ctx.from?.language_code);
    ctx.customer = undefined;
    const chatType = ctx.chat?.type;
    if (chatType !== undefined && chatType !== 'private') {
      if (ctx.message?.text?.startsWith('/')) await ctx.reply(ctx.t.errors.privateOnly);
      return;
    }
    await next();
  };
}

/** Creates the customer on first contact and keeps name/language current (after the rate limit). */
export const loadCustomer: MiddlewareFn<ShopContext> = async (ctx, next) => {
  const from = ctx.from;
  if (from && !from.is_bot) {
    const profile = { username: from.username ?? null, firstName: from.first_name ?? null, languageCode: from.language_code ?? null };
    // a plain read on the hot path; the write transaction only on first contact or a changed profile
    const known = await findUserByTelegramId(ctx.shop.handle, from.id);
    const unchanged = known && known.username === profile.username && known.firstName === profile.firstName && known.languageCode === profile.languageCode;
    ctx.customer = unchanged ? known : await ensureUser(ctx.shop.handle, { telegramId: from.id, ...profile });
  }
  await next();
};

/** Inside guided conversations: the same services and the user's locale (the plugin builds its own contexts). */
export function conversationContext(services: ShopServices): MiddlewareFn<ShopBaseContext> {
  return async (ctx, next) => {
    ctx.shop = services;
    ctx.t = services.locales.pick(ctx.from?.language_code);
    ctx.customer = undefined;
    await next();
  };
}
