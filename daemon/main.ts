/**
 * The daemon's only composition root (SPEC §1): opens and migrates the database, builds the logger, the
 * upstream client, the metering proxy, /health, /metrics and (when TOKEN is set) the Telegram bot, registers
 * this process as an instance (heartbeat) after releasing the holds of instances that are gone, runs the
 * alert rules every 5 minutes, and shuts down in reverse order: stop accepting → drain in-flight requests
 * and streams (≤ 10 s, then abort them; each settles) → stop the bot → release leftovers and unregister →
 * close upstream/Redis → close the database → flush the log.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Redis } from 'ioredis';
import type { Config, Env } from '../src/config.js';
import { configSecrets } from '../src/config.js';
import { openAndMigrate, type DbHandle } from '../src/db/dialect.js';
import { closeLogger, createLogger, type Logger } from '../src/logger.js';
import { openRouterClientFromConfig, type OpenRouterClient } from '../src/catalog/openrouter.js';
import { createMeteringStore, releaseHolds } from '../src/metering/store.js';
import { heartbeatInstance, newInstanceId, recoverOrphanedHolds, registerInstance, unregisterInstance, type InstanceInfo } from '../src/metering/instances.js';
import { VERSION } from '../src/version.js';
import { startLeaderElection, type Leadership } from '../src/scale/leader.js';
import { countLiveInstances } from '../src/scale/replicas.js';
import { createChatUpstream, type ChatUpstreamOptions } from './http/upstream.js';
import { createProxy, type Proxy } from './http/proxy.js';
import { createProxyLimits } from './http/limits.js';
import { createProxyMetrics, type ProxyMetrics } from './http/metrics.js';
import { createHealth, type CheckState } from './http/health.js';
import { createHttpServer } from './http/server.js';
import { startCheckpointer } from './sqlite-checkpointer.js';
import { startLogRetention } from '../src/logs/retention.js';
import { repriceAtStart } from '../src/packages/reprice.js';
import { startBackupSchedule } from '../src/backup/schedule.js';

/** The bot as the daemon uses it (daemon/bot/index.ts `createShopBot(deps)` provides it). */
export interface ShopBot {
  handleWebhook(req: IncomingMessage, res: ServerResponse): Promise<void> | void;
  start(): Promise<void> | void;
  stop(): Promise<void> | void;
  notifyAdmins(text: string): Promise<void> | void;
}

/** What the daemon hands the bot factory. */
export interface DaemonBotDeps {
  config: Config;
  handle: DbHandle;
  logger: Logger;
  instanceId: string;
  /** the public base URL customers are given (WEBHOOK_URL, else the address the daemon listens on) */
  publicBaseUrl: () => string | undefined;
  /** with replicas only the leader long-polls Telegram (src/scale/leader.ts) */
  leadership: Leadership;
  /** REDIS_HOST: the bot's per-user rate limit is shared by the replicas */
  redis?: Redis;
}

export type ShopBotFactory = (deps: DaemonBotDeps) => ShopBot | Promise<ShopBot>;

/** An alert that fires: a rule name (for de-duplication) and the text sent to the admins. */
export interface FiringAlert {
  rule: string;
  message: string;
}

/** Runs the alert rules once; returns the rules that fire. */
export type AlertsRunner = (deps: { config: Config; handle: DbHandle; logger: Logger; openrouter: OpenRouterClient }) => Promise<FiringAlert[]>;

export interface StartDaemonOptions {
  config: Config;
  /** the environment the config came from (passed on to the bot/alerts; informational) */
  env?: Env;
  /** an already opened database (tests, `arb demo`); the daemon then does not close it */
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
  /** the alert rules (default: src/alerts when present); false disables them */
  alerts?: AlertsRunner | false;
  /** where the start notice goes (stdout lines), default nowhere */
  print?: (line: string) => void;
  /** collect Node's default process metrics in /metrics, default true */
  defaultMetrics?: boolean;
  /** SQLite: run WAL checkpoints in a worker thread instead of inside request commits, default true */
  backgroundCheckpoints?: boolean;
  /** how long chat completions may reuse a read of their key, default KEY_CACHE_TTL_MS (see src/metering/key-cache.ts) */
  keyCacheTtlMs?: number;
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
  readonly bot: ShopBot | undefined;
  /** resolves when no chat completion is in flight (every hold settled) */
  idle(): Promise<void>;
  /** graceful shutdown; idempotent */
  stop(): Promise<void>;
  /** aborts the requests in flight now (a second Ctrl-C): they settle for what they delivered */
  abortInFlight(): void;
}

/**
 * Waits for `p` at most `ms`. The timer keeps the process alive (a shutdown waits its bounded time even
 * when nothing else is pending) and is cleared as soon as `p` settles.
 */
async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const settled = await Promise.race([p.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)))]);
  clearTimeout(timer);
  return settled;
}

/** Longest a single shutdown step (closing the bot, the upstream pool, the database, …) may take. */
const STEP_TIMEOUT_MS = 5_000;

/** Builds and starts the daemon. */
export async function startDaemon(options: StartDaemonOptions): Promise<Daemon> {
  const { config } = options;
  const startedAt = Date.now();
  const print = options.print ?? (() => {});
  const logger = options.logger ?? createLogger({ logDir: config.logDir, level: config.logLevel, secrets: configSecrets(config), process: 'daemon' });
  const ownsLogger = !options.logger;
  const handle = options.handle ?? (await openAndMigrate({ dbName: config.dbName, databaseUrl: config.databaseUrl, poolSize: 20 }));
  const ownsHandle = !options.handle;
  const cleanups: Array<{ name: string; fn: () => Promise<void> | void }> = [];
  const onStop = (name: string, fn: () => Promise<void> | void) => cleanups.push({ name, fn });
  if (ownsHandle) onStop('database', () => handle.close());

  const instance: InstanceInfo = newInstanceId();
  let stopping = false;
  let bot: ShopBot | undefined;
  let botState: CheckState = 'disabled';

  try {
    // Holds of instances that are gone (crash, kill -9) are released before this one serves.
    const recovered = await recoverOrphanedHolds(handle, { self: instance, staleAfterMs: options.staleAfterMs });
    if (recovered.reservations > 0 || recovered.goneInstances.length > 0) {
      logger.warn({ gone_instances: recovered.goneInstances, reservations: recovered.reservations, tokens: recovered.tokens }, 'released the holds of daemon instances that are gone');
    }
    await registerInstance(handle, instance);
    onStop('instance', async () => {
      const left = await releaseHolds(handle, [instance.instanceId]);
      if (left.reservations > 0) logger.warn({ reservations: left.reservations, tokens: left.tokens }, 'released holds left by failed settlements');
      await unregisterInstance(handle, instance.instanceId);
    });
    // One replica, the lease holder, does the work that must happen once: Telegram long polling, alert rules.
    const leadership = await startLeaderElection(handle, { name: 'daemon-leader', holder: instance.instanceId, ttlMs: options.leaderLeaseMs, logger });
    onStop('leader lease', () => leadership.stop());

    // statement journals of the group commit's savepoints stay in memory (no temp file per batch)
    handle.sqlite?.pragma('temp_store = MEMORY');
    if (handle.sqlite && handle.file && options.backgroundCheckpoints !== false) {
      const checkpointer = startCheckpointer(handle.sqlite, handle.file, { logger });
      onStop('WAL checkpointer', () => checkpointer.stop());
    }

    let redis: Redis | undefined;
    if (config.redis) {
      redis = new Redis({
        host: config.redis.host,
        port: config.redis.port,
        password: config.redis.password,
        maxRetriesPerRequest: 1,
        enableOfflineQueue: false,
        commandTimeout: 1_000, // a hung Redis counts as down: the limits fall back instead of stalling requests
        lazyConnect: false,
      });
      redis.on('error', (err: Error) => logger.warn({ err: { message: err.message } }, 'redis error (rate limits fall back to this process)'));
      const r = redis;
      // serve without Redis if it is slow to come up: the in-memory insurance limiter covers the gap
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, 3_000);
        timer.unref();
        function done() {
          clearTimeout(timer);
          r.off('ready', done);
          resolve();
        }
        if (r.status === 'ready') done();
        else r.once('ready', done);
      });
      if (r.status !== 'ready') logger.warn({ redis_status: r.status }, 'redis is not ready yet: rate limits are per process until it is');
      onStop('redis', async () => {
        try {
          await r.quit();
        } catch {
          r.disconnect();
        }
      });
    }

    const openrouter = openRouterClientFromConfig(config, { headersTimeoutMs: 5_000, bodyTimeoutMs: 10_000 });
    onStop('openrouter client', () => openrouter.close());
    const upstream = createChatUpstream({
      baseUrl: config.openrouterBaseUrl,
      backupBaseUrl: config.openrouterBackupBaseUrl,
      apiKey: config.openrouterApiKey,
      ...options.upstream,
    });
    onStop('upstream', () => upstream.close());

    const metrics = createProxyMetrics({ defaultMetrics: options.defaultMetrics });
    const store = createMeteringStore(handle);
    const limits = createProxyLimits({ rpm: config.rateLimitRpm, redis, replicas: () => countLiveInstances(handle, options.staleAfterMs), logger });
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
    });
    const server: Server = createHttpServer({
      proxy,
      health,
      metrics,
      logger,
      webhook: () => (config.webhookUrl ? bot : undefined),
      stopping: () => stopping,
      metricsToken: config.metricsToken,
      trustProxy: config.trustProxy,
    });

    // Heartbeat, and release of other instances' stale holds.
    const heartbeatMs = options.heartbeatMs ?? 15_000;
    const heartbeat = setInterval(() => {
      void (async () => {
        try {
          await heartbeatInstance(handle, instance);
          const r = await recoverOrphanedHolds(handle, { self: instance, staleAfterMs: options.staleAfterMs });
          if (r.reservations > 0) logger.warn({ gone_instances: r.goneInstances, reservations: r.reservations, tokens: r.tokens }, 'released the holds of daemon instances that are gone');
        } catch (err) {
          if (!stopping) logger.error({ err }, 'instance heartbeat failed');
        }
      })();
    }, heartbeatMs);
    heartbeat.unref();
    onStop('heartbeat', () => clearInterval(heartbeat));
    onStop('log retention', startLogRetention({ logDir: config.logDir, retentionDays: config.logRetentionDays, logger }).stop);

    // The bot (only with TOKEN): built now so the webhook route exists, started once we listen.
    let publicUrl: string | undefined;
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
    await repriceAtStart({ handle, logger, config, notifyAdmins: (text) => bot?.notifyAdmins(text) });

    // Alert rules every 5 minutes (src/alerts; `arb alerts` runs the same rules on demand). A rule that
    // starts firing is sent to the admins at once, then reminded hourly while it keeps firing.
    if (options.alerts !== false) {
      const runner = options.alerts || defaultAlertsRunner;
      const lastSent = new Map<string, number>();
      const run = async () => {
        if (!leadership.isLeader) return; // the leader replica runs the rules for the whole cluster
        try {
          const firing = await runner({ config, handle, logger, openrouter });
          const now = Date.now();
          for (const rule of [...lastSent.keys()]) if (!firing.some((f) => f.rule === rule)) lastSent.delete(rule);
          for (const alert of firing) {
            logger.warn({ alert: true, rule: alert.rule }, `alert: ${alert.message}`);
            const sent = lastSent.get(alert.rule);
            if (sent !== undefined && now - sent < 60 * 60_000) continue;
            lastSent.set(alert.rule, now);
            await bot?.notifyAdmins(`⚠️ ${alert.message}`);
          }
        } catch (err) {
          logger.error({ err }, 'alert rules failed');
        }
      };
      const timer = setInterval(() => void run(), options.alertsIntervalMs ?? 5 * 60_000);
      timer.unref();
      onStop('alerts', () => clearInterval(timer));
    }

    if (options.backups ?? ownsHandle) onStop('scheduled backups', startBackupSchedule({ config, handle, logger, isLeader: () => leadership.isLeader, notify: (text) => bot?.notifyAdmins(text) }).stop);

    // Listen.
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? config.port, options.host ?? config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const addr = server.address() as AddressInfo;
    const wildcard = addr.address === '0.0.0.0' || addr.address === '::';
    const hostPart = (a: string) => (a.includes(':') ? `[${a}]` : a);
    const url = `http://${wildcard ? '127.0.0.1' : hostPart(addr.address)}:${addr.port}`;
    const bound = `http://${hostPart(addr.address)}:${addr.port}`;
    const reach = wildcard ? 'every interface: reachable from other hosts' : /^(127\.|::1$)/.test(addr.address) ? 'this host only; HOST=0.0.0.0 opens it to others' : 'this address only';
    publicUrl = url;
    if (bot) {
      const b = bot;
      try {
        await b.start();
        botState = 'ok';
        onStop('bot', async () => {
          botState = 'disabled';
          await b.stop();
        });
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
    logger.info({ instance_id: instance.instanceId, host: addr.address, port: addr.port, mode: bot ? 'bot' : 'proxy-only', version: VERSION, dialect: handle.dialect }, `arb daemon listening on ${bound} (${reach}), ${mode}`);
    print(`arb daemon ${VERSION} listening on ${bound} (${reach}) — ${mode}`);
    print(`  OpenAI base URL: ${url}/v1   health: ${url}/health   metrics: ${url}/metrics${config.metricsToken ? ' (Bearer METRICS_TOKEN)' : ''}`);
    if (config.trustProxy) print('  behind a reverse proxy (TRUST_PROXY): client addresses come from X-Forwarded-For');

    const drainTimeoutMs = options.drainTimeoutMs ?? 10_000;
    let stopped: Promise<void> | undefined;
    const stop = () => {
      stopped ??= (async () => {
        stopping = true;
        logger.info({ in_flight: proxy.inFlight }, 'shutting down: no new requests; draining in-flight requests');
        // the bot stops taking updates now (its own drain runs alongside ours; stop() is idempotent)
        const botStopping = Promise.resolve(bot?.stop()).catch((err: unknown) => logger.error({ err }, 'bot stop failed'));
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        await within(proxy.idle(), drainTimeoutMs);
        if (proxy.inFlight > 0) {
          logger.warn({ in_flight: proxy.inFlight }, `requests still running after ${drainTimeoutMs} ms: aborting them (each is charged for what it delivered)`);
          proxy.abortAll();
          await within(proxy.idle(), 5_000);
        }
        server.closeAllConnections();
        await within(closed, 1_000);
        await botStopping;
        for (const c of cleanups.reverse()) {
          // every step is bounded: a stuck step is logged and the shutdown goes on
          const step = Promise.resolve()
            .then(c.fn)
            .catch((err: unknown) => logger.error({ err, step: c.name }, 'shutdown step failed'));
          if (!(await within(step, STEP_TIMEOUT_MS))) logger.error({ step: c.name }, `shutdown step did not finish within ${STEP_TIMEOUT_MS} ms; going on`);
        }
        logger.info('arb daemon stopped');
        if (ownsLogger) await closeLogger(logger);
      })();
      return stopped;
    };

    return {
      url,
      port: addr.port,
      instanceId: instance.instanceId,
      handle,
      logger,
      metrics,
      proxy,
      get bot() {
        return bot;
      },
      idle: () => proxy.idle(),
      stop,
      abortInFlight: () => proxy.abortAll(),
    };
  } catch (err) {
    for (const c of cleanups.reverse()) {
      try {
        await c.fn();
      } catch {
        /* best effort */
      }
    }
    if (ownsLogger) await closeLogger(logger);
    throw err;
  }
}

/**
 * Stops the daemon on SIGTERM/SIGINT; a second signal aborts the requests still draining. `onStopped`
 * runs once the shutdown is complete. Returns an uninstaller.
 */
export function installSignalHandlers(daemon: Pick<Daemon, 'stop' | 'abortInFlight'>, onStopped: () => void, print: (line: string) => void = () => {}): () => void {
  let count = 0;
  const handler = (signal: NodeJS.Signals) => {
    count++;
    if (count > 1) {
      print(`${signal} again: aborting the requests still running`);
      daemon.abortInFlight();
      return;
    }
    print(`${signal}: draining in-flight requests (up to 10 s), then stopping`);
    const done = () => {
      uninstall();
      onStopped();
    };
    daemon.stop().then(done, done);
  };
  const uninstall = () => {
    process.off('SIGTERM', handler);
    process.off('SIGINT', handler);
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  return uninstall;
}

/** The alert rules of src/alerts (also behind `arb alerts`): the rules that fire and are not skipped. */
const defaultAlertsRunner: AlertsRunner = async ({ config, handle, openrouter }) => {
  const { evaluateAlerts } = await import('../src/alerts/alerts.js');
  const results = await evaluateAlerts({
    handle,
    logDir: config.logDir,
    creditRemainingMicros: config.openrouterApiKey ? () => openrouter.creditRemainingMicros() : undefined,
  });
  return results.filter((r) => !r.ok && !r.skipped).map((r) => ({ rule: r.rule, message: r.message }));
};
