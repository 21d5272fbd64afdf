/**
 * Messages to every admin (operational alerts, support tickets, payment problems), each rendered in the
 * admin's language.
 */
import type { Api } from 'grammy';
import type { InlineKeyboardMarkup } from 'grammy/types';
import type { DbHandle } from '../../src/db/dialect.js';
import type { Logger } from '../../src/logger.js';
import { isUnreachableUser } from './api-errors.js';
import { MAX_MESSAGE_CHARS, renderedLength } from './format.js';
import type { Locale, Locales } from './locales/index.js';

export interface AdminNotifierDeps {
  api: Api;
  handle: DbHandle;
  logger: Logger;
  locales: Locales;
  adminIds: () => readonly number[];
}

/** What one admin message produced. */
export interface AdminDelivery {
  /** admins who received it */
  delivered: number[];
  /** admins who could not be reached */
  failed: number[];
}

/** Sends an HTML message (and optional keyboard), rendered in each admin's language, to every admin. */
export async function messageAdmins(deps: AdminNotifierDeps, render: (t: Locale) => string, keyboard?: (t: Locale) => InlineKeyboardMarkup): Promise<AdminDelivery> {
  const ids = deps.adminIds();
  const result: AdminDelivery = { delivered: [], failed: [] };
  if (ids.length === 0) return result;
  const rows = await deps.handle.db
    .selectFrom('users')
    .select(['telegram_id', 'language_code'])
    .where('telegram_id', 'in', [...ids])
    .execute();
  const language = new Map(rows.map((r) => [r.telegram_id, r.language_code]));
  for (const id of ids) {
    const t = deps.locales.pick(language.get(id));
    try {
      await deps.api.sendMessage(id, render(t), { parse_mode: 'HTML', link_preview_options: { is_disabled: true }, reply_markup: keyboard?.(t) });
      result.delivered.push(id);
    } catch (err) {
      result.failed.push(id);
      deps.logger.warn({ telegram_user_id: id, error: (err as Error).message }, isUnreachableUser(err) ? 'admin cannot be messaged (blocked the bot or never started it)' : 'admin message failed');
    }
  }
  return result;
}

/** Operational alert text for admins, kept within Telegram's message limit. */
export function operationalAlert(t: Locale, text: string): string {
  let body = text;
  while (renderedLength(t.admin.operationalAlert(body)) > MAX_MESSAGE_CHARS) body = `${[...body].slice(0, Math.floor(body.length * 0.9)).join('')}…`;
  return t.admin.operationalAlert(body);
}
