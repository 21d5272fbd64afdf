/**
 * Puts the services and the user's locale on the context, then (after the rate limit) the customer's row. The bot only serves
 * private chats: keys and balances must never show up in a group.
 */
import type { MiddlewareFn } from 'grammy';
import { ensureUser } from '../../../src/ledger/ledger.js';
import type { ShopContext, ShopServices } from '../context.js';

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
  if (ctx.from && !ctx.from.is_bot) {
    ctx.customer = await ensureUser(ctx.shop.handle, {
      telegramId: ctx.from.id,
      username: ctx.from.username ?? null,
      firstName: ctx.from.first_name ?? null,
      languageCode: ctx.from.language_code ?? null,
    });
  }
  await next();
};
