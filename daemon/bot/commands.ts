/**
 * The bot's command lists (the "/" menu in Telegram): the customer commands for everyone, in every shipped
 * language (`language_code`), and — for each admin only — the customer commands plus the admin commands,
 * in the admin's language, with a `BotCommandScopeChat` scope, so customers never see admin commands.
 */
import type { Api } from 'grammy';
import type { BotCommand, LanguageCode } from 'grammy/types';
import type { DbHandle } from '../../src/db/dialect.js';
import type { Logger } from '../../src/logger.js';
import { describeBotError } from './api-errors.js';
import type { Locale, Locales } from './locales/index.js';

/** Customer commands in menu order (each has a description in every locale's `commands`). */
export const CUSTOMER_COMMANDS = ['start', 'shop', 'balance', 'keys', 'redeem', 'support', 'paysupport', 'terms', 'help'] as const;
/** Admin commands (gated by ADMIN_ID_LIST on every use). */
export const ADMIN_COMMANDS = ['admin', 'token_stats', 'tickets', 'create_package', 'add_balance'] as const;

export function customerCommands(t: Locale): BotCommand[] {
  return CUSTOMER_COMMANDS.map((command) => ({ command, description: t.commands[command] }));
}

export function adminCommands(t: Locale): BotCommand[] {
  return [...customerCommands(t), ...ADMIN_COMMANDS.map((command) => ({ command, description: t.commands[command] }))];
}

export interface CommandListDeps {
  api: Api;
  handle: DbHandle;
  logger: Logger;
  locales: Locales;
  adminIds: readonly number[];
}

/**
 * Sets every list. A failure is logged and the rest still set (an admin who never started the bot cannot
 * get a chat-scoped list until they do: Telegram answers "chat not found"); returns how many calls failed.
 */
export async function setCommandLists(deps: CommandListDeps): Promise<number> {
  let failed = 0;
  const attempt = async (what: Record<string, unknown>, call: () => Promise<unknown>) => {
    try {
      await call();
    } catch (err) {
      failed += 1;
      deps.logger.warn({ ...what, error: describeBotError(err) }, 'could not set a bot command list (continuing)');
    }
  };
  const en = deps.locales.pick('en');
  await attempt({ scope: 'default' }, () => deps.api.setMyCommands(customerCommands(en)));
  for (const [code, t] of deps.locales.byCode) {
    if (code === 'en') continue;
    await attempt({ scope: 'default', language_code: code }, () => deps.api.setMyCommands(customerCommands(t), { language_code: code as LanguageCode }));
  }
  if (deps.adminIds.length > 0) {
    const rows = await deps.handle.db
      .selectFrom('users')
      .select(['telegram_id', 'language_code'])
      .where('telegram_id', 'in', [...deps.adminIds])
      .execute();
    const language = new Map(rows.map((r) => [r.telegram_id, r.language_code]));
    for (const id of deps.adminIds) {
      const t = deps.locales.pick(language.get(id));
      await attempt({ scope: 'chat', telegram_user_id: id }, () => deps.api.setMyCommands(adminCommands(t), { scope: { type: 'chat', chat_id: id } }));
    }
  }
  return failed;
}
