/** `arb models [query] [--sync]`: catalog sync report and market analysis. */
import { marketAnalysis, type MarketRow } from '../../src/catalog/market.js';
import { lastSyncAt, syncModels, type SyncReport } from '../../src/catalog/sync.js';
import type { Config } from '../../src/config.js';
import { priceForPackage } from '../../src/pricing.js';
import { describePriceModeDecisions } from '../../src/packages/reprice.js';
import type { CommandContext } from '../context.js';
import { formatCount, formatPercent, formatRate, formatUsd } from '../ui/format.js';
import { money, writeJson } from '../ui/json.js';
import { renderTable } from '../ui/table.js';

interface OurPrice {
  tokens: number;
  priceMicros: number;
  marginPercent: number;
}

/** Our price for a package of `tokens` of this model under the configured rule, or null when unpriced. */
function ourPrice(row: MarketRow, tokens: number, config: Config): OurPrice | null {
  try {
    const p = priceForPackage({ tokens, promptRate: row.prompt_rate, completionRate: row.completion_rate }, config);
    return { tokens, priceMicros: p.priceMicros, marginPercent: p.marginPercent };
  } catch {
    return null;
  }
}

export async function runModels(ctx: CommandContext, query: string | undefined, opts: { sync?: boolean; all?: boolean; json?: boolean }): Promise<number> {
  const handle = await ctx.db();
  let report: SyncReport | null = null;
  if (opts.sync) {
    const { openRouterClientFromConfig } = await import('../../src/catalog/openrouter.js');
    const client = openRouterClientFromConfig(ctx.config);
    try {
      report = await syncModels(handle, client, { config: ctx.config, logger: ctx.logger() });
    } finally {
      await client.close();
    }
  }
  const rows = await marketAnalysis(handle, ctx.config, { query, all: opts.all });
  const priced = rows.map((r) => ({ row: r, p100k: ourPrice(r, 100_000, ctx.config), p1m: ourPrice(r, 1_000_000, ctx.config) }));
  const synced = await lastSyncAt(handle);

  if (opts.json) {
    writeJson(ctx.stdout, {
      query: query ?? null,
      last_synced_at: synced,
      sync: report && syncToJson(report),
      models: priced.map(({ row, p100k, p1m }) => ({
        ...row,
        price_100k: p100k && { ...money('price', p100k.priceMicros), margin_percent: p100k.marginPercent },
        price_1m: p1m && { ...money('price', p1m.priceMicros), margin_percent: p1m.marginPercent },
      })),
    });
    return 0;
  }
  if (report) {
    // the operator asked what changed; the whole market table stays under `arb models`
    ctx.stdout.write(`${renderSyncReport(report)}\n`);
    return 0;
  }
  if (rows.length === 0) {
    if (synced === null && !opts.sync) ctx.stdout.write('the model catalog is empty; fetch it with arb models --sync\n');
    else ctx.stdout.write(`no model matches "${query ?? ''}"${opts.all ? '' : ' (arb models --all also shows models gone upstream)'}\n`);
    return 0;
  }
  ctx.stdout.write(
    `${renderTable(
      ['model', 'in $/Mtok', 'out $/Mtok', 'weight', 'our 100k', 'our 1M', 'margin 100k/1M', 'packages'],
      priced.map(({ row, p100k, p1m }) => [
        `${row.model}${row.is_active ? '' : ' (gone)'}`,
        formatRate(row.prompt_rate).replace('/Mtok', ''),
        formatRate(row.completion_rate).replace('/Mtok', ''),
        row.completion_weight === null ? '-' : String(Math.round(row.completion_weight * 1000) / 1000),
        p100k ? formatUsd(p100k.priceMicros) : '-',
        p1m ? formatUsd(p1m.priceMicros) : '-',
        p100k && p1m ? `${formatPercent(p100k.marginPercent)} / ${formatPercent(p1m.marginPercent)}` : 'no fixed price',
        row.packages,
      ]),
      { align: ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right'], priority: [0, 1, 2, 5, 3, 4, 6, 7] },
    )}\n`,
  );
  ctx.stdout.write(`${formatCount(rows.length)} model(s)${synced ? `; catalog synced ${synced} UTC` : ''}\n`);
  return 0;
}

function syncToJson(r: SyncReport) {
  return {
    total: r.total,
    added: r.added,
    updated: r.updated,
    reactivated: r.reactivated,
    removed: r.removed,
    unchanged: r.unchanged,
    previous_sync_at: r.previousSyncAt,
    synced_at: r.syncedAt,
    embedding_models: { listed: r.embeddings.listed, count: r.embeddings.count, kept: r.embeddings.kept },
    price_changes: r.priceChanges.map((c) => ({
      model: c.model,
      old_prompt_rate: c.oldPromptRate,
      new_prompt_rate: c.newPromptRate,
      old_completion_rate: c.oldCompletionRate,
      new_completion_rate: c.newCompletionRate,
    })),
    holds: r.holds.map((h) => ({
      package_id: h.packageId,
      model: h.model,
      reason: h.reason,
      ...money('price', h.priceMicros),
      new_cost_micros: h.newCostMicros,
      floor_micros: h.floorMicros,
    })),
    repriced: r.repriced.map((p) => ({
      package_id: p.package.id,
      model: p.package.model,
      tokens: p.package.tokens,
      ...money('previous_price', p.previousPriceMicros),
      ...money('price', p.package.priceMicros),
      ...money('previous_cost', p.previousCostMicros),
      ...money('cost', p.package.costMicros),
      margin_percent: p.pricing.marginPercent,
    })),
    price_modes_decided: r.decided.map((d) => ({
      package_id: d.package.id,
      model: d.package.model,
      price_mode: d.mode,
      ...money('price', d.package.priceMicros),
      ...money('formula_price', d.formulaPriceMicros),
    })),
  };
}

export function renderSyncReport(r: SyncReport): string {
  const lines = [
    `synced ${formatCount(r.total)} models from OpenRouter${r.embeddings.count ? `, ${formatCount(r.embeddings.count)} of them for embeddings` : ''}${r.previousSyncAt ? ` (previous sync ${r.previousSyncAt} UTC)` : ' (first sync)'}: ${r.added.length} new, ${r.updated.length} updated, ${r.removed.length} gone, ${r.reactivated.length} back, ${r.unchanged} unchanged`,
  ];
  if (!r.embeddings.listed) {
    lines.push(
      `note: OpenRouter lists no embedding models here (GET /embeddings/models: not found), so none were added${r.embeddings.kept ? `; the ${formatCount(r.embeddings.kept)} stored by an earlier sync are left as they were` : ''}`,
    );
  }
  if (r.priceChanges.length) {
    const change = (from: number | null, to: number | null) => (from === to ? formatRate(to) : `${formatRate(from)} → ${formatRate(to)}`);
    const pct = (from: number | null, to: number | null) => (from && to !== null && from !== to ? `${to > from ? '+' : ''}${(((to - from) / from) * 100).toFixed(1)} %` : '');
    lines.push(`price changes (${formatCount(r.priceChanges.length)}):`);
    lines.push(
      renderTable(
        [
          { header: 'model', priority: 0 },
          { header: 'in $/Mtok', priority: 1 },
          { header: 'in', align: 'right', priority: 3 },
          { header: 'out $/Mtok', priority: 2 },
          { header: 'out', align: 'right', priority: 4 },
        ],
        r.priceChanges.map((c) => [
          c.model,
          change(c.oldPromptRate, c.newPromptRate),
          pct(c.oldPromptRate, c.newPromptRate),
          change(c.oldCompletionRate, c.newCompletionRate),
          pct(c.oldCompletionRate, c.newCompletionRate),
        ]),
      ),
    );
  } else {
    lines.push('no price changes');
  }
  if (r.added.length && r.previousSyncAt)
    lines.push(`new upstream: ${r.added.slice(0, 20).join(', ')}${r.added.length > 20 ? `, … (${formatCount(r.added.length)} in all; arb models lists them)` : ''}`);
  if (r.removed.length) lines.push(`gone upstream: ${r.removed.slice(0, 20).join(', ')}${r.removed.length > 20 ? ', …' : ''}`);
  lines.push(...describePriceModeDecisions(r.decided));
  const changed = r.repriced.filter((p) => p.previousPriceMicros !== p.package.priceMicros);
  if (changed.length) {
    lines.push(`packages priced by the formula, repriced to the new rates (${formatCount(changed.length)}):`);
    for (const p of changed.slice(0, 20)) {
      lines.push(
        `  package ${p.package.id} (${p.package.model}, ${formatCount(p.package.tokens)} tokens): ${formatUsd(p.previousPriceMicros)} → ${formatUsd(p.package.priceMicros)} (cost now ${formatUsd(p.package.costMicros, { precise: true })}, margin ${formatPercent(p.pricing.marginPercent)})`,
      );
    }
    if (changed.length > 20) lines.push(`  … and ${formatCount(changed.length - 20)} more (arb package list)`);
  }
  if (r.holds.length) {
    lines.push('packages put on hold (not for sale until arb package reprice <id> or arb package enable <id>):');
    for (const h of r.holds) {
      lines.push(
        h.reason === 'gone'
          ? `  package ${h.packageId} (${h.model}): the model is gone upstream`
          : `  package ${h.packageId} (${h.model}): price ${formatUsd(h.priceMicros)} is below the new floor ${formatUsd(h.floorMicros ?? 0)} (cost now ${formatUsd(h.newCostMicros ?? 0, { precise: true })})`,
      );
    }
  }
  return lines.join('\n');
}
