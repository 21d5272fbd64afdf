/**
 * The Telegram shop bot (SPEC §5), built on grammY: `createShopBot(deps)` wires one Composer per feature
 * behind update de-duplication, an error boundary, the user's locale, a per-user rate limit and the admin
 * gate, and talks to the Bot API at TELEGRAM_API_ROOT. The loops live in modules of their own: long
 * polling with leadership (polling.ts), customer alerts (customer-alerts.ts), pruning of processed update
 * ids (pruning.ts); the command lists in commands.ts.
 *
 * Modes: with WEBHOOK_URL, `start()` registers `${WEBHOOK_URL}/telegram/webhook` (secret token, allowed
 * updates incl. pre_checkout_query) and the daemon's HTTP server passes requests to `handleWebhook`;
 * without it, `start()` long-polls getUpdates (only on the leader replica when `deps.leadership` is given).
 *
 * The base URL shown to customers with their key is `publicBaseUrl` (deps), else WEBHOOK_URL (the public
 * address of the same daemon), else `http://127.0.0.1:PORT`, followed by `/v1`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { conversations } from '@grammyjs/conversations';
import { Bot, type ApiClientOptions, type BotError } from 'grammy';
import type { Update, UserFromGetMe } from 'grammy/types';
import type { Redis } from 'ioredis';
import type { Config } from '../../src/config.js';
import type { DbHandle } from '../../src/db/dialect.js';
import { InputError } from '../../src/errors.js';
import type { Logger } from '../../src/logger.js';
import type { Leadership } from '../../src/scale/leader.js';
import { apiErrorPolicy, describeBotError, isUnreachableUser, type ApiErrorPolicyOptions } from './api-errors.js';
import { setCommandLists } from './commands.js';
import type { ShopBaseContext, ShopContext, ShopServices } from './context.js';
import { dbConversationStorage } from './conversation-storage.js';
import { createPackageConversation } from './features/create-package.js';
import { createCustomerAlerts } from './customer-alerts.js';
import { adminFeature } from './features/admin.js';
import { balanceFeature } from './features/balance.js';
import { categoriesFeature } from './features/categories.js';
import { keysFeature } from './features/keys.js';
import { fallbackFeature, menuFeature } from './features/menu.js';
import { redeemFeature, type RedeemOptions } from './features/redeem.js';
import { refundsFeature } from './features/refunds.js';
import { shopFeature } from './features/shop.js';
import { supportFeature } from './features/support.js';
import { DEFAULT_STAR_AMOUNTS, topupFeature } from './features/topup.js';
import en from './locales/en.js';
import { locales } from './locales/index.js';
import { answerCallbacks } from './middlewares/answer-callbacks.js';
import { dedupUpdates } from './middlewares/dedup.js';
import { rateLimit, type RateLimitOptions } from './middlewares/rate-limit.js';
import { conversationContext, loadCustomer, shopContext } from './middlewares/setup.js';
import { messageAdmins, operationalAlert } from './notifications.js';
import { createBotPolling } from './polling.js';
import { createUpdatePruning } from './pruning.js';
import { createWebhookHandler, TELEGRAM_WEBHOOK_PATH } from './webhook.js';

export { TELEGRAM_WEBHOOK_PATH } from './webhook.js';
export type { ShopContext } from './context.js';

/** Update types the bot asks Telegram for (pre_checkout_query is not in Telegram's default set for old webhooks). */
export const ALLOWED_UPDATES = ['message', 'callback_query', 'pre_checkout_query'] as const;

export interface ShopBotDeps {
  config: Config;
  handle: DbHandle;
  logger: Logger;
  /** daemon instance id, added to the bot's log lines */
  instanceId?: string;
  /** extra grammY client options (timeoutSeconds, fetch, …); apiRoot always comes from TELEGRAM_API_ROOT */
  client?: Omit<ApiClientOptions, 'apiRoot'>;
  /** a fetch implementation for the Bot API client (tests, proxies) */
  fetchImpl?: ApiClientOptions['fetch'];
  /** known bot info: skips getMe */
  botInfo?: UserFromGetMe;
  /**
   * public base URL of the proxy for customers (without /v1), or a function read when a key is shown (so
   * the daemon can pass the address it ends up listening on); see the module comment for the default
   */
  publicBaseUrl?: string | (() => string | undefined);
  rateLimit?: RateLimitOptions;
  /** Star amounts offered for top-ups */
  starAmounts?: readonly number[];
  /** how often start() runs the customer alerts; 0 = never (default 10 min) */
  customerAlertIntervalMs?: number;
  /** how often start() forgets old processed update ids; 0 = never (default 1 h) */
  pruneIntervalMs?: number;
  /** long-polling timeout in seconds (default 30) */
  pollingTimeoutSeconds?: number;
  apiRetry?: Omit<ApiErrorPolicyOptions, 'logger'>;
  now?: () => Date;
  /** polling mode with daemon replicas: long-poll only while this replica is the leader (default: always poll) */
  leadership?: Pick<Leadership, 'isLeader' | 'onChange'>;
  /** polling under `leadership`: wait before restarting polling that failed while leading, default 5 s */
  pollingRetryMs?: number;
  /** REDIS_HOST: the per-user rate limits are shared by the replicas */
  redis?: Redis;
  /** wrong gift-code guesses allowed per user and window */
  redeem?: Omit<RedeemOptions, 'redis'>;
}

export interface ShopBot {
  readonly bot: Bot<ShopContext>;
  /** 'webhook' when WEBHOOK_URL is set, else 'polling' */
  readonly mode: 'webhook' | 'polling';
  /** the OpenAI base URL customers are given */
  readonly apiBaseUrl: string;
  /** node:http handler for POST /telegram/webhook */
  handleWebhook(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** webhook mode: setWebhook with secret token + allowed updates; polling mode: starts long polling */
  start(): Promise<void>;
  /** stops polling / refuses new webhook calls, waits for updates in flight; idempotent */
  stop(): Promise<void>;
  /** operational alert to every admin */
  notifyAdmins(text: string): Promise<void>;
  /** 80 %-used and 3-days-before-expiry notices, each once per key; returns how many were sent */
  runCustomerAlerts(): Promise<number>;
}

/** Public base URL of the daemon as customers reach it (without /v1). */
export function customerBaseUrl(config: Config, publicBaseUrl?: string): string {
  return (publicBaseUrl ?? config.webhookUrl ?? `http://127.0.0.1:${config.port}`).replace(/\/+$/, '');
}

/** Builds the shop bot. Nothing talks to Telegram until `start()` (or the first webhook call). */
export function createShopBot(deps: ShopBotDeps): ShopBot {
  const { config, handle } = deps;
  if (!config.token) throw new InputError('TOKEN: not set; the Telegram bot needs a bot token from @BotFather', 'TOKEN');
  const logger = deps.instanceId ? deps.logger.child({ instance_id: deps.instanceId }) : deps.logger;
  const now = deps.now ?? (() => new Date());
  const mode: 'webhook' | 'polling' = config.webhookUrl ? 'webhook' : 'polling';
  const apiBaseUrl = () => `${customerBaseUrl(config, typeof deps.publicBaseUrl === 'function' ? deps.publicBaseUrl() : deps.publicBaseUrl)}/v1`;

  const bot = new Bot<ShopContext>(config.token, {
    client: { ...deps.client, ...(deps.fetchImpl ? { fetch: deps.fetchImpl } : {}), apiRoot: config.telegramApiRoot },
    botInfo: deps.botInfo,
  });
  bot.api.config.use(apiErrorPolicy({ ...deps.apiRetry, logger }));

  const adminNotifier = { api: bot.api, handle, logger, locales, adminIds: () => config.adminIds };
  const services: ShopServices = {
    config,
    handle,
    logger,
    locales,
    get apiBaseUrl() {
      return apiBaseUrl();
    },
    starAmounts: deps.starAmounts ?? DEFAULT_STAR_AMOUNTS,
    now,
    isAdmin: (id) => id !== undefined && config.adminIds.includes(id),
    messageAdmins: (render, keyboard) => messageAdmins(adminNotifier, render, keyboard),
  };

  bot.use(dedupUpdates({ handle, logger, now }));
  bot.errorBoundary(
    async (err: BotError<ShopContext>) => {
      const ctx = err.ctx;
      if (isUnreachableUser(err.error)) {
        logger.info({ update_id: ctx.update.update_id, telegram_user_id: ctx.from?.id }, 'the user blocked the bot or cannot be reached; update dropped');
        return;
      }
      logger.error({ update_id: ctx.update.update_id, telegram_user_id: ctx.from?.id, error: describeBotError(err.error) }, 'bot update failed');
      if (ctx.chat?.type === 'private') {
        try {
          await ctx.reply((ctx.t ?? en).errors.generic);
        } catch {
          /* nothing more we can do for this update */
        }
      }
    },
    shopContext(services),
    rateLimit({ ...deps.rateLimit, redis: deps.redis }),
    loadCustomer,
    answerCallbacks,
    conversations<ShopContext, ShopBaseContext>({ storage: dbConversationStorage(handle, now), plugins: [conversationContext(services)] }),
    createPackageConversation(services),
    menuFeature(),
    shopFeature(),
    balanceFeature(),
    keysFeature(),
    topupFeature(),
    redeemFeature({ ...deps.redeem, redis: deps.redis }),
    supportFeature(),
    adminFeature(),
    categoriesFeature(),
    refundsFeature(),
    fallbackFeature(),
  );
  bot.catch((err) => {
    logger.error({ update_id: err.ctx.update.update_id, error: describeBotError(err.error) }, 'telegram update could not be processed');
  });

  const polling = createBotPolling({
    bot,
    logger,
    allowedUpdates: ALLOWED_UPDATES,
    timeoutSeconds: deps.pollingTimeoutSeconds,
    leadership: deps.leadership,
    retryMs: deps.pollingRetryMs,
  });
  const customerAlerts = createCustomerAlerts({ api: bot.api, handle, logger, locales, now, intervalMs: deps.customerAlertIntervalMs ?? 10 * 60_000 });
  const pruning = createUpdatePruning({ handle, logger, now, intervalMs: deps.pruneIntervalMs ?? 60 * 60_000 });

  let started = false;
  let stopping: Promise<void> | undefined;
  const inFlight = new Set<Promise<unknown>>();

  const handleUpdate = async (update: Update) => {
    if (!bot.isInited()) await bot.init();
    const work = bot.handleUpdate(update);
    inFlight.add(work);
    try {
      await work;
    } finally {
      inFlight.delete(work);
    }
  };

  return {
    bot,
    mode,
    get apiBaseUrl() {
      return apiBaseUrl();
    },
    handleWebhook: createWebhookHandler({
      secretToken: config.webhookSecretToken,
      logger,
      isStopping: () => stopping !== undefined,
      handleUpdate,
    }),

    async start() {
      if (started) return;
      started = true;
      await bot.init();
      await setCommandLists({ api: bot.api, handle, logger, locales, adminIds: config.adminIds });
      if (mode === 'webhook') {
        const url = `${config.webhookUrl}${TELEGRAM_WEBHOOK_PATH}`;
        await bot.api.setWebhook(url, { secret_token: config.webhookSecretToken, allowed_updates: [...ALLOWED_UPDATES], drop_pending_updates: false });
        logger.info({ mode, webhook_url: url, bot: bot.botInfo.username }, 'telegram bot started (webhook)');
      } else {
        await polling.start();
      }
      customerAlerts.start();
      pruning.start();
    },

    stop() {
      stopping ??= (async () => {
        const loops = Promise.all([customerAlerts.stop(), pruning.stop()]);
        await polling.stop();
        await Promise.allSettled([...inFlight]);
        await loops;
        logger.info({ mode }, 'telegram bot stopped');
      })();
      return stopping;
    },

    async notifyAdmins(text: string) {
      await services.messageAdmins((t) => operationalAlert(t, text));
    },

    runCustomerAlerts: () => customerAlerts.run(),
  };
}
