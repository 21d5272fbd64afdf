/** `arb stats`: the stats service rendered as a dashboard (TTY), tables, or one JSON document; `--watch` refreshes. */
import { computeStats, type Stats } from '../../src/stats/stats.js';
import { withPerformanceLog } from '../../src/logger.js';
import type { CommandContext } from '../context.js';
import { formatCount, formatPercent, formatUsd } from '../ui/format.js';
import { money, writeJson } from '../ui/json.js';
import { parseSinceOption } from '../ui/options.js';
import { printScreen, startLiveScreen } from '../ui/screens.js';
import { renderKeyValues, renderTable } from '../ui/table.js';
import { checkWatchable, parseIntervalOption, repeatUntilStopped, watchFooter } from '../ui/watch.js';
import type { StatsScreenProps } from '../screens/StatsScreen.js';
import type { StatsOptions } from './index.js';

/** "last 30d", "all time", "since 2026-01-31" — what the operator asked for, named as they typed it. */
export function windowLabelFor(text: string): string {
  const t = text.trim();
  if (t === 'all') return 'all time';
  return /^\d+[mhdw]$/.test(t) ? `last ${t}` : `since ${t}`;
}

export async function runStats(ctx: CommandContext, opts: StatsOptions): Promise<number> {
  const intervalMs = parseIntervalOption(opts.interval);
  parseSinceOption(opts.since);
  checkWatchable(ctx, opts, 'arb stats');
  const handle = await ctx.db();
  const windowLabel = windowLabelFor(opts.since);
  const compute = async (): Promise<Stats> => {
    const now = new Date();
    const since = parseSinceOption(opts.since, now);
    const client = await creditClient(ctx);
    try {
      const stats = await withPerformanceLog(ctx.logger(), 'stats', () => computeStats(handle, { since, now, creditRemainingMicros: client?.creditRemainingMicros, creditTimeoutMs: 2_500 }));
      if (!client) stats.openrouterCreditNote = 'unavailable: OPENROUTER_API_KEY is not set';
      return stats;
    } finally {
      await client?.close();
    }
  };
  const screenProps = async (stats: Stats, maxPoints: number): Promise<StatsScreenProps> => {
    const { dailySeries, marginByModel, topKeysByUsage } = await import('../../src/stats/insights.js');
    const since = parseSinceOption(opts.since);
    return {
      stats,
      windowLabel,
      series: dailySeries(stats.byDay, { since: stats.since, until: stats.until }, maxPoints),
      margins: marginByModel(stats.byModel),
      topKeys: await topKeysByUsage(handle, { since, limit: 5 }),
    };
  };
  const load = async () => (await import('../screens/StatsScreen.js')).StatsScreen;

  if (opts.watch) {
    if (opts.json) {
      await repeatUntilStopped(intervalMs, async () => {
        ctx.stdout.write(`${JSON.stringify(statsToJson(await compute(), opts.since))}\n`);
      });
      return 0;
    }
    const screen = await startLiveScreen(ctx, load);
    try {
      await repeatUntilStopped(intervalMs, async () => {
        // keep the whole frame on the terminal so it redraws in place: fewer chart rows on a short one
        const rows = (ctx.stdout as { rows?: number }).rows ?? 40;
        screen.update({ ...(await screenProps(await compute(), Math.max(7, rows - 30))), footer: watchFooter(intervalMs) });
      });
    } finally {
      await screen.close();
    }
    return 0;
  }
  const stats = await compute();
  if (opts.json) writeJson(ctx.stdout, statsToJson(stats, opts.since));
  else if (ctx.interactive) await printScreen(ctx, load, await screenProps(stats, 31));
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
    free_grant_tokens: stats.freeGrantTokens,
    ...money('free_grant_cost', stats.freeGrantCostMicros),
    ...money('free_grant_upstream_spend', stats.freeGrantUpstreamCostMicros),
    ...money('gross_sales', stats.grossSalesMicros),
    ...money('refunds', stats.refundsMicros),
    ...money('revenue', stats.revenueMicros),
    ...money('cost_of_tokens_sold', stats.costMicros),
    // `cost` is the cost of tokens sold (the name older scripts read)
    ...money('cost', stats.costMicros),
    ...money('profit', stats.profitMicros),
    margin_percent: stats.marginPercent,
    ...money('upstream_spend', stats.upstreamCostMicros),
    // `upstream_cost` is the upstream spend (the name older scripts read)
    ...money('upstream_cost', stats.upstreamCostMicros),
    ...money('revenue_of_tokens_used', stats.usedRevenueMicros),
    realised_margin_percent: stats.realisedMarginPercent,
    ...money('topups', stats.topupsMicros),
    active_keys: stats.activeKeys,
    tokens_sold: stats.tokensSold,
    tokens_used: stats.tokensUsed,
    loss_tokens: stats.lossTokens,
    requests: stats.requests,
    failed_requests: stats.failedRequests,
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
      ...money('cost_of_tokens_sold', m.costMicros),
      ...money('cost', m.costMicros),
      ...money('profit', m.profitMicros),
      margin_percent: m.marginPercent,
      free_grant_tokens: m.freeGrantTokens,
      ...money('free_grant_cost', m.freeGrantCostMicros),
      requests: m.requests,
      tokens_used: m.tokensUsed,
      ...money('upstream_spend', m.upstreamCostMicros),
      ...money('revenue_of_tokens_used', m.usedRevenueMicros),
      realised_margin_percent: m.realisedMarginPercent,
    })),
    by_day: stats.byDay.map((d) => ({
      day: d.day,
      sales: d.sales,
      free_grants: d.freeGrants,
      ...money('revenue', d.revenueMicros),
      ...money('cost_of_tokens_sold', d.costMicros),
      ...money('cost', d.costMicros),
      ...money('profit', d.profitMicros),
      requests: d.requests,
      tokens_used: d.tokensUsed,
      ...money('upstream_spend', d.upstreamCostMicros),
      ...money('revenue_of_tokens_used', d.usedRevenueMicros),
    })),
  };
}

export function renderStatsTables(stats: Stats, windowLabel: string): string {
  const credit = stats.openrouterCreditMicros === null ? 'unavailable' : formatUsd(stats.openrouterCreditMicros);
  const free = stats.freeGrants
    ? `${formatCount(stats.freeGrants)} (${formatCount(stats.freeGrantTokens)} tokens, cost basis ${formatUsd(stats.freeGrantCostMicros)}; not sales, not a loss${stats.freeGrantUpstreamCostMicros ? `; their requests cost ${formatUsd(stats.freeGrantUpstreamCostMicros, { precise: true })} upstream` : ''})`
    : '0';
  const summary = renderKeyValues([
    ['Window', `${windowLabel} (${stats.since ?? 'beginning'} → ${stats.until} UTC)`],
    ['Revenue', `${formatUsd(stats.revenueMicros)}${stats.refundsMicros ? ` (gross ${formatUsd(stats.grossSalesMicros)}, refunds ${formatUsd(stats.refundsMicros)})` : ''}`],
    ['Cost of tokens sold', formatUsd(stats.costMicros)],
    ['Profit', formatUsd(stats.profitMicros)],
    ['Margin (nominal)', formatPercent(stats.marginPercent)],
    ['Sales', formatCount(stats.sales)],
    ['Free grants', free],
    ['Upstream spend', `${formatUsd(stats.upstreamCostMicros, { precise: true })} (what OpenRouter charged for the window's requests)`],
    ['Revenue of tokens used', formatUsd(stats.usedRevenueMicros, { precise: true })],
    ['Realised margin', `${formatPercent(stats.realisedMarginPercent)} (revenue of tokens used vs upstream spend)`],
    ['Top-ups', formatUsd(stats.topupsMicros)],
    ['Active keys', formatCount(stats.activeKeys)],
    ['Tokens sold', formatCount(stats.tokensSold)],
    ['Tokens used', `${formatCount(stats.tokensUsed)}${stats.lossTokens ? ` (${formatCount(stats.lossTokens)} served beyond quota)` : ''}`],
    ['Requests', `${formatCount(stats.requests)} (${formatCount(stats.failedRequests)} failed upstream)`],
    ['OpenRouter credit', credit],
  ]);
  const models = renderTable(
    ['model', 'sales', 'tokens sold', 'revenue', 'cost of tokens sold', 'profit', 'margin', 'upstream spend', 'realised margin'],
    stats.byModel.map((m) => [
      m.model,
      `${formatCount(m.sales)}${m.freeGrants ? ` +${formatCount(m.freeGrants)} free` : ''}`,
      formatCount(m.tokensSold),
      formatUsd(m.revenueMicros),
      formatUsd(m.costMicros),
      formatUsd(m.profitMicros),
      formatPercent(m.marginPercent),
      formatUsd(m.upstreamCostMicros, { precise: true }),
      formatPercent(m.realisedMarginPercent),
    ]),
    { align: ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right'] },
  );
  const days = renderTable(
    ['day', 'sales', 'revenue', 'profit', 'upstream spend'],
    stats.byDay.map((d) => [d.day, formatCount(d.sales), formatUsd(d.revenueMicros), formatUsd(d.profitMicros), formatUsd(d.upstreamCostMicros, { precise: true })]),
    { align: ['left', 'right', 'right', 'right', 'right'] },
  );
  return `${summary}\n\nSales by model\n${models}\n\nSales by day\n${days}`;
}
