/**
 * Showing a screen: a button press edits the message it came from (one living menu instead of a trail of
 * messages) — unless that message shows a full key, which stays as it is; a command or typed text gets a
 * new message. Texts are HTML.
 */
import { GrammyError, InlineKeyboard } from 'grammy';
import type { ShopBaseContext } from './context.js';
import { cb } from './callback-data.js';

const HTML = { parse_mode: 'HTML' as const, link_preview_options: { is_disabled: true } };

/** A full key (not the masked form): a message showing one is never edited away. */
const FULL_KEY = /sk-arb-[A-Za-z0-9_-]{22,}/;

export async function show(ctx: ShopBaseContext, html: string, keyboard?: InlineKeyboard): Promise<void> {
  const other = { ...HTML, reply_markup: keyboard };
  const message = ctx.callbackQuery?.message;
  if (message && 'text' in message && message.text !== undefined && !FULL_KEY.test(message.text)) {
    try {
      await ctx.editMessageText(html, other);
      return;
    } catch (err) {
      // too old / deleted / not editable: fall back to a new message
      if (!(err instanceof GrammyError) || err.error_code !== 400) throw err;
    }
  }
  await ctx.reply(html, other);
}

/** A new message, never an edit. */
export async function say(ctx: ShopBaseContext, html: string, keyboard?: InlineKeyboard): Promise<void> {
  await ctx.reply(html, { ...HTML, reply_markup: keyboard });
}

export function mainMenuKeyboard(ctx: ShopBaseContext): InlineKeyboard {
  const { btn } = ctx.t;
  const kb = new InlineKeyboard().text(btn.aiTokens, cb.shop()).text(btn.balance, cb.balance()).row().text(btn.myKeys, cb.keys()).text(btn.help, cb.help());
  if (ctx.shop.isAdmin(ctx.from?.id)) kb.row().text(btn.admin, cb.admin());
  return kb;
}

export function backToMenu(ctx: ShopBaseContext): InlineKeyboard {
  return new InlineKeyboard().text(ctx.t.btn.mainMenu, cb.menu());
}

export async function showMainMenu(ctx: ShopBaseContext): Promise<void> {
  await show(ctx, ctx.t.menu.welcome({ firstName: ctx.from?.first_name ?? '', balance: ctx.customer?.balanceMicros ?? 0 }), mainMenuKeyboard(ctx));
}

/** Page count and a clamped page index for `total` items. */
export function paging(total: number, pageSize: number, page: number): { page: number; pages: number; offset: number } {
  const pages = Math.max(1, Math.ceil(total / pageSize));
  const p = Math.min(Math.max(0, page), pages - 1);
  return { page: p, pages, offset: p * pageSize };
}
