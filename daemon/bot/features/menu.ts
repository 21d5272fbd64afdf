/**
 * /start, the main menu, help and /terms; and the fallback: an unknown command or free text gets a one-line
 * pointer to /help (the menu is not resent over and over).
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Composer, InlineKeyboard } from 'grammy';
import { describeBotError } from '../api-errors.js';
import { adminCommands } from '../commands.js';
import type { ShopContext } from '../context.js';
import { cb, cbPattern } from '../callback-data.js';
import { esc, MAX_MESSAGE_CHARS } from '../format.js';
import { say, show, showMainMenu } from '../screens.js';

/** The operator's terms: TERMS_TEXT as text, or `@path` of a file read when shown (edits apply at once). */
export async function readTerms(termsText: string | undefined): Promise<string | undefined> {
  if (!termsText?.trim()) return undefined;
  if (!termsText.startsWith('@')) return termsText;
  const text = await readFile(resolve(termsText.slice(1)), 'utf8');
  return text.trim() ? text : undefined;
}

/** Plain text in pieces that fit one message each, cut at line ends where possible. */
export function splitText(text: string, limit = MAX_MESSAGE_CHARS - 100): string[] {
  const out: string[] = [];
  let rest = text.trim();
  while (rest.length > limit) {
    let cut = rest.lastIndexOf('\n', limit);
    if (cut < limit / 2) cut = rest.lastIndexOf(' ', limit);
    if (cut < limit / 2) cut = limit;
    out.push(rest.slice(0, cut).trimEnd());
    rest = rest.slice(cut).trimStart();
  }
  if (rest) out.push(rest);
  return out;
}

async function showTerms(ctx: ShopContext): Promise<void> {
  let terms: string | undefined;
  try {
    terms = await readTerms(ctx.shop.config.termsText);
  } catch (err) {
    ctx.shop.logger.error({ error: describeBotError(err), terms_text: ctx.shop.config.termsText }, 'TERMS_TEXT names a file that cannot be read; /terms shows that the terms are unavailable');
    return say(ctx, ctx.t.terms.unavailable);
  }
  if (!terms) return say(ctx, ctx.t.terms.none);
  const pieces = splitText(terms);
  for (const [i, piece] of pieces.entries()) await say(ctx, i === 0 ? `${ctx.t.terms.title}\n\n${esc(piece)}` : esc(piece));
}

export function menuFeature(): Composer<ShopContext> {
  const composer = new Composer<ShopContext>();
  /** admins whose chat-scoped command list was set by this process (one who starts the bot after the daemon) */
  const adminListsSet = new Set<number>();
  composer.command(['start', 'menu'], async (ctx) => {
    await showMainMenu(ctx);
    const id = ctx.from?.id;
    if (id !== undefined && ctx.shop.isAdmin(id) && !adminListsSet.has(id)) {
      adminListsSet.add(id);
      try {
        await ctx.api.setMyCommands(adminCommands(ctx.t), { scope: { type: 'chat', chat_id: id } });
      } catch (err) {
        ctx.shop.logger.warn({ error: describeBotError(err), telegram_user_id: id }, 'could not set the admin command list');
      }
    }
  });
  composer.callbackQuery(cbPattern.menu, showMainMenu);

  const help = (ctx: ShopContext) =>
    show(
      ctx,
      ctx.t.help({ baseUrl: ctx.shop.apiBaseUrl, starsRate: ctx.shop.config.starsMicrosPerStar }),
      new InlineKeyboard().text(ctx.t.btn.support, cb.support()).text(ctx.t.btn.mainMenu, cb.menu()),
    );
  composer.command('help', help);
  composer.callbackQuery(cbPattern.help, help);
  composer.command('terms', showTerms);
  return composer;
}

/** Last in the chain: a command or text nobody handled gets a one-line pointer to /help. */
export function fallbackFeature(): Composer<ShopContext> {
  const composer = new Composer<ShopContext>();
  composer.on('message:text', (ctx) => say(ctx, ctx.message.text.startsWith('/') ? ctx.t.fallback.unknownCommand : ctx.t.fallback.text));
  return composer;
}
