/**
 * The package service behind `arb package create|import|list|enable|disable|reprice` and the bot's
 * `/create_package`: validation (every field named in errors), pricing (SPEC §3 via priceForPackage),
 * all-or-nothing bulk import, availability and repricing. Money is µ$; USD appears only in JSON and logs.
 */
import { readFileSync } from 'node:fs';
import type { Kysely } from 'kysely';
import type { Database, PackagePriceMode, PackageRow } from '../db/database.js';
import { categoryFromRow, type Category } from './categories.js';
import { transact, type DbHandle } from '../db/dialect.js';
import { InputError, NotFoundError } from '../errors.js';
import { logArbitrage, logBusinessEvent, type Logger } from '../logger.js';
import { formatUsd, microsToUsd, parseUsd } from '../money.js';
import { priceForPackage, type PackagePrice, type PricingConfig } from '../pricing.js';
import { nowDb } from '../time.js';
import { resolveAmong } from '../catalog/aliases.js';
import { loadCatalogModels, type CatalogModel } from '../catalog/model.js';

export interface PackageServiceConfig extends PricingConfig {
  /** default key lifetime for new packages (PACKAGE_VALIDITY_DAYS) */
  packageValidityDays: number;
}

/** Dependencies of the package service; a `Config` satisfies `config`. */
export interface PackageDeps {
  handle: DbHandle;
  logger?: Logger;
  config: PackageServiceConfig;
}

export interface CreatePackageInput {
  /** OpenRouter id or unambiguous short form (`gpt-4`) */
  model: string;
  /** a positive integer (a digit string is accepted, as typed on the command line) */
  tokens: number | string;
  description: string;
  /** explicit price in USD; omitted ⇒ priced by the markup rule */
  priceUsd?: number | string | null;
  validityDays?: number | string | null;
  categoryId?: number | string | null;
  subcategoryId?: number | string | null;
}

/** A token package the shop sells: `tokens` of `model` for `priceMicros`, valid `validityDays` after the sale. */
export interface Package {
  id: number;
  model: string;
  tokens: number;
  description: string;
  categoryId: number | null;
  subcategoryId: number | null;
  /** µ$ the tokens cost upstream at the rates when priced */
  costMicros: number;
  priceMicros: number;
  validityDays: number;
  /** for sale (false: disabled by the operator, or on hold) */
  available: boolean;
  /** why a sync put it on hold: 'margin' | 'gone' | null */
  holdReason: string | null;
  /** 'formula': priced by the settings, repriced when they or the rates change; 'fixed': the operator's explicit price */
  priceMode: PackagePriceMode;
  createdAt: string;
  updatedAt: string;
}

/** The package of a database row (numbers as numbers: PostgreSQL returns bigints as text). */
export function packageFromRow(r: PackageRow): Package {
  return {
    id: Number(r.id),
    model: r.model,
    tokens: Number(r.tokens),
    description: r.description,
    categoryId: r.category_id === null ? null : Number(r.category_id),
    subcategoryId: r.subcategory_id === null ? null : Number(r.subcategory_id),
    costMicros: Number(r.cost),
    priceMicros: Number(r.price),
    validityDays: Number(r.validity_days),
    available: Number(r.is_available) === 1,
    holdReason: r.hold_reason,
    priceMode: r.price_mode,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export interface PackageResult {
  package: Package;
  pricing: PackagePrice;
}

export interface ImportProblem {
  /** 0-based position in the array */
  index: number;
  model: string | null;
  field: string;
  /** the problem, starting with the field name */
  message: string;
}

/** A bulk import that was refused whole; `problems` lists every bad field of every item. */
export class PackageImportError extends InputError {
  constructor(
    readonly problems: readonly ImportProblem[],
    readonly itemCount: number,
  ) {
    const items = new Set(problems.map((p) => p.index)).size;
    super(
      `package import refused, nothing was imported: ${items} of ${itemCount} item${itemCount === 1 ? '' : 's'} ${items === 1 ? 'is' : 'are'} invalid\n` +
        problems.map((p) => `  ${itemLabel(p.index, p.model)}: ${p.message}`).join('\n'),
      problems[0]?.field,
    );
  }
}

/**
 * What an import did with an item. A package is identified by model, tokens and description: an item
 * matching a stored package is `unchanged` (left as it is), or with `upsert` `updated` when its price,
 * validity or categories differ.
 */
export type ImportStatus = 'created' | 'updated' | 'unchanged';

export interface ImportedItem {
  index: number;
  status: ImportStatus;
  /** the stored package (after an update); null for a created item in a dry run */
  package: Package | null;
  pricing: PackagePrice;
  values: PackageValues;
  /** what an update changes (or, with upsert off, would change), e.g. "price $3.75 → $4.00" */
  changes: string[];
}

export interface ImportResult {
  dryRun: boolean;
  upsert: boolean;
  items: ImportedItem[];
  counts: Record<ImportStatus, number>;
}

/** Validated values of a package (before insert). */
export interface PackageValues {
  model: string;
  tokens: number;
  description: string;
  costMicros: number;
  priceMicros: number;
  validityDays: number;
  categoryId: number | null;
  subcategoryId: number | null;
  /** 'fixed' when an explicit price was given, else 'formula' (follows the pricing settings) */
  priceMode: PackagePriceMode;
}

/** The columns the values are stored in. */
function packageColumns(v: PackageValues) {
  return {
    model: v.model,
    tokens: v.tokens,
    description: v.description,
    cost: v.costMicros,
    price: v.priceMicros,
    validity_days: v.validityDays,
    category_id: v.categoryId,
    subcategory_id: v.subcategoryId,
    price_mode: v.priceMode,
  };
}

export const MAX_PACKAGE_TOKENS = 10_000_000_000;
export const MAX_DESCRIPTION_LENGTH = 200;
export const MAX_VALIDITY_DAYS = 3650;

/** Field names as the operator typed them: CLI/bot options, or the keys of the import file. */
interface Naming {
  model: string;
  tokens: string;
  description: string;
  price: string;
  validity: string;
  category: string;
  subcategory: string;
  priceHint: (usd: string) => string;
}

const CLI_NAMES: Naming = {
  model: 'model',
  tokens: 'tokens',
  description: 'description',
  price: 'price',
  validity: 'validity_days',
  category: 'category',
  subcategory: 'subcategory',
  priceHint: (usd) => `use --price ${usd} or more, or omit --price`,
};

const FILE_NAMES: Naming = {
  model: 'model',
  tokens: 'tokens',
  description: 'description',
  price: 'price_usd',
  validity: 'validity_days',
  category: 'category_id',
  subcategory: 'subcategory_id',
  priceHint: (usd) => `set price_usd to ${usd} or more, or leave it out`,
};

interface Catalog {
  models: CatalogModel[];
  categories: Map<number, Category>;
}

async function loadCatalog(db: Kysely<Database>): Promise<Catalog> {
  const [models, categories] = await Promise.all([loadCatalogModels(db), db.selectFrom('categories').selectAll().execute()]);
  return { models, categories: new Map(categories.map((c) => [Number(c.id), categoryFromRow(c)])) };
}

type Problem = { field: string; message: string };

/** Validates one package description; returns the values and price, or every problem found. */
function validatePackage(catalog: Catalog, input: CreatePackageInput, config: PackageServiceConfig, names: Naming): { values: PackageValues; pricing: PackagePrice } | { problems: Problem[] } {
  const problems: Problem[] = [];
  const attempt = <T>(field: string, fn: () => T): T | undefined => {
    try {
      return fn();
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      problems.push({ field: err.field ?? field, message: err.message });
      return undefined;
    }
  };

  const model = attempt(names.model, () => {
    if (typeof input.model !== 'string') throw new InputError(`${names.model}: expected a model name like gpt-4 or openai/gpt-4`, names.model);
    return resolveAmong(catalog.models, input.model, { field: names.model });
  });
  const tokens = attempt(names.tokens, () => parseTokenCount(input.tokens, names.tokens));
  const description = attempt(names.description, () => parseDescription(input.description, names.description));
  const validity = attempt(names.validity, () =>
    input.validityDays === undefined || input.validityDays === null ? config.packageValidityDays : parseBoundedInt(input.validityDays, names.validity, 1, MAX_VALIDITY_DAYS, 'days'),
  );
  const category = attempt(names.category, () => parseCategory(catalog, input.categoryId, names.category));
  const subcategory = attempt(names.subcategory, () => parseCategory(catalog, input.subcategoryId, names.subcategory));
  if (category && subcategory && subcategory.parentId !== null && subcategory.parentId !== category.id) {
    problems.push({
      field: names.subcategory,
      message: `${names.subcategory}: category ${subcategory.id} (${subcategory.name}) belongs to category ${subcategory.parentId}, not ${category.id}`,
    });
  }
  const priceMicros = attempt(names.price, () => (input.priceUsd === undefined || input.priceUsd === null || input.priceUsd === '' ? undefined : parseUsd(input.priceUsd, names.price)));

  let pricing: PackagePrice | undefined;
  if (model && tokens !== undefined && !problems.some((p) => p.field === names.price)) {
    try {
      pricing = priceForPackage({ tokens, promptRate: model.promptRate, completionRate: model.completionRate, explicitPriceMicros: priceMicros }, config);
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      if (err.field === 'price' && priceMicros !== undefined) {
        const floor = priceForPackage({ tokens, promptRate: model.promptRate, completionRate: model.completionRate }, config).floorMicros;
        problems.push({
          field: names.price,
          message: `${names.price}: ${formatUsd(priceMicros, { precise: true })} is below the margin floor ${formatUsd(floor)} for ${tokens.toLocaleString('en-US')} tokens of ${model.modelId}; ${names.priceHint((floor / 1e6).toFixed(2))}`,
        });
      } else {
        problems.push({ field: err.field ?? names.model, message: err.message });
      }
    }
  }
  if (problems.length || !model || tokens === undefined || description === undefined || validity === undefined || !pricing) {
    return { problems };
  }
  return {
    values: {
      model: model.modelId,
      tokens,
      description,
      costMicros: pricing.costMicros,
      priceMicros: pricing.priceMicros,
      validityDays: validity,
      categoryId: category?.id ?? null,
      subcategoryId: subcategory?.id ?? null,
      priceMode: pricing.explicit ? 'fixed' : 'formula',
    },
    pricing,
  };
}

function parseTokenCount(value: unknown, field: string): number {
  const fix = `use a whole number of tokens from 1 to ${MAX_PACKAGE_TOKENS.toLocaleString('en-US')}, e.g. 100000`;
  let n: number;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'string' && /^\s*\d[\d_,]*\s*$/.test(value)) n = Number(value.replace(/[\s_,]/g, ''));
  else throw new InputError(`${field}: ${value === undefined ? 'missing' : JSON.stringify(value)} is not a number of tokens; ${fix}`, field);
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_PACKAGE_TOKENS) {
    throw new InputError(`${field}: ${typeof value === 'string' ? JSON.stringify(value) : value} is out of range; ${fix}`, field);
  }
  return n;
}

function parseDescription(value: unknown, field: string): string {
  const text = typeof value === 'string' ? value.trim() : '';
  if (text === '') {
    throw new InputError(`${field}: a description is required, e.g. "GPT-4 Premium Access - 100k tokens"`, field);
  }
  if (text.length > MAX_DESCRIPTION_LENGTH) {
    throw new InputError(`${field}: ${text.length} characters is too long; use at most ${MAX_DESCRIPTION_LENGTH}`, field);
  }
  return text;
}

function parseBoundedInt(value: unknown, field: string, min: number, max: number, unit: string): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new InputError(`${field}: ${JSON.stringify(value)} is not valid; use a whole number of ${unit} from ${min} to ${max}`, field);
  }
  return n;
}

function parseCategory(catalog: Catalog, value: unknown, field: string): Category | null {
  if (value === undefined || value === null || value === '') return null;
  const id = parseBoundedInt(value, field, 1, Number.MAX_SAFE_INTEGER, 'ids');
  const found = catalog.categories.get(id);
  if (!found) {
    const known = [...catalog.categories.keys()].sort((a, b) => a - b);
    throw new InputError(`${field}: no category with id ${id}; ${known.length ? `existing ids: ${known.slice(0, 20).join(', ')}` : 'there are no categories yet'}`, field);
  }
  return found;
}

function itemLabel(index: number, model: string | null): string {
  return `item ${index + 1}${model ? ` (${model})` : ''}`;
}

async function insertPackage(db: Kysely<Database>, values: PackageValues, now: string): Promise<Package> {
  const row = await db
    .insertInto('ai_token_packages')
    .values({ ...packageColumns(values), is_available: 1, hold_reason: null, created_at: now, updated_at: now })
    .returningAll()
    .executeTakeFirstOrThrow();
  return packageFromRow(row);
}

function logCreated(logger: Logger | undefined, pkg: Package, pricing: PackagePrice, operation = 'package_created'): void {
  if (!logger) return;
  logBusinessEvent(logger, {
    event_type: operation,
    package_id: pkg.id,
    model: pkg.model,
    tokens: pkg.tokens,
    cost: microsToUsd(pkg.costMicros),
    price: microsToUsd(pkg.priceMicros),
    profit: microsToUsd(pkg.priceMicros - pkg.costMicros),
  });
  logArbitrage(logger, {
    operation,
    model: pkg.model,
    tokens: pkg.tokens,
    cost: microsToUsd(pkg.costMicros),
    sell_price: microsToUsd(pkg.priceMicros),
    profit: microsToUsd(pkg.priceMicros - pkg.costMicros),
    margin_percent: pricing.marginPercent,
    package_id: pkg.id,
  });
}

/** Creates one package: resolves the model, prices it (or checks an explicit price), stores it. */
export async function createPackage(deps: PackageDeps, input: CreatePackageInput): Promise<PackageResult> {
  const result = await transact(deps.handle, async (trx) => {
    const checked = validatePackage(await loadCatalog(trx), input, deps.config, CLI_NAMES);
    if ('problems' in checked) {
      const first = checked.problems[0];
      throw new InputError(first.message, first.field);
    }
    return { package: await insertPackage(trx, checked.values, nowDb()), pricing: checked.pricing };
  });
  logCreated(deps.logger, result.package, result.pricing);
  return result;
}

const ITEM_KEYS = new Set(['model', 'tokens', 'description', 'category_id', 'subcategory_id', 'price_usd', 'validity_days']);

const identityOf = (v: Pick<PackageValues, 'model' | 'tokens' | 'description'>) => `${v.model}\u0000${v.tokens}\u0000${v.description}`;

/** Differences between a stored package and an import item's values, as the operator reads them. */
function packageChanges(pkg: Package, v: PackageValues): string[] {
  const changes: string[] = [];
  if (pkg.priceMicros !== v.priceMicros) changes.push(`price ${formatUsd(pkg.priceMicros)} → ${formatUsd(v.priceMicros)}`);
  if (pkg.costMicros !== v.costMicros) changes.push(`cost ${formatUsd(pkg.costMicros, { precise: true })} → ${formatUsd(v.costMicros, { precise: true })}`);
  if (pkg.validityDays !== v.validityDays) changes.push(`validity_days ${pkg.validityDays} → ${v.validityDays}`);
  if (pkg.categoryId !== v.categoryId) changes.push(`category_id ${pkg.categoryId ?? 'none'} → ${v.categoryId ?? 'none'}`);
  if (pkg.subcategoryId !== v.subcategoryId) changes.push(`subcategory_id ${pkg.subcategoryId ?? 'none'} → ${v.subcategoryId ?? 'none'}`);
  // an undecided mode (stored before modes were recorded) is left to the next reprice unless something else changes
  if (pkg.priceMode !== v.priceMode && pkg.priceMode !== 'unknown') {
    changes.push(v.priceMode === 'fixed' ? 'price_mode formula → fixed' : 'price_mode fixed → formula');
  }
  return changes;
}

/**
 * Bulk import (SPEC §6): validates every item first, then stores all of them in one transaction, or
 * none. A refused import throws PackageImportError naming each bad item and field. Importing the same
 * file again changes nothing: an item whose model, tokens and description match a stored package is
 * `unchanged`; with `upsert` such a package is updated to the item's price, validity and categories.
 */
export async function importPackages(deps: PackageDeps, items: unknown, opts: { dryRun?: boolean; upsert?: boolean } = {}): Promise<ImportResult> {
  if (!Array.isArray(items)) {
    throw new InputError('file: expected a JSON array of packages like [{"model":"gpt-4","tokens":100000,"description":"…"}]', 'file');
  }
  if (items.length === 0) throw new InputError('file: the array is empty; nothing to import', 'file');
  const dryRun = opts.dryRun ?? false;
  const upsert = opts.upsert ?? false;

  const run = async (db: Kysely<Database>): Promise<ImportResult> => {
    const [catalog, stored] = await Promise.all([loadCatalog(db), db.selectFrom('ai_token_packages').selectAll().orderBy('id').execute()]);
    const existing = new Map<string, Package>();
    for (const p of stored.map(packageFromRow)) if (!existing.has(identityOf(p))) existing.set(identityOf(p), p);
    const problems: ImportProblem[] = [];
    const valid: Array<{ index: number; values: PackageValues; pricing: PackagePrice }> = [];
    const firstIndex = new Map<string, number>();
    items.forEach((raw, index) => {
      if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
        problems.push({ index, model: null, field: 'item', message: 'item: expected an object like {"model":"gpt-4","tokens":100000,"description":"…"}' });
        return;
      }
      const item = raw as Record<string, unknown>;
      const model = typeof item.model === 'string' ? item.model : null;
      for (const key of Object.keys(item)) {
        if (!ITEM_KEYS.has(key)) {
          problems.push({ index, model, field: key, message: `${key}: unknown field; allowed: ${[...ITEM_KEYS].join(', ')}` });
        }
      }
      const checked = validatePackage(
        catalog,
        {
          model: item.model as string,
          tokens: item.tokens as number,
          description: item.description as string,
          priceUsd: item.price_usd as number | string | null | undefined,
          validityDays: item.validity_days as number | null | undefined,
          categoryId: item.category_id as number | null | undefined,
          subcategoryId: item.subcategory_id as number | null | undefined,
        },
        deps.config,
        FILE_NAMES,
      );
      if ('problems' in checked) {
        for (const p of checked.problems) problems.push({ index, model, field: p.field, message: p.message });
        return;
      }
      const identity = identityOf(checked.values);
      const first = firstIndex.get(identity);
      if (first !== undefined) {
        problems.push({
          index,
          model,
          field: 'description',
          message: `description: item ${first + 1} has the same model, tokens and description (a package is identified by the three); remove one or change its description`,
        });
        return;
      }
      firstIndex.set(identity, index);
      valid.push({ index, ...checked });
    });
    if (problems.length) throw new PackageImportError(problems, items.length);

    const now = nowDb();
    const out: ImportedItem[] = [];
    for (const v of valid) {
      const match = existing.get(identityOf(v.values));
      if (!match) {
        out.push({ ...v, status: 'created', changes: [], package: dryRun ? null : await insertPackage(db, v.values, now) });
        continue;
      }
      const changes = packageChanges(match, v.values);
      if (!upsert || changes.length === 0) {
        out.push({ ...v, status: 'unchanged', changes, package: match });
        continue;
      }
      const { costMicros, priceMicros, validityDays, categoryId, subcategoryId, priceMode } = v.values;
      const liftHold = match.holdReason === 'margin';
      const updated = dryRun
        ? { ...match, costMicros, priceMicros, validityDays, categoryId, subcategoryId, priceMode }
        : packageFromRow(
            await db
              .updateTable('ai_token_packages')
              .set({
                cost: costMicros,
                price: priceMicros,
                validity_days: validityDays,
                category_id: categoryId,
                subcategory_id: subcategoryId,
                price_mode: priceMode,
                updated_at: now,
                ...(liftHold ? { is_available: 1, hold_reason: null } : {}),
              })
              .where('id', '=', match.id)
              .returningAll()
              .executeTakeFirstOrThrow(),
          );
      out.push({ ...v, status: 'updated', changes, package: updated });
    }
    const counts: Record<ImportStatus, number> = { created: 0, updated: 0, unchanged: 0 };
    for (const i of out) counts[i.status] += 1;
    return { dryRun, upsert, items: out, counts };
  };

  const result = dryRun ? await run(deps.handle.db) : await transact(deps.handle, run);
  if (deps.logger && !dryRun) {
    for (const item of result.items) {
      if (item.status === 'created' && item.package) logCreated(deps.logger, item.package, item.pricing);
      if (item.status === 'updated' && item.package) logCreated(deps.logger, item.package, item.pricing, 'package_repriced');
    }
    logBusinessEvent(deps.logger, {
      event_type: 'packages_imported',
      count: result.counts.created,
      created: result.counts.created,
      updated: result.counts.updated,
      unchanged: result.counts.unchanged,
    });
  }
  return result;
}

/** Reads and parses a bulk-import file, with errors naming the file. */
export function readImportFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new InputError(`file: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 'file', { cause: err });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new InputError(`file: ${path} is not valid JSON (${(err as Error).message}); expected an array of packages`, 'file', { cause: err });
  }
}

/** Packages by id; only available ones unless `all`. */
export async function listPackages(handle: DbHandle, opts: { all?: boolean; model?: string } = {}): Promise<Package[]> {
  let q = handle.db.selectFrom('ai_token_packages').selectAll();
  if (!opts.all) q = q.where('is_available', '=', 1);
  if (opts.model) q = q.where('model', '=', opts.model);
  return (await q.orderBy('id').execute()).map(packageFromRow);
}

/** The package with this id, or NotFoundError. */
export async function getPackage(handle: DbHandle | Kysely<Database>, id: number): Promise<Package> {
  const db = 'db' in handle ? handle.db : handle;
  if (!Number.isSafeInteger(id) || id < 1) throw new InputError(`id: ${JSON.stringify(id)} is not a package id; see \`arb package list --all\``, 'id');
  const row = await db.selectFrom('ai_token_packages').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw new NotFoundError(`id: no package with id ${id}; see \`arb package list --all\``, 'id');
  return packageFromRow(row);
}

/**
 * Enables or disables a package. Enabling clears a sync hold (the operator accepts the price as is) but is
 * refused while the model is gone upstream or has no fixed price.
 */
export async function setPackageAvailability(handle: DbHandle, id: number, available: boolean, opts: { logger?: Logger } = {}): Promise<Package> {
  const updated = await transact(handle, async (trx) => {
    const pkg = await getPackage(trx, id);
    if (available) {
      const models = await loadCatalogModels(trx, { modelIds: [pkg.model] });
      try {
        resolveAmong(models, pkg.model, { field: 'model' });
      } catch (err) {
        if (!(err instanceof InputError)) throw err;
        throw new InputError(
          models.length === 0 || !models[0].active
            ? `id: package ${id} stays on hold: its model ${pkg.model} is no longer offered upstream`
            : `id: package ${id} stays on hold: ${err.message.replace(/^model: /, '')}`,
          'id',
        );
      }
    }
    const row = await trx
      .updateTable('ai_token_packages')
      .set({ is_available: available ? 1 : 0, hold_reason: available ? null : pkg.holdReason, updated_at: nowDb() })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
    return packageFromRow(row);
  });
  if (opts.logger) {
    logBusinessEvent(opts.logger, { event_type: available ? 'package_enabled' : 'package_disabled', package_id: id, model: updated.model });
  }
  return updated;
}

export interface RepriceResult extends PackageResult {
  previous: { costMicros: number; priceMicros: number };
}

/**
 * Recomputes a package's cost and price at the model's current rates (or sets an explicit price, refused
 * below the margin floor). Without a price the package goes back to following the formula; with one it
 * keeps that price (`price_mode: 'fixed'`). Lifts a margin hold; a manually disabled package stays disabled.
 */
export async function repricePackage(deps: PackageDeps, id: number, opts: { priceUsd?: number | string | null } = {}): Promise<RepriceResult> {
  const result = await transact(deps.handle, async (trx) => {
    const pkg = await getPackage(trx, id);
    const models = await loadCatalogModels(trx, { modelIds: [pkg.model] });
    if (models.length === 0 || !models[0].active) {
      throw new InputError(`id: package ${id} cannot be repriced: its model ${pkg.model} is no longer offered upstream`, 'id');
    }
    const model = resolveAmong(models, pkg.model, { field: 'model' });
    const explicit = opts.priceUsd === undefined || opts.priceUsd === null || opts.priceUsd === '' ? undefined : parseUsd(opts.priceUsd, 'price');
    const pricing = priceForPackage({ tokens: pkg.tokens, promptRate: model.promptRate, completionRate: model.completionRate, explicitPriceMicros: explicit }, deps.config);
    const liftHold = pkg.holdReason === 'margin';
    const row = await trx
      .updateTable('ai_token_packages')
      .set({
        cost: pricing.costMicros,
        price: pricing.priceMicros,
        price_mode: pricing.explicit ? 'fixed' : 'formula',
        updated_at: nowDb(),
        ...(liftHold ? { is_available: 1, hold_reason: null } : {}),
      })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
    return { package: packageFromRow(row), pricing, previous: { costMicros: pkg.costMicros, priceMicros: pkg.priceMicros } };
  });
  logCreated(deps.logger, result.package, result.pricing, 'package_repriced');
  return result;
}

/** Margin in percent with one decimal, from stored cost and price (0 when the cost is 0). */
export function packageMarginPercent(costMicros: number, priceMicros: number): number {
  return costMicros === 0 ? 0 : Math.round(((priceMicros - costMicros) / costMicros) * 1000) / 10;
}

/** The SPEC §6 JSON document of a package (snake_case; money as USD numbers and µ$ integers). */
export function packageToJson(pkg: Package | (PackageValues & Partial<Pick<Package, 'available' | 'holdReason'>> & { id: number | null })) {
  return {
    id: pkg.id,
    model: pkg.model,
    tokens: pkg.tokens,
    description: pkg.description,
    cost_usd: microsToUsd(pkg.costMicros),
    price_usd: microsToUsd(pkg.priceMicros),
    profit_usd: microsToUsd(pkg.priceMicros - pkg.costMicros),
    margin_percent: packageMarginPercent(pkg.costMicros, pkg.priceMicros),
    cost_micros: pkg.costMicros,
    price_micros: pkg.priceMicros,
    validity_days: pkg.validityDays,
    is_available: pkg.available ?? true,
    hold_reason: pkg.holdReason ?? null,
    price_mode: pkg.priceMode,
    category_id: pkg.categoryId,
    subcategory_id: pkg.subcategoryId,
  };
}

/** JSON of an import item (a package created in a dry run has no id), with what the import did. */
export function importedItemToJson(item: ImportedItem) {
  return { status: item.status, ...(item.package ? packageToJson(item.package) : packageToJson({ id: null, ...item.values })), changes: item.changes };
}
