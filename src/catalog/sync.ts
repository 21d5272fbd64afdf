/**
 * Model catalog sync (SPEC §6 `arb models --sync`): stores OpenRouter's model list in `ai_models`, reports
 * what changed since the last sync, reprices the packages priced by the formula whose model's rates changed
 * (each change an `"arbitrage":true` `package_repriced` line, trigger 'sync'), and puts packages on hold
 * when the model is gone upstream (hold_reason 'gone') or, for fixed prices, when the new cost puts the
 * price below the margin floor (hold_reason 'margin'). Packages of unknown price mode are decided first, at
 * the rates they were sold at (see src/packages/reprice.ts). Nothing is ever deleted; everything happens
 * in one transaction.
 */
import type { Kysely } from 'kysely';
import type { AiModelsTable, Database, NewAiModel } from '../db/database.js';
import { transact, type DbHandle } from '../db/dialect.js';
import { InputError, UpstreamError } from '../errors.js';
import { logBusinessEvent, logPerformance, type Logger } from '../logger.js';
import { parseOpenRouterRate, priceForPackage, type PackagePrice, type PricingConfig } from '../pricing.js';
import { decideUnknownPriceModes, logPackageRepriced, logPriceModeDecisions, type PriceModeDecision } from '../packages/reprice.js';
import { packageFromRow, type Package } from '../packages/packages.js';
import { toDbTime } from '../time.js';
import type { OpenRouterModel } from './types.js';

/** Anything that can list OpenRouter models (the client, or a test double of it). */
export interface ModelSource {
  listModels(): Promise<OpenRouterModel[]>;
  /** the embedding models (listed apart upstream); null or absent: the upstream has no such listing */
  listEmbeddingModels?(): Promise<OpenRouterModel[] | null>;
}

export interface SyncOptions {
  /** pricing settings for the margin-floor check; defaults to the SPEC defaults (25 % markup, 10 % floor) */
  config?: PricingConfig;
  logger?: Logger;
  now?: Date;
}

export interface PriceChange {
  model: string;
  /** µ$ per million tokens; null = no fixed price */
  oldPromptRate: number | null;
  newPromptRate: number | null;
  oldCompletionRate: number | null;
  newCompletionRate: number | null;
}

export interface PackageHold {
  packageId: number;
  model: string;
  reason: 'margin' | 'gone';
  /** µ$ */
  priceMicros: number;
  /** µ$ cost basis at the new rates (null when gone or without a fixed price) */
  newCostMicros: number | null;
  /** µ$ lowest acceptable price at the new rates (null when gone or without a fixed price) */
  floorMicros: number | null;
}

/** A formula package repriced by the sync to its model's new rates. */
export interface SyncRepriced {
  package: Package;
  previousPriceMicros: number;
  previousCostMicros: number;
  pricing: PackagePrice;
}

export interface SyncReport {
  /** models listed upstream (after skipping malformed entries) */
  total: number;
  /** model ids new to the catalog */
  added: string[];
  /** model ids whose stored fields changed (name, rates, limits) */
  updated: string[];
  /** model ids listed again after having been gone */
  reactivated: string[];
  /** model ids no longer listed upstream (now is_active = 0) */
  removed: string[];
  unchanged: number;
  priceChanges: PriceChange[];
  holds: PackageHold[];
  /** formula packages repriced to their model's new rates */
  repriced: SyncRepriced[];
  /** packages of unknown price mode decided before the rates changed */
  decided: PriceModeDecision[];
  /** upstream entries that could not be stored (no id), by index */
  skipped: Array<{ index: number; reason: string }>;
  syncedAt: string;
  previousSyncAt: string | null;
  /**
   * The embedding-model listing (`GET /embeddings/models`): `listed` false when the upstream has none (a
   * 404): then no embedding model is added, and the ones a previous sync stored are left as they were
   * (`kept`), neither updated nor marked gone.
   */
  embeddings: { listed: boolean; count: number; kept: number };
}

/** `settings` key holding the time of the last sync (UTC `YYYY-MM-DD HH:MM:SS`). */
export const LAST_SYNC_SETTING = 'models_last_synced_at';

/** `settings` key holding the ids (JSON array) the last embedding-model listing returned. */
export const EMBEDDING_MODELS_SETTING = 'models_embedding_ids';

/** SPEC §2 defaults, used when no config is passed. */
const DEFAULT_PRICING: PricingConfig = { markupBp: 2500, minProfitMarginBp: 1000, bulkDiscountThreshold: 1_000_000, bulkDiscountBp: 500 };

/** The `ai_models` columns one upstream entry fills (the row shape: this module writes the table). */
export type ModelRowFields = Pick<AiModelsTable, 'model_id' | 'name' | 'prompt_rate' | 'completion_rate' | 'context_length' | 'max_completion_tokens'> & {
  /** µ$/Mtok of cache reads / writes (the metering weights of those token classes), null when none is listed */
  input_cache_read_rate: number | null;
  input_cache_write_rate: number | null;
};

/** Maps an upstream entry to stored fields; null when it has no usable id. */
export function catalogFields(m: OpenRouterModel): ModelRowFields | null {
  if (!m || typeof m !== 'object' || typeof m.id !== 'string' || m.id.trim() === '') return null;
  const id = m.id.trim();
  const pricing = m.pricing && typeof m.pricing === 'object' ? m.pricing : {};
  const top = m.top_provider && typeof m.top_provider === 'object' ? m.top_provider : {};
  return {
    model_id: id,
    name: typeof m.name === 'string' && m.name.trim() !== '' ? m.name.trim() : id,
    prompt_rate: parseOpenRouterRate(pricing.prompt),
    completion_rate: parseOpenRouterRate(pricing.completion),
    input_cache_read_rate: parseOpenRouterRate(pricing.input_cache_read),
    input_cache_write_rate: parseOpenRouterRate(pricing.input_cache_write),
    context_length: positiveInt(m.context_length) ?? positiveInt(top.context_length),
    max_completion_tokens: positiveInt(top.max_completion_tokens),
  };
}

function positiveInt(v: unknown): number | null {
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? v : null;
}

/** Syncs the catalog from a model list or a client; see `SyncReport`. */
export async function syncModels(handle: DbHandle, source: OpenRouterModel[] | ModelSource, opts: SyncOptions = {}): Promise<SyncReport> {
  const started = performance.now();
  const list = Array.isArray(source) ? source : await source.listModels();
  // a plain list is the whole catalog (embedding models included); a client lists embedding models apart
  const embeddingList = Array.isArray(source) ? [] : source.listEmbeddingModels ? await source.listEmbeddingModels() : null;
  const pricing = opts.config ?? DEFAULT_PRICING;
  const now = toDbTime(opts.now ?? new Date());

  const skipped: SyncReport['skipped'] = [];
  const upstream = new Map<string, ModelRowFields>();
  list.forEach((entry, index) => {
    const fields = catalogFields(entry);
    if (!fields) skipped.push({ index, reason: 'no model id' });
    else upstream.set(fields.model_id, fields);
  });
  if (upstream.size === 0) {
    // an empty list is an upstream fault, not every model retiring at once
    throw new UpstreamError('OpenRouter returned no models; the catalog was left unchanged');
  }
  const embeddingIds = new Set<string>();
  (embeddingList ?? []).forEach((entry, index) => {
    const fields = catalogFields(entry);
    if (!fields) skipped.push({ index, reason: 'no model id (embedding models)' });
    else if (!upstream.has(fields.model_id)) {
      upstream.set(fields.model_id, fields);
      embeddingIds.add(fields.model_id);
    }
  });

  const report = await transact(handle, async (trx) => {
    // decided at the rates the packages were sold at, before this sync changes them
    const decided = await decideUnknownPriceModes(trx, pricing, now);
    const existing = new Map((await trx.selectFrom('ai_models').selectAll().execute()).map((row) => [row.model_id, row]));
    // without an embedding listing, the embedding models of the last one are left as they are
    const rememberedEmbeddings = parseIdList(await getSetting(trx, EMBEDDING_MODELS_SETTING));
    const kept = embeddingList === null ? new Set([...rememberedEmbeddings].filter((id) => !upstream.has(id) && existing.get(id)?.is_active === 1)) : new Set<string>();
    const added: string[] = [];
    const updated: string[] = [];
    const reactivated: string[] = [];
    const removed: string[] = [];
    const priceChanges: PriceChange[] = [];
    let unchanged = 0;

    const inserts: NewAiModel[] = [];
    for (const f of upstream.values()) {
      const old = existing.get(f.model_id);
      if (!old) {
        added.push(f.model_id);
        inserts.push({ ...f, is_active: 1, created_at: now, updated_at: now, synced_at: now });
        continue;
      }
      const rateChanged = old.prompt_rate !== f.prompt_rate || old.completion_rate !== f.completion_rate;
      const cacheRatesChanged = old.input_cache_read_rate !== f.input_cache_read_rate || old.input_cache_write_rate !== f.input_cache_write_rate;
      const fieldsChanged = rateChanged || cacheRatesChanged || old.name !== f.name || old.context_length !== f.context_length || old.max_completion_tokens !== f.max_completion_tokens;
      const wasGone = old.is_active !== 1;
      if (rateChanged) {
        priceChanges.push({
          model: f.model_id,
          oldPromptRate: old.prompt_rate,
          newPromptRate: f.prompt_rate,
          oldCompletionRate: old.completion_rate,
          newCompletionRate: f.completion_rate,
        });
      }
      if (fieldsChanged) updated.push(f.model_id);
      if (wasGone) reactivated.push(f.model_id);
      if (fieldsChanged || wasGone) {
        await trx
          .updateTable('ai_models')
          .set({ ...f, is_active: 1, updated_at: now, synced_at: now })
          .where('id', '=', old.id)
          .execute();
      } else {
        unchanged++;
      }
    }
    for (let i = 0; i < inserts.length; i += 50) {
      await trx
        .insertInto('ai_models')
        .values(inserts.slice(i, i + 50))
        // a concurrent sync (another replica on PostgreSQL) may have inserted it first
        .onConflict((oc) => oc.column('model_id').doNothing())
        .execute();
    }
    for (const old of existing.values()) {
      if (old.is_active === 1 && !upstream.has(old.model_id) && !kept.has(old.model_id)) removed.push(old.model_id);
    }
    for (let i = 0; i < removed.length; i += 200) {
      await trx
        .updateTable('ai_models')
        .set({ is_active: 0, updated_at: now })
        .where('model_id', 'in', removed.slice(i, i + 200))
        .execute();
    }
    await trx.updateTable('ai_models').set({ synced_at: now }).where('is_active', '=', 1).execute();

    const { holds, repriced } = await repriceAndHoldPackages(trx, now, pricing, removed, priceChanges);
    const previousSyncAt = await getSetting(trx, LAST_SYNC_SETTING);
    await putSetting(trx, LAST_SYNC_SETTING, now, now);
    if (embeddingList !== null) await putSetting(trx, EMBEDDING_MODELS_SETTING, JSON.stringify([...embeddingIds].sort()), now);

    added.sort();
    updated.sort();
    removed.sort();
    reactivated.sort();
    priceChanges.sort((a, b) => a.model.localeCompare(b.model));
    const embeddings = { listed: embeddingList !== null, count: embeddingIds.size, kept: kept.size };
    return { total: upstream.size, added, updated, reactivated, removed, unchanged, priceChanges, holds, repriced, decided, skipped, syncedAt: now, previousSyncAt, embeddings };
  });

  if (opts.logger) {
    logPerformance(opts.logger, 'catalog_sync', (performance.now() - started) / 1000, { models: report.total });
    logBusinessEvent(opts.logger, {
      event_type: 'models_synced',
      total: report.total,
      added: report.added.length,
      updated: report.updated.length,
      removed: report.removed.length,
      price_changes: report.priceChanges.length,
      holds: report.holds.length,
      repriced: report.repriced.length,
      embedding_models: report.embeddings.count,
      embedding_listing: report.embeddings.listed,
    });
    if (!report.embeddings.listed && !Array.isArray(source)) {
      opts.logger.info(
        { event_type: 'embedding_models_unlisted', kept: report.embeddings.kept },
        `OpenRouter lists no embedding models (GET /embeddings/models: not found); no embedding model was added${report.embeddings.kept ? `, ${report.embeddings.kept} stored one(s) left as they were` : ''}`,
      );
    }
    logPriceModeDecisions(opts.logger, report.decided, pricing, 'sync');
    for (const r of report.repriced) logPackageRepriced(opts.logger, r, 'sync');
    for (const h of report.holds) {
      opts.logger.warn(
        { business_event: true, event_type: 'package_on_hold', package_id: h.packageId, model: h.model, reason: h.reason },
        `package ${h.packageId} (${h.model}) put on hold: ${h.reason === 'gone' ? 'model gone upstream' : 'new upstream price breaks the margin floor'}`,
      );
    }
  }
  return report;
}

/**
 * For the models whose rates changed: formula packages take the formula's price at the new rates (every
 * one, on sale or not; a hold stays as it is); fixed prices (and undecided ones) on sale that now break the
 * margin floor go on hold, as do formula packages whose model lost its fixed price. Packages on sale of
 * models gone upstream go on hold.
 */
async function repriceAndHoldPackages(
  trx: Kysely<Database>,
  now: string,
  pricing: PricingConfig,
  removed: string[],
  priceChanges: PriceChange[],
): Promise<{ holds: PackageHold[]; repriced: SyncRepriced[] }> {
  const changed = new Map(priceChanges.map((c) => [c.model, c]));
  const models = [...removed, ...changed.keys()];
  if (models.length === 0) return { holds: [], repriced: [] };
  const gone = new Set(removed);
  const packages: Package[] = [];
  for (let i = 0; i < models.length; i += 200) {
    packages.push(
      ...(
        await trx
          .selectFrom('ai_token_packages')
          .selectAll()
          .where('model', 'in', models.slice(i, i + 200))
          .execute()
      ).map(packageFromRow),
    );
  }
  packages.sort((a, b) => a.id - b.id);
  const holds: PackageHold[] = [];
  const repriced: SyncRepriced[] = [];
  for (const p of packages) {
    if (gone.has(p.model)) {
      if (p.available) holds.push({ packageId: p.id, model: p.model, reason: 'gone', priceMicros: p.priceMicros, newCostMicros: null, floorMicros: null });
      continue;
    }
    const c = changed.get(p.model)!;
    const rates = { tokens: p.tokens, promptRate: c.newPromptRate, completionRate: c.newCompletionRate };
    const at = refusedAsNull(() => priceForPackage(rates, pricing));
    if (p.priceMode === 'formula' && at) {
      if (at.priceMicros === p.priceMicros && at.costMicros === p.costMicros) continue;
      const row = await trx.updateTable('ai_token_packages').set({ cost: at.costMicros, price: at.priceMicros, updated_at: now }).where('id', '=', p.id).returningAll().executeTakeFirstOrThrow();
      repriced.push({ package: packageFromRow(row), previousPriceMicros: p.priceMicros, previousCostMicros: p.costMicros, pricing: at });
      continue;
    }
    if (!p.available) continue;
    // a fixed price must still pass the exact margin-floor test an explicit price faces
    const stillSellable = at !== null && refusedAsNull(() => priceForPackage({ ...rates, explicitPriceMicros: p.priceMicros }, pricing)) !== null;
    if (!stillSellable) {
      holds.push({ packageId: p.id, model: p.model, reason: 'margin', priceMicros: p.priceMicros, newCostMicros: at?.costMicros ?? null, floorMicros: at?.floorMicros ?? null });
    }
  }
  for (const reason of ['gone', 'margin'] as const) {
    const ids = holds.filter((h) => h.reason === reason).map((h) => h.packageId);
    for (let i = 0; i < ids.length; i += 200) {
      await trx
        .updateTable('ai_token_packages')
        .set({ is_available: 0, hold_reason: reason, updated_at: now })
        .where('id', 'in', ids.slice(i, i + 200))
        .execute();
    }
  }
  return { holds, repriced };
}

function refusedAsNull<T>(fn: () => T): T | null {
  try {
    return fn();
  } catch (err) {
    if (err instanceof InputError) return null;
    throw err;
  }
}

async function getSetting(db: Kysely<Database>, key: string): Promise<string | null> {
  const row = await db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst();
  return row?.value ?? null;
}

async function putSetting(db: Kysely<Database>, key: string, value: string, now: string): Promise<void> {
  const res = await db.updateTable('settings').set({ value, updated_at: now }).where('key', '=', key).executeTakeFirst();
  if (Number(res.numUpdatedRows) === 0) await db.insertInto('settings').values({ key, value, updated_at: now }).execute();
}

function parseIdList(text: string | null): Set<string> {
  if (!text) return new Set();
  try {
    const ids: unknown = JSON.parse(text);
    return new Set(Array.isArray(ids) ? ids.filter((id): id is string => typeof id === 'string') : []);
  } catch {
    return new Set();
  }
}

/** Time of the last successful sync, or null when the catalog was never synced. */
export async function lastSyncAt(handle: DbHandle): Promise<string | null> {
  return getSetting(handle.db, LAST_SYNC_SETTING);
}
