/**
 * Market analysis for `arb models [query]`: upstream rates next to what arb charges (the markup rate and
 * the packages on sale). Rates are µ$ per million tokens; the JSON carries USD per million as well.
 */
import type { DbHandle } from '../db/dialect.js';
import { microsToUsd } from '../money.js';
import { loadCatalogModels } from './model.js';
import { completionWeight, meteringRule, type PricingConfig } from '../pricing.js';

export interface MarketRow {
  model: string;
  name: string;
  is_active: boolean;
  /** µ$ per million tokens; null = no fixed price upstream */
  prompt_rate: number | null;
  completion_rate: number | null;
  prompt_usd_per_mtok: number | null;
  completion_usd_per_mtok: number | null;
  /** what one completion token counts in prompt-equivalent tokens (null when unpriced) */
  completion_weight: number | null;
  context_length: number | null;
  /** µ$ per million prompt-equivalent tokens at the configured markup, before bulk discount */
  markup_rate: number | null;
  markup_usd_per_mtok: number | null;
  /** available packages of this model */
  packages: number;
  /** lowest price per million tokens among available packages (µ$), null without packages */
  cheapest_package_rate: number | null;
  cheapest_package_usd_per_mtok: number | null;
}

/**
 * Catalog models matching `query` (substring of id or name, case-insensitive) with our prices.
 * Only models listed upstream unless `all`.
 */
export async function marketAnalysis(handle: DbHandle, config: PricingConfig, opts: { query?: string; all?: boolean; limit?: number } = {}): Promise<MarketRow[]> {
  const models = await loadCatalogModels(handle.db, { activeOnly: !opts.all });
  const needle = opts.query?.trim().toLowerCase() ?? '';
  const matching = needle ? models.filter((m) => m.modelId.toLowerCase().includes(needle) || m.name.toLowerCase().includes(needle)) : models;
  const packages = await handle.db.selectFrom('ai_token_packages').select(['model', 'tokens', 'price']).where('is_available', '=', 1).execute();
  const byModel = new Map<string, { count: number; cheapest: number }>();
  for (const p of packages) {
    const rate = Math.ceil((p.price * 1_000_000) / p.tokens);
    const cur = byModel.get(p.model);
    if (!cur) byModel.set(p.model, { count: 1, cheapest: rate });
    else {
      cur.count++;
      cur.cheapest = Math.min(cur.cheapest, rate);
    }
  }
  const rows = matching.map((m): MarketRow => {
    let weight: number | null = null;
    let markup: number | null = null;
    try {
      const rule = meteringRule(m.promptRate, m.completionRate);
      weight = completionWeight(rule);
      markup = Math.ceil((rule.unitRate * (10_000 + config.markupBp)) / 10_000);
    } catch {
      /* no fixed price */
    }
    const pk = byModel.get(m.modelId);
    const usd = (v: number | null) => (v === null ? null : microsToUsd(v));
    return {
      model: m.modelId,
      name: m.name,
      is_active: m.active,
      prompt_rate: m.promptRate,
      completion_rate: m.completionRate,
      prompt_usd_per_mtok: usd(m.promptRate),
      completion_usd_per_mtok: usd(m.completionRate),
      completion_weight: weight,
      context_length: m.contextLength,
      markup_rate: markup,
      markup_usd_per_mtok: usd(markup),
      packages: pk?.count ?? 0,
      cheapest_package_rate: pk?.cheapest ?? null,
      cheapest_package_usd_per_mtok: usd(pk?.cheapest ?? null),
    };
  });
  return opts.limit ? rows.slice(0, opts.limit) : rows;
}
