/**
 * Package categories: a flat list with an optional parent (a subcategory's parent is its category). The
 * services behind `arb category create|list|rename|delete` and the bot's admin screens: every refusal is
 * an InputError naming the field and the fix; a category packages use is never deleted silently.
 */
import type { Kysely } from 'kysely';
import type { CategoryRow, Database } from '../db/database.js';
import { transact, type DbHandle } from '../db/dialect.js';
import { InputError, NotFoundError } from '../errors.js';
import { logBusinessEvent, type Logger } from '../logger.js';
import { nowDb } from '../time.js';

export const MAX_CATEGORY_NAME = 100;

/** Dependencies of the category services. */
export interface CategoryDeps {
  handle: DbHandle;
  logger?: Logger;
}

/** A package category; a subcategory has a parent. */
export interface Category {
  id: number;
  name: string;
  parentId: number | null;
  /** UTC `YYYY-MM-DD HH:MM:SS` */
  createdAt: string;
}

/** The category of a database row. */
export function categoryFromRow(r: CategoryRow): Category {
  return { id: Number(r.id), name: r.name, parentId: r.parent_id === null ? null : Number(r.parent_id), createdAt: r.created_at };
}

/** A category with what uses it. */
export interface CategoryView {
  id: number;
  name: string;
  parentId: number | null;
  parentName: string | null;
  /** packages whose category_id or subcategory_id is this category */
  packageCount: number;
  /** categories whose parent is this one */
  subcategoryCount: number;
  createdAt: string;
}

function cleanName(name: unknown): string {
  const clean = typeof name === 'string' ? name.trim().replace(/\s+/g, ' ') : '';
  if (clean === '' || clean.length > MAX_CATEGORY_NAME) {
    throw new InputError(`name: the name must be 1 to ${MAX_CATEGORY_NAME} characters, e.g. "OpenAI"`, 'name');
  }
  return clean;
}

function checkId(id: unknown, field: string): number {
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1) {
    throw new InputError(`${field}: ${JSON.stringify(id)} is not a category id; see arb category list`, field);
  }
  return id;
}

/** The sibling with this name (same parent), if any. */
async function sibling(db: Kysely<Database>, name: string, parentId: number | null): Promise<Category | undefined> {
  let q = db.selectFrom('categories').selectAll().where('name', '=', name);
  q = parentId === null ? q.where('parent_id', 'is', null) : q.where('parent_id', '=', parentId);
  const row = await q.orderBy('id').executeTakeFirst();
  return row && categoryFromRow(row);
}

function describe(c: Pick<Category, 'id' | 'name'>): string {
  return `${c.id} "${c.name}"`;
}

/** Returns the category with this name (and parent), creating it when missing. */
export async function ensureCategory(handle: DbHandle | Kysely<Database>, name: string, parentId: number | null = null): Promise<Category> {
  const db = 'db' in handle ? handle.db : handle;
  let clean: string;
  try {
    clean = cleanName(name);
  } catch {
    throw new InputError(`category: the name must be 1 to ${MAX_CATEGORY_NAME} characters, e.g. "OpenAI"`, 'category');
  }
  if (parentId !== null) await getCategory(db, parentId, 'parent');
  const found = await sibling(db, clean, parentId);
  if (found) return found;
  return categoryFromRow(await db.insertInto('categories').values({ name: clean, parent_id: parentId, created_at: nowDb() }).returningAll().executeTakeFirstOrThrow());
}

/** The category with this id, or an InputError naming `field`. */
export async function getCategory(db: Kysely<Database>, id: number, field = 'category'): Promise<Category> {
  const row = await db.selectFrom('categories').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw new NotFoundError(`${field}: no category with id ${id}; see arb category list`, field);
  return categoryFromRow(row);
}

/** Creates a category (a subcategory with `parentId`); a sibling of the same name is refused. */
export async function createCategory(deps: CategoryDeps, input: { name: string; parentId?: number | null }): Promise<Category> {
  const name = cleanName(input.name);
  const parentId = input.parentId === undefined || input.parentId === null ? null : checkId(input.parentId, 'parent');
  const created = await transact(deps.handle, async (trx) => {
    if (parentId !== null) await getCategory(trx, parentId, 'parent');
    const same = await sibling(trx, name, parentId);
    if (same) {
      throw new InputError(`name: category ${describe(same)} already exists${parentId === null ? '' : ` under ${parentId}`}; use its id, or pick another name`, 'name');
    }
    return categoryFromRow(await trx.insertInto('categories').values({ name, parent_id: parentId, created_at: nowDb() }).returningAll().executeTakeFirstOrThrow());
  });
  if (deps.logger) logBusinessEvent(deps.logger, { event_type: 'category_created', category_id: created.id, name: created.name, parent_id: created.parentId });
  return created;
}

/** Every category with its parent's name and how many packages and subcategories use it. */
export async function listCategoryViews(handle: DbHandle): Promise<CategoryView[]> {
  const rows = await handle.db.selectFrom('categories').selectAll().orderBy('id').execute();
  const packages = await handle.db.selectFrom('ai_token_packages').select(['category_id', 'subcategory_id']).execute();
  const uses = new Map<number, number>();
  for (const p of packages) {
    for (const id of new Set([p.category_id, p.subcategory_id])) if (id !== null) uses.set(Number(id), (uses.get(Number(id)) ?? 0) + 1);
  }
  const byId = new Map(rows.map((r) => [r.id, r]));
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    parentId: r.parent_id,
    parentName: r.parent_id === null ? null : (byId.get(r.parent_id)?.name ?? null),
    packageCount: uses.get(r.id) ?? 0,
    subcategoryCount: rows.filter((c) => c.parent_id === r.id).length,
    createdAt: r.created_at,
  }));
}

/** Renames a category; a sibling of the same name is refused. */
export async function renameCategory(deps: CategoryDeps, id: number, newName: string): Promise<{ category: Category; previousName: string }> {
  checkId(id, 'id');
  const name = cleanName(newName);
  const result = await transact(deps.handle, async (trx) => {
    const current = await getCategory(trx, id, 'id');
    const same = await sibling(trx, name, current.parentId);
    if (same && same.id !== id) throw new InputError(`name: category ${describe(same)} already has that name; pick another`, 'name');
    const category = categoryFromRow(await trx.updateTable('categories').set({ name }).where('id', '=', id).returningAll().executeTakeFirstOrThrow());
    return { category, previousName: current.name };
  });
  if (deps.logger && result.previousName !== name) {
    logBusinessEvent(deps.logger, { event_type: 'category_renamed', category_id: id, name, previous_name: result.previousName });
  }
  return result;
}

export interface DeleteCategoryResult {
  category: Category;
  /** packages moved to `moveTo` */
  movedPackages: number[];
}

/**
 * Deletes a category. Refused while packages use it (the refusal names them) unless `moveTo` names the
 * category they move to; refused while it has subcategories (named too).
 */
export async function deleteCategory(deps: CategoryDeps, id: number, opts: { moveTo?: number | null } = {}): Promise<DeleteCategoryResult> {
  checkId(id, 'id');
  const moveTo = opts.moveTo === undefined || opts.moveTo === null ? null : checkId(opts.moveTo, 'move_to');
  if (moveTo === id) throw new InputError(`move_to: ${id} is the category being deleted; give another category id`, 'move_to');
  const result = await transact(deps.handle, async (trx) => {
    const category = await getCategory(trx, id, 'id');
    const children = await trx.selectFrom('categories').select(['id', 'name']).where('parent_id', '=', id).orderBy('id').execute();
    if (children.length) {
      throw new InputError(
        `id: category ${describe(category)} has ${children.length} subcategor${children.length === 1 ? 'y' : 'ies'} (${children.map(describe).join(', ')}); delete or move them first`,
        'id',
      );
    }
    const users = await trx
      .selectFrom('ai_token_packages')
      .select(['id', 'model', 'description', 'category_id', 'subcategory_id'])
      .where((eb) => eb.or([eb('category_id', '=', id), eb('subcategory_id', '=', id)]))
      .orderBy('id')
      .execute();
    if (users.length && moveTo === null) {
      const named = users.slice(0, 10).map((p) => `#${p.id} ${p.model} "${p.description}"`);
      throw new InputError(
        `id: category ${describe(category)} is used by ${users.length} package(s): ${named.join(', ')}${users.length > 10 ? `, … ${users.length - 10} more` : ''}; move them with --move-to <category id>, or rename the category instead`,
        'id',
      );
    }
    if (moveTo !== null) {
      await getCategory(trx, moveTo, 'move_to');
      const now = nowDb();
      await trx.updateTable('ai_token_packages').set({ category_id: moveTo, updated_at: now }).where('category_id', '=', id).execute();
      await trx.updateTable('ai_token_packages').set({ subcategory_id: moveTo, updated_at: now }).where('subcategory_id', '=', id).execute();
    }
    await trx.deleteFrom('categories').where('id', '=', id).execute();
    return { category, movedPackages: users.map((p) => p.id) };
  });
  if (deps.logger) {
    logBusinessEvent(deps.logger, { event_type: 'category_deleted', category_id: id, name: result.category.name, moved_packages: result.movedPackages.length, move_to: moveTo });
  }
  return result;
}
