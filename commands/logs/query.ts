/**
 * `arb logs <query>`: runs a query of src/logs over LOG_DIR and prints a table (or one JSON document),
 * then, with --follow, streams new matching lines until Ctrl-C.
 */
import { existsSync } from 'node:fs';
import { InputError } from '../../src/errors.js';
import { microsToUsd, parseUsd } from '../../src/money.js';
import { entryAmountMicros, followLogs, queryLogs, type LogEntry, type LogQueryName, type LogQueryResult } from '../../src/logs/query.js';
import type { CommandContext } from '../context.js';
import { formatCount, formatUsd } from '../ui/format.js';
import { money, writeJson } from '../ui/json.js';
import { parseIntegerOption, parseSinceOption } from '../ui/options.js';
import { renderTable, type Cell } from '../ui/table.js';
import { printScreen } from '../ui/screens.js';
import type { LogsScreenProps } from './LogsScreen.js';
import type { LogsOptions } from './index.js';

export interface ParsedLogsOptions {
  since: Date | null;
  limit: number;
  minAmountMicros: number;
}

/** Validates the flags; every bad value is an InputError naming the option and the fix. */
export function parseLogsOptions(opts: LogsOptions, now: Date = new Date()): ParsedLogsOptions {
  const since = parseSinceOption(opts.since ?? 'all', now);
  const limit = parseIntegerOption(opts.limit ?? '50', '--limit', 1, 1_000_000, '--limit 100');
  const minAmountMicros = parseUsd(opts.minAmount ?? '100', '--min-amount');
  if (minAmountMicros < 0) throw new InputError(`--min-amount: ${opts.minAmount} is negative; use an amount in USD like 100`, 'min-amount');
  return { since, limit, minAmountMicros };
}

export async function runLogsQuery(ctx: CommandContext, query: string, opts: LogsOptions): Promise<number> {
  const parsed = parseLogsOptions(opts);
  const logDir = ctx.config.logDir;
  const name = query as LogQueryName;
  if (!existsSync(logDir)) ctx.stderr.write(`note: log directory ${logDir} does not exist yet (nothing has been logged); showing an empty result\n`);
  const result = await queryLogs(logDir, name, { since: parsed.since, limit: parsed.limit, minAmountMicros: parsed.minAmountMicros });

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
      await followLogs(logDir, name, { cursor: result.cursor, minAmountMicros: parsed.minAmountMicros, signal: ac.signal, onEntry: print });
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

/** Transaction entries gain `amount_micros` when the line only had the USD amount. */
function jsonEntry(query: LogQueryName, e: LogEntry): LogEntry {
  if (e.transaction === true && e.amount_micros === undefined && (query === 'transactions' || query === 'revenue' || query === 'high-value')) {
    return { ...e, amount_micros: entryAmountMicros(e) };
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

/** Why the line failed: the proxy's `failure`, an `err`/`error` (string or object), else a `reason`. */
function failureText(e: LogEntry): string {
  if (typeof e.failure === 'string' && e.failure !== '') return e.failure;
  const err = (e.err ?? e.error) as { message?: unknown; type?: unknown } | string | undefined;
  if (err) return typeof err === 'string' ? err : str(err.message ?? err);
  return typeof e.reason === 'string' ? e.reason : '';
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
    row: (e) => [time(e), str(e.level), clip(str(e.message), 70), clip(failureText(e), 70), str(e.request_id)],
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
    row: (e) => [time(e), str(e.endpoint), str(e.status), clip(failureText(e), 60), durationText(e), str(e.model), str(e.request_id), str(e.service)],
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
};

function windowLabel(r: LogQueryResult): string {
  return r.since ? `since ${r.since.toISOString()}` : 'all time';
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
    title: `arb logs ${r.query}`,
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
