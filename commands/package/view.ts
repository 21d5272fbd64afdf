/** Shared package output: the pricing breakdown (text and JSON) and the package table. */
import { packageMarginPercent, packageToJson, type Package } from '../../src/packages/packages.js';
import type { PackagePrice } from '../../src/pricing.js';
import type { Config } from '../../src/config.js';
import { formatCount, formatPercent, formatRate, formatUsd } from '../ui/format.js';
import { money } from '../ui/json.js';
import { renderKeyValues, renderTable } from '../ui/table.js';

/** Props of PackageScreen and the text breakdown: everything already computed. */
export interface PricingView {
  title: string;
  packageId: number | null;
  model: string;
  tokens: number;
  description: string;
  validityDays: number;
  costMicros: number;
  priceMicros: number;
  profitMicros: number;
  marginPercent: number;
  floorMicros: number;
  unitRate: number;
  bulkApplied: boolean;
  bulkThreshold: number;
  bulkPercent: number;
  minMarginPercent: number;
  explicit: boolean;
}

export function pricingView(title: string, pkg: Pick<Package, 'model' | 'tokens' | 'description' | 'validityDays'> & { id: number | null }, pricing: PackagePrice, config: Config): PricingView {
  return {
    title,
    packageId: pkg.id,
    model: pkg.model,
    tokens: pkg.tokens,
    description: pkg.description,
    validityDays: pkg.validityDays,
    costMicros: pricing.costMicros,
    priceMicros: pricing.priceMicros,
    profitMicros: pricing.profitMicros,
    marginPercent: pricing.marginPercent,
    floorMicros: pricing.floorMicros,
    unitRate: pricing.unitRate,
    bulkApplied: pricing.bulkDiscountApplied,
    bulkThreshold: config.bulkDiscountThreshold,
    bulkPercent: config.bulkDiscountBp / 100,
    minMarginPercent: config.minProfitMarginBp / 100,
    explicit: pricing.explicit,
  };
}

export function renderPricing(v: PricingView): string {
  return `${v.title}\n${renderKeyValues([
    ['model', v.model],
    ['tokens', formatCount(v.tokens)],
    ['description', v.description],
    ['validity', `${v.validityDays} days`],
    ['cost', `${formatUsd(v.costMicros, { precise: true })} (${formatCount(v.tokens)} × ${formatRate(v.unitRate)})`],
    ['price', `${formatUsd(v.priceMicros)}${v.explicit ? ' (explicit)' : ''}`],
    ['profit', formatUsd(v.profitMicros, { precise: true })],
    ['margin', formatPercent(v.marginPercent)],
    ['floor', `${formatUsd(v.floorMicros)} (lowest accepted price: cost + ${v.minMarginPercent} %)`],
    ['bulk', v.bulkApplied ? `−${v.bulkPercent} % applied (${formatCount(v.bulkThreshold)} tokens or more)` : `not applied (from ${formatCount(v.bulkThreshold)} tokens)`],
  ])}`;
}

export function pricingJson(pricing: PackagePrice) {
  return {
    unit_rate_micros_per_mtok: pricing.unitRate,
    ...money('floor', pricing.floorMicros),
    bulk_discount_applied: pricing.bulkDiscountApplied,
    explicit_price: pricing.explicit,
  };
}

export function packageRowsTable(pkgs: readonly Parameters<typeof packageToJson>[0][]): string {
  return renderTable(
    ['id', 'model', 'tokens', 'cost', 'price', 'margin', 'days', 'on sale', 'description'],
    pkgs.map((p) => [
      p.id ?? '-',
      p.model,
      formatCount(p.tokens),
      formatUsd(p.costMicros),
      formatUsd(p.priceMicros),
      formatPercent(packageMarginPercent(p.costMicros, p.priceMicros)),
      p.validityDays,
      (p.available ?? true) ? 'yes' : p.holdReason ? `hold: ${p.holdReason}` : 'no',
      p.description,
    ]),
    // on a narrow terminal the description shrinks first, then days, cost, on sale and margin are hidden
    { align: ['right', 'left', 'right', 'right', 'right', 'right', 'right', 'left', 'left'], priority: [0, 1, 3, 6, 2, 5, 7, 4, 8] },
  );
}
