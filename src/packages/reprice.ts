/**
 * Prices follow the settings (SPEC §3): after the operator changes TOKEN_MARKUP_PERCENTAGE (or the floor,
 * or the bulk discount) and restarts, every package priced by the formula gets the price the formula
 * gives now; packages with an explicit price keep it and are listed with their margin at the new
 * settings; one whose explicit price now breaks the margin floor is put on hold, so nothing is ever sold
 * below the floor. The daemon runs this at start (`repriceAtStart`, reported to the admins in Telegram);
 * `arb package reprice --all` runs it on demand (and also lifts the margin holds a formula price cures).
 */
import type { AiModel } from '../db/database.js';
import { transact } from '../db/dialect.js';
import { InputError } from '../errors.js';
import { logArbitrage, logBusinessEvent, type Logger } from '../logger.js';
import { formatUsd, microsToUsd } from '../money.js';
import { priceForPackage, type PackagePrice, type PricingConfig } from '../pricing.js';
import { nowDb } from '../time.js';
import { packageFromRow, packageMarginPercent, type Package, type PackageDeps } from './packages.js';

export interface RepricedPackage {
  package: Package;
  previousPriceMicros: number;
  previousCostMicros: number;
  pricing: PackagePrice;
  /** a margin hold was lifted (only when asked: `liftMarginHolds`) */
  holdLifted: boolean;
}

export interface FixedPricePackage {
  package: Package;
  /** cost basis at the model's current rates */
  costMicros: number;
  /** lowest acceptable price at the current settings */
  floorMicros: number;
  marginPercent: number;
  belowFloor: boolean;
  /** put on hold by this run (it was for sale below the floor) */
  heldNow: boolean;
  /** its margin hold was lifted (it meets the floor again; only with `liftMarginHolds`) */
  holdLifted: boolean;
}

export interface SkippedPackage {
  package: Package;
  reason: string;
}

export interface RepriceAllReport {
  settings: PricingConfig;
  repriced: RepricedPackage[];
  /** formula packages already at the formula's price */
  unchanged: number;
  fixed: FixedPricePackage[];
  skipped: SkippedPackage[];
}

export interface RepriceAllOptions {
  /** lift 'margin' holds of formula packages (the new price meets the floor); the operator's command does, the daemon's start does not */
  liftMarginHolds?: boolean;
  /** what triggered the run, logged with each change: 'start' | 'command' */
  trigger?: string;
}

function refusedAsNull<T>(fn: () => T): T | null {
  try {
    return fn();
  } catch (err) {
    if (err instanceof InputError) return null;
    throw err;
  }
}

/** Reprices every package by the current settings and rates, in one transaction (see the module note). */
export async function repriceAllPackages(deps: PackageDeps, opts: RepriceAllOptions = {}): Promise<RepriceAllReport> {
  const settings: PricingConfig = {
    markupBp: deps.config.markupBp,
    minProfitMarginBp: deps.config.minProfitMarginBp,
    bulkDiscountThreshold: deps.config.bulkDiscountThreshold,
    bulkDiscountBp: deps.config.bulkDiscountBp,
  };
  const report = await transact(deps.handle, async (trx) => {
    const packages = (await trx.selectFrom('ai_token_packages').selectAll().orderBy('id').execute()).map(packageFromRow);
    const models = new Map<string, AiModel>((await trx.selectFrom('ai_models').selectAll().execute()).map((m) => [m.model_id, m]));
    const out: RepriceAllReport = { settings, repriced: [], unchanged: 0, fixed: [], skipped: [] };
    const now = nowDb();
    for (const pkg of packages) {
      const model = models.get(pkg.model);
      if (!model || model.is_active !== 1) {
        out.skipped.push({ package: pkg, reason: `model ${pkg.model} is no longer offered upstream` });
        continue;
      }
      const rates = { tokens: pkg.tokens, promptRate: model.prompt_rate, completionRate: model.completion_rate };
      const formula = refusedAsNull(() => priceForPackage(rates, settings));
      if (!formula) {
        out.skipped.push({ package: pkg, reason: `model ${pkg.model} has no fixed per-token price upstream` });
        continue;
      }
      if (pkg.priceMode === 'fixed') {
        const meetsFloor = refusedAsNull(() => priceForPackage({ ...rates, explicitPriceMicros: pkg.priceMicros }, settings)) !== null;
        let row = pkg;
        const heldNow = !meetsFloor && pkg.available;
        const holdLifted = meetsFloor && opts.liftMarginHolds === true && pkg.holdReason === 'margin';
        if (heldNow || holdLifted) {
          row = packageFromRow(
            await trx
              .updateTable('ai_token_packages')
              .set(heldNow ? { is_available: 0, hold_reason: 'margin', updated_at: now } : { is_available: 1, hold_reason: null, updated_at: now })
              .where('id', '=', pkg.id)
              .returningAll()
              .executeTakeFirstOrThrow(),
          );
        }
        out.fixed.push({
          package: row,
          costMicros: formula.costMicros,
          floorMicros: formula.floorMicros,
          marginPercent: packageMarginPercent(formula.costMicros, pkg.priceMicros),
          belowFloor: !meetsFloor,
          heldNow,
          holdLifted,
        });
        continue;
      }
      const liftHold = opts.liftMarginHolds === true && pkg.holdReason === 'margin';
      if (formula.priceMicros === pkg.priceMicros && formula.costMicros === pkg.costMicros && !liftHold) {
        out.unchanged++;
        continue;
      }
      const row = await trx
        .updateTable('ai_token_packages')
        .set({ cost: formula.costMicros, price: formula.priceMicros, updated_at: now, ...(liftHold ? { is_available: 1, hold_reason: null } : {}) })
        .where('id', '=', pkg.id)
        .returningAll()
        .executeTakeFirstOrThrow();
      out.repriced.push({ package: packageFromRow(row), previousPriceMicros: pkg.priceMicros, previousCostMicros: pkg.costMicros, pricing: formula, holdLifted: liftHold });
    }
    return out;
  });
  if (deps.logger) logReport(deps.logger, report, opts.trigger ?? 'command');
  return report;
}

function logReport(logger: Logger, report: RepriceAllReport, trigger: string): void {
  for (const r of report.repriced) {
    if (r.previousPriceMicros === r.package.priceMicros && r.previousCostMicros === r.package.costMicros) continue; // only a hold lifted
    logArbitrage(logger, {
      operation: 'package_repriced',
      model: r.package.model,
      tokens: r.package.tokens,
      cost: microsToUsd(r.package.costMicros),
      sell_price: microsToUsd(r.package.priceMicros),
      profit: microsToUsd(r.package.priceMicros - r.package.costMicros),
      margin_percent: r.pricing.marginPercent,
      package_id: r.package.id,
      previous_sell_price: microsToUsd(r.previousPriceMicros),
      previous_cost: microsToUsd(r.previousCostMicros),
      trigger,
    });
  }
  for (const f of report.fixed) {
    if (!f.heldNow) continue;
    logger.warn(
      { business_event: true, event_type: 'package_on_hold', package_id: f.package.id, model: f.package.model, reason: 'margin', price: microsToUsd(f.package.priceMicros), floor: microsToUsd(f.floorMicros), trigger },
      `package ${f.package.id} (${f.package.model}) put on hold: its fixed price ${formatUsd(f.package.priceMicros)} is below the margin floor ${formatUsd(f.floorMicros)} at the current settings`,
    );
  }
  if (report.repriced.length > 0 || report.fixed.some((f) => f.heldNow)) {
    logBusinessEvent(logger, {
      event_type: 'packages_repriced',
      repriced: report.repriced.length,
      held: report.fixed.filter((f) => f.heldNow).length,
      fixed_price: report.fixed.length,
      markup_percent: report.settings.markupBp / 100,
      min_profit_margin: report.settings.minProfitMarginBp / 10_000,
      trigger,
    });
  }
}

/** true when the run changed a price or put a package on hold (what the admins are told about). */
export function repriceChangedSomething(report: RepriceAllReport): boolean {
  return report.repriced.some((r) => r.previousPriceMicros !== r.package.priceMicros) || report.fixed.some((f) => f.heldNow);
}

function settingsLine(s: PricingConfig): string {
  return `markup ${s.markupBp / 100} %, margin floor ${s.minProfitMarginBp / 100} %, bulk discount ${s.bulkDiscountBp / 100} % from ${s.bulkDiscountThreshold.toLocaleString('en-US')} tokens`;
}

/** The plain-text summary sent to the admins (and printed by the CLI). */
export function describeReprice(report: RepriceAllReport, heading = 'Package prices follow the pricing settings'): string {
  const lines = [`${heading} (${settingsLine(report.settings)}):`];
  const changed = report.repriced.filter((r) => r.previousPriceMicros !== r.package.priceMicros);
  if (changed.length) {
    lines.push(`${changed.length} package(s) repriced:`);
    for (const r of changed.slice(0, 20)) {
      lines.push(`#${r.package.id} ${r.package.model} ${r.package.tokens.toLocaleString('en-US')} tokens: ${formatUsd(r.previousPriceMicros)} → ${formatUsd(r.package.priceMicros)} (margin ${r.pricing.marginPercent.toFixed(1)} %)`);
    }
    if (changed.length > 20) lines.push(`… and ${changed.length - 20} more (arb package list)`);
  }
  const held = report.fixed.filter((f) => f.heldNow);
  if (held.length) {
    lines.push(`${held.length} fixed-price package(s) put on hold (price below the margin floor):`);
    for (const f of held) lines.push(`#${f.package.id} ${f.package.model}: ${formatUsd(f.package.priceMicros)} < floor ${formatUsd(f.floorMicros)}; fix with arb package reprice ${f.package.id} [--price USD]`);
  }
  const kept = report.fixed.filter((f) => !f.heldNow);
  if (kept.length) {
    lines.push(`${kept.length} fixed-price package(s) keep their price:`);
    for (const f of kept.slice(0, 20)) {
      lines.push(`#${f.package.id} ${f.package.model}: ${formatUsd(f.package.priceMicros)}, margin ${f.marginPercent.toFixed(1)} %${f.belowFloor ? ` — below the floor ${formatUsd(f.floorMicros)}, on hold` : ''}`);
    }
    if (kept.length > 20) lines.push(`… and ${kept.length - 20} more (arb package reprice --all)`);
  }
  if (!changed.length && !held.length) lines.push('no price changed.');
  return lines.join('\n');
}

export interface RepriceAtStartDeps extends PackageDeps {
  logger: Logger;
  /** the bot's notify-admins path; undefined without a bot */
  notifyAdmins?: (text: string) => Promise<void> | void;
}

/**
 * The daemon's start step: reprices before the daemon serves, and tells the admins what changed (a
 * failed notification is logged, never fails the start). Margin holds stay for the operator to lift.
 */
export async function repriceAtStart(deps: RepriceAtStartDeps): Promise<RepriceAllReport> {
  const report = await repriceAllPackages(deps, { trigger: 'start' });
  if (repriceChangedSomething(report) && deps.notifyAdmins) {
    const text = describeReprice(report, '💱 Prices updated at daemon start');
    void Promise.resolve()
      .then(() => deps.notifyAdmins!(text))
      .catch((err: unknown) => deps.logger.warn({ err }, 'could not tell the admins about the repriced packages'));
  }
  return report;
}
