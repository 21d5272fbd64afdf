/**
 * The bot's reads and small writes, as plain functions over a DbHandle. Money moves go through
 * src/ledger; these only read the catalog, the customer's keys, and keep the bot's own bookkeeping
 * (processed updates, alert flags).
 */
import { sql } from 'kysely';
import type { PackageRow } from '../../src/db/database.js';
import type { DbHandle } from '../../src/db/dialect.js';
import { allocationFromRow, type KeyAllocation } from '../../src/keys/allocations.js';
import { packageFromRow, type Package } from '../../src/packages/packages.js';

// ------------------------------------------------------------------------------------------ updates

/**
 * Records an update id before it is handled. Returns false when it was recorded before (a redelivery,
 * or a replay after a restart): the caller then does nothing.
 */
export async function claimUpdate(handle: DbHandle, updateId: number, now: string): Promise<boolean> {
  const result = await handle.db
    .insertInto('processed_updates')
    .values({ update_id: updateId, processed_at: now })
    .onConflict((oc) => oc.column('update_id').doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0n) > 0;
}

/** Forgets update ids older than `before` (Telegram stops redelivering after 24 h). */
export async function pruneProcessedUpdates(handle: DbHandle, before: string): Promise<number> {
  const result = await handle.db.deleteFrom('processed_updates').where('processed_at', '<', before).executeTakeFirst();
  return Number(result.numDeletedRows ?? 0n);
}

// ------------------------------------------------------------------------------------------ catalog

/** A package in the shop: the package and its model's name and rates (null when the model is not in the catalog). */
export interface PackageView extends Package {
  modelName: string | null;
  /** µ$/Mtok */
  promptRate: number | null;
  completionRate: number | null;
  cacheReadRate: number | null;
  cacheWriteRate: number | null;
}

function packageViews(handle: DbHandle) {
  return handle.db
    .selectFrom('ai_token_packages as p')
    .leftJoin('ai_models as m', 'm.model_id', 'p.model')
    .selectAll('p')
    .select(['m.name as model_name', 'm.prompt_rate', 'm.completion_rate', 'm.input_cache_read_rate', 'm.input_cache_write_rate']);
}

type PackageViewRow = PackageRow & {
  model_name: string | null;
  prompt_rate: number | null;
  completion_rate: number | null;
  input_cache_read_rate: number | null;
  input_cache_write_rate: number | null;
};

function packageView(r: PackageViewRow): PackageView {
  return {
    ...packageFromRow(r),
    modelName: r.model_name,
    promptRate: r.prompt_rate,
    completionRate: r.completion_rate,
    cacheReadRate: r.input_cache_read_rate,
    cacheWriteRate: r.input_cache_write_rate,
  };
}

export interface ShopCategory {
  /** 0 = packages without a category */
  id: number;
  name: string | null;
  packages: number;
}

/** Categories that have packages for sale, with counts (uncategorised packages as id 0). */
export async function listShopCategories(handle: DbHandle): Promise<ShopCategory[]> {
  const rows = await handle.db
    .selectFrom('ai_token_packages as p')
    .leftJoin('categories as c', 'c.id', 'p.category_id')
    .select(['p.category_id', 'c.name', (eb) => eb.fn.countAll<number>().as('packages')])
    .where('p.is_available', '=', 1)
    .groupBy(['p.category_id', 'c.name'])
    .execute();
  // named categories alphabetically, uncategorised last (the same on SQLite and PostgreSQL)
  return rows
    .map((r) => ({ id: r.category_id ?? 0, name: r.name, packages: Number(r.packages) }))
    .sort((a, b) => (a.id === 0 ? 1 : 0) - (b.id === 0 ? 1 : 0) || (a.name ?? '').localeCompare(b.name ?? '') || a.id - b.id);
}

/** One page of the packages for sale in a category (`'a'` = all), cheapest first. */
export async function listShopPackages(handle: DbHandle, category: number | 'a', offset: number, limit: number): Promise<{ rows: PackageView[]; total: number }> {
  let q = packageViews(handle).where('p.is_available', '=', 1);
  if (category === 0) q = q.where('p.category_id', 'is', null);
  else if (category !== 'a') q = q.where('p.category_id', '=', category);
  const rows = await q.orderBy('p.price').orderBy('p.id').limit(limit).offset(offset).execute();
  let count = handle.db
    .selectFrom('ai_token_packages as p')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('p.is_available', '=', 1);
  if (category === 0) count = count.where('p.category_id', 'is', null);
  else if (category !== 'a') count = count.where('p.category_id', '=', category);
  const { n } = await count.executeTakeFirstOrThrow();
  return { rows: rows.map(packageView), total: Number(n) };
}

export async function getPackageView(handle: DbHandle, packageId: number): Promise<PackageView | undefined> {
  const row = await packageViews(handle).where('p.id', '=', packageId).executeTakeFirst();
  return row && packageView(row);
}

/** Every package (admin view), newest first. */
export async function listAllPackages(handle: DbHandle, offset: number, limit: number): Promise<{ rows: Package[]; total: number }> {
  const rows = (await handle.db.selectFrom('ai_token_packages').selectAll().orderBy('id', 'desc').limit(limit).offset(offset).execute()).map(packageFromRow);
  const { n } = await handle.db
    .selectFrom('ai_token_packages')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return { rows, total: Number(n) };
}

// ------------------------------------------------------------------------------------------ models

export interface ModelChoice {
  id: number;
  modelId: string;
  name: string;
  promptRate: number;
  completionRate: number;
}

/**
 * Priced, listed models whose id or name contains every word of `query` (case-insensitive), shortest id
 * first; or the one with row `id`.
 */
export async function searchModels(handle: DbHandle, by: { query?: string; id?: number; limit?: number }): Promise<ModelChoice[]> {
  let q = handle.db
    .selectFrom('ai_models')
    .select(['id', 'model_id', 'name', 'prompt_rate', 'completion_rate'])
    .where('is_active', '=', 1)
    .where('prompt_rate', 'is not', null)
    .where('completion_rate', 'is not', null);
  if (by.id !== undefined) q = q.where('id', '=', by.id);
  for (const word of (by.query ?? '').toLowerCase().split(/\s+/).filter(Boolean).slice(0, 5)) {
    const like = `%${word.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    q = q.where((eb) => eb.or([eb(sql`lower(model_id)`, 'like', sql`${like} escape '\\'`), eb(sql`lower(name)`, 'like', sql`${like} escape '\\'`)]));
  }
  const rows = await q
    .orderBy(sql`length(model_id)`)
    .orderBy('model_id')
    .limit(by.limit ?? 8)
    .execute();
  return rows.map((r) => ({ id: Number(r.id), modelId: r.model_id, name: r.name, promptRate: Number(r.prompt_rate), completionRate: Number(r.completion_rate) }));
}

// ------------------------------------------------------------------------------------------ keys

/** What allocationFromRow is made of, from `ai_token_allocations as a` joined with `users as u`. */
const ALLOCATION_COLUMNS = [
  'a.id',
  'a.package_id',
  'a.api_key',
  'a.model',
  'a.tokens_total',
  'a.tokens_used',
  'a.tokens_reserved',
  'a.price_paid',
  'a.status',
  'a.expires_at',
  'a.created_at',
  'u.telegram_id',
] as const;

/** A customer's key in the bot: the allocation (its stored status) and its package's description. */
export interface CustomerKey extends KeyAllocation {
  description: string | null;
}

/** A customer's keys, newest first; expired/revoked ones after the active ones. */
export async function listCustomerKeys(handle: DbHandle, userId: number, limit: number): Promise<{ rows: CustomerKey[]; total: number }> {
  const rows = await handle.db
    .selectFrom('ai_token_allocations as a')
    .innerJoin('users as u', 'u.id', 'a.user_id')
    .leftJoin('ai_token_packages as p', 'p.id', 'a.package_id')
    .select([...ALLOCATION_COLUMNS, 'p.description'])
    .where('a.user_id', '=', userId)
    .orderBy(sql`case when a.status = 'active' then 0 else 1 end`)
    .orderBy('a.id', 'desc')
    .limit(limit)
    .execute();
  const { n } = await handle.db
    .selectFrom('ai_token_allocations')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('user_id', '=', userId)
    .executeTakeFirstOrThrow();
  return { rows: rows.map((r) => ({ ...allocationFromRow(r, r.telegram_id), description: r.description })), total: Number(n) };
}

// ------------------------------------------------------------------------------------------ alerts

/** An active key a customer may be told about: the allocation and its holder's language. */
export interface AlertCandidate extends KeyAllocation {
  languageCode: string | null;
}

function alertCandidates(handle: DbHandle) {
  return handle.db
    .selectFrom('ai_token_allocations as a')
    .innerJoin('users as u', 'u.id', 'a.user_id')
    .select([...ALLOCATION_COLUMNS, 'u.language_code'])
    .where('a.status', '=', 'active');
}

/** Active keys at or past 80 % used that were not told yet. */
export async function usageAlertCandidates(handle: DbHandle, now: string, limit = 200): Promise<AlertCandidate[]> {
  const rows = await alertCandidates(handle)
    .where('a.alerted_usage_at', 'is', null)
    .where('a.expires_at', '>', now)
    .where(sql<boolean>`a.tokens_used * 5 >= a.tokens_total * 4`)
    .orderBy('a.id')
    .limit(limit)
    .execute();
  return rows.map((r) => ({ ...allocationFromRow(r, r.telegram_id), languageCode: r.language_code }));
}

/** Active, unexpired keys expiring before `horizon` that were not told yet. */
export async function expiryAlertCandidates(handle: DbHandle, now: string, horizon: string, limit = 200): Promise<AlertCandidate[]> {
  const rows = await alertCandidates(handle).where('a.alerted_expiry_at', 'is', null).where('a.expires_at', '>', now).where('a.expires_at', '<=', horizon).orderBy('a.id').limit(limit).execute();
  return rows.map((r) => ({ ...allocationFromRow(r, r.telegram_id), languageCode: r.language_code }));
}

/**
 * Claims an alert for one allocation (sets the flag only if still unset), so that several daemon
 * replicas never send the same notice twice. Returns false when someone else claimed it.
 */
export async function claimAlert(handle: DbHandle, allocationId: number, kind: 'usage' | 'expiry', now: string): Promise<boolean> {
  const column = kind === 'usage' ? 'alerted_usage_at' : 'alerted_expiry_at';
  const result = await handle.db
    .updateTable('ai_token_allocations')
    .set({ [column]: now })
    .where('id', '=', allocationId)
    .where(column, 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows ?? 0n) > 0;
}

/** Gives a claim back (the notice could not be sent for a reason that may pass). */
export async function releaseAlert(handle: DbHandle, allocationId: number, kind: 'usage' | 'expiry'): Promise<void> {
  const column = kind === 'usage' ? 'alerted_usage_at' : 'alerted_expiry_at';
  await handle.db
    .updateTable('ai_token_allocations')
    .set({ [column]: null })
    .where('id', '=', allocationId)
    .execute();
}
