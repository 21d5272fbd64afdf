/**
 * Model name resolution (SPEC §3): packages store OpenRouter ids (`openai/gpt-4`); input may use the
 * short form (`gpt-4`) when it names exactly one catalog model. A `:free`-style variant suffix is ignored
 * only when that leaves one match. Anything else is refused with the closest candidates.
 */
import type { DbHandle } from '../db/dialect.js';
import { loadCatalogModels, type CatalogModel } from './model.js';
import { InputError } from '../errors.js';

export interface ResolveOptions {
  /** accept models no longer listed upstream (default false) */
  includeInactive?: boolean;
  /** refuse models without a fixed per-token price (default true) */
  requirePrice?: boolean;
  /** field name used in errors (default 'model') */
  field?: string;
}

/** Resolves a model name to its OpenRouter id, e.g. `gpt-4` → `openai/gpt-4`. Throws InputError. */
export async function resolveModel(handle: DbHandle, name: string, opts: ResolveOptions = {}): Promise<string> {
  return (await resolveCatalogModel(handle, name, opts)).modelId;
}

/** Like `resolveModel` but returns the catalog model (rates, limits). */
export async function resolveCatalogModel(handle: DbHandle, name: string, opts: ResolveOptions = {}): Promise<CatalogModel> {
  return resolveAmong(await loadCatalogModels(handle.db), name, opts);
}

/** Pure resolution over a list of catalog models (used by `resolveCatalogModel` and bulk validation). */
export function resolveAmong(models: readonly CatalogModel[], name: string, opts: ResolveOptions = {}): CatalogModel {
  const field = opts.field ?? 'model';
  const wanted = typeof name === 'string' ? name.trim().toLowerCase() : '';
  if (wanted === '') throw new InputError(`${field}: a model name is required, e.g. gpt-4 or openai/gpt-4`, field);
  if (models.length === 0) {
    throw new InputError(`${field}: the model catalog is empty; run \`arb models --sync\` first`, field);
  }
  const pool = opts.includeInactive ? models : models.filter((m) => m.active);
  const found = matchModel(pool, wanted);
  if (found.length === 1) return checkUsable(found[0], opts, field);
  if (found.length > 1) {
    const ids = found.map((m) => m.modelId).sort();
    throw new InputError(`${field}: "${name}" is ambiguous: it matches ${listIds(ids)}; use the full id`, field);
  }
  // retired upstream: say so rather than "unknown"
  if (!opts.includeInactive) {
    const retired = matchModel(
      models.filter((m) => !m.active),
      wanted,
    );
    if (retired.length === 1) {
      const candidates = closestModels(pool, wanted, 5);
      throw new InputError(`${field}: ${retired[0].modelId} is no longer offered upstream${candidates.length ? `; candidates: ${candidates.join(', ')}` : ''}`, field);
    }
  }
  const candidates = closestModels(pool, wanted, 5);
  throw new InputError(
    `${field}: "${name}" is not a model in the catalog${candidates.length ? `; candidates: ${candidates.join(', ')}` : ''} (see \`arb models <query>\`, or \`arb models --sync\` to refresh)`,
    field,
  );
}

function listIds(ids: string[]): string {
  return ids.length <= 6 ? ids.join(', ') : `${ids.slice(0, 6).join(', ')} and ${ids.length - 6} more`;
}

function checkUsable(model: CatalogModel, opts: ResolveOptions, field: string): CatalogModel {
  if ((opts.requirePrice ?? true) && (model.promptRate === null || model.completionRate === null)) {
    throw new InputError(`${field}: ${model.modelId} has no fixed per-token price upstream (router or variable pricing), so it cannot be metered or sold; pick a model with fixed prices`, field);
  }
  return model;
}

const shortOf = (id: string) => (id.includes('/') ? id.slice(id.indexOf('/') + 1) : id);
const withoutVariant = (s: string) => s.replace(/:[^:/]*$/, '');

function matchModel(models: readonly CatalogModel[], wanted: string): CatalogModel[] {
  const lower = (m: CatalogModel) => m.modelId.toLowerCase();
  const exact = models.filter((m) => lower(m) === wanted);
  if (exact.length) return exact;
  if (wanted.includes('/')) {
    // a full id with a variant the catalog lacks is not guessed at
    return [];
  }
  const short = models.filter((m) => shortOf(lower(m)) === wanted);
  if (short.length) return short;
  if (wanted.includes(':')) return [];
  return models.filter((m) => withoutVariant(shortOf(lower(m))) === wanted);
}

/** Up to `limit` model ids closest to `wanted` (edit distance on the short and full forms). */
export function closestModels(models: readonly CatalogModel[], wanted: string, limit = 5): string[] {
  const w = wanted.toLowerCase();
  const scored = models.map((m) => {
    const id = m.modelId.toLowerCase();
    const short = shortOf(id);
    let score = Math.min(distance(w, short) / Math.max(w.length, short.length), distance(w, id) / Math.max(w.length, id.length));
    if (short.includes(w) || w.includes(withoutVariant(short))) score -= 0.25;
    return { id: m.modelId, score };
  });
  scored.sort((a, b) => a.score - b.score || a.id.localeCompare(b.id));
  return scored
    .filter((s) => s.score < 0.6)
    .slice(0, limit)
    .map((s) => s.id);
}

/** Levenshtein distance. */
function distance(a: string, b: string): number {
  if (a === b) return 0;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}
