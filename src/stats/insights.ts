/**
 * What `arb stats` draws on a terminal, next to the figures of stats.ts: the daily series of the whole
 * window with the days without sales filled in (folded into weeks or months when the window is long),
 * the margin of each model, and the keys that used the most tokens with how much of their quota is gone.
 * Only `topKeysByUsage` queries the database (one small aggregate over the window's usage events, by
 * idx_usage_events_created); the rest folds what computeStats already returned.
 */
import { sql } from 'kysely';
import type { DbHandle } from '../db/dialect.js';
import type { DaySales, ModelSales } from './stats.js';
import { toDbTime } from '../time.js';

export interface SeriesPoint {
  /** UTC YYYY-MM-DD: the day, or the first day of the week/month */
  day: string;
  /** the last day the point covers (= day for a daily point) */
  lastDay: string;
  sales: number;
  revenueMicros: number;
  costMicros: number;
  profitMicros: number;
}

export type SeriesUnit = 'day' | 'week' | 'month';

export interface Series {
  unit: SeriesUnit;
  /** first and last UTC day of the window */
  from: string;
  to: string;
  /** days in the window */
  days: number;
  points: SeriesPoint[];
}

const DAY_MS = 86_400_000;
const dayOf = (stored: string) => stored.slice(0, 10);
const addDays = (day: string, n: number) => new Date(Date.parse(`${day}T00:00:00Z`) + n * DAY_MS).toISOString().slice(0, 10);
const daysBetween = (a: string, b: string) => Math.round((Date.parse(`${b}T00:00:00Z`) - Date.parse(`${a}T00:00:00Z`)) / DAY_MS);

/**
 * Every UTC day from the window's first day (its start, or the first sale for all time) to `until`, days
 * without sales as zeros; folded into weeks (Monday first) or months when there are more than `maxPoints`.
 */
export function dailySeries(
  byDay: readonly Pick<DaySales, 'day' | 'sales' | 'revenueMicros' | 'costMicros' | 'profitMicros'>[],
  window: { since: string | null; until: string },
  maxPoints = 31,
): Series {
  const to = dayOf(window.until);
  const sorted = [...byDay].sort((a, b) => a.day.localeCompare(b.day));
  let from = window.since ? dayOf(window.since) : (sorted[0]?.day ?? to);
  if (from > to) from = to;
  const known = new Map(sorted.map((d) => [d.day, d]));
  const days: SeriesPoint[] = [];
  for (let day = from; day <= to; day = addDays(day, 1)) {
    const d = known.get(day);
    days.push({ day, lastDay: day, sales: d?.sales ?? 0, revenueMicros: d?.revenueMicros ?? 0, costMicros: d?.costMicros ?? 0, profitMicros: d?.profitMicros ?? 0 });
  }
  const count = daysBetween(from, to) + 1;
  if (days.length <= maxPoints) return { unit: 'day', from, to, days: count, points: days };
  const weekStart = (day: string) => addDays(day, -((new Date(`${day}T00:00:00Z`).getUTCDay() + 6) % 7));
  const weeks = fold(days, weekStart);
  if (weeks.length <= maxPoints) return { unit: 'week', from, to, days: count, points: weeks };
  return { unit: 'month', from, to, days: count, points: fold(days, (day) => `${day.slice(0, 7)}-01`) };
}

function fold(days: readonly SeriesPoint[], bucketOf: (day: string) => string): SeriesPoint[] {
  const out: SeriesPoint[] = [];
  let lastKey = '';
  for (const d of days) {
    const key = bucketOf(d.day);
    const last = out[out.length - 1];
    if (last && lastKey === key) {
      last.lastDay = d.day;
      last.sales += d.sales;
      last.revenueMicros += d.revenueMicros;
      last.costMicros += d.costMicros;
      last.profitMicros += d.profitMicros;
    } else {
      // the window may start mid-week: a point is labelled by the first day it really covers
      out.push({ ...d });
      lastKey = key;
    }
  }
  return out;
}

export interface ModelMargin {
  model: string;
  sales: number;
  revenueMicros: number;
  profitMicros: number;
  /** profit / cost × 100, one decimal; null without cost (free models, refunds only) */
  marginPercent: number | null;
}

/** The margin of each model sold in the window, best revenue first. */
export function marginByModel(byModel: readonly Pick<ModelSales, 'model' | 'sales' | 'revenueMicros' | 'costMicros' | 'profitMicros'>[]): ModelMargin[] {
  return byModel.map((m) => ({
    model: m.model,
    sales: m.sales,
    revenueMicros: m.revenueMicros,
    profitMicros: m.profitMicros,
    marginPercent: m.costMicros === 0 ? null : Math.round((m.profitMicros / m.costMicros) * 1000) / 10,
  }));
}

export interface TopKey {
  allocationId: number;
  /** masked form, sk-arb-AbCd…wxyz */
  apiKey: string;
  telegramId: number;
  model: string;
  tokensTotal: number;
  tokensUsed: number;
  /** prompt-equivalent tokens used in the window */
  tokensInWindow: number;
  /** requests in the window; null for all time (counted from the keys, not the events) */
  requests: number | null;
  /** tokens used / total × 100, one decimal */
  quotaPercent: number;
  status: string;
  expiresAt: string;
}

const n = (v: unknown) => (v === null || v === undefined ? 0 : Number(v));

/** The keys that used the most tokens in the window (all time: the most used keys), with their quota use. */
export async function topKeysByUsage(handle: DbHandle, options: { since?: Date | null; limit?: number } = {}): Promise<TopKey[]> {
  const limit = options.limit ?? 5;
  const db = handle.db;
  type Row = { id: unknown; api_key: string; telegram_id: unknown; model: string; tokens_total: unknown; tokens_used: unknown; status: string; expires_at: string };
  let ranked: Array<{ id: number; inWindow: number; requests: number | null }>;
  if (options.since) {
    const since = toDbTime(options.since);
    const rows = await sql<{ id: unknown; used: unknown; requests: unknown }>`
      select allocation_id as id, sum(weighted_tokens) as used, count(*) as requests
      from usage_events where created_at >= ${since} and allocation_id is not null
      group by allocation_id order by sum(weighted_tokens) desc, allocation_id limit ${limit}`.execute(db);
    ranked = rows.rows.map((r) => ({ id: n(r.id), inWindow: n(r.used), requests: n(r.requests) })).filter((r) => r.inWindow > 0);
  } else {
    const rows = await sql<{ id: unknown; used: unknown }>`
      select id, tokens_used as used from ai_token_allocations where tokens_used > 0 order by tokens_used desc, id limit ${limit}`.execute(db);
    ranked = rows.rows.map((r) => ({ id: n(r.id), inWindow: n(r.used), requests: null }));
  }
  if (ranked.length === 0) return [];
  const keys = await sql<Row>`
    select a.id, a.api_key, u.telegram_id, a.model, a.tokens_total, a.tokens_used, a.status, a.expires_at
    from ai_token_allocations a join users u on u.id = a.user_id
    where a.id in (${sql.join(ranked.map((r) => r.id))})`.execute(db);
  const byId = new Map(keys.rows.map((k) => [n(k.id), k]));
  return ranked.flatMap((r) => {
    const k = byId.get(r.id);
    if (!k) return [];
    const total = n(k.tokens_total);
    const used = n(k.tokens_used);
    return [
      {
        allocationId: r.id,
        apiKey: k.api_key,
        telegramId: n(k.telegram_id),
        model: k.model,
        tokensTotal: total,
        tokensUsed: used,
        tokensInWindow: r.inWindow,
        requests: r.requests,
        quotaPercent: total === 0 ? 0 : Math.round((used / total) * 1000) / 10,
        status: k.status,
        expiresAt: k.expires_at,
      },
    ];
  });
}
