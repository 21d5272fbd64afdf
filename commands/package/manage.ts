/** `arb package list|enable|disable|reprice`. */
import { InputError } from '../../src/errors.js';
import { listPackages, packageToJson, repricePackage, setPackageAvailability } from '../../src/packages/packages.js';
import { describeReprice, repriceAllPackages, type RepriceAllReport } from '../../src/packages/reprice.js';
import type { CommandContext } from '../context.js';
import { formatUsd } from '../ui/format.js';
import { money, writeJson } from '../ui/json.js';
import { parseIdArg } from '../ui/options.js';
import { packageRowsTable, pricingJson, pricingView, renderPricing } from './view.js';

const parseId = (id: string) => parseIdArg(id, 'id', 'see arb package list --all');

export async function runPackageList(ctx: CommandContext, opts: { all?: boolean; json?: boolean }): Promise<number> {
  const pkgs = await listPackages(await ctx.db(), { all: opts.all });
  if (opts.json) writeJson(ctx.stdout, { packages: pkgs.map(packageToJson) });
  else if (pkgs.length === 0) ctx.stdout.write(opts.all ? 'no packages yet; create one with arb package create\n' : 'no packages on sale (arb package list --all shows the others)\n');
  else ctx.stdout.write(`${packageRowsTable(pkgs)}\n`);
  return 0;
}

export async function runPackageAvailability(ctx: CommandContext, idText: string, available: boolean, opts: { json?: boolean }): Promise<number> {
  const pkg = await setPackageAvailability(await ctx.db(), parseId(idText), available, { logger: ctx.logger() });
  if (opts.json) writeJson(ctx.stdout, packageToJson(pkg));
  else ctx.stdout.write(`package ${pkg.id} (${pkg.model}, ${pkg.tokens.toLocaleString('en-US')} tokens) is ${available ? 'on sale' : 'off sale'}\n`);
  return 0;
}

export async function runPackageReprice(ctx: CommandContext, idText: string | undefined, opts: { price?: string; formula?: boolean; json?: boolean }): Promise<number> {
  if (idText === undefined) throw new InputError('id: give the package id to reprice (arb package reprice 3), or --all for every package', 'id');
  if (opts.formula && opts.price !== undefined) {
    throw new InputError('formula: --formula prices the package by the formula, --price fixes its price; give one of them', 'formula');
  }
  const result = await repricePackage({ handle: await ctx.db(), logger: ctx.logger(), config: ctx.config }, parseId(idText), { priceUsd: opts.price });
  const pkg = result.package;
  if (opts.json) {
    writeJson(ctx.stdout, { ...packageToJson(pkg), pricing: pricingJson(result.pricing), previous: { ...money('cost', result.previous.costMicros), ...money('price', result.previous.priceMicros) } });
  } else {
    ctx.stdout.write(
      `${renderPricing(pricingView(`repriced package ${pkg.id}: price ${formatUsd(result.previous.priceMicros)} → ${formatUsd(pkg.priceMicros)}, cost ${formatUsd(result.previous.costMicros)} → ${formatUsd(pkg.costMicros)}`, pkg, result.pricing, ctx.config))}\n`,
    );
    ctx.stdout.write(
      pkg.priceMode === 'fixed'
        ? `fixed price: kept when the settings change (arb package reprice ${pkg.id} --formula lets it follow the formula)\n`
        : 'priced by the formula: follows the pricing settings and the upstream rates\n',
    );
    ctx.stdout.write(pkg.available ? 'on sale\n' : `off sale${pkg.holdReason ? ` (hold: ${pkg.holdReason})` : ''}; arb package enable ${pkg.id} puts it on sale\n`);
  }
  return 0;
}

/** `arb package reprice --all`: every formula package at the current settings; fixed prices listed with their margin. */
export async function runPackageRepriceAll(ctx: CommandContext, idText: string | undefined, opts: { price?: string; formula?: boolean; json?: boolean }): Promise<number> {
  if (idText !== undefined) throw new InputError(`id: --all reprices every package; drop "${idText}", or drop --all to reprice package ${idText} alone`, 'id');
  if (opts.price !== undefined) throw new InputError("price: --price sets one package's price; use arb package reprice <id> --price USD (without --all)", 'price');
  if (opts.formula) throw new InputError('formula: --formula puts one fixed-price package on the formula; use arb package reprice <id> --formula (without --all)', 'formula');
  const report = await repriceAllPackages({ handle: await ctx.db(), logger: ctx.logger(), config: ctx.config }, { liftMarginHolds: true, trigger: 'command' });
  if (opts.json) writeJson(ctx.stdout, repriceReportJson(report));
  else ctx.stdout.write(`${describeReprice(report)}\n`);
  return 0;
}

export function repriceReportJson(report: RepriceAllReport) {
  const s = report.settings;
  return {
    settings: { markup_percent: s.markupBp / 100, min_profit_margin: s.minProfitMarginBp / 10_000, bulk_discount_percent: s.bulkDiscountBp / 100, bulk_discount_threshold: s.bulkDiscountThreshold },
    repriced: report.repriced.map((r) => ({
      ...packageToJson(r.package),
      ...money('previous_price', r.previousPriceMicros),
      ...money('previous_cost', r.previousCostMicros),
      hold_lifted: r.holdLifted,
    })),
    unchanged: report.unchanged,
    fixed_price: report.fixed.map((f) => ({
      ...packageToJson(f.package),
      ...money('cost_now', f.costMicros),
      ...money('floor', f.floorMicros),
      margin_percent_now: f.marginPercent,
      below_floor: f.belowFloor,
      held_now: f.heldNow,
      hold_lifted: f.holdLifted,
    })),
    skipped: report.skipped.map((k) => ({ id: k.package.id, model: k.package.model, reason: k.reason })),
    price_modes_decided: report.decided.map((d) => ({
      id: d.package.id,
      model: d.package.model,
      price_mode: d.mode,
      ...money('price', d.package.priceMicros),
      ...money('formula_price', d.formulaPriceMicros),
    })),
  };
}
