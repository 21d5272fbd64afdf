/**
 * `arb logs <query>`: runs a query of src/logs over LOG_DIR and prints a table (or one JSON document),
 * then, with --follow, streams new matching lines until Ctrl-C.
 */
import { existsSync } from 'node:fs';
import { InputError } from '../../src/errors.js';
import { microsToUsd, parseUsd } from '../../src/money.js';
import { entryAmountMicros, failureReason, followLogs, queryLogs, type LogEntry, type LogFilter, type LogQueryName, type LogQueryResult } from '../../src/logs/query.js';
import type { CommandContext } from '../context.js';
import { formatCount, formatUsd } from '../ui/format.js';
import { money, writeJson } from '../ui/json.js';
import { parseIntegerOption, parseSinceOption } from '../ui/options.js';
import { renderTable, type Cell } from '../ui/table.js';
import { printScreen } from '../ui/screens.js';
import type { LogsScreenProps } from './LogsScreen.js';
import type { LogsOptions } from './index.js';
import { KEY_PREFIX, looksLikeApiKey, maskApiKey } from '../../src/keys/api-key.js';

export interface ParsedLogsOptions {
  since: Date | null;
  limit: number;
  minAmountMicros: number;
  requestId?: string;
  /** the --key text as the operator typed it ('...' read as '…'); never a full key (see keyText) */
  key?: KeyArgument;
}

/** --key: a masked prefix (`sk-arb-AbCd…`), or a whole key, which is only ever hashed. */
export interface KeyArgument {
  /** what may be shown: the masked prefix, or the masked form of a whole key */
  shown: string;
  /** the text to look the key up by (findKeys) */
  lookup: string;
  /** a prefix of the masked form as the logs write it */
  prefix: string;
}

/** Validates --key; every bad value is an InputError naming the option and the fix. */
export function parseKeyOption(text: string): KeyArgument {
  const input = text.trim().replace(/\.\.\./g, '…');
  const body = input.slice(KEY_PREFIX.length);
  if (!input.startsWith(KEY_PREFIX) || body === '' || !/^[A-Za-z0-9_-]*(…[A-Za-z0-9_-]*)?$/.test(body)) {
    throw new InputError(`--key: "${looksLikeApiKey(input) ? maskApiKey(input) : text}" is not a key; give it as logs and arb keys list show it, e.g. --key sk-arb-AbCd…`, 'key');
  }
  if (looksLikeApiKey(input)) {
    const masked = maskApiKey(input);
    return { shown: masked, lookup: input, prefix: masked };
  }
  // the masked form shows 4 characters after the prefix: a longer typed head narrows by the database only
  const [head, tail] = body.split('…');
  const prefix = head.length > 4 ? `${KEY_PREFIX}${head.slice(0, 4)}…` : tail === undefined ? input : `${KEY_PREFIX}${head}…${tail}`;
  return { shown: input, lookup: input, prefix };
}

/** Validates the flags; every bad value is an InputError naming the option and the fix. */
export function parseLogsOptions(opts: LogsOptions, now: Date = new Date()): ParsedLogsOptions {
  const since = parseSinceOption(opts.since ?? 'all', now);
  const limit = parseIntegerOption(opts.limit ?? '50', '--limit', 1, 1_000_000, '--limit 100');
  const minAmountMicros = parseUsd(opts.minAmount ?? '100', '--min-amount');
  if (minAmountMicros < 0) throw new InputError(`--min-amount: ${opts.minAmount} is negative; use an amount in USD like 100`, 'min-amount');
  let requestId: string | undefined;
  if (opts.requestId !== undefined) {
    requestId = opts.requestId.trim();
    // eslint-disable-next-line no-control-regex
    if (requestId === '' || requestId.length > 200 || /[\u0000-\u001f"]/.test(requestId)) {
      throw new InputError(`--request-id: "${opts.requestId.slice(0, 60)}" is not a request id; give the id from the x-request-id header or a log line, e.g. --request-id 7f3c2a1e-…`, 'request-id');
    }
  }
  const key = opts.key === undefined ? undefined : parseKeyOption(opts.key);
  return { since, limit, minAmountMicros, requestId, key };
}

/**
 * The filter for the parsed flags. A --key is looked up in the database (when there is one) so lines
 * that name the key only by its allocation id (the proxy's api_call lines) match too.
 */
async function buildFilter(ctx: CommandContext, parsed: ParsedLogsOptions): Promise<LogFilter | undefined> {
  if (parsed.requestId === undefined && !parsed.key) return undefined;
  const filter: LogFilter = {};
  if (parsed.requestId !== undefined) filter.requestId = parsed.requestId;
  if (parsed.key) {
    const prefixes = new Set([parsed.key.prefix]);
    const allocationIds: number[] = [];
    const haveDb = Boolean(ctx.config.databaseUrl) || existsSync(ctx.config.dbName);
    if (haveDb) {
      try {
        const { findKeys } = await import('../../src/keys/allocations.js');
        const keys = await findKeys(await ctx.db(), parsed.key.lookup);
        for (const k of keys) {
          allocationIds.push(k.id);
          prefixes.add(k.maskedKey);
        }
        if (keys.length === 0) ctx.stderr.write(`note: no key in the database matches ${parsed.key.shown}; matching the masked key in log lines only\n`);
        else if (keys.length > 1) ctx.stderr.write(`note: ${parsed.key.shown} matches ${keys.length} keys (${keys.map((k) => k.maskedKey).join(', ')}); showing the lines of all of them\n`);
      } catch (e) {
        if (e instanceof InputError) throw e;
        ctx.stderr.write(`note: the database could not be read (${(e as Error).message}); matching the masked key in log lines only\n`);
      }
    }
    filter.key = { prefixes: [...prefixes], allocationIds };
  }
  return filter;
}

export async function runLogsQuery(ctx: CommandContext, query: string, opts: LogsOptions): Promise<number> {
  const parsed = parseLogsOptions(opts);
  const logDir = ctx.config.logDir;
  const name = query as LogQueryName;
  if (name === 'all' && parsed.requestId === undefined && !parsed.key) {
    throw new InputError('arb logs: name a query (errors, transactions, revenue, high-value, api-failures, slow, security, tail) or filter with --request-id ID or --key sk-arb-AbCd…', 'query');
  }
  const filter = await buildFilter(ctx, parsed);
  if (!existsSync(logDir)) ctx.stderr.write(`note: log directory ${logDir} does not exist yet (nothing has been logged); showing an empty result\n`);
  const result = await queryLogs(logDir, name, { since: parsed.since, limit: parsed.limit, minAmountMicros: parsed.minAmountMicros, filter });

  if (opts.follow) {
    const print = (e: LogEntry): void => {
      ctx.stdout.write(opts.json ? `${JSON.stringify(jsonEntry(name, e))}\n` : `${followLine(name, e)}\n`);
    };
    for (const e of result.entries) print(e);
    if (!opts.json) ctx.stderr.write(`following ${logDir}/arbitrage.log — Ctrl-C to stop\n`);
    const ac = new AbortController();
    const stop = (): void => ac.abort();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    try {
      await followLogs(logDir, name, { cursor: result.cursor, minAmountMicros: parsed.minAmountMicros, filter, signal: ac.signal, onEntry: print });
    } finally {
      process.removeListener('SIGINT', stop);
      process.removeListener('SIGTERM', stop);
    }
    return 0;
  }

  if (opts.json) writeJson(ctx.stdout, toJson(logDir, result, parsed));
  else if (ctx.interactive) await printScreen(ctx, async () => (await import('./LogsScreen.js')).LogsScreen, screenProps(result, parsed));
  else ctx.stdout.write(`${renderText(result, parsed)}\n`);
  return 0;
}

/**
 * Transaction entries gain `amount_micros` when the line only had the USD amount; error and failed-call
 * entries gain `failure_reason`, the one reason read from `failure`, `reason` or `err`.
 */
function jsonEntry(query: LogQueryName, e: LogEntry): LogEntry {
  if (e.transaction === true && e.amount_micros === undefined && (query === 'transactions' || query === 'revenue' || query === 'high-value')) {
    return { ...e, amount_micros: entryAmountMicros(e) };
  }
  if ((query === 'errors' || query === 'api-failures') && e.failure_reason === undefined) {
    const reason = failureReason(e);
    if (reason) return { ...e, failure_reason: reason };
  }
  return e;
}

/** The `--json` document (snake_case; money as USD and µ$). */
export function toJson(logDir: string, r: LogQueryResult, parsed: ParsedLogsOptions): Record<string, unknown> {
  const doc: Record<string, unknown> = {
    query: r.query,
    log_dir: logDir,
    since: r.since ? r.since.toISOString() : null,
    limit: parsed.limit,
    filter: parsed.requestId !== undefined || parsed.key ? { request_id: parsed.requestId ?? null, key: parsed.key?.shown ?? null, allocation_ids: r.filter?.key?.allocationIds ?? [] } : null,
    files: r.files.map((f) => ({ path: f.path, bytes: f.bytes, live: f.live })),
    malformed_lines: r.malformed,
    total: r.total,
    shown: r.entries.length,
  };
  if (r.query === 'high-value') Object.assign(doc, money('min_amount', parsed.minAmountMicros));
  if (r.query === 'transactions' || r.query === 'high-value') Object.assign(doc, money('amount', r.amountMicros));
  if (r.query === 'revenue') {
    Object.assign(doc, money('revenue', r.amountMicros));
    doc.days = r.days.map((d) => ({ day: d.day, purchases: d.purchases, ...money('revenue', d.revenueMicros) }));
  }
  doc.entries = r.entries.map((e) => jsonEntry(r.query, e));
  return doc;
}

function str(v: unknown): string {
  if (v === undefined || v === null) return '';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function clip(text: string, max = 90): string {
  const one = text.replace(/\s+/g, ' ');
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

function time(e: LogEntry): string {
  return typeof e.timestamp === 'string' ? e.timestamp.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '';
}

/** which kind of line: the category flag it carries */
function kind(e: LogEntry): string {
  for (const k of ['api_call', 'transaction', 'business_event', 'security_event', 'arbitrage', 'performance'] as const) if (e[k] === true) return k;
  return '';
}

function durationText(e: LogEntry): string {
  if (e.performance === true && typeof e.execution_time === 'number') return `${e.execution_time.toFixed(2)} s`;
  if (typeof e.latency_ms === 'number') return `${formatCount(Math.round(e.latency_ms))} ms`;
  return '';
}

interface View {
  head: string[];
  row(e: LogEntry): Cell[];
  /** importance of each column when the terminal is narrow (ui/table.ts); default: left to right */
  priority?: number[];
  /** columns never cut besides the time (ids: a cut id finds nothing) */
  keep?: number[];
  /** narrowest a column is cut to before less important ones are hidden (ui/table.ts Column.min) */
  min?: (number | undefined)[];
}

const VIEWS: Record<LogQueryName, View> = {
  errors: {
    head: ['time (UTC)', 'level', 'message', 'failure', 'request id'],
    row: (e) => [time(e), str(e.level), clip(str(e.message), 70), clip(failureReason(e), 70), str(e.request_id)],
    priority: [0, 4, 3, 1, 2],
    keep: [4],
    min: [undefined, undefined, undefined, 24],
  },
  transactions: {
    head: ['time (UTC)', 'type', 'user', 'package', 'amount'],
    row: (e) => [time(e), str(e.type), str(e.user_id), str(e.package_id), formatUsd(entryAmountMicros(e), { precise: true })],
  },
  revenue: {
    head: ['time (UTC)', 'type', 'user', 'package', 'amount'],
    row: (e) => [time(e), str(e.type), str(e.user_id), str(e.package_id), formatUsd(entryAmountMicros(e), { precise: true })],
  },
  'high-value': {
    head: ['time (UTC)', 'type', 'user', 'package', 'amount'],
    row: (e) => [time(e), str(e.type), str(e.user_id), str(e.package_id), formatUsd(entryAmountMicros(e), { precise: true })],
  },
  'api-failures': {
    head: ['time (UTC)', 'endpoint', 'status', 'failure', 'latency', 'model', 'request id', 'service'],
    row: (e) => [time(e), str(e.endpoint), str(e.status), clip(failureReason(e), 60), durationText(e), str(e.model), str(e.request_id), str(e.service)],
    priority: [0, 3, 2, 1, 5, 6, 4, 7],
    keep: [6],
    min: [undefined, undefined, undefined, 24],
  },
  slow: {
    head: ['time (UTC)', 'kind', 'operation', 'duration', 'message'],
    row: (e) => [time(e), e.performance === true ? 'performance' : 'api_call', str(e.operation ?? e.endpoint), durationText(e), clip(str(e.message), 60)],
  },
  security: {
    head: ['time (UTC)', 'event', 'reason', 'who'],
    row: (e) => [time(e), str(e.event), clip(str(e.reason), 60), str(e.telegram_user_id ?? e.ip ?? '')],
  },
  tail: { head: ['time (UTC)', 'level', 'message'], row: (e) => [time(e), str(e.level), clip(str(e.message), 100)] },
  all: {
    head: ['time (UTC)', 'level', 'kind', 'message', 'failure', 'request id'],
    row: (e) => [time(e), str(e.level), kind(e), clip(str(e.message), 60), clip(failureReason(e), 50), str(e.request_id)],
    priority: [0, 4, 5, 2, 1, 3],
    keep: [5],
    min: [undefined, undefined, undefined, undefined, 24],
  },
};

function followLine(query: LogQueryName, e: LogEntry): string {
  return VIEWS[query].row(e).map((c) => (c === null || c === undefined ? '' : String(c))).filter((c) => c !== '').join('  ');
}

const NOUN: Record<LogQueryName, string> = {
  errors: 'error lines',
  transactions: 'transactions',
  revenue: 'purchases',
  'high-value': 'high-value transactions',
  'api-failures': 'failed API calls',
  slow: 'slow operations',
  security: 'security events',
  tail: 'lines',
  all: 'lines',
};

function windowLabel(r: LogQueryResult): string {
  const filter = [r.filter?.requestId !== undefined ? `request ${r.filter?.requestId}` : '', r.filter?.key ? `key ${r.filter.key.prefixes[0]}` : ''].filter(Boolean).join(', ');
  return `${r.since ? `since ${r.since.toISOString()}` : 'all time'}${filter ? `; ${filter}` : ''}`;
}

function summaryText(r: LogQueryResult, parsed: ParsedLogsOptions): string {
  let summary = `${formatCount(r.total)} ${NOUN[r.query]} (${windowLabel(r)})`;
  if (r.query !== 'revenue' && r.total > r.entries.length) summary += `, showing the last ${formatCount(r.entries.length)} (--limit)`;
  if (r.query === 'transactions' || r.query === 'high-value') summary += `; total ${formatUsd(r.amountMicros, { precise: true })} (${microsToUsd(r.amountMicros)} USD)`;
  if (r.query === 'revenue') summary += `; revenue ${formatUsd(r.amountMicros)}`;
  if (r.query === 'high-value') summary += `; threshold ${formatUsd(parsed.minAmountMicros)}`;
  summary += `; ${formatCount(r.files.length)} file${r.files.length === 1 ? '' : 's'} read`;
  if (r.malformed > 0) summary += `; ${formatCount(r.malformed)} malformed line${r.malformed === 1 ? '' : 's'} skipped`;
  return summary;
}

/** Props for the terminal screen (commands/logs/LogsScreen.tsx). */
export function screenProps(r: LogQueryResult, parsed: ParsedLogsOptions): LogsScreenProps {
  const view = VIEWS[r.query];
  const levelCol = view.head.indexOf('level');
  return {
    title: r.query === 'all' ? 'arb logs' : `arb logs ${r.query}`,
    windowLabel: windowLabel(r),
    summary: summaryText(r, parsed),
    head: view.head,
    rows: r.entries.map((e) => view.row(e).map((c) => (c === null || c === undefined ? '' : String(c)))),
    levelColumn: levelCol >= 0 ? levelCol : undefined,
    priority: view.priority,
    keep: view.keep,
    min: view.min,
    days: r.query === 'revenue' ? r.days.map((d) => ({ day: d.day, purchases: d.purchases, revenue: formatUsd(d.revenueMicros), revenueMicros: d.revenueMicros })) : undefined,
  };
}

export function renderText(r: LogQueryResult, parsed: ParsedLogsOptions): string {
  const parts: string[] = [];
  if (r.query === 'revenue') {
    const rows: Cell[][] = r.days.map((d) => [d.day, formatCount(d.purchases), formatUsd(d.revenueMicros)]);
    rows.push(['total', formatCount(r.total), formatUsd(r.amountMicros)]);
    parts.push(renderTable(['day (UTC)', 'purchases', 'revenue'], rows, { align: ['left', 'right', 'right'] }));
  } else if (r.entries.length > 0) {
    const view = VIEWS[r.query];
    const columns = view.head.map((header, i) => ({ header, align: 'left' as const, priority: view.priority?.[i], min: view.min?.[i], ...(i === 0 || view.keep?.includes(i) ? { keep: true } : {}) }));
    parts.push(renderTable(columns, r.entries.map(view.row)));
  }
  parts.push(summaryText(r, parsed));
  return parts.join('\n');
}
