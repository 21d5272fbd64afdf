/**
 * Configuration (SPEC §2): one schema, a pure `createConfig(env)`, and `loadConfig()` that reads `.env`.
 * Percentages are kept as integer basis points so pricing stays integer arithmetic.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError } from './errors.js';

export interface Config {
  token: string | undefined;
  adminIds: readonly number[];
  openrouterApiKey: string | undefined;
  openrouterBaseUrl: string;
  openrouterBackupBaseUrl: string | undefined;
  webhookSecretToken: string | undefined;
  webhookUrl: string | undefined;
  /** base URL customers use for the proxy (shown with their key); PUBLIC_BASE_URL, else WEBHOOK_URL */
  publicBaseUrl: string | undefined;
  telegramApiRoot: string;
  dbName: string;
  databaseUrl: string | undefined;
  redis: { host: string; port: number; password: string | undefined } | undefined;
  markupBp: number;
  minProfitMarginBp: number;
  bulkDiscountThreshold: number;
  bulkDiscountBp: number;
  packageValidityDays: number;
  rateLimitRpm: number;
  /** µ$ credited per Telegram Star. */
  starsMicrosPerStar: number;
  backupDir: string;
  port: number;
  logDir: string;
  logLevel: LogLevelName;
  /** TERMS_TEXT: the shop's terms for /terms, as text or `@path` of a file (read when shown) */
  termsText: string | undefined;
}

export type LogLevelName = 'debug' | 'info' | 'warn' | 'error' | 'critical';
const LOG_LEVELS: readonly LogLevelName[] = ['debug', 'info', 'warn', 'error', 'critical'];

/** Every variable arb reads, with its default and a one-line meaning (also used by `.env.example` and `arb config check`). */
export const CONFIG_VARIABLES = [
  ['TOKEN', '', 'Telegram bot token; without it the daemon runs proxy-only'],
  ['ADMIN_ID_LIST', '', 'comma-separated Telegram user ids with admin rights'],
  ['OPENROUTER_API_KEY', '', 'upstream OpenRouter key; never logged, never shown'],
  ['OPENROUTER_BASE_URL', 'https://openrouter.ai/api/v1', 'upstream base URL'],
  ['OPENROUTER_BACKUP_BASE_URL', '', 'optional failover upstream base URL'],
  ['WEBHOOK_SECRET_TOKEN', '', 'required when WEBHOOK_URL is set; checked on every webhook call'],
  ['WEBHOOK_URL', '', 'public base URL; set = webhook mode (/telegram/webhook), unset = long polling'],
  ['PUBLIC_BASE_URL', '', 'base URL customers point their OpenAI client at (shown with each key); default WEBHOOK_URL, else http://127.0.0.1:PORT'],
  ['TELEGRAM_API_ROOT', 'https://api.telegram.org', 'Bot API server'],
  ['DB_NAME', 'arbitrage.db', 'SQLite file'],
  ['DATABASE_URL', '', 'postgres://… to use PostgreSQL instead of SQLite'],
  ['REDIS_HOST', '', 'set = rate limits and caches shared through Redis'],
  ['REDIS_PORT', '6379', 'Redis port'],
  ['REDIS_PASSWORD', '', 'Redis password'],
  ['TOKEN_MARKUP_PERCENTAGE', '25', 'markup on cost basis, percent'],
  ['MIN_PROFIT_MARGIN', '0.10', 'floor on (price - cost)/cost after discounts, as a fraction'],
  ['BULK_DISCOUNT_THRESHOLD', '1000000', 'packages with at least this many tokens get the bulk discount'],
  ['BULK_DISCOUNT_PERCENTAGE', '5', 'bulk discount, percent'],
  ['PACKAGE_VALIDITY_DAYS', '30', 'key lifetime from purchase, days'],
  ['RATE_LIMIT_RPM', '60', 'proxy requests per minute per key'],
  ['STARS_USD_RATE', '0.013', 'USD credited per Telegram Star'],
  ['BACKUP_DIR', 'backup', 'where arb backup writes and arb restore looks'],
  ['PORT', '8000', 'HTTP port of the daemon'],
  ['LOG_DIR', 'logs', 'log directory (arbitrage.log)'],
  ['LOG_LEVEL', 'info', 'debug, info, warn, error or critical'],
  ['TERMS_TEXT', '', "the shop's terms shown by /terms: text, or @file"],
] as const;

export type Env = Record<string, string | undefined>;

/** Parses a decimal string into an integer scaled by 10^scale; null when not a plain decimal or too precise. */
function scaled(text: string, scale: number): number | null {
  const m = /^(\d+)(?:\.(\d+))?$/.exec(text);
  if (!m) return null;
  const frac = m[2] ?? '';
  if (frac.length > scale && /[1-9]/.test(frac.slice(scale))) return null;
  return Number(m[1]) * 10 ** scale + Number(frac.slice(0, scale).padEnd(scale, '0') || '0');
}

/** Pure: builds a validated Config from an environment map, or throws ConfigError listing every problem. */
export function createConfig(env: Env): Config {
  const problems: string[] = [];
  const get = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };
  const def = (name: string): string => CONFIG_VARIABLES.find(([n]) => n === name)?.[1] ?? '';
  const text = (name: string): string => get(name) ?? def(name);

  const int = (name: string, min: number, max: number, form: string): number => {
    const raw = text(name);
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      problems.push(`${name}="${raw}": expected ${form}`);
      return Number(def(name)) || min;
    }
    return Number(raw);
  };
  const percentBp = (name: string, max: number): number => {
    const raw = text(name);
    const v = scaled(raw, 2);
    if (v === null || v > max * 100) {
      problems.push(`${name}="${raw}": expected a percentage between 0 and ${max}, like ${def(name)}`);
      return (scaled(def(name), 2) ?? 0);
    }
    return v;
  };
  const url = (name: string, required: boolean): string | undefined => {
    const raw = required ? text(name) : get(name);
    if (raw === undefined) return undefined;
    try {
      const u = new URL(raw);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('protocol');
      return raw.replace(/\/+$/, '');
    } catch {
      problems.push(`${name}="${raw}": expected an http(s) URL like ${def(name) || 'https://example.com'}`);
      return undefined;
    }
  };

  const token = get('TOKEN');
  if (token !== undefined && !/^\d+:[A-Za-z0-9_-]{20,}$/.test(token)) {
    problems.push('TOKEN: expected a Telegram bot token like 123456:ABC-DEF… (from @BotFather)');
  }

  const adminRaw = get('ADMIN_ID_LIST');
  const adminIds: number[] = [];
  if (adminRaw !== undefined) {
    for (const part of adminRaw.split(',').map((s) => s.trim()).filter(Boolean)) {
      if (!/^\d{1,15}$/.test(part)) problems.push(`ADMIN_ID_LIST: "${part}" is not a Telegram user id; expected numbers separated by commas, like 12345,67890`);
      else adminIds.push(Number(part));
    }
  }

  const minMarginRaw = text('MIN_PROFIT_MARGIN');
  let minProfitMarginBp = scaled(minMarginRaw, 4);
  if (minProfitMarginBp === null || minProfitMarginBp > 100_000) {
    problems.push(`MIN_PROFIT_MARGIN="${minMarginRaw}": expected a fraction like 0.10 (= 10 %), between 0 and 10`);
    minProfitMarginBp = 1000;
  }

  const starsRaw = text('STARS_USD_RATE');
  let starsMicrosPerStar = scaled(starsRaw, 6);
  if (starsMicrosPerStar === null || starsMicrosPerStar <= 0 || starsMicrosPerStar > 1_000_000) {
    problems.push(`STARS_USD_RATE="${starsRaw}": expected USD per Star like 0.013 (more than 0, at most 1, 6 decimals at most)`);
    starsMicrosPerStar = 13_000;
  }

  const webhookUrl = url('WEBHOOK_URL', false);
  const webhookSecretToken = get('WEBHOOK_SECRET_TOKEN');
  if (webhookUrl !== undefined && webhookSecretToken === undefined) {
    problems.push('WEBHOOK_SECRET_TOKEN: required when WEBHOOK_URL is set; set 1-256 characters of A-Z a-z 0-9 _ -');
  }
  if (webhookSecretToken !== undefined && !/^[A-Za-z0-9_-]{1,256}$/.test(webhookSecretToken)) {
    problems.push('WEBHOOK_SECRET_TOKEN: expected 1-256 characters of A-Z a-z 0-9 _ - (Telegram\'s rule)');
  }

  const databaseUrl = get('DATABASE_URL');
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    problems.push(`DATABASE_URL: expected postgres://user@host:5432/dbname (leave it unset for SQLite)`);
  }

  const redisHost = get('REDIS_HOST');
  const redisPort = int('REDIS_PORT', 1, 65535, 'a port number 1-65535');
  const port = int('PORT', 0, 65535, 'a port number 0-65535');

  const logLevelRaw = text('LOG_LEVEL').toLowerCase();
  let logLevel: LogLevelName = 'info';
  if ((LOG_LEVELS as readonly string[]).includes(logLevelRaw)) logLevel = logLevelRaw as LogLevelName;
  else problems.push(`LOG_LEVEL="${text('LOG_LEVEL')}": expected one of ${LOG_LEVELS.join(', ')}`);

  const config: Config = {
    token,
    adminIds,
    openrouterApiKey: get('OPENROUTER_API_KEY'),
    openrouterBaseUrl: url('OPENROUTER_BASE_URL', true) ?? def('OPENROUTER_BASE_URL'),
    openrouterBackupBaseUrl: url('OPENROUTER_BACKUP_BASE_URL', false),
    webhookSecretToken,
    webhookUrl,
    publicBaseUrl: url('PUBLIC_BASE_URL', false) ?? webhookUrl,
    telegramApiRoot: url('TELEGRAM_API_ROOT', true) ?? def('TELEGRAM_API_ROOT'),
    dbName: text('DB_NAME'),
    databaseUrl,
    redis: redisHost ? { host: redisHost, port: redisPort, password: get('REDIS_PASSWORD') } : undefined,
    markupBp: percentBp('TOKEN_MARKUP_PERCENTAGE', 1000),
    minProfitMarginBp,
    bulkDiscountThreshold: int('BULK_DISCOUNT_THRESHOLD', 1, 1e12, 'a whole number of tokens like 1000000'),
    bulkDiscountBp: percentBp('BULK_DISCOUNT_PERCENTAGE', 100),
    packageValidityDays: int('PACKAGE_VALIDITY_DAYS', 1, 3650, 'a whole number of days 1-3650, like 30'),
    rateLimitRpm: int('RATE_LIMIT_RPM', 1, 1_000_000, 'requests per minute as a whole number like 60'),
    starsMicrosPerStar,
    backupDir: text('BACKUP_DIR'),
    port,
    logDir: text('LOG_DIR'),
    logLevel,
    termsText: get('TERMS_TEXT'),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** Minimal .env parser: KEY=VALUE lines, # comments, optional single/double quotes. */
export function parseDotenv(text: string): Env {
  const out: Env = {};
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (!m) continue;
    let value = m[2];
    if ((value.startsWith('"') && value.endsWith('"')) || (value.startsWith("'") && value.endsWith("'"))) {
      value = value.slice(1, -1);
    } else {
      value = value.replace(/\s+#.*$/, '');
    }
    out[m[1]] = value;
  }
  return out;
}

/** Reads `.env` (from cwd, or ARB_ENV_FILE) under the process environment, which wins. */
export function readEnv(processEnv: Env = process.env): Env {
  const file = resolve(processEnv.ARB_ENV_FILE ?? '.env');
  const fromFile = existsSync(file) ? parseDotenv(readFileSync(file, 'utf8')) : {};
  return { ...fromFile, ...processEnv };
}

export function loadConfig(processEnv: Env = process.env): Config {
  return createConfig(readEnv(processEnv));
}

/** Values that must never reach a log line, an error body or a screen. */
export function configSecrets(config: Config): string[] {
  return [config.token, config.openrouterApiKey, config.webhookSecretToken, config.redis?.password].filter(
    (s): s is string => typeof s === 'string' && s.length >= 6,
  );
}
