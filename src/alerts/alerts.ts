/**
 * Operational alert rules (SPEC §9), evaluated on demand (`arb alerts`) and every 5 minutes by the
 * daemon, which forwards failing rules to the admins. Each rule yields {rule, ok, value, threshold,
 * message}; a rule whose data is unavailable is `ok` with `skipped: true` and says why.
 *
 * Definitions:
 * - error_rate: share of proxied requests in the last hour (usage_events) whose outcome is an upstream
 *   failure (upstream_error, upstream_cut, timeout); client aborts are not errors. Alert above 5 %.
 * - p95_latency: nearest-rank 95th percentile of usage_events.latency_ms in the last hour. Above 2,000 ms.
 * - openrouter_credit: remaining upstream credit (`GET /key` limit_remaining, else `/credits`). Below $10.
 * - revenue_today: revenue since 00:00 UTC, as `arb stats` computes it. Below $100.
 * - failed_purchases: in the last 24 h of the log, `purchase_failed` business events (a customer or
 *   operator tried to buy and was refused — insufficient balance, package unavailable, an error; written
 *   with `logPurchaseFailed`) over all attempts (those plus `token_package_sold`). Above 10 %.
 * - upstream_cost_loss: in the last hour, what OpenRouter reported above the cost basis of the tokens
 *   charged (usage_events.cost_loss: a dearer model or paid routing answered). Above $0.00 — any.
 */
import { sql } from 'kysely';
import type { DbHandle } from '../db/dialect.js';
import { scanLogLines } from '../logs/query.js';
import type { Logger } from '../logger.js';
import { formatUsd } from '../money.js';
import { computeStats } from '../stats/stats.js';
import { toDbTime } from '../time.js';

export type AlertRule = 'error_rate' | 'p95_latency' | 'openrouter_credit' | 'revenue_today' | 'failed_purchases' | 'upstream_cost_loss';

export interface AlertResult {
  rule: AlertRule;
  /** false = the alert fires */
  ok: boolean;
  /** measured value in the rule's unit (percent, ms, µ$); null when unavailable */
  value: number | null;
  threshold: number;
  unit: 'percent' | 'ms' | 'micros';
  message: string;
  /** the data was unavailable, so the rule was not checked */
  skipped?: boolean;
}

export interface AlertThresholds {
  errorRatePercent: number;
  p95LatencyMs: number;
  openrouterCreditMicros: number;
  revenueTodayMicros: number;
  failedPurchasesPercent: number;
  upstreamCostLossMicros: number;
}

export const DEFAULT_THRESHOLDS: AlertThresholds = {
  errorRatePercent: 5,
  p95LatencyMs: 2_000,
  openrouterCreditMicros: 10_000_000,
  revenueTodayMicros: 100_000_000,
  failedPurchasesPercent: 10,
  upstreamCostLossMicros: 0,
};

export interface AlertDeps {
  handle: DbHandle;
  /** LOG_DIR, for the failed-purchases rule (skipped without it) */
  logDir?: string;
  /** the OpenRouter client's creditRemainingMicros (skipped without it) */
  creditRemainingMicros?: () => Promise<number>;
  creditTimeoutMs?: number;
  now?: Date;
  /** window of the request rules, default 1 h */
  requestWindowMs?: number;
  /** window of the purchase rule, default 24 h */
  purchaseWindowMs?: number;
  thresholds?: Partial<AlertThresholds>;
}

const HOUR = 3_600_000;
const pct = (v: number) => `${(Math.round(v * 10) / 10).toFixed(1)} %`;

/** A "failed out of total" rule: fires above `threshold` percent; `describe` gets the rate as text. */
function rateRule(rule: AlertRule, failed: number, total: number, threshold: number, describe: (rate: string) => string): AlertResult {
  const rate = (failed / total) * 100;
  const ok = rate <= threshold;
  return { rule, ok, value: Math.round(rate * 100) / 100, threshold, unit: 'percent', message: `${describe(pct(rate))}${ok ? '' : ` — above ${threshold} %`}` };
}

/** Evaluates every rule now. Never throws for unavailable data; a database failure does throw. */
export async function evaluateAlerts(deps: AlertDeps): Promise<AlertResult[]> {
  const now = deps.now ?? new Date();
  const t = { ...DEFAULT_THRESHOLDS, ...deps.thresholds };
  const since = toDbTime(new Date(now.getTime() - (deps.requestWindowMs ?? HOUR)));
  const windowText = humanWindow(deps.requestWindowMs ?? HOUR);
  const midnight = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));

  const [requests, today, purchases] = await Promise.all([
    requestFigures(deps.handle, since),
    computeStats(deps.handle, { since: midnight, now, creditRemainingMicros: deps.creditRemainingMicros, creditTimeoutMs: deps.creditTimeoutMs ?? 3_000 }),
    deps.logDir ? purchaseFigures(deps.logDir, new Date(now.getTime() - (deps.purchaseWindowMs ?? 24 * HOUR))) : Promise.resolve(null),
  ]);

  const results: AlertResult[] = [];
  if (requests.total === 0) {
    results.push({ rule: 'error_rate', ok: true, value: 0, threshold: t.errorRatePercent, unit: 'percent', message: `error rate: no proxied requests in the last ${windowText}` });
  } else {
    results.push(
      rateRule(
        'error_rate',
        requests.failed,
        requests.total,
        t.errorRatePercent,
        (rate) => `error rate ${rate} (${requests.failed} of ${requests.total} requests failed upstream in the last ${windowText})`,
      ),
    );
  }

  if (requests.p95 === null) {
    results.push({ rule: 'p95_latency', ok: true, value: null, threshold: t.p95LatencyMs, unit: 'ms', message: `p95 response time: no requests in the last ${windowText}` });
  } else {
    const ok = requests.p95 <= t.p95LatencyMs;
    results.push({
      rule: 'p95_latency',
      ok,
      value: requests.p95,
      threshold: t.p95LatencyMs,
      unit: 'ms',
      message: `p95 response time ${requests.p95.toLocaleString('en-US')} ms over ${requests.total} requests in the last ${windowText}${ok ? '' : ` — above ${t.p95LatencyMs.toLocaleString('en-US')} ms`}`,
    });
  }

  if (today.openrouterCreditMicros === null) {
    const why = deps.creditRemainingMicros ? (today.openrouterCreditNote ?? 'unavailable') : 'unavailable: no OpenRouter client (OPENROUTER_API_KEY not set)';
    results.push({ rule: 'openrouter_credit', ok: true, skipped: true, value: null, threshold: t.openrouterCreditMicros, unit: 'micros', message: `OpenRouter credit not checked (${why})` });
  } else {
    const ok = today.openrouterCreditMicros >= t.openrouterCreditMicros;
    results.push({
      rule: 'openrouter_credit',
      ok,
      value: today.openrouterCreditMicros,
      threshold: t.openrouterCreditMicros,
      unit: 'micros',
      message: `OpenRouter credit ${formatUsd(today.openrouterCreditMicros)}${ok ? '' : ` — below ${formatUsd(t.openrouterCreditMicros)}; top up at openrouter.ai`}`,
    });
  }

  {
    const ok = today.revenueMicros >= t.revenueTodayMicros;
    results.push({
      rule: 'revenue_today',
      ok,
      value: today.revenueMicros,
      threshold: t.revenueTodayMicros,
      unit: 'micros',
      message: `revenue today ${formatUsd(today.revenueMicros)} (${today.sales} sales since 00:00 UTC)${ok ? '' : ` — below ${formatUsd(t.revenueTodayMicros)}`}`,
    });
  }

  if (purchases === null) {
    results.push({ rule: 'failed_purchases', ok: true, skipped: true, value: null, threshold: t.failedPurchasesPercent, unit: 'percent', message: 'failed purchases not checked (no LOG_DIR)' });
  } else if (purchases.attempts === 0) {
    results.push({ rule: 'failed_purchases', ok: true, value: 0, threshold: t.failedPurchasesPercent, unit: 'percent', message: 'failed purchases: no purchase attempts in the last 24 h' });
  } else {
    results.push(
      rateRule(
        'failed_purchases',
        purchases.failed,
        purchases.attempts,
        t.failedPurchasesPercent,
        (rate) => `failed purchases ${rate} (${purchases.failed} of ${purchases.attempts} attempts in the last 24 h)`,
      ),
    );
  }

  {
    const ok = requests.costLoss <= t.upstreamCostLossMicros;
    results.push({
      rule: 'upstream_cost_loss',
      ok,
      value: requests.costLoss,
      threshold: t.upstreamCostLossMicros,
      unit: 'micros',
      message: ok
        ? `upstream cost above the cost basis: none in the last ${windowText}`
        : `upstream cost above the cost basis: ${formatUsd(requests.costLoss, { precise: true })} of operator loss on ${requests.costLossRequests} request${requests.costLossRequests === 1 ? '' : 's'} in the last ${windowText} (a dearer model or paid routing answered; see arb logs security)`,
    });
  }
  return results;
}

async function requestFigures(handle: DbHandle, since: string): Promise<{ total: number; failed: number; p95: number | null; costLoss: number; costLossRequests: number }> {
  const counts = await sql<{ total: unknown; failed: unknown; cost_loss: unknown; cost_loss_requests: unknown }>`
    select count(*) as total, sum(case when outcome in ('upstream_error', 'upstream_cut', 'timeout') then 1 else 0 end) as failed,
      sum(cost_loss) as cost_loss, sum(case when cost_loss > 0 then 1 else 0 end) as cost_loss_requests
    from usage_events where created_at >= ${since}`.execute(handle.db);
  const total = Number(counts.rows[0]?.total ?? 0);
  const failed = Number(counts.rows[0]?.failed ?? 0);
  const costLoss = Number(counts.rows[0]?.cost_loss ?? 0);
  const costLossRequests = Number(counts.rows[0]?.cost_loss_requests ?? 0);
  if (total === 0) return { total, failed, p95: null, costLoss, costLossRequests };
  const rank = Math.ceil(0.95 * total);
  const p95 = await sql<{ latency_ms: unknown }>`
    select latency_ms from usage_events where created_at >= ${since} order by latency_ms limit 1 offset ${rank - 1}`.execute(handle.db);
  return { total, failed, p95: Number(p95.rows[0]?.latency_ms ?? 0), costLoss, costLossRequests };
}

const PURCHASE_EVENTS = ['purchase_failed', 'token_package_sold'] as const;

/** Counts purchase outcomes logged since `since` (live and rotated files written since then). */
export async function purchaseFigures(logDir: string, since: Date): Promise<{ attempts: number; failed: number }> {
  const sinceIso = since.toISOString();
  const needles = PURCHASE_EVENTS.map((e) => Buffer.from(`"event_type":"${e}"`));
  let failed = 0;
  let sold = 0;
  await scanLogLines(logDir, { since, needles }, (text) => {
    let e: { timestamp?: unknown; business_event?: unknown; event_type?: unknown };
    try {
      e = JSON.parse(text);
    } catch {
      return;
    }
    if (e.business_event !== true || typeof e.timestamp !== 'string' || e.timestamp < sinceIso) return;
    if (e.event_type === 'purchase_failed') failed++;
    else if (e.event_type === 'token_package_sold') sold++;
  });
  return { attempts: failed + sold, failed };
}

/**
 * Records a refused or failed purchase attempt for the failed-purchases alert. Callers: the bot's buy
 * flow and `arb keys issue`, whenever purchasePackage throws.
 */
export function logPurchaseFailed(logger: Logger, event: { user_id: number; package_id: number; reason: string; [extra: string]: unknown }): void {
  logger.warn({ business_event: true, event_type: 'purchase_failed', ...event }, `purchase failed: ${event.reason}`);
}

function humanWindow(ms: number): string {
  if (ms % HOUR === 0) return ms === HOUR ? 'hour' : `${ms / HOUR} h`;
  return `${Math.round(ms / 60_000)} min`;
}
