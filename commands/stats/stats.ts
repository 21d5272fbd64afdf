/** `arb stats`: the stats service rendered as a dashboard (TTY), tables, or one JSON document. */
import { computeStats, type Stats } from '../../src/stats/stats.js';
import { withPerformanceLog } from '../../src/logger.js';
import type { CommandContext } from '../context.js';
import { formatCount, formatPercent, formatUsd } from '../ui/format.js';
import { money, writeJson } from '../ui/json.js';
import { parseSinceOption } from '../ui/options.js';
import { printScreen } from '../ui/screens.js';
import { renderKeyValues, renderTable } from '../ui/table.js';
import type { StatsOptions } from './index.js';

export async function runStats(ctx: CommandContext, opts: StatsOptions): Promise<number> {
  const now = new Date();
  const since = parseSinceOption(opts.since, now);
  const handle = await ctx.db();
  const client = await creditClient(ctx);
  let stats: Stats;
  try {
    stats = await withPerformanceLog(ctx.logger(), 'stats', () => computeStats(handle, { since, now, creditRemainingMicros: client?.creditRemainingMicros, creditTimeoutMs: 2_500 }));
  } finally {
    await client?.close();
  }
  if (!client) stats.openrouterCreditNote = 'unavailable: OPENROUTER_API_KEY is not set';
  const windowLabel = since === null ? 'all time' : `since ${opts.since}`;
  if (opts.json) writeJson(ctx.stdout, statsToJson(stats, opts.since));
  else if (ctx.interactive) await printScreen(ctx, async () => (await import('../screens/StatsScreen.js')).StatsScreen, { stats, windowLabel });
  else ctx.stdout.write(`${renderStatsTables(stats, windowLabel)}\n`);
  return 0;
}

/** A short-timeout OpenRouter client, or undefined when no key is configured (never reaches the network then). */
async function creditClient(ctx: CommandContext): Promise<{ creditRemainingMicros: () => Promise<number>; close(): Promise<void> } | undefined> {
  if (!ctx.config.openrouterApiKey) return undefined;
  const { openRouterClientFromConfig } = await import('../../src/catalog/openrouter.js');
  const client = openRouterClientFromConfig(ctx.config, { connectTimeoutMs: 1_500, headersTimeoutMs: 2_000, bodyTimeoutMs: 2_000 });
  return { creditRemainingMicros: () => client.creditRemainingMicros(), close: () => client.close() };
}

export function statsToJson(stats: Stats, window: string) {
  return {
    window,
    since: stats.since,
    until: stats.until,
    sales: stats.sales,
    free_grants: stats.freeGrants,
    ...money('gross_sales', stats.grossSalesMicros),
    ...money('refunds', stats.refundsMicros),
    ...money('revenue', stats.revenueMicros),
    ...money('cost', stats.costMicros),
    ...money('profit', stats.profitMicros),
    margin_percent: stats.marginPercent,
    ...money('topups', stats.topupsMicros),
    active_keys: stats.activeKeys,
    tokens_sold: stats.tokensSold,
    tokens_used: stats.tokensUsed,
    loss_tokens: stats.lossTokens,
    requests: stats.requests,
    failed_requests: stats.failedRequests,
    ...money('upstream_cost', stats.upstreamCostMicros),
    openrouter_credit:
      stats.openrouterCreditMicros === null
        ? { available: false, credit_usd: null, credit_micros: null, note: stats.openrouterCreditNote }
        : { available: true, ...money('credit', stats.openrouterCreditMicros), note: null },
    by_model: stats.byModel.map((m) => ({
      model: m.model,
      sales: m.sales,
      free_grants: m.freeGrants,
      tokens_sold: m.tokensSold,
      ...money('revenue', m.revenueMicros),
      ...money('refunds', m.refundsMicros),
      ...money('cost', m.costMicros),
      ...money('profit', m.profitMicros),
    })),
    by_day: stats.byDay.map((d) => ({
      day: d.day,
      sales: d.sales,
      ...money('revenue', d.revenueMicros),
      ...money('cost', d.costMicros),
      ...money('profit', d.profitMicros),
    })),
  };
}

export function renderStatsTables(stats: Stats, windowLabel: string): string {
  const credit = stats.openrouterCreditMicros === null ? 'unavailable' : formatUsd(stats.openrouterCreditMicros);
  const summary = renderKeyValues([
    ['Window', `${windowLabel} (${stats.since ?? 'beginning'} → ${stats.until} UTC)`],
    ['Revenue', `${formatUsd(stats.revenueMicros)}${stats.refundsMicros ? ` (gross ${formatUsd(stats.grossSalesMicros)}, refunds ${formatUsd(stats.refundsMicros)})` : ''}`],
    ['Cost', formatUsd(stats.costMicros)],
    ['Profit', formatUsd(stats.profitMicros)],
    ['Margin', formatPercent(stats.marginPercent)],
    ['Sales', `${formatCount(stats.sales)}${stats.freeGrants ? ` (${stats.freeGrants} free)` : ''}`],
    ['Top-ups', formatUsd(stats.topupsMicros)],
    ['Active keys', formatCount(stats.activeKeys)],
    ['Tokens sold', formatCount(stats.tokensSold)],
    ['Tokens used', `${formatCount(stats.tokensUsed)}${stats.lossTokens ? ` (${formatCount(stats.lossTokens)} served beyond quota)` : ''}`],
    ['Requests', `${formatCount(stats.requests)} (${formatCount(stats.failedRequests)} failed upstream)`],
    ['Upstream cost', formatUsd(stats.upstreamCostMicros, { precise: true })],
    ['OpenRouter credit', credit],
  ]);
  const models = renderTable(
    ['model', 'sales', 'tokens sold', 'revenue', 'cost', 'profit'],
    stats.byModel.map((m) => [m.model, formatCount(m.sales), formatCount(m.tokensSold), formatUsd(m.revenueMicros), formatUsd(m.costMicros), formatUsd(m.profitMicros)]),
    { align: ['left', 'right', 'right', 'right', 'right', 'right'] },
  );
  const days = renderTable(
    ['day', 'sales', 'revenue', 'profit'],
    stats.byDay.map((d) => [d.day, formatCount(d.sales), formatUsd(d.revenueMicros), formatUsd(d.profitMicros)]),
    { align: ['left', 'right', 'right', 'right'] },
  );
  return `${summary}\n\nSales by model\n${models}\n\nSales by day\n${days}`;
}
