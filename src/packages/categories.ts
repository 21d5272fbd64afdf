/**
 * Package categories: a flat list with an optional parent (a subcategory's parent is its category).
 */
import type { Kysely } from 'kysely';
import type { Category, Database } from '../db/database.js';
import type { DbHandle } from '../db/dialect.js';
import { InputError } from '../errors.js';
import { nowDb } from '../time.js';

/** Returns the category with this name (and parent), creating it when missing. */
export async function ensureCategory(handle: DbHandle | Kysely<Database>, name: string, parentId: number | null = null): Promise<Category> {
  const db = 'db' in handle ? handle.db : handle;
  const clean = typeof name === 'string' ? name.trim() : '';
  if (clean === '' || clean.length > 100) {
    throw new InputError('category: the name must be 1 to 100 characters, e.g. "OpenAI"', 'category');
  }
  if (parentId !== null) await getCategory(db, parentId, 'parent');
  let q = db.selectFrom('categories').selectAll().where('name', '=', clean);
  q = parentId === null ? q.where('parent_id', 'is', null) : q.where('parent_id', '=', parentId);
  const found = await q.orderBy('id').executeTakeFirst();
  if (found) return found;
  return db.insertInto('categories').values({ name: clean, parent_id: parentId, created_at: nowDb() }).returningAll().executeTakeFirstOrThrow();
}

/** The category with this id, or an InputError naming `field`. */
export async function getCategory(db: Kysely<Database>, id: number, field = 'category'): Promise<Category> {
  const row = await db.selectFrom('categories').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw new InputError(`${field}: no category with id ${id}; use the id of an existing category`, field);
  return row;
}

/** All categories, by id. */
export async function listCategories(handle: DbHandle): Promise<Category[]> {
  return handle.db.selectFrom('categories').selectAll().orderBy('id').execute();
}
