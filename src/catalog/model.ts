/**
 * The catalog model as the code uses it: one OpenRouter model with its rates and limits, in camelCase.
 * `ai_models` rows (snake_case) become `CatalogModel`s here and nowhere else; JSON and log shapes are
 * mapped explicitly where they are written.
 */
import type { Kysely } from 'kysely';
import type { AiModelRow, Database } from '../db/database.js';

export interface CatalogModel {
  id: number;
  /** OpenRouter id, e.g. `openai/gpt-4` */
  modelId: string;
  name: string;
  /** µ$ per million prompt tokens; null = unknown or variable upstream price (not sellable) */
  promptRate: number | null;
  /** µ$ per million completion tokens; null as above */
  completionRate: number | null;
  /** µ$ per million cache-read / cache-write prompt tokens; null = none listed (billed as prompt tokens) */
  cacheReadRate: number | null;
  cacheWriteRate: number | null;
  contextLength: number | null;
  maxCompletionTokens: number | null;
  /** listed upstream at the last sync */
  active: boolean;
  createdAt: string;
  updatedAt: string;
  syncedAt: string | null;
}

const numOrNull = (v: number | string | null): number | null => (v === null ? null : Number(v));

/** The model of an `ai_models` row (numbers as numbers: PostgreSQL returns bigints as text). */
export function catalogModelFromRow(r: AiModelRow): CatalogModel {
  return {
    id: Number(r.id),
    modelId: r.model_id,
    name: r.name,
    promptRate: numOrNull(r.prompt_rate),
    completionRate: numOrNull(r.completion_rate),
    cacheReadRate: numOrNull(r.input_cache_read_rate),
    cacheWriteRate: numOrNull(r.input_cache_write_rate),
    contextLength: numOrNull(r.context_length),
    maxCompletionTokens: numOrNull(r.max_completion_tokens),
    active: Number(r.is_active) === 1,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    syncedAt: r.synced_at,
  };
}

/** Catalog models: all of them or only the active ones (ordered by OpenRouter id), or those with the given OpenRouter ids. */
export async function loadCatalogModels(db: Kysely<Database>, opts: { modelIds?: readonly string[]; activeOnly?: boolean } = {}): Promise<CatalogModel[]> {
  const load = async (ids?: readonly string[]) => {
    let q = db.selectFrom('ai_models').selectAll();
    if (ids) q = q.where('model_id', 'in', ids);
    if (opts.activeOnly) q = q.where('is_active', '=', 1);
    return (await q.orderBy('model_id').execute()).map(catalogModelFromRow);
  };
  const { modelIds } = opts;
  if (!modelIds) return load();
  const out: CatalogModel[] = [];
  // batches keep the `in (…)` list under every database's parameter limit
  for (let i = 0; i < modelIds.length; i += 200) out.push(...(await load(modelIds.slice(i, i + 200))));
  return out;
}
