/**
 * pino → LOG_DIR/arbitrage.log (SPEC §8): one compact JSON object per line, starting
 * `{"timestamp":"2024-01-15T10:30:00.000Z","level":"INFO",…}`, levels DEBUG INFO WARN ERROR CRITICAL,
 * category flags (`"transaction":true`, …) and secrets redacted everywhere — messages, nested objects,
 * child bindings and error stacks. The file rotates at 50 MB (see src/logs/rotating-file.ts and
 * src/logs/files.ts for the naming); the daemon logs through a buffered destination, the CLI writes each
 * line at once. Logging never throws into the caller.
 */
import pino from 'pino';
import type { LogLevelName } from './config.js';
import { DEFAULT_ROTATE_BYTES, RotatingLogFile } from './logs/rotating-file.js';

export { listLogFiles, pruneLogFiles, LIVE_LOG_NAME, type LogFileInfo, type PruneResult } from './logs/files.js';
export { DEFAULT_ROTATE_BYTES };

export type Logger = pino.Logger<'critical'>;

export interface LoggerOptions {
  logDir?: string;
  level?: LogLevelName;
  /** exact strings to scrub (bot token, OpenRouter key, …); strings shorter than 6 characters are ignored */
  secrets?: readonly (string | undefined)[];
  /** 'daemon' buffers writes (flushed every 100 ms, by `closeLogger` and at exit); others write each line at once */
  process?: 'daemon' | 'cli' | 'test';
  /** write here instead of the log file (tests) */
  destination?: NodeJS.WritableStream;
  /** rotate arbitrage.log when it would pass this size (default 50 MB; small values in tests) */
  rotateBytes?: number;
  /** override the buffering choice made from `process` */
  buffered?: boolean;
  /** false: every line through pino's own serializer (tests compare the two) */
  flatLines?: boolean;
}

const REDACTED = '[REDACTED]';

function levelLabel(n: number): string {
  if (n >= 60) return 'CRITICAL';
  if (n >= 50) return 'ERROR';
  if (n >= 40) return 'WARN';
  if (n >= 30) return 'INFO';
  return 'DEBUG';
}

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
  return out.replace(SECRET_PATTERN, (_m, scheme: string | undefined, header: string | undefined) =>
    scheme ? `${scheme} ${REDACTED}` : header ? `${header}${REDACTED}` : REDACTED,
  );
}

// Field names whose values are never logged (compared lower-case with '-' as '_').
const SECRET_FIELD = /^(authorization|proxy_authorization|cookie|set_cookie|password|passwd|secret|token|api_?key|key_hash|api_key_hash|.*_(token|secret|password|api_key|key_hash))$/;

const secretFieldCache = new Map<string, boolean>();

function isSecretField(key: string): boolean {
  let secret = secretFieldCache.get(key);
  if (secret === undefined) {
    secret = SECRET_FIELD.test(key.toLowerCase().replace(/-/g, '_'));
    if (secretFieldCache.size < 10_000) secretFieldCache.set(key, secret);
  }
  return secret;
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
    if (v !== null && v !== undefined && isSecretField(k) && !isMaskedKey(v)) out[k] = REDACTED;
    else out[k] = typeof v === 'number' || typeof v === 'boolean' ? v : redactValue(v, secrets, depth + 1);
  }
  return out;
}

function scrubArgs(args: unknown[], secrets: readonly string[]): unknown[] {
  const out = new Array<unknown>(args.length);
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (typeof a === 'string') out[i] = redactText(a, secrets);
    else if (i === 0 && a instanceof Error) out[i] = { err: redactError(a, secrets, 0) };
    else if (a !== null && typeof a === 'object') out[i] = redactValue(a, secrets);
    else out[i] = a;
  }
  return out;
}

function isPlainRecord(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object') return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** `,"key":` per field name (a few dozen distinct names) */
const keyPrefixes = new Map<string, string>();

/**
 * The line pino would write for `fields` and `message` (same order: timestamp, level, bindings, fields,
 * message; same redaction: secret-named fields replaced, secrets scrubbed from every string). undefined when
 * a field is not a string, number, boolean or null (pino's generic path writes those).
 */
function flatLine(level: number, chindings: string, fields: Record<string, unknown>, message: string, secrets: readonly string[]): string | undefined {
  let out = `{"timestamp":"${new Date().toISOString()}","level":"${levelLabel(level)}"${chindings}`;
  for (const k in fields) {
    const v = fields[k];
    if (v === undefined) continue;
    let text: string;
    if (typeof v === 'number') text = Number.isFinite(v) ? String(v) : 'null';
    else if (typeof v === 'boolean') text = v ? 'true' : 'false';
    else if (v === null) text = 'null';
    else if (typeof v === 'string') text = JSON.stringify(redactText(v, secrets));
    else return undefined;
    if (v !== null && isSecretField(k) && !isMaskedKey(v)) text = `"${REDACTED}"`;
    let prefix = keyPrefixes.get(k);
    if (prefix === undefined) {
      prefix = `,${JSON.stringify(k)}:`;
      if (keyPrefixes.size < 1000) keyPrefixes.set(k, prefix);
    }
    out += prefix + text;
  }
  return `${out},"message":${JSON.stringify(redactText(message, secrets))}}\n`;
}

/**
 * The logger for a process. Without `destination` it appends to `<logDir>/arbitrage.log` (created if
 * missing); a directory that cannot be written is reported once on stderr and logging goes on dropping
 * lines rather than failing the process.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const secrets = (options.secrets ?? []).filter((s): s is string => typeof s === 'string' && s.length >= 6);
  const flatLines = options.flatLines !== false;
  let destination: pino.DestinationStream;
  if (options.destination) destination = options.destination as pino.DestinationStream;
  else {
    destination = new RotatingLogFile({
      dir: options.logDir ?? 'logs',
      rotateBytes: options.rotateBytes ?? DEFAULT_ROTATE_BYTES,
      buffered: options.buffered ?? options.process === 'daemon',
    });
  }
  // pino writes the cached level prefix, then the timestamp; to put "timestamp" first the level prefix
  // is empty and the timestamp function appends the level of the call in progress (set by the hook,
  // synchronously just before pino formats the line).
  let currentLevel = 'INFO';
  const logger = pino<'critical'>(
    {
      level: options.level ?? 'info',
      customLevels: { critical: 60 },
      base: undefined,
      messageKey: 'message',
      timestamp: () => `"timestamp":"${new Date().toISOString()}","level":"${currentLevel}"`,
      formatters: {
        level: () => ({}),
        bindings: (bindings) => redactValue(bindings, secrets) as Record<string, unknown>,
      },
      // errors are already plain, redacted objects (scrubArgs / redactValue)
      serializers: { err: (v: unknown) => v },
      hooks: {
        logMethod(args, method, level) {
          currentLevel = levelLabel(level);
          // The common shape — (fields, message) with plain values, e.g. the api_call line of every proxied
          // request — is built by hand (flatLine): the same line for about half of pino's cost.
          if (flatLines && args.length === 2 && typeof args[1] === 'string' && isPlainRecord(args[0])) {
            let line: string | undefined;
            try {
              line = flatLine(level, (this as unknown as Record<symbol, string | undefined>)[pino.symbols.chindingsSym] ?? '', args[0], args[1], secrets);
            } catch {
              line = undefined; // a throwing getter: the generic path below reports it
            }
            if (line !== undefined) {
              try {
                destination.write(line);
                if (level >= 60) (destination as { flushSync?: () => void }).flushSync?.();
              } catch {
                // logging never breaks the caller
              }
              return;
            }
          }
          let scrubbed: unknown[];
          try {
            scrubbed = scrubArgs(args, secrets);
          } catch {
            scrubbed = [{ log_error: true }, 'log line dropped: its fields could not be read'];
          }
          try {
            method.apply(this, scrubbed as Parameters<typeof method>);
            if (level >= 60) (destination as { flushSync?: () => void }).flushSync?.();
          } catch {
            // logging never breaks the caller
          }
        },
      },
    },
    destination,
  );
  // pino applies the bindings formatter to the root only; children (which inherit this method) are
  // scrubbed here.
  const child = logger.child;
  logger.child = function scrubbedChild(this: Logger, bindings, opts) {
    return child.call(this, redactValue(bindings, secrets) as typeof bindings, opts);
  } as typeof logger.child;
  return logger;
}

/** A logger that writes nowhere (tests that do not look at logs). */
export function createSilentLogger(): Logger {
  return pino<'critical'>({ level: 'silent', customLevels: { critical: 60 } });
}

/** Writes what is buffered and closes the log file (daemon shutdown; safe to call twice). */
export async function closeLogger(logger: Logger): Promise<void> {
  const stream = (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] as
    | { end?: () => void; flush?: (cb: (err?: Error | null) => void) => void }
    | undefined;
  if (!stream) return;
  try {
    if (stream instanceof RotatingLogFile) {
      stream.end();
      return;
    }
    if (typeof stream.flush === 'function') {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1000);
        timer.unref();
        stream.flush!(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  } catch {
    // closing a log must not fail a shutdown
  }
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

export function logPerformance(logger: Logger, operation: string, executionTimeSeconds: number, extra: Record<string, unknown> = {}): void {
  logger.info({ performance: true, operation, execution_time: executionTimeSeconds, ...extra }, `performance ${operation}`);
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
