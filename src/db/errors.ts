/**
 * Driver errors, recognised the same way on SQLite (better-sqlite3 `SqliteError.code`) and PostgreSQL
 * (`pg` SQLSTATE in `.code`).
 */

/** A unique constraint refused an insert (SQLite SQLITE_CONSTRAINT_UNIQUE, PostgreSQL 23505). */
export function isUniqueViolation(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === '23505';
}
