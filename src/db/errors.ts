/**
 * Driver errors, recognised the same way on SQLite (better-sqlite3 `SqliteError.code`) and PostgreSQL
 * (`pg` SQLSTATE in `.code`).
 */

/** A unique constraint refused an insert (SQLite SQLITE_CONSTRAINT_UNIQUE, PostgreSQL 23505). */
export function isUniqueViolation(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === '23505';
}

/** The database file is damaged: SQLITE_CORRUPT (and its extended codes), SQLITE_NOTADB, PostgreSQL XX001/XX002. */
export function isCorruptionError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB' || code === 'XX001' || code === 'XX002');
}

export interface DbFailure {
  /** corrupt: the file is damaged (stays so until restored); unavailable: writes cannot be recorded now */
  kind: 'corrupt' | 'unavailable';
  /** one short operator-facing phrase */
  reason: string;
}

const CONNECTION_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * Whether a driver error means the database cannot record money now (and why), or undefined for an
 * ordinary error of one statement (a constraint, a bug). SQLite: CORRUPT/NOTADB, FULL, IOERR*, READONLY*,
 * CANTOPEN. PostgreSQL: a lost or refused connection, SQLSTATE classes 08 (connection), 53 (resources:
 * disk full, out of memory), 57P (shutdown), 58 (I/O), 25006 (read-only transaction), XX001/XX002.
 */
export function classifyDbError(e: unknown): DbFailure | undefined {
  if (isCorruptionError(e)) return { kind: 'corrupt', reason: 'database file damaged' };
  const err = e as { code?: unknown; message?: unknown } | null;
  const code = typeof err?.code === 'string' ? err.code : '';
  const message = typeof err?.message === 'string' ? err.message : '';
  if (code === 'SQLITE_FULL' || code === '53100') return { kind: 'unavailable', reason: 'disk full' };
  if (code.startsWith('SQLITE_IOERR') || code.startsWith('58')) return { kind: 'unavailable', reason: 'I/O error' };
  if (code.startsWith('SQLITE_READONLY') || code === '25006') return { kind: 'unavailable', reason: 'database is read-only' };
  if (code.startsWith('SQLITE_CANTOPEN')) return { kind: 'unavailable', reason: 'cannot open the database file' };
  if (code.startsWith('53')) return { kind: 'unavailable', reason: 'database out of resources' };
  if (code.startsWith('08') || code.startsWith('57P') || CONNECTION_ERRNO.has(code)) return { kind: 'unavailable', reason: 'database connection lost' };
  if (/Connection terminated|connection error|not queryable|timeout exceeded when trying to connect|not currently accepting connections|driver has already been destroyed/i.test(message)) {
    return { kind: 'unavailable', reason: 'database connection lost' };
  }
  return undefined;
}
