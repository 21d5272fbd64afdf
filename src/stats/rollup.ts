/**
 * Daily rollups, so `arb stats` costs the same over a year of history as over a week (issue 15.4).
 *
 * Usage events, sales (allocations) and the ledger's refunds and top-ups are summed per UTC day and model
 * (`model_daily`), usage also per key (`usage_daily`). Each source table has a watermark (`rollup_state`):
 * the rows with an id at or below it are in the sums, the rows above it are read raw. A window's figures
 * are the sums of its whole days plus two raw reads: the part of its first day after `since` (through the
 * created_at index) and the rows above the watermark. So the answer is exact whatever was rolled up, and
 * the raw part is bounded by one day plus what is not rolled up yet.
 *
 * Rolling up is lazy and runs from the stats side (`rollUp`, called by computeStats): nothing is added to
 * the proxy's request path. Only ids taken more than a few minutes ago are rolled up: on PostgreSQL ids
 * are taken before commit, so a row with a lower id can become visible after a higher one, but no
 * transaction that writes these rows lasts minutes. Each batch is one transaction that advances the
 * watermark only from the value it read, so two processes rolling up at once cannot count a row twice.
 * Nothing ever deletes or rewrites a summed row's source fields (usage events and ledger rows are
 * append-only; an allocation's model, price, tokens, cost basis and time never change), so the sums stay
 * equal to the raw sums (test/stats/rollup.test.ts), cleanup included.
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from '../db/database.js';
import { transact, type DbHandle, type DialectName } from '../db/dialect.js';
import { toDbTime } from '../time.js';

/** Rows younger than this are never rolled up (see above). */
export const ROLLUP_GRACE_MS = 5 * 60_000;
const BATCH_IDS = 50_000;

export type RollupSource = 'usage_events' | 'ai_token_allocations' | 'transactions';

/** The summed columns of model_daily, in order. */
export const DAILY_COLUMNS = [
  'requests',
  'failed_requests',
  'prompt_tokens',
  'completion_tokens',
  'weighted_tokens',
  'loss_tokens',
  'upstream_cost',
  'used_revenue',
  'free_upstream_cost',
  'sales',
  'tokens_sold',
  'gross_sales',
  'cost',
  'free_grants',
  'free_grant_tokens',
  'free_grant_cost',
  'refunds',
  'refund_count',
  'topups',
  'topup_count',
] as const;
export type DailyColumn = (typeof DAILY_COLUMNS)[number];
export type DailySums = Record<DailyColumn, number>;
export interface DailyRow extends DailySums {
  /** UTC YYYY-MM-DD */
  day: string;
  /** '' for rows of no model (top-ups, refunds of no sale) */
  model: string;
}

const USAGE_COLUMNS = ['requests', 'failed_requests', 'prompt_tokens', 'completion_tokens', 'weighted_tokens', 'loss_tokens', 'upstream_cost', 'used_revenue'] as const;
const SALES_COLUMNS = ['sales', 'tokens_sold', 'gross_sales', 'cost', 'free_grants', 'free_grant_tokens', 'free_grant_cost'] as const;
const LEDGER_COLUMNS = ['refunds', 'refund_count', 'topups', 'topup_count'] as const;

// ---- the aggregates (the same SQL sums the rollups and the raw reads) --------------------------------

const FAILED = sql`e.outcome in ('upstream_error', 'upstream_cut', 'timeout')`;

/**
 * Usage events matching `where`, summed per day and model (and key with `perKey`). `cross join` keeps
 * SQLite's planner on the events (a range) with one key lookup each: left to itself it walks every key
 * ever sold and probes its events, which grows with the history.
 */
function usageAggregate(where: RawBuilder<unknown>, perKey: boolean) {
  const key = perKey ? sql`, e.allocation_id` : sql``;
  return sql`
    select substr(e.created_at, 1, 10) as day, e.model as model${key},
           count(*) as requests,
           sum(case when ${FAILED} then 1 else 0 end) as failed_requests,
           sum(e.prompt_tokens) as prompt_tokens, sum(e.completion_tokens) as completion_tokens,
           sum(e.weighted_tokens) as weighted_tokens, sum(e.loss_tokens) as loss_tokens,
           sum(e.upstream_cost) as upstream_cost,
           sum(case when a.tokens_total > 0 then (e.weighted_tokens * a.price_paid) / a.tokens_total else 0 end) as used_revenue
           ${perKey ? sql`` : sql`, sum(case when a.price_paid = 0 then e.upstream_cost else 0 end) as free_upstream_cost`}
    from usage_events e cross join ai_token_allocations a
    where a.id = e.allocation_id and ${where}
    group by substr(e.created_at, 1, 10), e.model${key}`;
}

/** Allocations (sales and free grants) matching `where`, summed per day and model. */
function salesAggregate(where: RawBuilder<unknown>) {
  const cost = sql`coalesce(a.cost_basis, p.cost, 0)`;
  return sql`
    select substr(a.created_at, 1, 10) as day, a.model as model,
           sum(case when a.price_paid > 0 then 1 else 0 end) as sales,
           sum(case when a.price_paid > 0 then a.tokens_total else 0 end) as tokens_sold,
           sum(a.price_paid) as gross_sales,
           sum(case when a.price_paid > 0 then ${cost} else 0 end) as cost,
           sum(case when a.price_paid = 0 then 1 else 0 end) as free_grants,
           sum(case when a.price_paid = 0 then a.tokens_total else 0 end) as free_grant_tokens,
           sum(case when a.price_paid = 0 then ${cost} else 0 end) as free_grant_cost
    from ai_token_allocations a left join ai_token_packages p on p.id = a.package_id
    where ${where}
    group by substr(a.created_at, 1, 10), a.model`;
}

/** Refunds (by the refunded sale's model) and top-ups (model '') matching `where`, per day. */
function ledgerAggregate(where: RawBuilder<unknown>) {
  const model = sql`case when t.type = 'refund' then coalesce(a.model, '') else '' end`;
  return sql`
    select substr(t.created_at, 1, 10) as day, ${model} as model,
           sum(case when t.type = 'refund' then t.amount else 0 end) as refunds,
           sum(case when t.type = 'refund' then 1 else 0 end) as refund_count,
           sum(case when t.type = 'topup' then t.amount else 0 end) as topups,
           sum(case when t.type = 'topup' then 1 else 0 end) as topup_count
    from transactions t left join ai_token_allocations a on a.id = t.allocation_id
    where t.type in ('refund', 'topup') and ${where}
    group by substr(t.created_at, 1, 10), ${model}`;
}

// ---- rolling up ------------------------------------------------------------------------------------------

/** `insert … select … on conflict do update` adding the selected sums to the existing row. */
function upsert(table: 'usage_daily' | 'model_daily', keys: string[], columns: readonly string[], select: RawBuilder<unknown>) {
  const names = [...keys, ...columns].join(', ');
  const add = columns.map((c) => `${c} = ${table}.${c} + excluded.${c}`).join(', ');
  return sql`insert into ${sql.table(table)} (${sql.raw(names)}) select ${sql.raw(names)} from (${select}) x where true
             on conflict (${sql.raw(keys.join(', '))}) do update set ${sql.raw(add)}`;
}

const SOURCES: { source: RollupSource; createdAt: string; apply: (trx: Kysely<Database>, from: number, to: number) => Promise<void> }[] = [
  {
    source: 'usage_events',
    createdAt: 'usage_events',
    async apply(trx, from, to) {
      const range = sql`e.id > ${from} and e.id <= ${to}`;
      await upsert('usage_daily', ['day', 'model', 'allocation_id'], USAGE_COLUMNS, usageAggregate(range, true)).execute(trx);
      await upsert('model_daily', ['day', 'model'], [...USAGE_COLUMNS, 'free_upstream_cost'], usageAggregate(range, false)).execute(trx);
    },
  },
  {
    source: 'ai_token_allocations',
    createdAt: 'ai_token_allocations',
    async apply(trx, from, to) {
      await upsert('model_daily', ['day', 'model'], SALES_COLUMNS, salesAggregate(sql`a.id > ${from} and a.id <= ${to}`)).execute(trx);
    },
  },
  {
    source: 'transactions',
    createdAt: 'transactions',
    async apply(trx, from, to) {
      await upsert('model_daily', ['day', 'model'], LEDGER_COLUMNS, ledgerAggregate(sql`t.id > ${from} and t.id <= ${to}`)).execute(trx);
    },
  },
];

const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));

/** The watermark of each source. */
export async function readWatermarks(db: Kysely<Database>): Promise<Record<RollupSource, number>> {
  const rows = await db.selectFrom('rollup_state').select(['source', 'last_id']).execute();
  const out: Record<RollupSource, number> = { usage_events: 0, ai_token_allocations: 0, transactions: 0 };
  for (const r of rows) if (r.source in out) out[r.source as RollupSource] = num(r.last_id);
  return out;
}

/**
 * The highest id of `table` that may be rolled up now: the id of the newest row written before the
 * cutoff. Every lower id was taken before that row's (ids come from one increasing sequence), so more than
 * the grace ago: its transaction has ended and its row, if any, is visible.
 */
async function safeLimit(db: Kysely<Database>, table: RollupSource, cutoff: string): Promise<number> {
  const r = await sql<{ id: unknown }>`select id from ${sql.table(table)} where created_at < ${cutoff} order by created_at desc limit 1`.execute(db);
  return num(r.rows[0]?.id);
}

export interface RollupResult {
  /** rows summed now, per source */
  rolled: Record<RollupSource, number>;
  /** false when the time budget ran out before everything old enough was summed */
  complete: boolean;
}

export interface RollupOptions {
  now?: Date;
  /** stop starting new batches after this many ms (default: no limit) */
  budgetMs?: number;
  /** ids per transaction (default 50,000) */
  batchIds?: number;
}

/**
 * Sums the rows older than the grace that are not summed yet. Safe to run from several processes at
 * once; does nothing on a read-only handle. Returns how far it got.
 */
export async function rollUp(handle: DbHandle, options: RollupOptions = {}): Promise<RollupResult> {
  const rolled: Record<RollupSource, number> = { usage_events: 0, ai_token_allocations: 0, transactions: 0 };
  if (handle.sqlite?.readonly) return { rolled, complete: false };
  const started = Date.now();
  const cutoff = toDbTime(new Date((options.now ?? new Date()).getTime() - ROLLUP_GRACE_MS));
  const batch = options.batchIds ?? BATCH_IDS;
  const marks = await readWatermarks(handle.db);
  let complete = true;
  for (const { source, apply } of SOURCES) {
    const limit = await safeLimit(handle.db, source, cutoff);
    let from = marks[source];
    while (from < limit) {
      if (options.budgetMs !== undefined && Date.now() - started > options.budgetMs) {
        complete = false;
        break;
      }
      const to = Math.min(limit, from + batch);
      const advanced = await transact(handle, async (trx) => {
        // claims (from, to]: 0 rows changed means another process summed it first
        const claim = await trx.updateTable('rollup_state').set({ last_id: to }).where('source', '=', source).where('last_id', '=', from).executeTakeFirst();
        if (Number(claim.numUpdatedRows) !== 1) return false;
        await apply(trx, from, to);
        return true;
      });
      if (!advanced) {
        from = (await readWatermarks(handle.db))[source];
        continue;
      }
      rolled[source] += to - from;
      from = to;
      // let other work (the daemon's requests, the bot) run between batches
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  return { rolled, complete };
}

// ---- reading a window -------------------------------------------------------------------------------------

export interface WindowRead {
  /** sums per day (all models), in no order */
  days: DailyRow[];
  /** sums per model (all days; '' = no model), in no order */
  models: DailyRow[];
}

function emptyRow(day: string, model: string): DailyRow {
  const row = { day, model } as DailyRow;
  for (const c of DAILY_COLUMNS) row[c] = 0;
  return row;
}

/** Adds the sums of `r` (a query row) to the row of `key` in `map`. */
function addSums(map: Map<string, DailyRow>, key: string, day: string, model: string, r: Record<string, unknown>): void {
  let row = map.get(key);
  if (!row) map.set(key, (row = emptyRow(day, model)));
  for (const c of DAILY_COLUMNS) {
    const v = r[c];
    if (v !== undefined && v !== null) row[c] += Number(v);
  }
}

/**
 * Rows above a watermark in the window's whole days. On SQLite `+created_at` keeps the planner on the id
 * range: through the created_at index it would visit every row of the window.
 */
function aboveMark(dialect: DialectName, alias: string, mark: number, edge: string | null): RawBuilder<unknown> {
  const a = sql.raw(alias);
  if (edge === null) return sql`${a}.id > ${mark}`;
  return dialect === 'sqlite' ? sql`${a}.id > ${mark} and +${a}.created_at >= ${edge}` : sql`${a}.id > ${mark} and ${a}.created_at >= ${edge}`;
}

/** The start of the UTC day after `stamp` (stored form), e.g. '2024-01-15 10:30:00' → '2024-01-16 00:00:00'. */
function nextDayStart(stamp: string): string {
  const d = new Date(`${stamp.slice(0, 10)}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + 1);
  return toDbTime(d);
}

/**
 * Sums per day and per model for the window starting at `since` (stored form; null = all time), exact: the
 * rollups' whole days plus the raw rows of the first, partial day and the rows above the watermarks.
 * `useRollups: false` reads everything raw (the reference the rollups are tested against).
 */
export async function readWindow(db: Kysely<Database>, dialect: DialectName, since: string | null, opts: { useRollups?: boolean } = {}): Promise<WindowRead> {
  const useRollups = opts.useRollups ?? true;
  const marks = useRollups ? await readWatermarks(db) : { usage_events: 0, ai_token_allocations: 0, transactions: 0 };
  // whole days: from the first day that starts at or after `since`
  const aligned = since !== null && since.slice(11) === '00:00:00';
  const edge = since === null ? null : aligned ? since : nextDayStart(since);
  const days = new Map<string, DailyRow>();
  const models = new Map<string, DailyRow>();
  const addRaw = (rows: Record<string, unknown>[]) => {
    for (const r of rows) {
      const day = String(r.day);
      const model = String(r.model ?? '');
      addSums(days, day, day, '', r);
      addSums(models, model, '', model, r);
    }
  };

  if (useRollups) {
    // summed by SQL per day and per model: rows = days + models, not days × models
    const sums = sql.raw(DAILY_COLUMNS.map((c) => `sum(${c}) as ${c}`).join(', '));
    const inWindow = edge === null ? sql`1 = 1` : sql`day >= ${edge.slice(0, 10)}`;
    for (const r of (await sql<Record<string, unknown>>`select day, ${sums} from model_daily where ${inWindow} group by day`.execute(db)).rows) addSums(days, String(r.day), String(r.day), '', r);
    for (const r of (await sql<Record<string, unknown>>`select model, ${sums} from model_daily where ${inWindow} group by model`.execute(db)).rows)
      addSums(models, String(r.model), '', String(r.model), r);
  }
  // raw: the partial first day (every row, rolled up or not) …
  if (since !== null && !aligned) {
    addRaw((await usageAggregate(sql`e.created_at >= ${since} and e.created_at < ${edge}`, false).execute(db)).rows as Record<string, unknown>[]);
    addRaw((await salesAggregate(sql`a.created_at >= ${since} and a.created_at < ${edge}`).execute(db)).rows as Record<string, unknown>[]);
    addRaw((await ledgerAggregate(sql`t.created_at >= ${since} and t.created_at < ${edge}`).execute(db)).rows as Record<string, unknown>[]);
  }
  // … and the rows above the watermarks in the whole days
  addRaw((await usageAggregate(aboveMark(dialect, 'e', marks.usage_events, edge), false).execute(db)).rows as Record<string, unknown>[]);
  addRaw((await salesAggregate(aboveMark(dialect, 'a', marks.ai_token_allocations, edge)).execute(db)).rows as Record<string, unknown>[]);
  addRaw((await ledgerAggregate(aboveMark(dialect, 't', marks.transactions, edge)).execute(db)).rows as Record<string, unknown>[]);
  return { days: [...days.values()], models: [...models.values()] };
}

/** Usage per key for a window, for views that rank keys (rollups plus raw rows, as readWindow). */
export async function readKeyUsage(
  db: Kysely<Database>,
  dialect: DialectName,
  since: string | null,
): Promise<{ allocationId: number; model: string; requests: number; weightedTokens: number; upstreamCost: number; usedRevenue: number }[]> {
  const marks = await readWatermarks(db);
  const aligned = since !== null && since.slice(11) === '00:00:00';
  const edge = since === null ? null : aligned ? since : nextDayStart(since);
  const fold = new Map<number, { allocationId: number; model: string; requests: number; weightedTokens: number; upstreamCost: number; usedRevenue: number }>();
  const add = (rows: Record<string, unknown>[]) => {
    for (const r of rows) {
      const id = num(r.allocation_id);
      const k = fold.get(id) ?? { allocationId: id, model: String(r.model), requests: 0, weightedTokens: 0, upstreamCost: 0, usedRevenue: 0 };
      k.requests += num(r.requests);
      k.weightedTokens += num(r.weighted_tokens);
      k.upstreamCost += num(r.upstream_cost);
      k.usedRevenue += num(r.used_revenue);
      fold.set(id, k);
    }
  };
  const q = db.selectFrom('usage_daily').select(['allocation_id', 'model', 'requests', 'weighted_tokens', 'upstream_cost', 'used_revenue']);
  add((await (edge === null ? q : q.where('day', '>=', edge.slice(0, 10))).execute()) as unknown as Record<string, unknown>[]);
  if (since !== null && !aligned) add((await usageAggregate(sql`e.created_at >= ${since} and e.created_at < ${edge}`, true).execute(db)).rows as Record<string, unknown>[]);
  add((await usageAggregate(aboveMark(dialect, 'e', marks.usage_events, edge), true).execute(db)).rows as Record<string, unknown>[]);
  return [...fold.values()];
}
