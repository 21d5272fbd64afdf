/**
 * Prices follow the settings (SPEC §3): after the operator changes TOKEN_MARKUP_PERCENTAGE (or the floor,
 * or the bulk discount) and restarts, every package priced by the formula gets the price the formula
 * gives now; packages with an explicit price keep it and are listed with their margin at the new
 * settings; one whose explicit price now breaks the margin floor is put on hold, so nothing is ever sold
 * below the floor. The daemon runs this at start (`repriceAtStart`, reported to the admins in Telegram);
 * `arb package reprice --all` runs it on demand (and also lifts the margin holds a formula price cures).
 *
 * Packages stored before price modes were recorded have the mode 'unknown' (the creator may or may not
 * have typed --price). The first reprice decides each one at the settings of that run: a stored price equal
 * to the formula's price means 'formula' (it follows from now on), any other price means 'fixed' (kept,
 * listed with its margin, checked against the floor like every fixed price). Each decision is logged as a
 * `package_price_mode_decided` business event and shown in the report; `arb package reprice <id> --formula`
 * puts a package decided 'fixed' back on the formula.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../db/database.js';
import { loadCatalogModels } from '../catalog/model.js';
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

/** A package of unknown price mode (stored before modes were recorded) decided by a reprice. */
export interface PriceModeDecision {
  /** the row after the decision (before any reprice of the same run) */
  package: Package;
  mode: 'formula' | 'fixed';
  /** the formula's price at the settings and rates the decision used */
  formulaPriceMicros: number;
  /** the formula's cost basis at those rates */
  costMicros: number;
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
  /** packages of unknown price mode decided by this run */
  decided: PriceModeDecision[];
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

/**
 * Decides the price mode of every 'unknown' package whose model is offered with a fixed price (see the
 * module note), inside the caller's transaction, at the given settings and the stored rates. Packages
 * whose model is gone or unpriced stay 'unknown' until a later run can price them.
 */
export async function decideUnknownPriceModes(trx: Kysely<Database>, settings: PricingConfig, now: string = nowDb()): Promise<PriceModeDecision[]> {
  const unknown = (await trx.selectFrom('ai_token_packages').selectAll().where('price_mode', '=', 'unknown').orderBy('id').execute()).map(packageFromRow);
  if (unknown.length === 0) return [];
  const ids = [...new Set(unknown.map((p) => p.model))];
  const models = new Map((await loadCatalogModels(trx, { modelIds: ids })).map((m) => [m.modelId, m]));
  const decisions: PriceModeDecision[] = [];
  for (const pkg of unknown) {
    const model = models.get(pkg.model);
    if (!model || !model.active) continue;
    const formula = refusedAsNull(() => priceForPackage({ tokens: pkg.tokens, promptRate: model.promptRate, completionRate: model.completionRate }, settings));
    if (!formula) continue;
    const mode = formula.priceMicros === pkg.priceMicros ? 'formula' : 'fixed';
    const row = await trx.updateTable('ai_token_packages').set({ price_mode: mode, updated_at: now }).where('id', '=', pkg.id).where('price_mode', '=', 'unknown').returningAll().executeTakeFirst();
    // another replica decided it first (PostgreSQL): its decision stands
    if (row) decisions.push({ package: packageFromRow(row), mode, formulaPriceMicros: formula.priceMicros, costMicros: formula.costMicros });
  }
  return decisions;
}

/** One `package_price_mode_decided` business event per decision. */
export function logPriceModeDecisions(logger: Logger, decisions: readonly PriceModeDecision[], settings: PricingConfig, trigger: string): void {
  for (const d of decisions) {
    const p = d.package;
    const message =
      d.mode === 'formula'
        ? `package ${p.id} (${p.model}) follows the formula: its price ${formatUsd(p.priceMicros)} is the formula's price at the current settings`
        : `package ${p.id} (${p.model}) keeps its price ${formatUsd(p.priceMicros)} (the formula gives ${formatUsd(d.formulaPriceMicros)}); arb package reprice ${p.id} --formula lets it follow the formula`;
    const event = {
      event_type: 'package_price_mode_decided',
      package_id: p.id,
      model: p.model,
      tokens: p.tokens,
      price_mode: d.mode,
      price: microsToUsd(p.priceMicros),
      formula_price: microsToUsd(d.formulaPriceMicros),
      cost: microsToUsd(d.costMicros),
      margin_percent: packageMarginPercent(d.costMicros, p.priceMicros),
      markup_percent: settings.markupBp / 100,
      trigger,
    };
    logBusinessEvent(logger, event, message);
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
    const now = nowDb();
    const decided = await decideUnknownPriceModes(trx, settings, now);
    const packages = (await trx.selectFrom('ai_token_packages').selectAll().orderBy('id').execute()).map(packageFromRow);
    const models = new Map((await loadCatalogModels(trx)).map((m) => [m.modelId, m]));
    const out: RepriceAllReport = { settings, repriced: [], unchanged: 0, fixed: [], skipped: [], decided };
    for (const pkg of packages) {
      const model = models.get(pkg.model);
      if (!model || !model.active) {
        out.skipped.push({ package: pkg, reason: `model ${pkg.model} is no longer offered upstream` });
        continue;
      }
      const rates = { tokens: pkg.tokens, promptRate: model.promptRate, completionRate: model.completionRate };
      const formula = refusedAsNull(() => priceForPackage(rates, settings));
      if (!formula) {
        out.skipped.push({ package: pkg, reason: `model ${pkg.model} has no fixed per-token price upstream` });
        continue;
      }
      if (pkg.priceMode !== 'formula') {
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

/** The `"arbitrage":true` `package_repriced` line of one formula package whose price or cost changed. */
export function logPackageRepriced(logger: Logger, r: Pick<RepricedPackage, 'package' | 'previousPriceMicros' | 'previousCostMicros' | 'pricing'>, trigger: string): void {
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

function logReport(logger: Logger, report: RepriceAllReport, trigger: string): void {
  logPriceModeDecisions(logger, report.decided, report.settings, trigger);
  for (const r of report.repriced) {
    if (r.previousPriceMicros === r.package.priceMicros && r.previousCostMicros === r.package.costMicros) continue; // only a hold lifted
    logPackageRepriced(logger, r, trigger);
  }
  for (const f of report.fixed) {
    if (!f.heldNow) continue;
    logger.warn(
      {
        business_event: true,
        event_type: 'package_on_hold',
        package_id: f.package.id,
        model: f.package.model,
        reason: 'margin',
        price: microsToUsd(f.package.priceMicros),
        floor: microsToUsd(f.floorMicros),
        trigger,
      },
      `package ${f.package.id} (${f.package.model}) put on hold: its fixed price ${formatUsd(f.package.priceMicros)} is below the margin floor ${formatUsd(f.floorMicros)} at the current settings`,
    );
  }
  if (report.repriced.length > 0 || report.fixed.some((f) => f.heldNow) || report.decided.length > 0) {
    logBusinessEvent(logger, {
      event_type: 'packages_repriced',
      repriced: report.repriced.length,
      held: report.fixed.filter((f) => f.heldNow).length,
      fixed_price: report.fixed.length,
      price_modes_decided: report.decided.length,
      markup_percent: report.settings.markupBp / 100,
      min_profit_margin: report.settings.minProfitMarginBp / 10_000,
      trigger,
    });
  }
}

/** true when the run changed a price, put a package on hold or decided a price mode (what the admins are told about). */
export function repriceChangedSomething(report: RepriceAllReport): boolean {
  return report.repriced.some((r) => r.previousPriceMicros !== r.package.priceMicros) || report.fixed.some((f) => f.heldNow) || report.decided.length > 0;
}

/** Report lines for price-mode decisions (shared by the reprice and the sync summaries). */
export function describePriceModeDecisions(decisions: readonly PriceModeDecision[]): string[] {
  if (!decisions.length) return [];
  const lines = [`${decisions.length} package(s) stored before price modes were recorded, now decided:`];
  for (const d of decisions.slice(0, 20)) {
    const p = d.package;
    lines.push(
      d.mode === 'formula'
        ? `#${p.id} ${p.model}: follows the formula (its price ${formatUsd(p.priceMicros)} is the formula's price)`
        : `#${p.id} ${p.model}: keeps its price ${formatUsd(p.priceMicros)} as a fixed price (the formula gives ${formatUsd(d.formulaPriceMicros)}); to let it follow the formula: arb package reprice ${p.id} --formula`,
    );
  }
  if (decisions.length > 20) lines.push(`… and ${decisions.length - 20} more (arb package list --all --json shows each price_mode)`);
  return lines;
}

function settingsLine(s: PricingConfig): string {
  return `markup ${s.markupBp / 100} %, margin floor ${s.minProfitMarginBp / 100} %, bulk discount ${s.bulkDiscountBp / 100} % from ${s.bulkDiscountThreshold.toLocaleString('en-US')} tokens`;
}

/** The plain-text summary sent to the admins (and printed by the CLI). */
export function describeReprice(report: RepriceAllReport, heading = 'Package prices follow the pricing settings'): string {
  const lines = [`${heading} (${settingsLine(report.settings)}):`];
  lines.push(...describePriceModeDecisions(report.decided));
  const changed = report.repriced.filter((r) => r.previousPriceMicros !== r.package.priceMicros);
  if (changed.length) {
    lines.push(`${changed.length} package(s) repriced:`);
    for (const r of changed.slice(0, 20)) {
      lines.push(
        `#${r.package.id} ${r.package.model} ${r.package.tokens.toLocaleString('en-US')} tokens: ${formatUsd(r.previousPriceMicros)} → ${formatUsd(r.package.priceMicros)} (margin ${r.pricing.marginPercent.toFixed(1)} %)`,
      );
    }
    if (changed.length > 20) lines.push(`… and ${changed.length - 20} more (arb package list)`);
  }
  const held = report.fixed.filter((f) => f.heldNow);
  if (held.length) {
    lines.push(`${held.length} fixed-price package(s) put on hold (price below the margin floor):`);
    for (const f of held)
      lines.push(`#${f.package.id} ${f.package.model}: ${formatUsd(f.package.priceMicros)} < floor ${formatUsd(f.floorMicros)}; fix with arb package reprice ${f.package.id} [--price USD]`);
  }
  const kept = report.fixed.filter((f) => !f.heldNow);
  if (kept.length) {
    lines.push(`${kept.length} fixed-price package(s) keep their price (arb package reprice <id> --formula lets one follow the formula):`);
    for (const f of kept.slice(0, 20)) {
      lines.push(
        `#${f.package.id} ${f.package.model}: ${formatUsd(f.package.priceMicros)}, margin ${f.marginPercent.toFixed(1)} %${f.belowFloor ? ` — below the floor ${formatUsd(f.floorMicros)}, on hold` : ''}`,
      );
    }
    if (kept.length > 20) lines.push(`… and ${kept.length - 20} more (arb package reprice --all)`);
  }
  if (!changed.length && !held.length && !report.decided.length) lines.push('no price changed.');
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
