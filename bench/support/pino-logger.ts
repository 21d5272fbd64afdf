/**
 * The pino logger arb used before its own JSON-lines writer (src/logger.ts up to commit 979f3bb, pino
 * 10.4.0), rebuilt for bench/log-line as the baseline issue 16.3 asks for: the same pino options (level,
 * `critical` at 60, no base, `message` key, timestamp then level label first, bindings redacted, errors
 * passed through) and the same `logMethod` hook (redaction of every argument; the `(fields, message)`
 * shape with plain values built by hand as pino's line, which is how every api_call line was written).
 * `flatLines: false` sends every line through pino's own serializer, as before that shortcut existed.
 * The redaction functions are arb's (unchanged since); the file rotation is left out — the bench gives a
 * destination. Only the bench imports this module (pino is a devDependency).
 */
import pino from 'pino';
import { redactText, redactValue } from '../../src/logger.js';

export interface PinoLoggerOptions {
  destination: pino.DestinationStream;
  level?: string;
  /** strings shorter than 6 characters are ignored */
  secrets?: readonly string[];
  /** false: every line through pino's own serializer */
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

// the old logger's copy of src/logger.ts's SECRET_FIELD test and its cache (not exported there)
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

function isMaskedKey(v: unknown): boolean {
  return typeof v === 'string' && /^sk-[a-z]+-[A-Za-z0-9]{0,8}…[A-Za-z0-9]{0,8}$/.test(v);
}

function scrubArgs(args: unknown[], secrets: readonly string[]): unknown[] {
  const out = new Array<unknown>(args.length);
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (typeof a === 'string') out[i] = redactText(a, secrets);
    else if (i === 0 && a instanceof Error) out[i] = { err: redactValue(a, secrets) };
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

const keyPrefixes = new Map<string, string>();

/** The line pino would write for `fields` and `message`; undefined when a field is not a plain value. */
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

/** The old `createLogger` with a given destination (the bench's). */
export function createPinoLogger(options: PinoLoggerOptions): pino.Logger<'critical'> {
  const secrets = (options.secrets ?? []).filter((s) => s.length >= 6);
  const flatLines = options.flatLines !== false;
  const destination = options.destination;
  // pino writes the cached level prefix, then the timestamp; to put "timestamp" first the level prefix is
  // empty and the timestamp function appends the level of the call in progress (set by the hook).
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
      serializers: { err: (v: unknown) => v },
      hooks: {
        logMethod(args, method, level) {
          currentLevel = levelLabel(level);
          if (flatLines && args.length === 2 && typeof args[1] === 'string' && isPlainRecord(args[0])) {
            let line: string | undefined;
            try {
              line = flatLine(level, (this as unknown as Record<symbol, string | undefined>)[pino.symbols.chindingsSym] ?? '', args[0], args[1], secrets);
            } catch {
              line = undefined;
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
  const child = logger.child;
  logger.child = function scrubbedChild(this: pino.Logger<'critical'>, bindings, opts) {
    return child.call(this, redactValue(bindings, secrets) as typeof bindings, opts);
  } as typeof logger.child;
  return logger;
}
