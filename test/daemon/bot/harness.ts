/**
 * Test harness for the shop bot: a real database (SQLite file or PostgreSQL), the fake Bot API server on
 * loopback, the real grammY bot built by createShopBot talking to it over HTTP, and — in webhook mode —
 * a node:http server on 127.0.0.1:0 that mounts `handleWebhook` at /telegram/webhook, so the fake delivers
 * updates exactly like Telegram does (POST + secret header). Log lines are captured as parsed JSON.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import type { TestContext } from 'node:test';
import { createConfig, configSecrets, type Config } from '../../../src/config.js';
import type { DbHandle } from '../../../src/db/dialect.js';
import { createLogger, type Logger } from '../../../src/logger.js';
import { creditUser } from '../../../src/ledger/ledger.js';
import { createShopBot, TELEGRAM_WEBHOOK_PATH, type ShopBot, type ShopBotDeps } from '../../../daemon/bot/index.js';
import { startFakeTelegram, type FakeTelegram } from '../../support/fake-telegram.js';
import { tempDb, type TestDialect } from '../../support/db.js';

export const ADMIN_ID = 900_001;
export const WEBHOOK_SECRET = 'test-webhook-secret_0123';

export type LogLine = Record<string, unknown> & { level: string; message?: string };

export interface BotHarness {
  fake: FakeTelegram;
  shopBot: ShopBot;
  handle: DbHandle;
  config: Config;
  logger: Logger;
  /** every log line so far */
  logs(): LogLine[];
  /** raw log text (to check nothing secret leaked) */
  logText(): string;
  /** base URL of the local webhook server (webhook mode) */
  webhookBase: string | undefined;
  /** credits a customer through the ledger */
  credit(telegramId: number, usd: number): Promise<void>;
  /** builds a second bot on the same database and fake (a restart); the first must be stopped first */
  restart(): Promise<ShopBot>;
}

export interface HarnessOptions {
  mode?: 'webhook' | 'polling';
  dialect?: TestDialect;
  env?: Record<string, string>;
  deps?: Partial<ShopBotDeps>;
  /** reuse a database (restart tests) */
  handle?: DbHandle;
}

export async function startBotHarness(t: TestContext, options: HarnessOptions = {}): Promise<BotHarness> {
  const mode = options.mode ?? 'webhook';
  const handle = options.handle ?? (await tempDb(t, options.dialect ?? 'sqlite'));
  const fake = await startFakeTelegram();

  let current: ShopBot | undefined;
  let server: Server | undefined;
  let webhookBase: string | undefined;
  if (mode === 'webhook') {
    server = createServer((req, res) => {
      if ((req.url ?? '').split('?')[0] === TELEGRAM_WEBHOOK_PATH && current) return void current.handleWebhook(req, res);
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    webhookBase = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  const config = createConfig({
    TOKEN: fake.token,
    ADMIN_ID_LIST: String(ADMIN_ID),
    TELEGRAM_API_ROOT: fake.apiRoot,
    PORT: '8000',
    ...(webhookBase ? { WEBHOOK_URL: webhookBase, WEBHOOK_SECRET_TOKEN: WEBHOOK_SECRET } : {}),
    ...options.env,
  });

  const lines: string[] = [];
  let partial = '';
  const sink = new Writable({
    write(chunk, _enc, cb) {
      partial += String(chunk);
      const parts = partial.split('\n');
      partial = parts.pop() ?? '';
      lines.push(...parts.filter(Boolean));
      cb();
    },
  });
  const logger = createLogger({ destination: sink, level: 'debug', secrets: configSecrets(config) });

  const build = () =>
    createShopBot({
      config,
      handle,
      logger,
      customerAlertIntervalMs: 0,
      pollingTimeoutSeconds: 2,
      rateLimit: { limit: 1000, windowMs: 60_000 },
      ...options.deps,
    });
  current = build();
  await current.start();

  t.after(async () => {
    await current?.stop();
    await fake.close();
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server!.close(() => resolve()));
    }
  });

  const harness: BotHarness = {
    fake,
    get shopBot() {
      return current!;
    },
    handle,
    config,
    logger,
    logs: () => lines.map((l) => JSON.parse(l) as LogLine),
    logText: () => lines.join('\n'),
    webhookBase,
    async credit(telegramId, usd) {
      await creditUser({ handle }, { telegramId, amountMicros: Math.round(usd * 1_000_000), type: 'adjustment', note: 'test credit' });
    },
    async restart() {
      await current?.stop();
      current = build();
      await current.start();
      return current;
    },
  };
  return harness;
}
