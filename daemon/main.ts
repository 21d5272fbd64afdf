/**
 * The daemon's only composition root (SPEC §1): the ordered start steps, and their stop in reverse order
 * (daemon/lifecycle.ts). Each loop or client lives in a module of its own; a new step is one line here.
 *
 * Start: check and open the database → metering store (applies the settles a previous run kept) →
 * release the holds of instances that are gone → register this instance → leader lease → WAL
 * checkpointer → Redis → OpenRouter and upstream clients → proxy, /health, /metrics → heartbeat → log
 * retention → bot → reprice at start → alert loop → scheduled backups → listen → start the bot.
 * Stop (SIGTERM): refuse new requests → stop the bot → drain in-flight requests and streams (the drain
 * timeout, then abort them; each settles) → … → release leftover holds and unregister → save pending
 * settles → close the database → flush the log.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../src/config.js';
import { configSecrets } from '../src/config.js';
import { openAndMigrate, type DbHandle } from '../src/db/dialect.js';
import { checkSqliteDatabase } from '../src/db/integrity.js';
import { closeLogger, createLogger, type Logger } from '../src/logger.js';
import { openRouterClientFromConfig } from '../src/catalog/openrouter.js';
import { createMeteringStore, releaseHolds } from '../src/metering/store.js';
import { startTokenCounter } from '../src/metering/tokens.js';
import { pendingSettlesLocation } from '../src/metering/pending-settles.js';
import { newInstanceId, recoverOrphanedHolds, registerInstance, unregisterInstance, type InstanceInfo } from '../src/metering/instances.js';
import { VERSION } from '../src/version.js';
import { startLeaderElection } from '../src/scale/leader.js';
import { countLiveInstances } from '../src/scale/replicas.js';
import { createChatUpstream, type ChatUpstreamOptions } from './http/upstream.js';
import { createProxy, type Proxy } from './http/proxy.js';
import { createProxyLimits } from './http/limits.js';
import { createProxyMetrics, type ProxyMetrics } from './http/metrics.js';
import { createHealth, type CheckState } from './http/health.js';
import { createHttpServer } from './http/server.js';
import type { ShopBot, ShopBotDeps } from './bot/index.js';
import { startCheckpointer, type CheckpointerOptions } from './sqlite-checkpointer.js';
import { createLifecycle, within } from './lifecycle.js';
import { startRedis } from './redis.js';
import { startHeartbeat } from './heartbeat.js';
import { defaultAlertsRunner, startAlertLoop, type AlertsRunner } from './alert-scheduler.js';
import { startLogRetention } from '../src/logs/retention.js';
import { repriceAtStart } from '../src/packages/reprice.js';
import { startBackupSchedule } from '../src/backup/schedule.js';

export type { AlertsRunner, FiringAlert } from './alert-scheduler.js';

/** What the daemon uses of the shop bot (daemon/bot/index.ts). */
export type DaemonBot = Pick<ShopBot, 'handleWebhook' | 'start' | 'stop' | 'notifyAdmins'>;

/** Builds the bot (default: daemon/bot/index.js createShopBot when TOKEN is set). */
export type ShopBotFactory = (deps: ShopBotDeps) => DaemonBot | Promise<DaemonBot>;

export interface StartDaemonOptions {
  config: Config;
  /** an already opened database (tests, `arb demo`); the daemon then does not check or close it */
  handle?: DbHandle;
  /** default: LOG_DIR/arbitrage.log */
  logger?: Logger;
  /** interface to listen on, default config.host (HOST, 127.0.0.1) */
  host?: string;
  /** default config.port (0 = any free port) */
  port?: number;
  /** how long SIGTERM waits for in-flight requests before aborting them, default 10 s */
  drainTimeoutMs?: number;
  heartbeatMs?: number;
  /** an instance whose heartbeat is older than this is gone, default 60 s */
  staleAfterMs?: number;
  alertsIntervalMs?: number;
  /** the leader lease (Telegram long polling, alert rules) expires after this, default 15 s */
  leaderLeaseMs?: number;
  /** upstream client overrides (timeouts, pool size) */
  upstream?: Partial<ChatUpstreamOptions>;
  /** the bot factory (default: daemon/bot/index.js createShopBot when TOKEN is set); false disables the bot */
  bot?: ShopBotFactory | false;
  /** scheduled backups (BACKUP_INTERVAL_HOURS, src/backup/schedule.ts); default on when the daemon opens its own database */
  backups?: boolean;
  /** the alert rules (default: src/alerts); false disables them */
  alerts?: AlertsRunner | false;
  /** where the start notice goes (stdout lines), default nowhere */
  print?: (line: string) => void;
  /** collect Node's default process metrics in /metrics, default true */
  defaultMetrics?: boolean;
  /** SQLite: run WAL checkpoints in a worker thread instead of inside request commits, default true */
  backgroundCheckpoints?: boolean;
  /** SQLite: the checkpointer's pace and wrap size (tests make it wrap after a few requests), default its own */
  checkpointer?: Pick<CheckpointerOptions, 'intervalMs' | 'wrapFrames'>;
  /** how long chat completions may reuse a read of their key, default KEY_CACHE_TTL_MS (see src/metering/key-cache.ts) */
  keyCacheTtlMs?: number;
  /** a request whose headers and body have not all arrived after this is answered 408 and its connection closed, default 120 s */
  requestTimeoutMs?: number;
}

export interface Daemon {
  /** http://HOST:PORT */
  readonly url: string;
  readonly port: number;
  readonly instanceId: string;
  readonly handle: DbHandle;
  readonly logger: Logger;
  readonly metrics: ProxyMetrics;
  readonly proxy: Proxy;
  /** the bot, when running */
  readonly bot: DaemonBot | undefined;
  /** how long stop() lets in-flight requests finish before aborting them */
  readonly drainTimeoutMs: number;
  /** resolves when no chat completion is in flight (every hold settled) */
  idle(): Promise<void>;
  /** graceful shutdown; idempotent */
  stop(): Promise<void>;
  /** aborts the requests in flight now (a second Ctrl-C): they settle for what they delivered */
  abortInFlight(): void;
}

const DEFAULT_DRAIN_TIMEOUT_MS = 10_000;
/** after the drain, aborted requests get this long to settle */
const ABORT_GRACE_MS = 5_000;

/** Opens the daemon's database: an SQLite file is checked first and refused when damaged (DatabaseCorruptError). */
async function openDaemonDatabase(config: Config): Promise<DbHandle> {
  if (!config.databaseUrl) checkSqliteDatabase(config.dbName);
  return openAndMigrate({ dbName: config.dbName, databaseUrl: config.databaseUrl, poolSize: 20 });
}

/** Builds and starts the daemon. */
export async function startDaemon(options: StartDaemonOptions): Promise<Daemon> {
  const { config } = options;
  const startedAt = Date.now();
  const print = options.print ?? (() => {});
  const logger = options.logger ?? createLogger({ logDir: config.logDir, level: config.logLevel, secrets: configSecrets(config), process: 'daemon' });
  const life = createLifecycle({ logger });
  const drainTimeoutMs = options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
  const instance: InstanceInfo = newInstanceId();
  let stopping = false;
  let bot: DaemonBot | undefined;
  let botState: CheckState = 'disabled';
  let publicUrl: string | undefined;
  /** the drain runs until this time (set when stop() begins, so the bot's stop does not extend it) */
  let drainUntil = Infinity;

  try {
    const handle =
      options.handle ??
      (await life.step(
        'database',
        () => openDaemonDatabase(config),
        (h) => h.close(),
      ));
    const store = await life.step(
      'metering store',
      async () => {
        // pending settles go beside the database really opened: its SQLite file, or LOG_DIR on PostgreSQL (never the cwd)
        const s = createMeteringStore(handle, {
          logger,
          pendingSettlesAt: pendingSettlesLocation({
            logDir: config.logDir,
            dbName: handle.file ?? config.dbName,
            databaseUrl: handle.file ? undefined : (handle.url ?? config.databaseUrl ?? handle.dialect),
          }),
          owner: instance.instanceId,
        });
        await s.applyPendingSettles();
        return s;
      },
      (s) => s.close(),
    );
    await life.step('release holds of gone instances', () => releaseGoneInstances(handle, instance, logger, options.staleAfterMs));
    await life.step(
      'instance',
      () => registerInstance(handle, instance),
      () => unregisterSelf(handle, instance, logger),
    );
    const leadership = await life.step('leader lease', () => startLeaderElection(handle, { name: 'daemon-leader', holder: instance.instanceId, ttlMs: options.leaderLeaseMs, logger }));
    const metrics = createProxyMetrics({ defaultMetrics: options.defaultMetrics });
    if (handle.sqlite && handle.file && options.backgroundCheckpoints !== false) {
      await life.step('WAL checkpointer', () => startCheckpointer(handle.sqlite!, handle.file!, { ...options.checkpointer, logger, gate: handle.writeGate, onPause: (s) => metrics.writePause(s) }));
    }
    const redis = config.redis ? (await life.step('redis', () => startRedis(config.redis!, { logger }))).client : undefined;
    const openrouter = await life.step(
      'openrouter client',
      () => openRouterClientFromConfig(config, { headersTimeoutMs: 5_000, bodyTimeoutMs: 10_000 }),
      (c) => c.close(),
    );
    const upstream = await life.step(
      'upstream',
      () =>
        createChatUpstream({
          baseUrl: config.openrouterBaseUrl,
          backupBaseUrl: config.openrouterBackupBaseUrl,
          apiKey: config.openrouterApiKey,
          maxInFlight: config.upstreamMaxConcurrency,
          ...options.upstream,
        }),
      (u) => u.close(),
    );

    const limits = createProxyLimits({ rpm: config.rateLimitRpm, redis, replicas: () => countLiveInstances(handle, options.staleAfterMs), logger });
    // the tokenizer's thread loads its tables now, not while the first key near the end of its quota waits for it
    await life.step(
      'token counter',
      () => startTokenCounter((err) => logger.warn({ err }, 'the token counter thread failed: tokens are counted on the event loop for the next minute')),
      (stopListening) => stopListening(),
    );
    const proxy = createProxy({ store, upstream, limits, metrics, logger, instanceId: instance.instanceId, rateLimitRpm: config.rateLimitRpm, keyCacheTtlMs: options.keyCacheTtlMs });
    const health = createHealth({
      handle,
      redis,
      openrouter,
      telegram: config.token ? () => botState : undefined,
      instanceId: instance.instanceId,
      inFlight: () => proxy.inFlight,
      startedAt,
      leader: () => leadership.isLeader,
      rateLimits: () => limits.mode(),
      databaseWrites: store.database,
      pendingSettles: () => store.pendingSettles,
    });
    const server = createHttpServer({
      proxy,
      health,
      metrics,
      logger,
      webhook: () => (config.webhookUrl ? bot : undefined),
      stopping: () => stopping,
      metricsToken: config.metricsToken,
      trustProxy: config.trustProxy,
      requestTimeoutMs: options.requestTimeoutMs,
    });

    await life.step('heartbeat', () => startHeartbeat({ handle, instance, logger, intervalMs: options.heartbeatMs, staleAfterMs: options.staleAfterMs }));
    await life.step('log retention', () => startLogRetention({ logDir: config.logDir, retentionDays: config.logRetentionDays, logger }));
    // The bot is built now so the webhook route exists, and started once the daemon listens.
    if (config.token && options.bot !== false) {
      try {
        const factory: ShopBotFactory = options.bot || (await import('./bot/index.js')).createShopBot;
        bot = await factory({ config, handle, logger, instanceId: instance.instanceId, publicBaseUrl: () => config.publicBaseUrl ?? publicUrl, leadership, redis });
      } catch (err) {
        botState = 'error';
        logger.error({ err }, 'the Telegram bot could not be built; the proxy keeps running');
        print(`warning: the Telegram bot could not be built (${(err as Error).message}); the proxy keeps running`);
      }
    }
    // Prices follow the settings before anything is sold (the admins are told what changed).
    await life.step('reprice at start', () => repriceAtStart({ handle, logger, config, notifyAdmins: (text) => bot?.notifyAdmins(text) }));
    if (options.alerts !== false) {
      const runner = options.alerts || defaultAlertsRunner;
      await life.step('alerts', () =>
        startAlertLoop({
          evaluate: () => runner({ config, handle, logger, openrouter }),
          notify: (text) => bot?.notifyAdmins(text),
          isLeader: () => leadership.isLeader,
          logger,
          intervalMs: options.alertsIntervalMs,
        }),
      );
    }

    if (options.backups ?? !options.handle) {
      await life.step('scheduled backups', () => startBackupSchedule({ config, handle, logger, isLeader: () => leadership.isLeader, notify: (text) => bot?.notifyAdmins(text) }));
    }

    const { url, port, bound, reach } = await life.step(
      'http server',
      () => listen(server, options.port ?? config.port, options.host ?? config.host),
      () => drainAndClose(server, proxy, Math.max(0, drainUntil - Date.now()), logger),
      { stopTimeoutMs: drainTimeoutMs + ABORT_GRACE_MS + 2_000 },
    );
    publicUrl = url;
    if (bot) {
      const b = bot;
      try {
        await life.step(
          'bot',
          () => b.start(),
          () => {
            botState = 'disabled';
            return b.stop();
          },
        );
        botState = 'ok';
      } catch (err) {
        botState = 'error';
        bot = undefined;
        logger.error({ err }, 'the Telegram bot failed to start; the proxy keeps running');
        print(`warning: the Telegram bot failed to start (${(err as Error).message}); the proxy keeps running`);
      }
    }

    const mode = bot
      ? `with the Telegram bot (${config.webhookUrl ? 'webhook' : 'long polling'})`
      : config.token
        ? 'proxy-only (the Telegram bot is not running; see the log)'
        : 'proxy-only (no TOKEN: the Telegram bot is off)';
    logger.info(
      { instance_id: instance.instanceId, host: bound.host, port, mode: bot ? 'bot' : 'proxy-only', version: VERSION, dialect: handle.dialect },
      `arb daemon listening on ${bound.url} (${reach}), ${mode}`,
    );
    print(`arb daemon ${VERSION} listening on ${bound.url} (${reach}) — ${mode}`);
    print(`  OpenAI base URL: ${url}/v1   health: ${url}/health   metrics: ${url}/metrics${config.metricsToken ? ' (Bearer METRICS_TOKEN)' : ''}`);
    if (config.trustProxy) print('  behind a reverse proxy (TRUST_PROXY): client addresses come from X-Forwarded-For');

    let stopped: Promise<void> | undefined;
    const stop = () => {
      stopped ??= (async () => {
        stopping = true; // new requests get 503 from here on
        drainUntil = Date.now() + drainTimeoutMs;
        logger.info({ in_flight: proxy.inFlight, drain_timeout_ms: drainTimeoutMs }, 'shutting down: no new requests; draining in-flight requests');
        // the bot stops taking updates at once, alongside the drain (its stop is idempotent)
        void Promise.resolve(bot?.stop()).catch(() => {});
        await life.stopAll();
        logger.info('arb daemon stopped');
        if (!options.logger) await closeLogger(logger);
      })();
      return stopped;
    };

    return {
      url,
      port,
      instanceId: instance.instanceId,
      handle,
      logger,
      metrics,
      proxy,
      get bot() {
        return bot;
      },
      drainTimeoutMs,
      idle: () => proxy.idle(),
      stop,
      abortInFlight: () => proxy.abortAll(),
    };
  } catch (err) {
    await life.stopAll();
    if (!options.logger) await closeLogger(logger);
    throw err;
  }
}

/** Holds of instances that are gone (crash, kill -9) are released before this one serves. */
async function releaseGoneInstances(handle: DbHandle, self: InstanceInfo, logger: Logger, staleAfterMs: number | undefined): Promise<void> {
  const recovered = await recoverOrphanedHolds(handle, { self, staleAfterMs });
  if (recovered.reservations > 0 || recovered.goneInstances.length > 0) {
    logger.warn({ gone_instances: recovered.goneInstances, reservations: recovered.reservations, tokens: recovered.tokens }, 'released the holds of daemon instances that are gone');
  }
}

async function unregisterSelf(handle: DbHandle, self: InstanceInfo, logger: Logger): Promise<void> {
  const left = await releaseHolds(handle, [self.instanceId]);
  if (left.reservations > 0) logger.warn({ reservations: left.reservations, tokens: left.tokens }, 'released holds left by failed settlements');
  await unregisterInstance(handle, self.instanceId);
}

/**
 * Listens; returns the URL the daemon is reached at on this host (http://HOST:PORT; loopback for a
 * wildcard), the port, the address it is bound to and who can reach it.
 */
async function listen(server: Server, port: number, host: string): Promise<{ url: string; port: number; bound: { host: string; url: string }; reach: string }> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // a deep accept queue: thousands of clients connecting within seconds are not reset while the loop is busy
    server.listen({ port, host, backlog: 4096 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const wildcard = addr.address === '0.0.0.0' || addr.address === '::';
  const hostPart = (a: string) => (a.includes(':') ? `[${a}]` : a);
  const reach = wildcard ? 'every interface: reachable from other hosts' : /^(127\.|::1$)/.test(addr.address) ? 'this host only; HOST=0.0.0.0 opens it to others' : 'this address only';
  return {
    url: `http://${wildcard ? '127.0.0.1' : hostPart(addr.address)}:${addr.port}`,
    port: addr.port,
    bound: { host: addr.address, url: `http://${hostPart(addr.address)}:${addr.port}` },
    reach,
  };
}

/** Stops the HTTP server: lets in-flight requests finish for `drainMs`, then aborts them (each settles for what it delivered). */
async function drainAndClose(server: Server, proxy: Proxy, drainMs: number, logger: Logger): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  await within(proxy.idle(), drainMs);
  if (proxy.inFlight > 0) {
    logger.warn({ in_flight: proxy.inFlight }, 'requests still running at the end of the drain time: aborting them (each is charged for what it delivered)');
    proxy.abortAll();
    await within(proxy.idle(), ABORT_GRACE_MS);
  }
  server.closeAllConnections();
  await within(closed, 1_000);
}

/** What the signal handlers stop. */
type Stoppable = Pick<Daemon, 'stop' | 'abortInFlight' | 'drainTimeoutMs'>;

/**
 * Stops the daemon on SIGTERM/SIGINT; a second signal aborts the requests still draining. `onStopped`
 * runs once the shutdown is complete. Returns an uninstaller.
 *
 * Given the daemon's start (a promise) instead of the daemon, the handlers are in place while it starts —
 * it may already listen and have printed its banner: a signal caught then is kept (not left to the default
 * action, which would kill the process without draining) and stops the daemon as soon as it is up; a start
 * that fails removes them. One listener serves both phases: removing a signal's last listener in between
 * would drop a signal already caught but not yet dispatched.
 */
export function installSignalHandlers(daemon: Stoppable | PromiseLike<Stoppable>, onStopped: () => void, print: (line: string) => void = () => {}): () => void {
  let running: Stoppable | undefined;
  let caughtWhileStarting: NodeJS.Signals | undefined;
  let installed = true;
  let count = 0;
  const handler = (signal: NodeJS.Signals) => {
    if (!running) {
      caughtWhileStarting ??= signal;
      return;
    }
    count++;
    if (count > 1) {
      print(`${signal} again: aborting the requests still running`);
      running.abortInFlight();
      return;
    }
    print(`${signal}: draining in-flight requests (up to ${formatSeconds(running.drainTimeoutMs)}), then stopping`);
    const done = () => {
      uninstall();
      onStopped();
    };
    running.stop().then(done, done);
  };
  const uninstall = () => {
    installed = false;
    process.off('SIGTERM', handler);
    process.off('SIGINT', handler);
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  if (!isPromiseLike(daemon)) running = daemon;
  else {
    daemon.then(
      (started) => {
        if (!installed) return;
        running = started;
        if (caughtWhileStarting) handler(caughtWhileStarting);
      },
      () => uninstall(),
    );
  }
  return uninstall;
}

function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown }).then === 'function';
}

function formatSeconds(ms: number): string {
  const s = ms / 1000;
  return `${Number.isInteger(s) ? s : s.toFixed(1)} s`;
}
