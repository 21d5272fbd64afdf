/** `arb stats`: the stats service rendered as a dashboard (TTY), tables, or one JSON document; `--watch` refreshes. */
import { computeStats, type Stats } from '../../src/stats/stats.js';
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
      const stats = await computeStats(handle, { since, now, creditRemainingMicros: client?.creditRemainingMicros, creditTimeoutMs: 2_500 });
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
