/**
 * Business statistics for a time window (SPEC §6 `arb stats`, the bot's 📊 and `/token_stats`): one
 * function returning a plain object of integers (µ$, tokens, counts). The figures come from the daily
 * rollups plus a bounded raw read (src/stats/rollup.ts), so the time does not grow with the history.
 *
 * Definitions (what the cash says):
 * - a *sale* is a paid allocation created in the window; *gross sales* = Σ price paid; a *free grant* is an
 *   allocation given for nothing (`arb keys issue --free`, gift packages): counted on its own line with the
 *   cost basis of its tokens, never as a sale or a loss;
 * - *refunds* = Σ refund transactions in the window; *revenue* = gross sales − refunds;
 * - *cost of tokens sold* = Σ cost basis (tokens × unit rate when sold) of the paid sales — what their
 *   tokens cost upstream if fully used; *profit* = revenue − cost of tokens sold; *margin* (nominal) =
 *   profit / cost of tokens sold;
 * - *upstream spend* = Σ usage_events.upstream_cost: what OpenRouter actually charged for the requests in
 *   the window (free grants' requests included, also shown apart);
 * - *revenue of tokens used* = Σ per request ⌊charged tokens × price paid / tokens of the key⌋ (0 on free
 *   grants); *realised margin* = (revenue of tokens used − upstream spend) / upstream spend;
 * - *tokens used* = Σ weighted (prompt-equivalent) tokens of usage events in the window; *loss tokens* =
 *   tokens served beyond what a key could pay (operator loss);
 * - *active keys* = allocations with status 'active' that have not expired (now, not windowed).
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/database.js';
import type { DbHandle } from '../db/dialect.js';
import { toDbTime } from '../time.js';
import { DAILY_COLUMNS, readWindow, rollUp, type DailyRow, type DailySums, type WindowRead } from './rollup.js';

export interface ModelSales {
  model: string;
  /** paid sales */
  sales: number;
  freeGrants: number;
  /** tokens of the paid sales */
  tokensSold: number;
  grossSalesMicros: number;
  refundsMicros: number;
  revenueMicros: number;
  /** cost of tokens sold (paid sales) */
  costMicros: number;
  profitMicros: number;
  /** profit / cost of tokens sold × 100, one decimal; null when nothing was sold */
  marginPercent: number | null;
  freeGrantTokens: number;
  /** cost basis of the granted tokens */
  freeGrantCostMicros: number;
  requests: number;
  tokensUsed: number;
  /** upstream spend: what OpenRouter charged for this model's requests */
  upstreamCostMicros: number;
  usedRevenueMicros: number;
  /** (revenue of tokens used − upstream spend) / upstream spend × 100; null without spend */
  realisedMarginPercent: number | null;
}

export interface DaySales {
  /** UTC YYYY-MM-DD */
  day: string;
  /** paid sales */
  sales: number;
  revenueMicros: number;
  /** cost of tokens sold */
  costMicros: number;
  profitMicros: number;
  freeGrants: number;
  requests: number;
  tokensUsed: number;
  /** upstream spend */
  upstreamCostMicros: number;
  usedRevenueMicros: number;
}

export interface Stats {
  /** window start as stored time (UTC YYYY-MM-DD HH:MM:SS); null = all time */
  since: string | null;
  until: string;
  /** paid sales */
  sales: number;
  /** allocations granted for nothing (not sales; their cost is freeGrantCostMicros, not a loss) */
  freeGrants: number;
  freeGrantTokens: number;
  /** cost basis of the granted tokens */
  freeGrantCostMicros: number;
  /** upstream spend on the requests of free grants (part of upstreamCostMicros) */
  freeGrantUpstreamCostMicros: number;
  grossSalesMicros: number;
  refundsMicros: number;
  revenueMicros: number;
  /** cost of tokens sold: the cost basis of the paid sales */
  costMicros: number;
  profitMicros: number;
  /** nominal margin: profit / cost of tokens sold × 100, one decimal; null when nothing was sold */
  marginPercent: number | null;
  topupsMicros: number;
  byModel: ModelSales[];
  byDay: DaySales[];
  activeKeys: number;
  /** tokens of the paid sales */
  tokensSold: number;
  tokensUsed: number;
  lossTokens: number;
  requests: number;
  failedRequests: number;
  /** upstream spend: what OpenRouter actually charged (usage.cost) for the window's requests */
  upstreamCostMicros: number;
  /** revenue of the tokens used in the window */
  usedRevenueMicros: number;
  /** realised margin: (revenue of tokens used − upstream spend) / upstream spend × 100; null without spend */
  realisedMarginPercent: number | null;
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
  /**
   * sum new rows into the daily rollups first (default true; at most `rollupBudgetMs`, default 5 s); the
   * figures are exact either way
   */
  rollUp?: boolean;
  rollupBudgetMs?: number;
  /** read everything raw, ignoring the rollups (the reference the rollups are tested against) */
  useRollups?: boolean;
}

const n = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));
const percent = (part: number, whole: number): number | null => (whole === 0 ? null : Math.round((part / whole) * 1000) / 10);

/** Runs `fn` on one consistent snapshot (the rollups and the raw rows above their watermarks must agree). */
function snapshot<T>(handle: DbHandle, fn: (db: Kysely<Database>) => Promise<T>): Promise<T> {
  const trx = handle.db.transaction();
  return (handle.dialect === 'postgres' ? trx.setIsolationLevel('repeatable read') : trx).execute(fn);
}

/** Computes the statistics for a window. */
export async function computeStats(handle: DbHandle, options: StatsOptions = {}): Promise<Stats> {
  const now = options.now ?? new Date();
  const until = toDbTime(now);
  const since = options.since ? toDbTime(options.since) : null;
  const credit = fetchCredit(options);
  const useRollups = options.useRollups ?? true;
  if (useRollups && options.rollUp !== false) {
    // best effort: a busy or read-only database only means more of the answer is read raw
    await rollUp(handle, { budgetMs: options.rollupBudgetMs ?? 5_000 }).catch(() => undefined);
  }
  const { window, activeKeys } = await snapshot(handle, async (db) => {
    const window = await readWindow(db, handle.dialect, since, { useRollups });
    // through idx_ai_token_allocations_active (status, expires_at): only the unexpired keys are visited
    const active = await sql<{ keys: unknown }>`select count(*) as keys from ai_token_allocations where status = 'active' and expires_at > ${until}`.execute(db);
    return { window, activeKeys: n(active.rows[0]?.keys) };
  });
  const creditResult = await credit;
  return { ...foldStats(window, since, until), activeKeys, openrouterCreditMicros: creditResult.micros, openrouterCreditNote: creditResult.note };
}

function foldStats(window: WindowRead, since: string | null, until: string): Omit<Stats, 'activeKeys' | 'openrouterCreditMicros' | 'openrouterCreditNote'> {
  const total = {} as DailyRow;
  for (const c of DAILY_COLUMNS) total[c] = 0;
  for (const m of window.models) for (const c of DAILY_COLUMNS) total[c] += m[c];
  const byDay: DaySales[] = window.days
    .filter((r) => r.sales + r.free_grants + r.refund_count + r.requests !== 0) // not a top-up-only day
    .map((r) => ({
      day: r.day,
      sales: r.sales,
      revenueMicros: r.gross_sales - r.refunds,
      costMicros: r.cost,
      profitMicros: r.gross_sales - r.refunds - r.cost,
      freeGrants: r.free_grants,
      requests: r.requests,
      tokensUsed: r.weighted_tokens,
      upstreamCostMicros: r.upstream_cost,
      usedRevenueMicros: r.used_revenue,
    }))
    .sort((a, b) => a.day.localeCompare(b.day));
  const models = window.models;
  const byModel: ModelSales[] = [];
  for (const m of models) {
    if (m.sales + m.free_grants + m.refund_count + m.requests === 0) continue; // top-ups only
    const revenue = m.gross_sales - m.refunds;
    byModel.push({
      model: m.model === '' ? '(unknown)' : m.model,
      sales: m.sales,
      freeGrants: m.free_grants,
      tokensSold: m.tokens_sold,
      grossSalesMicros: m.gross_sales,
      refundsMicros: m.refunds,
      revenueMicros: revenue,
      costMicros: m.cost,
      profitMicros: revenue - m.cost,
      marginPercent: percent(revenue - m.cost, m.cost),
      freeGrantTokens: m.free_grant_tokens,
      freeGrantCostMicros: m.free_grant_cost,
      requests: m.requests,
      tokensUsed: m.weighted_tokens,
      upstreamCostMicros: m.upstream_cost,
      usedRevenueMicros: m.used_revenue,
      realisedMarginPercent: percent(m.used_revenue - m.upstream_cost, m.upstream_cost),
    });
  }
  byModel.sort((a, b) => b.revenueMicros - a.revenueMicros || b.sales - a.sales || b.tokensUsed - a.tokensUsed || a.model.localeCompare(b.model));
  const t = (k: keyof DailySums) => total[k];
  const revenueMicros = t('gross_sales') - t('refunds');
  const profitMicros = revenueMicros - t('cost');
  return {
    since,
    until,
    sales: t('sales'),
    freeGrants: t('free_grants'),
    freeGrantTokens: t('free_grant_tokens'),
    freeGrantCostMicros: t('free_grant_cost'),
    freeGrantUpstreamCostMicros: t('free_upstream_cost'),
    grossSalesMicros: t('gross_sales'),
    refundsMicros: t('refunds'),
    revenueMicros,
    costMicros: t('cost'),
    profitMicros,
    marginPercent: percent(profitMicros, t('cost')),
    topupsMicros: t('topups'),
    byModel,
    byDay,
    tokensSold: t('tokens_sold'),
    tokensUsed: t('weighted_tokens'),
    lossTokens: t('loss_tokens'),
    requests: t('requests'),
    failedRequests: t('failed_requests'),
    upstreamCostMicros: t('upstream_cost'),
    usedRevenueMicros: t('used_revenue'),
    realisedMarginPercent: percent(t('used_revenue') - t('upstream_cost'), t('upstream_cost')),
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
