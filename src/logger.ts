/**
 * pino → LOG_DIR/arbitrage.log (SPEC §8): one compact JSON object per line with "timestamp" and an
 * upper-case "level", category flags, secrets redacted. (First pass; rotation and full redaction tests
 * live with the logs work.)
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import type { LogLevelName } from './config.js';

export type Logger = pino.Logger<'critical'>;

export interface LoggerOptions {
  logDir?: string;
  level?: LogLevelName;
  /** exact strings to scrub (bot token, OpenRouter key, …) */
  secrets?: readonly (string | undefined)[];
  process?: 'daemon' | 'cli' | 'test';
  /** write here instead of the log file (tests) */
  destination?: NodeJS.WritableStream;
}

const LEVEL_LABELS: Record<string, string> = { trace: 'DEBUG', debug: 'DEBUG', info: 'INFO', warn: 'WARN', error: 'ERROR', fatal: 'CRITICAL', critical: 'CRITICAL' };

const KEY_PATTERNS = [/sk-arb-[A-Za-z0-9_-]{8,}/g, /sk-or-[A-Za-z0-9_-]{8,}/g, /\b\d{5,}:[A-Za-z0-9_-]{30,}\b/g];

export function redactText(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const s of secrets) if (s) out = out.split(s).join('[REDACTED]');
  for (const p of KEY_PATTERNS) out = out.replace(p, '[REDACTED]');
  return out;
}

function redactValue(value: unknown, secrets: readonly string[], depth = 0): unknown {
  if (typeof value === 'string') return redactText(value, secrets);
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redactValue(v, secrets, depth + 1));
  if (value instanceof Error) return { type: value.name, message: redactText(value.message, secrets), stack: value.stack ? redactText(value.stack, secrets) : undefined };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = /^(authorization|api_?key|token|password|secret|openrouter_api_key)$/i.test(k) && typeof v === 'string' ? '[REDACTED]' : redactValue(v, secrets, depth + 1);
  }
  return out;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const secrets = (options.secrets ?? []).filter((s): s is string => typeof s === 'string' && s.length >= 6);
  let destination: pino.DestinationStream;
  if (options.destination) destination = options.destination as pino.DestinationStream;
  else {
    const dir = options.logDir ?? 'logs';
    mkdirSync(dir, { recursive: true });
    destination = pino.destination({ dest: join(dir, 'arbitrage.log'), append: true, sync: true, mkdir: true });
  }
  return pino<'critical'>(
    {
      level: options.level ?? 'info',
      customLevels: { critical: 60 },
      base: undefined,
      messageKey: 'message',
      timestamp: () => `,"timestamp":"${new Date().toISOString()}"`,
      formatters: {
        level: (label) => ({ level: LEVEL_LABELS[label] ?? label.toUpperCase() }),
        log: (obj) => redactValue(obj, secrets) as Record<string, unknown>,
      },
      hooks: {
        logMethod(args, method) {
          const scrubbed = args.map((a) => (typeof a === 'string' ? redactText(a, secrets) : a)) as typeof args;
          return method.apply(this, scrubbed);
        },
      },
    },
    destination,
  );
}

/** A logger that writes nowhere (tests that do not look at logs). */
export function createSilentLogger(): Logger {
  return pino<'critical'>({ level: 'silent', customLevels: { critical: 60 } });
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
