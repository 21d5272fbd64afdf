/**
 * The query engine behind `arb logs`: reads `arbitrage.log` and its rotated files (oldest first) in
 * constant memory, keeps the last `limit` matching entries and running totals over all matches.
 * Malformed lines are skipped and counted, never fatal. `followLogs` keeps reading what is appended,
 * across rotations, until its AbortSignal fires.
 *
 * How it keeps up with grep: a query's needles are byte strings every matching line holds in its raw
 * form (`"level":"ERROR"`, `"request_id":"…"`); the scanner searches the file's bytes for them (SIMD) and
 * a line without one is never looked at. A candidate line is validated as JSON and only the fields the
 * query tests are decoded from its bytes (src/logs/fields.ts); only the `limit` entries returned are
 * parsed into objects. `malformed` counts the unparseable lines among the candidates (every line for
 * `tail`). Big logs are split into ranges scanned on worker threads (src/logs/parallel.ts).
 */
import { open, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { LIVE_LOG_NAME, listLogFiles, type LogFileInfo } from './files.js';
import { FieldReader, LineRead, type FieldValue } from './fields.js';
import { createLineScanner, scanBackward, type ReadAt, type SpanSink } from './scan.js';

export const LOG_QUERIES = ['errors', 'transactions', 'revenue', 'high-value', 'api-failures', 'slow', 'security', 'tail', 'all'] as const;
export type LogQueryName = (typeof LOG_QUERIES)[number];

/** One parsed log line (as written by src/logger.ts). */
export type LogEntry = Record<string, unknown> & { timestamp?: string; level?: string; message?: string };

export const DEFAULT_LIMIT = 50;
export const DEFAULT_MIN_AMOUNT_MICROS = 100_000_000;
/** `slow`: performance lines over 2 s, api calls over 2000 ms */
export const SLOW_SECONDS = 2;

/**
 * Narrows any query to the lines of one request or one customer key. Both given: lines matching both.
 */
export interface LogFilter {
  /** lines whose `request_id` is exactly this */
  requestId?: string;
  /**
   * lines of a key: a `key`, `key_masked` or `api_key` field starting with one of `prefixes` (the masked
   * form as logs show it, `sk-arb-AbCd…`), or an `allocation_id` among `allocationIds`
   */
  key?: { prefixes: readonly string[]; allocationIds: readonly number[] };
}

export interface LogQueryOptions {
  /** only entries at or after this time; null/undefined = all */
  since?: Date | null;
  /** keep the last N matching entries (totals cover every match); default 50 */
  limit?: number;
  /** high-value threshold in µ$ (default $100) */
  minAmountMicros?: number;
  filter?: LogFilter;
  signal?: AbortSignal;
  /**
   * worker threads for big logs (default: up to 4, by the machine's cores, for logs over 64 MiB);
   * 0 scans in this thread
   */
  workers?: number;
  /** size of the ranges big files are cut into for the threads (default 32 MiB; tests use small ones) */
  rangeBytes?: number;
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
  filter?: LogFilter | null;
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

// ---- matching --------------------------------------------------------------------------------------------

/** Every top-level field a query or a filter tests, read from the line's bytes. */
const FIELDS = [
  'timestamp',
  'level',
  'transaction',
  'type',
  'amount',
  'amount_micros',
  'api_call',
  'success',
  'security_event',
  'performance',
  'execution_time',
  'latency_ms',
  'request_id',
  'key',
  'key_masked',
  'api_key',
  'allocation_id',
] as const;
const F = Object.fromEntries(FIELDS.map((name, i) => [name, i])) as { [K in (typeof FIELDS)[number]]: number };
type Fields = FieldReader;

/** `Number(x)` as JSON.parse's values would give it, without throwing on an object. */
function numeric(v: FieldValue): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return Number(v);
  if (v === null || v === false) return 0;
  if (v === true) return 1;
  return Number.NaN;
}

function amountFromFields(v: Fields): number {
  const micros = v.get(F.amount_micros);
  if (typeof micros === 'number' && Number.isSafeInteger(micros)) return micros;
  const usd = numeric(v.get(F.amount));
  return Number.isFinite(usd) ? Math.round(usd * 1_000_000) : 0;
}

/** The entry's amount in µ$: `amount_micros` when logged, else the USD `amount`. */
export function entryAmountMicros(e: LogEntry): number {
  if (typeof e.amount_micros === 'number' && Number.isSafeInteger(e.amount_micros)) return e.amount_micros;
  const usd = typeof e.amount === 'number' ? e.amount : Number(e.amount);
  return Number.isFinite(usd) ? Math.round(usd * 1_000_000) : 0;
}

/**
 * Why an error line happened, from the fields the daemon and the CLI write it with: `failure` (the
 * proxy's upstream failure), `reason` (security events, refusals), `error` / `err` (a thrown error).
 */
export function failureReason(e: LogEntry): string {
  for (const k of ['failure', 'reason', 'primary_failure'] as const) {
    const v = e[k];
    if (typeof v === 'string' && v !== '') return v;
  }
  const err = (e.err ?? e.error) as { message?: unknown; type?: unknown } | string | undefined | null;
  if (typeof err === 'string') return err;
  if (err && typeof err === 'object') {
    const message = typeof err.message === 'string' ? err.message : '';
    return typeof err.type === 'string' && err.type !== 'Error' && message ? `${err.type}: ${message}` : message;
  }
  return '';
}

interface QuerySpec {
  needles: string[] | null;
  match(v: Fields, minAmountMicros: number): boolean;
  sumsAmount: boolean;
}

function isSlow(v: Fields): boolean {
  if (v.isTrue(F.performance)) {
    const seconds = v.get(F.execution_time);
    if (typeof seconds === 'number' && seconds > SLOW_SECONDS) return true;
  }
  if (!v.isTrue(F.api_call)) return false;
  const ms = v.get(F.latency_ms);
  return typeof ms === 'number' && ms > SLOW_SECONDS * 1000;
}

const ERROR = Buffer.from('ERROR');
const CRITICAL = Buffer.from('CRITICAL');

function isPurchase(v: Fields): boolean {
  const type = v.get(F.type);
  return typeof type === 'string' && type.includes('purchase');
}

const QUERIES: Record<LogQueryName, QuerySpec> = {
  errors: { needles: ['"level":"ERROR"', '"level":"CRITICAL"'], match: (v) => v.isString(F.level, ERROR) || v.isString(F.level, CRITICAL), sumsAmount: false },
  transactions: { needles: ['"transaction":true'], match: (v) => v.isTrue(F.transaction), sumsAmount: true },
  revenue: { needles: ['"transaction":true'], match: (v) => v.isTrue(F.transaction) && isPurchase(v), sumsAmount: true },
  'high-value': { needles: ['"transaction":true'], match: (v, min) => v.isTrue(F.transaction) && amountFromFields(v) >= min, sumsAmount: true },
  // "success":false is far rarer than "api_call":true: the needle every failed call's line also holds
  'api-failures': { needles: ['"success":false'], match: (v) => v.isTrue(F.api_call) && v.isFalse(F.success), sumsAmount: false },
  slow: { needles: ['"performance":true', '"api_call":true'], match: isSlow, sumsAmount: false },
  security: { needles: ['"security_event":true'], match: (v) => v.isTrue(F.security_event), sumsAmount: false },
  tail: { needles: null, match: () => true, sumsAmount: false },
  all: { needles: null, match: () => true, sumsAmount: false },
};

/** A compiled filter: its own needles (rarer than any query's) and a test on the fields. */
interface FilterPlan {
  needles: string[] | null;
  match(v: Fields): boolean;
}

function planFilter(filter: LogFilter | undefined): FilterPlan {
  if (!filter || (filter.requestId === undefined && !filter.key)) return { needles: null, match: () => true };
  const { requestId, key } = filter;
  const prefixes = key?.prefixes.filter((p) => p !== '') ?? [];
  const ids = new Set(key?.allocationIds ?? []);
  const keyMatch = (v: Fields): boolean => {
    for (const slot of [F.key, F.key_masked, F.api_key]) {
      const k = v.get(slot);
      if (typeof k === 'string' && prefixes.some((p) => k.startsWith(p))) return true;
    }
    const id = v.get(F.allocation_id);
    return typeof id === 'number' && ids.has(id);
  };
  const match = (v: Fields): boolean => (requestId === undefined || v.get(F.request_id) === requestId) && (!key || keyMatch(v));
  // the needle of the rarer condition: a request id names one request
  let needles: string[] | null;
  if (requestId !== undefined) needles = [`"request_id":${JSON.stringify(requestId)}`];
  else {
    needles = [...prefixes.map((p) => JSON.stringify(p).slice(0, -1)), ...[...ids].map((id) => `"allocation_id":${id}`)];
    if (needles.length === 0) needles = null;
  }
  return { needles, match };
}

/** The scan plan of a query with a filter: which needles to search, how to test a line. */
interface Plan {
  needles: Buffer[] | null;
  match(v: Fields): boolean;
  sumsAmount: boolean;
}

function plan(query: LogQueryName, opts: { minAmountMicros?: number; filter?: LogFilter }): Plan {
  const spec = QUERIES[query];
  if (!spec) throw new RangeError(`unknown log query "${query}"; expected one of ${LOG_QUERIES.join(', ')}`);
  const minAmount = opts.minAmountMicros ?? DEFAULT_MIN_AMOUNT_MICROS;
  const filter = planFilter(opts.filter);
  const needles = filter.needles ?? spec.needles;
  return {
    needles: needles ? needles.map((n) => Buffer.from(n)) : null,
    match: (v) => spec.match(v, minAmount) && filter.match(v),
    sumsAmount: spec.sumsAmount,
  };
}

// ---- reading one line --------------------------------------------------------------------------------------

const TS_PREFIX = Buffer.from('{"timestamp":"');
const TS_LENGTH = 24;

/** true when the line starts with a timestamp (as the logger writes it) older than `since`. */
function olderThan(buf: Buffer, s: number, e: number, since: Buffer | null): boolean {
  if (!since || e - s < TS_PREFIX.length + TS_LENGTH) return false;
  for (let k = 0; k < TS_PREFIX.length; k++) if (buf[s + k] !== TS_PREFIX[k]) return false;
  const t = s + TS_PREFIX.length;
  for (let k = 0; k < TS_LENGTH; k++) {
    const d = buf[t + k] - since[k];
    if (d !== 0) return d < 0;
  }
  return false;
}

function isBlank(buf: Buffer, s: number, e: number): boolean {
  for (let i = s; i < e; i++) {
    const c = buf[i];
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d && c !== 0x0a) return false;
  }
  return true;
}

const OLD = 1;
const MALFORMED = 2;
const MATCH = 0;
const NO_MATCH = 3;

/** Reads a candidate line into `reader` and tests it. */
function classify(reader: FieldReader, buf: Buffer, s: number, e: number, sinceBytes: Buffer | null, sinceIso: string | null, match: (v: Fields) => boolean): number {
  if (olderThan(buf, s, e, sinceBytes)) return OLD;
  let r = reader.read(buf, s, e);
  if (r === LineRead.TooDeep) {
    try {
      const o: unknown = JSON.parse(buf.toString('utf8', s, e));
      if (o !== null && typeof o === 'object' && !Array.isArray(o)) {
        reader.fromObject(o as Record<string, unknown>);
        r = LineRead.Ok;
      } else r = LineRead.Malformed;
    } catch {
      r = LineRead.Malformed;
    }
  }
  if (r === LineRead.Malformed) return isBlank(buf, s, e) ? OLD : MALFORMED;
  if (sinceIso !== null) {
    const ts = reader.get(F.timestamp);
    if (!(typeof ts === 'string' && ts >= sinceIso)) return OLD;
  }
  return match(reader) ? MATCH : NO_MATCH;
}

// ---- a scan of one range of one file ----------------------------------------------------------------------

/** What one range of one file contributes; ranges merge in file order. */
export interface RangeResult {
  total: number;
  amountMicros: number;
  malformed: number;
  /** the range's last `limit` matching lines, oldest first */
  lines: string[];
  /** revenue per day: [day, purchases, µ$] */
  days: [string, number, number][];
  /** offset after the last line consumed */
  end: number;
}

/** What a worker needs to scan a range (plain data). */
export interface RangeTask {
  path: string;
  start: number;
  /** stop at this offset (a line boundary) or, when null, at the file's end */
  end: number | null;
  final: boolean;
  query: LogQueryName;
  limit: number;
  sinceIso: string | null;
  minAmountMicros?: number;
  filter?: LogFilter;
}

/** Scans a range of an open file (or of a file by path when `fh` is not given). */
export async function scanRange(task: RangeTask, fh?: ReadAt, signal?: AbortSignal): Promise<RangeResult> {
  const p = plan(task.query, { minAmountMicros: task.minAmountMicros, filter: task.filter });
  const reader = new FieldReader(FIELDS);
  const sinceBytes = task.sinceIso ? Buffer.from(task.sinceIso) : null;
  const out: RangeResult = { total: 0, amountMicros: 0, malformed: 0, lines: [], days: [], end: task.start };
  const days = new Map<string, [string, number, number]>();
  const revenue = task.query === 'revenue';
  const limit = task.limit;
  // the matching spans of the current chunk; only the last `limit` are decoded when the chunk is done
  const spans: number[] = [];
  const onLine: SpanSink = (buf, s, e) => {
    const c = classify(reader, buf, s, e, sinceBytes, task.sinceIso, p.match);
    if (c === MALFORMED) out.malformed++;
    if (c !== MATCH) return;
    out.total++;
    if (p.sumsAmount) {
      const micros = amountFromFields(reader);
      out.amountMicros += micros;
      if (revenue) {
        const ts = reader.get(F.timestamp);
        const day = typeof ts === 'string' ? ts.slice(0, 10) : 'unknown';
        const d = days.get(day) ?? [day, 0, 0];
        d[1]++;
        d[2] += micros;
        days.set(day, d);
      }
    }
    spans.push(s, e);
  };
  const onChunkDone = (buf: Buffer): void => {
    for (let k = Math.max(0, spans.length - 2 * limit); k < spans.length; k += 2) out.lines.push(buf.toString('utf8', spans[k], spans[k + 1]));
    if (out.lines.length > limit) out.lines.splice(0, out.lines.length - limit);
    spans.length = 0;
  };
  const own = fh ? undefined : await open(task.path, 'r');
  try {
    const handle = (fh ?? own)!;
    const scanner = createLineScanner(p.needles);
    out.end = await scanner.forward(task.end === null ? handle : boundedHandle(handle, task.end), task.start, { final: task.final, signal, onChunkDone }, onLine);
  } finally {
    await own?.close();
  }
  out.days = [...days.values()];
  return out;
}

/** A view of `fh` that ends at `end` (reads past it return nothing). */
function boundedHandle(fh: ReadAt, end: number): ReadAt {
  return { read: (buffer, offset, length, position) => fh.read(buffer, offset, Math.max(0, Math.min(length, end - position)), position) };
}

// ---- queries -------------------------------------------------------------------------------------------------

function checkLimit(limit: number | undefined): number {
  const n = limit ?? DEFAULT_LIMIT;
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`);
  return n;
}

/** Folds range results (in file order) into the query result. */
export function mergeRanges(result: LogQueryResult, parts: readonly RangeResult[], limit: number): void {
  const days = new Map<string, RevenueDay>();
  let lines: string[] = [];
  for (const part of parts) {
    result.total += part.total;
    result.amountMicros += part.amountMicros;
    result.malformed += part.malformed;
    lines = lines.concat(part.lines);
    if (lines.length > limit) lines = lines.slice(-limit);
    for (const [day, purchases, micros] of part.days) {
      const d = days.get(day) ?? { day, purchases: 0, revenueMicros: 0 };
      d.purchases += purchases;
      d.revenueMicros += micros;
      days.set(day, d);
    }
  }
  result.entries = lines.map((l) => JSON.parse(l) as LogEntry);
  result.days = [...days.values()].sort((a, b) => a.day.localeCompare(b.day));
}

/** Runs one query over `logDir`. A missing directory gives an empty result. */
export async function queryLogs(logDir: string, query: LogQueryName, opts: LogQueryOptions = {}): Promise<LogQueryResult> {
  plan(query, opts); // unknown query → RangeError before any file is touched
  const limit = checkLimit(opts.limit);
  const since = opts.since ?? null;
  const files = listLogFiles(logDir);
  const result: LogQueryResult = {
    query,
    since,
    filter: opts.filter ?? null,
    entries: [],
    total: 0,
    amountMicros: 0,
    days: [],
    malformed: 0,
    files: [],
    cursor: { ino: -1, offset: 0 },
  };
  if (query === 'tail') return tailLogs(files, result, limit, opts);

  const sinceIso = since ? since.toISOString() : null;
  // a rotated file last written before `since` holds nothing newer
  const wanted = files.filter((f) => !(since && !f.live && f.mtime.getTime() < since.getTime()));
  const task = (f: LogFileInfo): RangeTask => ({ path: f.path, start: 0, end: null, final: !f.live, query, limit, sinceIso, minAmountMicros: opts.minAmountMicros, filter: opts.filter });

  const { scanInParallel, parallelWorkers } = await import('./parallel.js');
  const workers = parallelWorkers(wanted, opts.workers);
  if (workers > 0) {
    const scanned = await scanInParallel(wanted, task, workers, { signal: opts.signal, rangeBytes: opts.rangeBytes });
    result.files = scanned.files;
    result.cursor = scanned.cursor;
    mergeRanges(result, scanned.parts, limit);
    return result;
  }

  const parts: RangeResult[] = [];
  for (const f of wanted) {
    if (opts.signal?.aborted) break;
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
      const part = await scanRange(task(f), fh, opts.signal);
      parts.push(part);
      if (f.live) result.cursor = { ino: st.ino, offset: part.end };
    } finally {
      await fh.close();
    }
  }
  mergeRanges(result, parts, limit);
  return result;
}

async function tailLogs(files: LogFileInfo[], result: LogQueryResult, limit: number, opts: LogQueryOptions): Promise<LogQueryResult> {
  const since = result.since;
  const sinceIso = since ? since.toISOString() : null;
  const sinceBytes = sinceIso ? Buffer.from(sinceIso) : null;
  // lines from several processes are only roughly in order: look a minute past the first older line
  const stopBytes = since ? Buffer.from(new Date(since.getTime() - 60_000).toISOString()) : null;
  const p = plan('tail', opts);
  const reader = new FieldReader(FIELDS);
  const newestFirst: LogEntry[] = [];
  let done = false;
  const scanned: LogFileInfo[] = [];
  for (const f of [...files].reverse()) {
    if (done || opts.signal?.aborted) break;
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
      const end = await scanBackward(fh, st.size, { skipPartial: f.live, needles: p.needles }, (text) => {
        const buf = Buffer.from(text);
        if (olderThan(buf, 0, buf.length, stopBytes)) {
          done = true;
          return false;
        }
        const c = classify(reader, buf, 0, buf.length, sinceBytes, sinceIso, p.match);
        if (c === MALFORMED) result.malformed++;
        if (c !== MATCH) return true;
        newestFirst.push(JSON.parse(text) as LogEntry);
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
  filter?: LogFilter;
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
  const p = plan(query, opts);
  const reader = new FieldReader(FIELDS);
  const scanner = createLineScanner(p.needles, 256 * 1024);
  const livePath = join(logDir, LIVE_LOG_NAME);
  const pollMs = opts.pollMs ?? 250;
  const onLine: SpanSink = (buf, s, e) => {
    const c = classify(reader, buf, s, e, null, null, p.match);
    if (c === MALFORMED) opts.onMalformed?.();
    if (c === MATCH) opts.onEntry(JSON.parse(buf.toString('utf8', s, e)) as LogEntry);
  };
  const forward = (handle: FileHandle, from: number, final: boolean) => scanner.forward(handle, from, { final, signal: opts.signal }, onLine);

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
      if (fh) offset = await forward(fh, offset, false);
      if (opts.signal.aborted) break;
      const live = await statIno(livePath);
      if (live && live.ino !== ino) {
        // the file we read was rotated (or the live file appeared): finish it, then go on with its successor
        if (fh) {
          await forward(fh, offset, true);
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
  const scanner = createLineScanner(opts.needles);
  for (const f of listLogFiles(logDir)) {
    if (opts.since && !f.live && f.mtime.getTime() < opts.since.getTime()) continue;
    let fh: FileHandle;
    try {
      fh = await open(f.path, 'r');
    } catch {
      continue;
    }
    try {
      await scanner.forward(fh, 0, { final: !f.live }, (buf, s, e) => onLine(buf.toString('utf8', s, e)));
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
  const sinceBytes = sinceIso ? Buffer.from(sinceIso) : null;
  const reader = new FieldReader(FIELDS);
  const scanner = createLineScanner([Buffer.from('"api_call":true')]);
  // exact percentile in constant memory: a 1 ms histogram up to a minute, slower calls kept as they are
  const histogram = new Uint32Array(60_001);
  const overflow: number[] = [];
  const out: ApiCallSummary = { total: 0, failed: 0, p95LatencyMs: null, malformed: 0 };
  const onLine: SpanSink = (buf, s, e) => {
    const c = classify(reader, buf, s, e, sinceBytes, sinceIso, (v) => v.isTrue(F.api_call));
    if (c === MALFORMED) out.malformed++;
    if (c !== MATCH) return;
    out.total++;
    if (reader.isFalse(F.success)) out.failed++;
    const latency = reader.get(F.latency_ms);
    const ms = typeof latency === 'number' && Number.isFinite(latency) ? Math.max(0, Math.ceil(latency)) : 0;
    if (ms < histogram.length) histogram[ms]++;
    else overflow.push(ms);
  };
  for (const f of listLogFiles(logDir)) {
    if (since && !f.live && f.mtime.getTime() < since.getTime()) continue;
    let fh: FileHandle;
    try {
      fh = await open(f.path, 'r');
    } catch {
      continue;
    }
    try {
      await scanner.forward(fh, 0, { final: !f.live }, onLine);
    } finally {
      await fh.close();
    }
  }
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
