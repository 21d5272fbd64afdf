/**
 * Business statistics for a time window (SPEC §6 `arb stats`, the bot's 📊 and `/token_stats`): one
 * function returning a plain object of integers (µ$, tokens, counts). Every figure comes from a handful
 * of aggregate SQL statements — no row loops — so it stays fast on millions of usage events.
 *
 * Definitions (also in the operations manual):
 * - a *sale* is an allocation created in the window; *gross sales* = Σ price_paid (0 for free grants);
 * - *refunds* = Σ refund transactions in the window; *revenue* = gross sales − refunds;
 * - *cost* = Σ cost basis (ai_token_packages.cost, tokens × unit rate) of the packages sold — what the
 *   tokens sold cost upstream if fully used; *profit* = revenue − cost; *margin* = profit / cost;
 * - *realised upstream cost* = Σ usage_events.upstream_cost (what OpenRouter reported) in the window;
 * - *tokens used* = Σ weighted (prompt-equivalent) tokens of usage events in the window; *loss tokens* =
 *   tokens served beyond what a key could pay (operator loss);
 * - *active keys* = allocations with status 'active' that have not expired (now, not windowed).
 */
import { sql } from 'kysely';
import type { DbHandle } from '../db/dialect.js';
import { toDbTime } from '../time.js';

export interface ModelSales {
  model: string;
  sales: number;
  freeGrants: number;
  tokensSold: number;
  grossSalesMicros: number;
  refundsMicros: number;
  revenueMicros: number;
  costMicros: number;
  profitMicros: number;
}

export interface DaySales {
  /** UTC YYYY-MM-DD */
  day: string;
  sales: number;
  revenueMicros: number;
  costMicros: number;
  profitMicros: number;
}

export interface Stats {
  /** window start as stored time (UTC YYYY-MM-DD HH:MM:SS); null = all time */
  since: string | null;
  until: string;
  sales: number;
  freeGrants: number;
  grossSalesMicros: number;
  refundsMicros: number;
  revenueMicros: number;
  costMicros: number;
  profitMicros: number;
  /** profit / cost × 100, one decimal; null when nothing was sold */
  marginPercent: number | null;
  topupsMicros: number;
  byModel: ModelSales[];
  byDay: DaySales[];
  activeKeys: number;
  tokensSold: number;
  tokensUsed: number;
  lossTokens: number;
  requests: number;
  failedRequests: number;
  upstreamCostMicros: number;
  /** µ$ remaining at OpenRouter; null when not asked or unreachable */
  openrouterCreditMicros: number | null;
  /** why the credit is null, e.g. "unavailable: OpenRouter GET /key timed out" */
  openrouterCreditNote: string | null;
}

export interface StatsOptions {
  /** window start; null or undefined = all time */
  since?: Date | null;
  now?: Date;
  /** asked concurrently with the queries; a failure or timeout yields null, never an error */
  creditRemainingMicros?: () => Promise<number>;
  /** default 2500 ms */
  creditTimeoutMs?: number;
}

const n = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));

/** Computes the statistics for a window. */
export async function computeStats(handle: DbHandle, options: StatsOptions = {}): Promise<Stats> {
  const now = options.now ?? new Date();
  const until = toDbTime(now);
  const since = options.since ? toDbTime(options.since) : null;
  const credit = fetchCredit(options);
  const db = handle.db;

  const allocWindow = since === null ? sql`1 = 1` : sql`a.created_at >= ${since}`;
  const txWindow = since === null ? sql`1 = 1` : sql`t.created_at >= ${since}`;
  const usageWindow = since === null ? sql`1 = 1` : sql`created_at >= ${since}`;

  // one pass over the sales, grouped by model and day; both breakdowns are folded from it
  const salesRows = await sql<{ model: string; day: string; sales: unknown; free_grants: unknown; tokens: unknown; gross: unknown; cost: unknown }>`
    select a.model as model, substr(a.created_at, 1, 10) as day, count(*) as sales,
           sum(case when a.price_paid = 0 then 1 else 0 end) as free_grants,
           sum(a.tokens_total) as tokens, sum(a.price_paid) as gross, sum(p.cost) as cost
    from ai_token_allocations a join ai_token_packages p on p.id = a.package_id
    where ${allocWindow}
    group by a.model, substr(a.created_at, 1, 10)`.execute(db);

  const refundRows = await sql<{ model: string | null; refunds: unknown }>`
    select a.model as model, sum(t.amount) as refunds
    from transactions t left join ai_token_allocations a on a.id = t.allocation_id
    where t.type = 'refund' and ${txWindow}
    group by a.model`.execute(db);

  const refundDayRows = await sql<{ day: string; refunds: unknown }>`
    select substr(t.created_at, 1, 10) as day, sum(t.amount) as refunds
    from transactions t where t.type = 'refund' and ${txWindow}
    group by substr(t.created_at, 1, 10)`.execute(db);

  const topups = await sql<{ topups: unknown }>`
    select sum(t.amount) as topups from transactions t where t.type = 'topup' and ${txWindow}`.execute(db);

  const usage = await sql<{ requests: unknown; failed: unknown; used: unknown; loss: unknown; upstream: unknown }>`
    select count(*) as requests,
           sum(case when outcome in ('upstream_error', 'upstream_cut', 'timeout') then 1 else 0 end) as failed,
           sum(weighted_tokens) as used, sum(loss_tokens) as loss, sum(upstream_cost) as upstream
    from usage_events where ${usageWindow}`.execute(db);

  // a plain scan: through idx_ai_token_allocations_expires nearly every row would be a random lookup
  const active = await sql<{ keys: unknown }>`
    select sum(case when status = 'active' and expires_at > ${until} then 1 else 0 end) as keys from ai_token_allocations`.execute(db);

  const refundsByModel = new Map<string | null, number>();
  for (const r of refundRows.rows) refundsByModel.set(r.model, n(r.refunds));
  const models = new Map<string, { sales: number; freeGrants: number; tokens: number; gross: number; cost: number }>();
  const days = new Map<string, DaySales>();
  for (const r of salesRows.rows) {
    const m = models.get(r.model) ?? { sales: 0, freeGrants: 0, tokens: 0, gross: 0, cost: 0 };
    m.sales += n(r.sales);
    m.freeGrants += n(r.free_grants);
    m.tokens += n(r.tokens);
    m.gross += n(r.gross);
    m.cost += n(r.cost);
    models.set(r.model, m);
    const d = days.get(r.day) ?? { day: r.day, sales: 0, revenueMicros: 0, costMicros: 0, profitMicros: 0 };
    d.sales += n(r.sales);
    d.revenueMicros += n(r.gross);
    d.costMicros += n(r.cost);
    d.profitMicros += n(r.gross) - n(r.cost);
    days.set(r.day, d);
  }
  const byModel: ModelSales[] = [...models].map(([model, m]) => {
    const refunds = refundsByModel.get(model) ?? 0;
    refundsByModel.delete(model);
    return {
      model,
      sales: m.sales,
      freeGrants: m.freeGrants,
      tokensSold: m.tokens,
      grossSalesMicros: m.gross,
      refundsMicros: refunds,
      revenueMicros: m.gross - refunds,
      costMicros: m.cost,
      profitMicros: m.gross - refunds - m.cost,
    };
  });
  // refunds in the window for sales made before it
  for (const [model, refunds] of refundsByModel) {
    byModel.push({ model: model ?? '(unknown)', sales: 0, freeGrants: 0, tokensSold: 0, grossSalesMicros: 0, refundsMicros: refunds, revenueMicros: -refunds, costMicros: 0, profitMicros: -refunds });
  }
  byModel.sort((a, b) => b.revenueMicros - a.revenueMicros || b.sales - a.sales || a.model.localeCompare(b.model));

  for (const r of refundDayRows.rows) {
    const d = days.get(r.day) ?? { day: r.day, sales: 0, revenueMicros: 0, costMicros: 0, profitMicros: 0 };
    d.revenueMicros -= n(r.refunds);
    d.profitMicros -= n(r.refunds);
    days.set(r.day, d);
  }
  const byDay = [...days.values()].sort((a, b) => a.day.localeCompare(b.day));

  const sum = (f: (m: ModelSales) => number) => byModel.reduce((acc, m) => acc + f(m), 0);
  const grossSalesMicros = sum((m) => m.grossSalesMicros);
  const refundsMicros = sum((m) => m.refundsMicros);
  const revenueMicros = grossSalesMicros - refundsMicros;
  const costMicros = sum((m) => m.costMicros);
  const profitMicros = revenueMicros - costMicros;
  const u = usage.rows[0];
  const creditResult = await credit;
  return {
    since,
    until,
    sales: sum((m) => m.sales),
    freeGrants: sum((m) => m.freeGrants),
    grossSalesMicros,
    refundsMicros,
    revenueMicros,
    costMicros,
    profitMicros,
    marginPercent: costMicros === 0 ? null : Math.round((profitMicros / costMicros) * 1000) / 10,
    topupsMicros: n(topups.rows[0]?.topups),
    byModel,
    byDay,
    activeKeys: n(active.rows[0]?.keys),
    tokensSold: sum((m) => m.tokensSold),
    tokensUsed: n(u?.used),
    lossTokens: n(u?.loss),
    requests: n(u?.requests),
    failedRequests: n(u?.failed),
    upstreamCostMicros: n(u?.upstream),
    openrouterCreditMicros: creditResult.micros,
    openrouterCreditNote: creditResult.note,
  };
}

async function fetchCredit(options: StatsOptions): Promise<{ micros: number | null; note: string | null }> {
  if (!options.creditRemainingMicros) return { micros: null, note: 'not asked' };
  const timeoutMs = options.creditTimeoutMs ?? 2_500;
  let timer: NodeJS.Timeout | undefined;
  try {
    const micros = await Promise.race([
      options.creditRemainingMicros(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { micros, note: null };
  } catch (e) {
    return { micros: null, note: `unavailable: ${(e as Error).message}` };
  } finally {
    if (timer) clearTimeout(timer);
  }
}
