/**
 * The query engine behind `arb logs`: reads `arbitrage.log` and its rotated files (oldest first) line by
 * line in constant memory, keeps the last `limit` matching entries and running totals over all matches.
 * Malformed lines are skipped and counted, never fatal. `followLogs` keeps reading what is appended,
 * across rotations, until its AbortSignal fires.
 *
 * A query's needles are substrings every matching line holds in its raw form (`"transaction":true`); a
 * line without one is never parsed, so `malformed` counts the unparseable lines among the candidates
 * (every line for `tail`).
 */
import { open, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { LIVE_LOG_NAME, listLogFiles, type LogFileInfo } from './files.js';
import { scanBackward, scanForward } from './scan.js';

export const LOG_QUERIES = ['errors', 'transactions', 'revenue', 'high-value', 'api-failures', 'slow', 'security', 'tail'] as const;
export type LogQueryName = (typeof LOG_QUERIES)[number];

/** One parsed log line (as written by src/logger.ts). */
export type LogEntry = Record<string, unknown> & { timestamp?: string; level?: string; message?: string };

export const DEFAULT_LIMIT = 50;
export const DEFAULT_MIN_AMOUNT_MICROS = 100_000_000;
/** `slow`: performance lines over 2 s, api calls over 2000 ms */
export const SLOW_SECONDS = 2;

export interface LogQueryOptions {
  /** only entries at or after this time; null/undefined = all */
  since?: Date | null;
  /** keep the last N matching entries (totals cover every match); default 50 */
  limit?: number;
  /** high-value threshold in µ$ (default $100) */
  minAmountMicros?: number;
  signal?: AbortSignal;
}

export interface RevenueDay {
  /** YYYY-MM-DD (UTC) */
  day: string;
  purchases: number;
  revenueMicros: number;
}

/** Where the live file was read up to, so `followLogs` continues without a gap. */
export interface LogCursor {
  ino: number;
  offset: number;
}

export interface LogQueryResult {
  query: LogQueryName;
  since: Date | null;
  /** the last `limit` matches, oldest first */
  entries: LogEntry[];
  /** every match (for tail: the entries returned) */
  total: number;
  /** sum of `amount` over the matches, µ$ (transactions, high-value, revenue) */
  amountMicros: number;
  /** revenue: per UTC day, oldest first */
  days: RevenueDay[];
  malformed: number;
  files: LogFileInfo[];
  cursor: LogCursor;
}

interface QuerySpec {
  needles: string[] | null;
  match(e: LogEntry, minAmountMicros: number): boolean;
  sumsAmount: boolean;
}

function isPurchase(e: LogEntry): boolean {
  return typeof e.type === 'string' && e.type.includes('purchase');
}

/** The entry's amount in µ$: `amount_micros` when logged, else the USD `amount`. */
export function entryAmountMicros(e: LogEntry): number {
  if (typeof e.amount_micros === 'number' && Number.isSafeInteger(e.amount_micros)) return e.amount_micros;
  const usd = typeof e.amount === 'number' ? e.amount : Number(e.amount);
  return Number.isFinite(usd) ? Math.round(usd * 1_000_000) : 0;
}

function isSlow(e: LogEntry): boolean {
  if (e.performance === true && typeof e.execution_time === 'number' && e.execution_time > SLOW_SECONDS) return true;
  return e.api_call === true && typeof e.latency_ms === 'number' && e.latency_ms > SLOW_SECONDS * 1000;
}

const QUERIES: Record<LogQueryName, QuerySpec> = {
  errors: { needles: ['"level":"ERROR"', '"level":"CRITICAL"'], match: (e) => e.level === 'ERROR' || e.level === 'CRITICAL', sumsAmount: false },
  transactions: { needles: ['"transaction":true'], match: (e) => e.transaction === true, sumsAmount: true },
  revenue: { needles: ['"transaction":true'], match: (e) => e.transaction === true && isPurchase(e), sumsAmount: true },
  'high-value': { needles: ['"transaction":true'], match: (e, min) => e.transaction === true && entryAmountMicros(e) >= min, sumsAmount: true },
  'api-failures': { needles: ['"api_call":true'], match: (e) => e.api_call === true && e.success === false, sumsAmount: false },
  slow: { needles: ['"performance":true', '"api_call":true'], match: isSlow, sumsAmount: false },
  security: { needles: ['"security_event":true'], match: (e) => e.security_event === true, sumsAmount: false },
  tail: { needles: null, match: () => true, sumsAmount: false },
};

const TS_PREFIX = '{"timestamp":"';

/** Parses a candidate line; undefined = malformed. `sinceIso` lets old lines be skipped before parsing. */
function parseLine(text: string, sinceIso: string | null): LogEntry | undefined | 'old' {
  if (sinceIso && text.startsWith(TS_PREFIX) && text.slice(TS_PREFIX.length, TS_PREFIX.length + 24) < sinceIso) return 'old';
  if (text.trim() === '') return 'old';
  try {
    const v: unknown = JSON.parse(text);
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
    const e = v as LogEntry;
    if (sinceIso && !(typeof e.timestamp === 'string' && e.timestamp >= sinceIso)) return 'old';
    return e;
  } catch {
    return undefined;
  }
}

function checkLimit(limit: number | undefined): number {
  const n = limit ?? DEFAULT_LIMIT;
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`);
  return n;
}

/** Runs one query over `logDir`. A missing directory gives an empty result. */
export async function queryLogs(logDir: string, query: LogQueryName, opts: LogQueryOptions = {}): Promise<LogQueryResult> {
  const spec = QUERIES[query];
  if (!spec) throw new RangeError(`unknown log query "${query}"; expected one of ${LOG_QUERIES.join(', ')}`);
  const limit = checkLimit(opts.limit);
  const since = opts.since ?? null;
  const files = listLogFiles(logDir);
  const result: LogQueryResult = { query, since, entries: [], total: 0, amountMicros: 0, days: [], malformed: 0, files: [], cursor: { ino: -1, offset: 0 } };
  if (query === 'tail') return tailLogs(files, result, limit, opts.signal);

  const sinceIso = since ? since.toISOString() : null;
  const minAmount = opts.minAmountMicros ?? DEFAULT_MIN_AMOUNT_MICROS;
  const needles = spec.needles ? spec.needles.map((n) => Buffer.from(n)) : null;
  const ring: LogEntry[] = [];
  let ringStart = 0;
  const days = new Map<string, RevenueDay>();
  const onLine = (text: string): void => {
    const e = parseLine(text, sinceIso);
    if (e === 'old') return;
    if (e === undefined) {
      result.malformed++;
      return;
    }
    if (!spec.match(e, minAmount)) return;
    result.total++;
    if (spec.sumsAmount) {
      const micros = entryAmountMicros(e);
      result.amountMicros += micros;
      if (query === 'revenue') {
        const day = typeof e.timestamp === 'string' ? e.timestamp.slice(0, 10) : 'unknown';
        const d = days.get(day) ?? { day, purchases: 0, revenueMicros: 0 };
        d.purchases++;
        d.revenueMicros += micros;
        days.set(day, d);
      }
    }
    if (ring.length < limit) ring.push(e);
    else {
      ring[ringStart] = e;
      ringStart = (ringStart + 1) % limit;
    }
  };

  for (const f of files) {
    if (opts.signal?.aborted) break;
    // a rotated file last written before `since` holds nothing newer
    if (since && !f.live && f.mtime.getTime() < since.getTime()) continue;
    let fh: FileHandle;
    try {
      fh = await open(f.path, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // pruned or rotated away meanwhile
      throw e;
    }
    try {
      const st = await fh.stat();
      result.files.push({ ...f, bytes: st.size, ino: st.ino });
      const end = await scanForward(fh, 0, { needles, final: !f.live, signal: opts.signal }, onLine);
      if (f.live) result.cursor = { ino: st.ino, offset: end };
    } finally {
      await fh.close();
    }
  }
  result.entries = ring.slice(ringStart).concat(ring.slice(0, ringStart));
  result.days = [...days.values()].sort((a, b) => a.day.localeCompare(b.day));
  return result;
}

async function tailLogs(files: LogFileInfo[], result: LogQueryResult, limit: number, signal?: AbortSignal): Promise<LogQueryResult> {
  const since = result.since;
  const sinceIso = since ? since.toISOString() : null;
  // lines from several processes are only roughly in order: look a minute past the first older line
  const stopIso = since ? new Date(since.getTime() - 60_000).toISOString() : null;
  const newestFirst: LogEntry[] = [];
  let done = false;
  const scanned: LogFileInfo[] = [];
  for (const f of [...files].reverse()) {
    if (done || signal?.aborted) break;
    let fh: FileHandle;
    try {
      fh = await open(f.path, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw e;
    }
    try {
      const st = await fh.stat();
      scanned.push({ ...f, bytes: st.size, ino: st.ino });
      const end = await scanBackward(fh, st.size, { skipPartial: f.live }, (text) => {
        if (stopIso && text.startsWith(TS_PREFIX) && text.slice(TS_PREFIX.length, TS_PREFIX.length + 24) < stopIso) {
          done = true;
          return false;
        }
        const e = parseLine(text, sinceIso);
        if (e === 'old') return true;
        if (e === undefined) {
          result.malformed++;
          return true;
        }
        newestFirst.push(e);
        if (newestFirst.length >= limit) done = true;
        return !done;
      });
      if (f.live) result.cursor = { ino: st.ino, offset: end };
    } finally {
      await fh.close();
    }
  }
  result.files = scanned.reverse();
  result.entries = newestFirst.reverse();
  result.total = result.entries.length;
  return result;
}

export interface FollowOptions {
  /** where queryLogs stopped; without it following starts at the live file's current end */
  cursor?: LogCursor;
  minAmountMicros?: number;
  signal: AbortSignal;
  onEntry: (entry: LogEntry) => void;
  /** called for each line that is not valid JSON */
  onMalformed?: () => void;
  pollMs?: number;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

async function statIno(path: string): Promise<{ ino: number; size: number } | null> {
  try {
    const st = await stat(path);
    return { ino: st.ino, size: st.size };
  } catch {
    return null;
  }
}

/**
 * Streams the query's new matches (appended after `cursor`) to `onEntry` until `signal` aborts. When
 * the live file is rotated, the rest of the old file is read before the new one, from its start.
 */
export async function followLogs(logDir: string, query: LogQueryName, opts: FollowOptions): Promise<void> {
  const spec = QUERIES[query];
  if (!spec) throw new RangeError(`unknown log query "${query}"`);
  const minAmount = opts.minAmountMicros ?? DEFAULT_MIN_AMOUNT_MICROS;
  const needles = spec.needles ? spec.needles.map((n) => Buffer.from(n)) : null;
  const livePath = join(logDir, LIVE_LOG_NAME);
  const pollMs = opts.pollMs ?? 250;
  const onLine = (text: string): void => {
    const e = parseLine(text, null);
    if (e === 'old') return;
    if (e === undefined) {
      opts.onMalformed?.();
      return;
    }
    if (spec.match(e, minAmount)) opts.onEntry(e);
  };

  let fh: FileHandle | undefined;
  let ino = -1;
  let offset = 0;
  /** Opens `f` if it is still the file listed (a rotation can swap the live name in between). */
  const openListed = async (f: LogFileInfo): Promise<boolean> => {
    let h: FileHandle;
    try {
      h = await open(f.path, 'r');
    } catch {
      return false;
    }
    const st = await h.stat();
    if (st.ino !== f.ino) {
      await h.close();
      return false;
    }
    fh = h;
    ino = st.ino;
    offset = 0;
    return true;
  };
  /** Moves to the file written after the current one (several rotations may have happened since). */
  const advance = async (): Promise<void> => {
    for (let attempt = 0; attempt < 5; attempt++) {
      const files = listLogFiles(logDir);
      const idx = files.findIndex((f) => f.ino === ino);
      const next = idx >= 0 ? files[idx + 1] : files.find((f) => f.live);
      if (!next) return;
      if (await openListed(next)) return;
    }
  };

  try {
    const cursor = opts.cursor;
    if (cursor && cursor.ino >= 0) {
      // the file the query stopped in, wherever rotation has moved it since
      for (let attempt = 0; attempt < 5 && !fh; attempt++) {
        const file = listLogFiles(logDir).find((f) => f.ino === cursor.ino);
        if (!file) break;
        if (await openListed(file)) offset = cursor.offset;
      }
      if (!fh) await advance();
    } else if (cursor) {
      await advance();
    } else {
      await advance();
      if (fh) offset = (await fh.stat()).size;
    }

    while (!opts.signal.aborted) {
      if (fh) offset = await scanForward(fh, offset, { needles, final: false, signal: opts.signal }, onLine);
      if (opts.signal.aborted) break;
      const live = await statIno(livePath);
      if (live && live.ino !== ino) {
        // the file we read was rotated (or the live file appeared): finish it, then go on with its successor
        if (fh) {
          await scanForward(fh, offset, { needles, final: true, signal: opts.signal }, onLine);
          await fh.close();
          fh = undefined;
        }
        await advance();
        continue;
      }
      if (live && fh && live.size < offset) offset = 0; // truncated in place
      await sleep(pollMs, opts.signal);
    }
  } finally {
    await fh?.close();
  }
}

/**
 * Calls `onLine` for every line containing one of `needles` in the live log and the rotated files written
 * since `since` (null = all), oldest first. Unreadable files are skipped.
 */
export async function scanLogLines(logDir: string, opts: { since: Date | null; needles: Buffer[] }, onLine: (text: string) => void): Promise<void> {
  for (const f of listLogFiles(logDir)) {
    if (opts.since && !f.live && f.mtime.getTime() < opts.since.getTime()) continue;
    let fh: FileHandle;
    try {
      fh = await open(f.path, 'r');
    } catch {
      continue;
    }
    try {
      await scanForward(fh, 0, { needles: opts.needles, final: !f.live }, onLine);
    } finally {
      await fh.close();
    }
  }
}

export interface ApiCallSummary {
  total: number;
  failed: number;
  /** nearest-rank 95th percentile of latency_ms (whole ms); null when there were no calls */
  p95LatencyMs: number | null;
  malformed: number;
}

/** Counts `api_call` lines since `since` (null = all): total, failed (success false) and p95 latency. */
export async function summarizeApiCalls(logDir: string, since: Date | null): Promise<ApiCallSummary> {
  const sinceIso = since ? since.toISOString() : null;
  const needles = [Buffer.from('"api_call":true')];
  // exact percentile in constant memory: a 1 ms histogram up to a minute, slower calls kept as they are
  const histogram = new Uint32Array(60_001);
  const overflow: number[] = [];
  const out: ApiCallSummary = { total: 0, failed: 0, p95LatencyMs: null, malformed: 0 };
  await scanLogLines(logDir, { since, needles }, (text) => {
    const e = parseLine(text, sinceIso);
    if (e === 'old') return;
    if (e === undefined) {
      out.malformed++;
      return;
    }
    if (e.api_call !== true) return;
    out.total++;
    if (e.success === false) out.failed++;
    const ms = typeof e.latency_ms === 'number' && Number.isFinite(e.latency_ms) ? Math.max(0, Math.ceil(e.latency_ms)) : 0;
    if (ms < histogram.length) histogram[ms]++;
    else overflow.push(ms);
  });
  if (out.total > 0) {
    const rank = Math.ceil(0.95 * out.total);
    let seen = 0;
    for (let ms = 0; ms < histogram.length; ms++) {
      seen += histogram[ms];
      if (seen >= rank) {
        out.p95LatencyMs = ms;
        break;
      }
    }
    if (out.p95LatencyMs === null) {
      overflow.sort((a, b) => a - b);
      out.p95LatencyMs = overflow[rank - seen - 1];
    }
  }
  return out;
}
