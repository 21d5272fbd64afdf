/**
 * The log (SPEC §8): `LOG_DIR/arbitrage.log`, one compact JSON object per line, starting
 * `{"timestamp":"2024-01-15T10:30:00.000Z","level":"INFO",…}`, then the child bindings, the fields and
 * `"message"`. Levels DEBUG INFO WARN ERROR CRITICAL; category flags (`"transaction":true`, …); secrets
 * redacted everywhere — messages, nested objects, child bindings and error stacks. The file rotates at
 * 50 MB (src/logs/rotating-file.ts, names in src/logs/files.ts); the daemon logs through a buffered
 * destination, the CLI writes each line at once. Logging never throws into the caller.
 *
 * A small JSON-lines writer owned outright (no pino): the format is the contract the manual's grep/jq
 * recipes read, and one serializer written for it keeps the proxy's per-request `api_call` line cheap
 * (bench/log-line.bench.ts).
 */
import { performance } from 'node:perf_hooks';
import { format } from 'node:util';
import type { LogLevelName } from './config.js';
import { DEFAULT_ROTATE_BYTES, RotatingLogFile } from './logs/rotating-file.js';

export { listLogFiles, pruneLogFiles, LIVE_LOG_NAME, type LogFileInfo, type PruneResult } from './logs/files.js';
export { DEFAULT_ROTATE_BYTES };

/** `(fields, message)`, `(message)`, or `(error[, message])`; extra arguments fill `%s`/`%d`/`%o` in the message. */
export interface LogMethod {
  (message: string, ...args: unknown[]): void;
  (fields: unknown, message?: string, ...args: unknown[]): void;
}

export interface Logger {
  readonly level: LogLevelName | 'silent';
  isLevelEnabled(level: LogLevelName): boolean;
  debug: LogMethod;
  info: LogMethod;
  warn: LogMethod;
  error: LogMethod;
  critical: LogMethod;
  /** A logger whose lines carry `bindings` after the level (redacted once, here). */
  child(bindings: Record<string, unknown>): Logger;
  /** Writes what the destination buffers, then calls `cb`. */
  flush(cb?: (err?: Error | null) => void): void;
}

/** Where lines go: the log file, or any stream (tests). */
export interface LogDestination {
  write(line: string): unknown;
  flushSync?(): void;
  flush?(cb: (err?: Error | null) => void): void;
}

export interface LoggerOptions {
  logDir?: string;
  level?: LogLevelName | 'silent';
  /** exact strings to scrub (bot token, OpenRouter key, …); strings shorter than 6 characters are ignored */
  secrets?: readonly (string | undefined)[];
  /** 'daemon' buffers writes (flushed every 100 ms, by `closeLogger` and at exit); others write each line at once */
  process?: 'daemon' | 'cli' | 'test';
  /** write here instead of the log file (tests) */
  destination?: LogDestination | NodeJS.WritableStream;
  /** rotate arbitrage.log when it would pass this size (default 50 MB; small values in tests) */
  rotateBytes?: number;
  /** override the buffering choice made from `process` */
  buffered?: boolean;
}

const REDACTED = '[REDACTED]';

const LEVELS: Record<LogLevelName | 'silent', number> = { debug: 20, info: 30, warn: 40, error: 50, critical: 60, silent: Infinity };
const LABELS: Record<LogLevelName, string> = { debug: 'DEBUG', info: 'INFO', warn: 'WARN', error: 'ERROR', critical: 'CRITICAL' };

// Customer keys, OpenRouter keys, Telegram bot tokens, bearer credentials and `authorization: …` values.
const SECRET_PATTERN =
  /sk-arb-[A-Za-z0-9_-]{8,}|sk-or-[A-Za-z0-9_-]{8,}|\b\d{5,}:[A-Za-z0-9_-]{30,}|\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{6,}|(authorization["']?\s*[:=]\s*["']?)(?!\[REDACTED\]|(?:Bearer|Basic|Token)\b)[^\s"',}]+/gi;

/** Every match of SECRET_PATTERN contains one of these (a cheap test that skips the replace for most strings). */
const SECRET_HINT = /sk-|\d{5}:|bearer|basic|token|authorization/i;

/** Scrubs the configured secrets and every known key/token shape from a string. */
export function redactText(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const s of secrets) if (s && out.includes(s)) out = out.split(s).join(REDACTED);
  if (!SECRET_HINT.test(out)) return out;
  return out.replace(SECRET_PATTERN, (_m, scheme: string | undefined, header: string | undefined) => (scheme ? `${scheme} ${REDACTED}` : header ? `${header}${REDACTED}` : REDACTED));
}

// Field names whose values are never logged (compared lower-case with '-' as '_').
const SECRET_FIELD = /^(authorization|proxy_authorization|cookie|set_cookie|password|passwd|secret|token|api_?key|key_hash|api_key_hash|.*_(token|secret|password|api_key|key_hash))$/;

/** Per field name: its `,"name":` prefix and whether its values are secret (a few dozen distinct names). */
interface FieldKey {
  prefix: string;
  secret: boolean;
}
const fieldKeys = new Map<string, FieldKey>();

function fieldKey(name: string): FieldKey {
  let key = fieldKeys.get(name);
  if (key === undefined) {
    key = { prefix: `,${JSON.stringify(name)}:`, secret: SECRET_FIELD.test(name.toLowerCase().replace(/-/g, '_')) };
    if (fieldKeys.size < 10_000) fieldKeys.set(name, key);
  }
  return key;
}

/** A masked display key (`sk-arb-AbCd…wxyz`) is safe to log under an `api_key` field. */
function isMaskedKey(v: unknown): boolean {
  return typeof v === 'string' && /^sk-[a-z]+-[A-Za-z0-9]{0,8}…[A-Za-z0-9]{0,8}$/.test(v);
}

function redactError(e: Error, secrets: readonly string[], depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = { type: e.name, message: redactText(String(e.message), secrets) };
  for (const k of ['code', 'status', 'field'] as const) {
    const v = (e as unknown as Record<string, unknown>)[k];
    if (v !== undefined && (typeof v === 'string' || typeof v === 'number')) out[k] = typeof v === 'string' ? redactText(v, secrets) : v;
  }
  if (e.stack) out.stack = redactText(e.stack, secrets);
  if (e.cause !== undefined && depth < 4) out.cause = redactValue(e.cause, secrets, depth + 1);
  return out;
}

/** Deep copy of `value` with secrets scrubbed from every string and secret-named fields replaced. */
export function redactValue(value: unknown, secrets: readonly string[] = [], depth = 0): unknown {
  if (typeof value === 'string') return redactText(value, secrets);
  if (value === null || typeof value !== 'object') return value;
  if (depth > 8) return '[too deep]';
  if (value instanceof Error) return redactError(value, secrets, depth);
  if (Array.isArray(value)) return value.map((v) => redactValue(v, secrets, depth + 1));
  if (value instanceof Date) return value;
  if (Buffer.isBuffer(value)) return `[${value.length} bytes]`;
  const out: Record<string, unknown> = {};
  const obj = value as Record<string, unknown>;
  for (const k in obj) {
    if (!Object.hasOwn(obj, k)) continue;
    const v = obj[k];
    if (v !== null && v !== undefined && fieldKey(k).secret && !isMaskedKey(v)) out[k] = REDACTED;
    else out[k] = typeof v === 'number' || typeof v === 'boolean' ? v : redactValue(v, secrets, depth + 1);
  }
  return out;
}

/** `,"name":value` for each field (undefined, functions and symbols left out, as JSON.stringify does). */
function renderFields(fields: Record<string, unknown>, secrets: readonly string[]): string {
  let out = '';
  for (const k in fields) {
    if (!Object.hasOwn(fields, k)) continue;
    const v = fields[k];
    let text: string;
    switch (typeof v) {
      case 'undefined':
      case 'function':
      case 'symbol':
        continue;
      case 'number':
        text = Number.isFinite(v) ? String(v) : 'null';
        break;
      case 'boolean':
        text = v ? 'true' : 'false';
        break;
      case 'bigint':
        text = String(v);
        break;
      case 'string':
        text = JSON.stringify(redactText(v, secrets));
        break;
      default:
        text = v === null ? 'null' : (JSON.stringify(redactValue(v, secrets)) ?? 'null');
    }
    const key = fieldKey(k);
    if (key.secret && v !== null && !isMaskedKey(v)) text = `"${REDACTED}"`;
    out += key.prefix + text;
  }
  return out;
}

/** What every logger of one `createLogger` shares: the destination, the level, the secrets. */
interface LogCore {
  readonly destination: LogDestination;
  readonly threshold: number;
  readonly level: LogLevelName | 'silent';
  readonly secrets: readonly string[];
}

let lastMs = -1;
let lastIso = '';

/** ISO time of now; one toISOString per millisecond however many lines fall in it. */
function isoNow(): string {
  const ms = Date.now();
  if (ms !== lastMs) {
    lastMs = ms;
    lastIso = new Date(ms).toISOString();
  }
  return lastIso;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

class JsonLogger implements Logger {
  readonly debug: LogMethod;
  readonly info: LogMethod;
  readonly warn: LogMethod;
  readonly error: LogMethod;
  readonly critical: LogMethod;

  constructor(
    private readonly core: LogCore,
    /** the rendered `,"name":value` of the child bindings */
    private readonly bindings: string,
  ) {
    this.debug = this.method('debug');
    this.info = this.method('info');
    this.warn = this.method('warn');
    this.error = this.method('error');
    this.critical = this.method('critical');
  }

  get level(): LogLevelName | 'silent' {
    return this.core.level;
  }

  isLevelEnabled(level: LogLevelName): boolean {
    return LEVELS[level] >= this.core.threshold;
  }

  child(bindings: Record<string, unknown>): Logger {
    let rendered: string;
    try {
      rendered = renderFields(bindings, this.core.secrets);
    } catch {
      rendered = ',"log_error":true';
    }
    return new JsonLogger(this.core, this.bindings + rendered);
  }

  flush(cb?: (err?: Error | null) => void): void {
    const d = this.core.destination;
    try {
      if (d.flush) {
        d.flush(cb ?? (() => {}));
        return;
      }
      d.flushSync?.();
    } catch {
      // flushing a log must not fail the caller
    }
    cb?.(null);
  }

  /** Closes the destination the loggers of this core share (see closeLogger). */
  async close(): Promise<void> {
    const d = this.core.destination;
    try {
      if (d instanceof RotatingLogFile) d.end();
      else if (d.flush) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 1000);
          timer.unref();
          d.flush!(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    } catch {
      // closing a log must not fail a shutdown
    }
  }

  private method(level: LogLevelName): LogMethod {
    const value = LEVELS[level];
    const label = LABELS[level];
    return (first: unknown, message?: unknown, ...args: unknown[]) => {
      if (value < this.core.threshold) return;
      this.write(value, label, first, message, args);
    };
  }

  private write(value: number, label: string, first: unknown, message: unknown, args: unknown[]): void {
    const { secrets, destination } = this.core;
    let line: string;
    try {
      let fields = '';
      let text: unknown = message;
      if (typeof first === 'string') {
        text = message === undefined ? first : format(first, message, ...args);
      } else {
        if (first instanceof Error) {
          fields = `,"err":${JSON.stringify(redactError(first, secrets, 0))}`;
          if (text === undefined) text = first.message;
        } else if (isPlainObject(first)) {
          fields = renderFields(first, secrets);
        } else if (first !== undefined && first !== null) {
          fields = `,"value":${JSON.stringify(redactValue(first, secrets)) ?? 'null'}`;
        }
        if (typeof text === 'string' && args.length > 0) text = format(text, ...args);
      }
      line = `{"timestamp":"${isoNow()}","level":"${label}"${this.bindings}${fields}${text === undefined ? '' : `,"message":${JSON.stringify(redactText(String(text), secrets))}`}}\n`;
    } catch {
      // a throwing getter or toJSON: the line says it was dropped instead of breaking the caller
      line = `{"timestamp":"${isoNow()}","level":"${label}"${this.bindings},"log_error":true,"message":"log line dropped: its fields could not be read"}\n`;
    }
    try {
      destination.write(line);
      if (value >= LEVELS.critical) destination.flushSync?.();
    } catch {
      // logging never breaks the caller
    }
  }
}

/**
 * The logger for a process. Without `destination` it appends to `<logDir>/arbitrage.log` (created if
 * missing); a directory that cannot be written is reported once on stderr and logging goes on dropping
 * lines rather than failing the process.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const secrets = (options.secrets ?? []).filter((s): s is string => typeof s === 'string' && s.length >= 6);
  const level = options.level ?? 'info';
  const destination: LogDestination =
    (options.destination as LogDestination | undefined) ??
    new RotatingLogFile({
      dir: options.logDir ?? 'logs',
      rotateBytes: options.rotateBytes ?? DEFAULT_ROTATE_BYTES,
      buffered: options.buffered ?? options.process === 'daemon',
    });
  return new JsonLogger({ destination, level, threshold: LEVELS[level], secrets }, '');
}

/** A logger that writes nowhere (tests that do not look at logs). */
export function createSilentLogger(): Logger {
  return new JsonLogger({ destination: { write: () => true }, level: 'silent', threshold: LEVELS.silent, secrets: [] }, '');
}

/** Writes what is buffered and closes the log file (daemon shutdown; safe to call twice). */
export async function closeLogger(logger: Logger): Promise<void> {
  if (logger instanceof JsonLogger) await logger.close();
}

export interface BusinessEvent {
  event_type: string;
  package_id?: number;
  user_id?: number;
  model?: string;
  tokens?: number;
  /** USD */
  revenue?: number;
  /** USD */
  profit?: number;
  [extra: string]: unknown;
}

export function logBusinessEvent(logger: Logger, event: BusinessEvent, message = event.event_type): void {
  logger.info({ business_event: true, ...event }, message);
}

export interface TransactionLog {
  type: string;
  /** USD number */
  amount: number;
  user_id: number;
  package_id?: number;
  [extra: string]: unknown;
}

export function logTransaction(logger: Logger, tx: TransactionLog, message = `transaction ${tx.type}`): void {
  logger.info({ transaction: true, ...tx }, message);
}

export interface ArbitrageLog {
  operation: string;
  model: string;
  tokens: number;
  cost: number;
  sell_price: number;
  profit: number;
  margin_percent: number;
  [extra: string]: unknown;
}

export function logArbitrage(logger: Logger, entry: ArbitrageLog, message = `arbitrage ${entry.operation}`): void {
  logger.info({ arbitrage: true, ...entry }, message);
}

export interface ApiCallLog {
  service: string;
  endpoint: string;
  status: number;
  success: boolean;
  latency_ms: number;
  model?: string;
  request_id?: string;
  [extra: string]: unknown;
}

export function logApiCall(logger: Logger, call: ApiCallLog, message = `${call.service} ${call.endpoint} ${call.status}`): void {
  const level = call.success ? 'info' : call.status >= 500 || call.status === 0 ? 'error' : 'warn';
  logger[level]({ api_call: true, ...call }, message);
}

/**
 * A `"performance":true` line: `operation` and `execution_time` in seconds, rounded to the millisecond
 * (so the manual's `grep '"execution_time":[1-9]'` finds exactly the operations that took a second or more).
 */
export function logPerformance(logger: Logger, operation: string, executionTimeSeconds: number, extra: Record<string, unknown> = {}): void {
  const seconds = Math.round(executionTimeSeconds * 1000) / 1000;
  logger.info({ performance: true, operation, execution_time: seconds, ...extra }, `performance ${operation}`);
}

/**
 * Runs `fn` and writes its performance line (backups, catalog syncs, package imports, stats, cleanup):
 * `await withPerformanceLog(logger, 'backup', () => createBackup(…))`. A failure is timed too
 * (`success: false`) and rethrown.
 */
export async function withPerformanceLog<T>(logger: Logger | undefined, operation: string, fn: () => Promise<T> | T, extra: Record<string, unknown> = {}): Promise<T> {
  const started = performance.now();
  let success = false;
  try {
    const result = await fn();
    success = true;
    return result;
  } finally {
    if (logger) logPerformance(logger, operation, (performance.now() - started) / 1000, { success, ...extra });
  }
}

export interface SecurityEventLog {
  event: string;
  reason: string;
  ip?: string;
  telegram_user_id?: number;
  [extra: string]: unknown;
}

export function logSecurityEvent(logger: Logger, ev: SecurityEventLog, message = `security ${ev.event}`): void {
  logger.warn({ security_event: true, ...ev }, message);
}
