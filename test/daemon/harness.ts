/**
 * Test wiring for the daemon: an OpenRouter simulator (and optionally a backup one), a fresh database
 * with the fixture catalog, a package and real keys bought through the ledger, and a daemon on
 * 127.0.0.1:0 — everything over real loopback sockets, cleaned up in t.after.
 */
import { Writable } from 'node:stream';
import OpenAI from 'openai';
import { createConfig, type Config } from '../../src/config.js';
import { createLogger, type Logger } from '../../src/logger.js';
import type { DbHandle } from '../../src/db/dialect.js';
import type { Package } from '../../src/packages/packages.js';
import { startSimulator, type Simulator, type SimulatorOptions } from '../../src/catalog/simulator.js';
import { creditUser, purchasePackage } from '../../src/ledger/ledger.js';
import { startDaemon, type Daemon, type StartDaemonOptions } from '../../daemon/main.js';
import { tempDb, tempDir, type TestDialect } from '../support/db.js';
import { seedPackage } from '../support/seed.js';

type After = { after: (fn: () => Promise<void> | void) => void };

/** A logger writing JSON lines into memory. */
export function captureLogger(): { logger: Logger; lines: () => Record<string, unknown>[]; text: () => string } {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  });
  const logger = createLogger({ destination, level: 'debug', process: 'test' });
  const text = () => chunks.join('');
  return {
    logger,
    text,
    lines: () =>
      text()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

export interface StackOptions {
  dialect?: TestDialect;
  sim?: SimulatorOptions;
  /** start a second simulator as OPENROUTER_BACKUP_BASE_URL */
  backup?: boolean | SimulatorOptions;
  /** a primary base URL override (e.g. a dead port) */
  primaryBaseUrl?: string;
  /** puts something between the daemon and the simulator (a recorder, an upstream that misbehaves): its base URL */
  wrapUpstream?: (simBaseUrl: string) => Promise<string>;
  env?: Record<string, string>;
  /** package size in tokens, default 100,000 (openai/gpt-4: completion weight 2) */
  tokens?: number;
  model?: string;
  daemon?: Partial<StartDaemonOptions>;
}

export interface Stack {
  sim: Simulator;
  backup: Simulator | undefined;
  handle: DbHandle;
  config: Config;
  daemon: Daemon;
  pkg: Package;
  logs: ReturnType<typeof captureLogger>;
  /** the daemon's OpenAI base URL (…/v1) */
  baseURL: string;
  /** buys the package (or another one) for a (new) customer through the ledger; returns the key and its allocation id */
  buyKey(opts?: { telegramId?: number; free?: boolean; pkg?: Package }): Promise<{ key: string; allocationId: number }>;
  /** creates another package (any catalog model) */
  addPackage(model: string, tokens: number): Promise<Package>;
  client(key: string, opts?: { maxRetries?: number }): OpenAI;
}

let nextTelegramId = 1000;

export async function startStack(t: After, opts: StackOptions = {}): Promise<Stack> {
  // after-hooks run in registration order: the daemon stops before its database is closed and removed
  let daemonRef: Daemon | undefined;
  t.after(() => daemonRef?.stop());
  const sim = await startSimulator({ chunkDelayMs: 1, ...opts.sim });
  t.after(() => sim.close());
  let backup: Simulator | undefined;
  if (opts.backup) {
    backup = await startSimulator({ chunkDelayMs: 1, ...(typeof opts.backup === 'object' ? opts.backup : {}) });
    t.after(() => backup!.close());
  }
  const handle = await tempDb(t as never, opts.dialect);
  const dir = tempDir(t as never);
  const config = createConfig({
    OPENROUTER_BASE_URL: opts.primaryBaseUrl ?? (opts.wrapUpstream ? await opts.wrapUpstream(sim.baseUrl) : sim.baseUrl),
    ...(backup ? { OPENROUTER_BACKUP_BASE_URL: backup.baseUrl } : {}),
    OPENROUTER_API_KEY: 'sk-or-v1-test-upstream-key-000000000000',
    RATE_LIMIT_RPM: '100000',
    LOG_DIR: dir,
    PORT: '0',
    ...opts.env,
  });
  const pkg = await seedPackage(handle, { config, model: opts.model ?? 'gpt-4', tokens: opts.tokens ?? 100_000 });
  const logs = captureLogger();
  const daemon = await startDaemon({ config, handle, logger: logs.logger, host: '127.0.0.1', port: 0, bot: false, alerts: false, defaultMetrics: false, ...opts.daemon });
  daemonRef = daemon;
  const baseURL = `${daemon.url}/v1`;
  return {
    sim,
    backup,
    handle,
    config,
    daemon,
    pkg,
    logs,
    baseURL,
    async buyKey(o = {}) {
      const telegramId = o.telegramId ?? nextTelegramId++;
      const bought = o.pkg ?? pkg;
      if (!o.free) await creditUser({ handle }, { telegramId, amountMicros: bought.priceMicros, type: 'topup', reference: `test-topup-${telegramId}-${bought.id}` });
      const r = await purchasePackage({ handle, config }, { telegramId, packageId: bought.id, free: o.free });
      return { key: r.apiKey!, allocationId: r.allocation.id };
    },
    addPackage: (model, tokens) => seedPackage(handle, { config, model, tokens }),
    client(key, o = {}) {
      return new OpenAI({ apiKey: key, baseURL, maxRetries: o.maxRetries ?? 0, timeout: 20_000 });
    },
  };
}

/** Reads an allocation's counters. */
export async function allocation(handle: DbHandle, id: number) {
  return handle.db.selectFrom('ai_token_allocations').select(['tokens_total', 'tokens_used', 'tokens_reserved', 'status']).where('id', '=', id).executeTakeFirstOrThrow();
}

export async function usageEvents(handle: DbHandle, allocationId: number) {
  return handle.db.selectFrom('usage_events').selectAll().where('allocation_id', '=', allocationId).orderBy('id').execute();
}

export async function openReservations(handle: DbHandle): Promise<number> {
  const r = await handle.db
    .selectFrom('reservations')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

export const HELLO = [{ role: 'user' as const, content: 'Say hello in five words.' }];
