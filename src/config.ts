/**
 * Configuration (SPEC §2): one schema, a pure `createConfig(env)`, and `loadConfig()` that reads `.env`.
 * Percentages are kept as integer basis points so pricing stays integer arithmetic.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { parse as parseDotenvText } from 'dotenv';
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
  /** requests the proxy sends upstream at once; one more is refused with 503 (0 = no limit) */
  upstreamMaxConcurrency: number;
  /** µ$ credited per Telegram Star. */
  starsMicrosPerStar: number;
  backupDir: string;
  /** scheduled backups by the daemon every this many hours; 0 = off */
  backupIntervalHours: number;
  /** how many timestamped backups the schedule keeps */
  backupKeep: number;
  /** age recipients (public keys): set ⇒ every backup is written encrypted */
  backupEncryptionRecipients: readonly string[];
  /** file with the age identity `arb restore` decrypts with */
  backupEncryptionIdentity: string | undefined;
  /** interface the daemon binds (HOST) */
  host: string;
  /** set ⇒ /metrics requires `Authorization: Bearer <token>` */
  metricsToken: string | undefined;
  /** believe X-Forwarded-For (the daemon is behind a reverse proxy) */
  trustProxy: boolean;
  port: number;
  logDir: string;
  logLevel: LogLevelName;
  /** rotated log files older than this many days are deleted by the daemon once a day; 0 = never */
  logRetentionDays: number;
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
  ['UPSTREAM_MAX_CONCURRENCY', '0', 'requests sent upstream at once; one more is refused with 503 and retry-after (0 = no limit)'],
  ['STARS_USD_RATE', '0.013', 'USD credited per Telegram Star'],
  ['BACKUP_DIR', 'backup', 'where arb backup writes and arb restore looks'],
  ['BACKUP_INTERVAL_HOURS', '24', 'the daemon takes a verified backup this often, in hours (0 = off)'],
  ['BACKUP_KEEP', '14', 'timestamped backups the schedule keeps'],
  ['BACKUP_ENCRYPTION_RECIPIENT', '', 'age public key (age1…, several separated by commas): every backup is written encrypted'],
  ['BACKUP_ENCRYPTION_IDENTITY', '', 'file holding the age identity (AGE-SECRET-KEY-1…) arb restore decrypts with'],
  ['HOST', '127.0.0.1', 'interface the daemon binds (0.0.0.0 = every interface, as in the deploy files)'],
  ['METRICS_TOKEN', '', 'set = /metrics requires Authorization: Bearer <token>'],
  ['TRUST_PROXY', 'false', 'true = the daemon is behind a reverse proxy: the client address comes from X-Forwarded-For'],
  ['PORT', '8000', 'HTTP port of the daemon'],
  ['LOG_DIR', 'logs', 'log directory (arbitrage.log)'],
  ['LOG_LEVEL', 'info', 'debug, info, warn, error or critical'],
  ['LOG_RETENTION_DAYS', '30', 'the daemon deletes rotated logs older than this many days, once a day (0 = keep them)'],
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
      return scaled(def(name), 2) ?? 0;
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
    for (const part of adminRaw
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)) {
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

  const telegramApiRoot = url('TELEGRAM_API_ROOT', true) ?? def('TELEGRAM_API_ROOT');
  const webhookUrl = url('WEBHOOK_URL', false);
  if (webhookUrl !== undefined && webhookUrl.startsWith('http:') && new URL(telegramApiRoot).hostname === 'api.telegram.org') {
    problems.push(
      `WEBHOOK_URL="${webhookUrl}": Telegram delivers webhooks only to https:// URLs; use https://your.domain (TLS at nginx, daemon/deploy/nginx-lb.conf), unset it for long polling, or point TELEGRAM_API_ROOT at a self-hosted Bot API server`,
    );
  }
  const webhookSecretToken = get('WEBHOOK_SECRET_TOKEN');
  if (webhookUrl !== undefined && webhookSecretToken === undefined) {
    problems.push('WEBHOOK_SECRET_TOKEN: required when WEBHOOK_URL is set; set 1-256 characters of A-Z a-z 0-9 _ -');
  }
  if (webhookSecretToken !== undefined && !/^[A-Za-z0-9_-]{1,256}$/.test(webhookSecretToken)) {
    problems.push("WEBHOOK_SECRET_TOKEN: expected 1-256 characters of A-Z a-z 0-9 _ - (Telegram's rule)");
  }

  const databaseUrl = get('DATABASE_URL');
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    problems.push(`DATABASE_URL: expected postgres://user@host:5432/dbname (leave it unset for SQLite)`);
  }

  const redisHost = get('REDIS_HOST');
  const redisPort = int('REDIS_PORT', 1, 65535, 'a port number 1-65535');
  const port = int('PORT', 0, 65535, 'a port number 0-65535');

  const hoursRaw = text('BACKUP_INTERVAL_HOURS');
  let backupIntervalHours = Number(hoursRaw);
  if (!/^\d+(\.\d{1,4})?$/.test(hoursRaw) || backupIntervalHours > 8760) {
    problems.push(`BACKUP_INTERVAL_HOURS="${hoursRaw}": expected hours between 0 (off) and 8760, like 24 or 0.5`);
    backupIntervalHours = 24;
  }
  const recipientsRaw = get('BACKUP_ENCRYPTION_RECIPIENT');
  const backupEncryptionRecipients = recipientsRaw === undefined ? [] : recipientsRaw.split(/[\s,]+/).filter(Boolean);
  for (const r of backupEncryptionRecipients) {
    if (!/^age1[02-9ac-hj-np-z]{20,}$/.test(r)) {
      problems.push(`BACKUP_ENCRYPTION_RECIPIENT: "${r.length > 24 ? `${r.slice(0, 20)}…` : r}" is not an age public key; expected age1… as printed by age-keygen (several separated by commas)`);
    }
  }
  const host = text('HOST');
  if (isIP(host.replace(/^\[(.*)\]$/, '$1')) === 0 && !/^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/.test(host)) {
    problems.push(`HOST="${host}": expected an address to bind like 127.0.0.1 (this host only) or 0.0.0.0 (every interface)`);
  }
  const metricsToken = get('METRICS_TOKEN');
  if (metricsToken !== undefined && !/^[\x21-\x7e]{16,512}$/.test(metricsToken)) {
    problems.push('METRICS_TOKEN: expected at least 16 printable characters without spaces, e.g. the output of: openssl rand -hex 24');
  }
  const trustRaw = text('TRUST_PROXY').toLowerCase();
  const trustProxy = ['true', '1', 'yes', 'on'].includes(trustRaw);
  if (!trustProxy && !['false', '0', 'no', 'off'].includes(trustRaw)) problems.push(`TRUST_PROXY="${text('TRUST_PROXY')}": expected true (behind nginx or another reverse proxy) or false`);

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
    telegramApiRoot,
    dbName: text('DB_NAME'),
    databaseUrl,
    redis: redisHost ? { host: redisHost, port: redisPort, password: get('REDIS_PASSWORD') } : undefined,
    markupBp: percentBp('TOKEN_MARKUP_PERCENTAGE', 1000),
    minProfitMarginBp,
    bulkDiscountThreshold: int('BULK_DISCOUNT_THRESHOLD', 1, 1e12, 'a whole number of tokens like 1000000'),
    bulkDiscountBp: percentBp('BULK_DISCOUNT_PERCENTAGE', 100),
    packageValidityDays: int('PACKAGE_VALIDITY_DAYS', 1, 3650, 'a whole number of days 1-3650, like 30'),
    rateLimitRpm: int('RATE_LIMIT_RPM', 1, 1_000_000, 'requests per minute as a whole number like 60'),
    upstreamMaxConcurrency: int('UPSTREAM_MAX_CONCURRENCY', 0, 10_000_000, 'a whole number of requests like 2000 (0 = no limit)'),
    starsMicrosPerStar,
    backupDir: text('BACKUP_DIR'),
    backupIntervalHours,
    backupKeep: int('BACKUP_KEEP', 1, 100_000, 'a whole number of backups to keep, like 14'),
    backupEncryptionRecipients,
    backupEncryptionIdentity: get('BACKUP_ENCRYPTION_IDENTITY'),
    host,
    metricsToken,
    trustProxy,
    port,
    logDir: text('LOG_DIR'),
    logLevel,
    logRetentionDays: int('LOG_RETENTION_DAYS', 0, 36_500, 'a whole number of days like 30 (0 = keep rotated logs)'),
    termsText: get('TERMS_TEXT'),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/**
 * `.env` text → variables, by dotenv's parser (SPEC §2): quotes, `# comments` after a value, `export`,
 * empty values and multi-line quoted values behave as in the dotenv ecosystem (the manual's
 * `TOKEN_MARKUP_PERCENTAGE="30"  # Increase to 30%` is `30`). An unquoted value ends at `#`: quote
 * values that contain one.
 */
export function parseDotenv(text: string): Env {
  return parseDotenvText(text);
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
  return [config.token, config.openrouterApiKey, config.webhookSecretToken, config.redis?.password, config.metricsToken].filter((s): s is string => typeof s === 'string' && s.length >= 6);
}
