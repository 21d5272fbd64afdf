/**
 * The bot's context type and the services every feature reads from it (set once per update by the
 * context middleware). No module state: everything hangs off the object createShopBot builds.
 */
import type { ConversationFlavor } from '@grammyjs/conversations';
import type { Context } from 'grammy';
import type { Config } from '../../src/config.js';
import type { DbHandle } from '../../src/db/dialect.js';
import type { User } from '../../src/ledger/ledger.js';
import type { Logger } from '../../src/logger.js';
import type { InlineKeyboardMarkup } from 'grammy/types';
import type { Locale, Locales } from './locales/index.js';
import type { AdminDelivery } from './notifications.js';

export interface ShopServices {
  readonly config: Config;
  readonly handle: DbHandle;
  readonly logger: Logger;
  readonly locales: Locales;
  /** the proxy's OpenAI base URL customers use, e.g. https://shop.example.com/v1 */
  readonly apiBaseUrl: string;
  /** Star amounts offered for top-ups */
  readonly starAmounts: readonly number[];
  now(): Date;
  /** checks ADMIN_ID_LIST as configured now (called on every admin message and callback) */
  isAdmin(telegramId: number | undefined): boolean;
  /** sends an HTML message (and keyboard), rendered in each admin's language, to every admin */
  messageAdmins(render: (t: Locale) => string, keyboard?: (t: Locale) => InlineKeyboardMarkup): Promise<AdminDelivery>;
}

export interface ShopFlavor {
  shop: ShopServices;
  /** texts in the user's language */
  t: Locale;
  /** the customer's row (created on first contact); undefined for updates without a user */
  customer: User | undefined;
}

/** The context inside guided conversations (the conversations plugin installs `shop` and `t` there too). */
export type ShopBaseContext = Context & ShopFlavor;

/** The bot's context: the base plus `ctx.conversation` to enter guided conversations. */
export type ShopContext = ConversationFlavor<ShopBaseContext>;
