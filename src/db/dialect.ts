/**
 * Opens the database: SQLite (better-sqlite3, WAL, busy timeout, foreign keys) by default, PostgreSQL
 * when DATABASE_URL is postgres://…. Also runs migrations and provides `transact`, which begins SQLite
 * write transactions IMMEDIATE so concurrent writers queue on the busy timeout instead of failing.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { createRequire } from 'node:module';
import type BetterSqlite3Type from 'better-sqlite3';
import type PgModule from 'pg';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql } from 'kysely';
import type { Database } from './database.js';
import { migrationProvider } from './migrations/index.js';
import { ArbError, DatabaseCorruptError } from '../errors.js';
import { isCorruptionError } from './errors.js';
import { inspectWal } from './integrity.js';
import { createWriteGate, type WriteGate } from './write-gate.js';

export type DialectName = 'sqlite' | 'postgres';

export interface DbHandle {
  readonly db: Kysely<Database>;
  readonly dialect: DialectName;
  /** Absolute SQLite file path (undefined on PostgreSQL). */
  readonly file: string | undefined;
  /** The raw better-sqlite3 connection, for backups and the metering hot path (SQLite only). */
  readonly sqlite: BetterSqlite3Type.Database | undefined;
  /** pauses the hot path's group commit while a checkpoint catches up (SQLite only) */
  readonly writeGate: WriteGate | undefined;
  readonly url: string | undefined;
  close(): Promise<void>;
}

export interface OpenDbOptions {
  dbName?: string;
  databaseUrl?: string;
  /** busy timeout in ms (SQLite) */
  busyTimeoutMs?: number;
  readonly?: boolean;
  /** PostgreSQL pool size */
  poolSize?: number;
}

function corrupt(file: string, cause: unknown): DatabaseCorruptError {
  return new DatabaseCorruptError(file, (cause as Error).message, { cause });
}

export class DatabaseError extends ArbError {
  override readonly code = 'ARB_DATABASE';
}

// Drivers are loaded on first use: a SQLite CLI run never pays for `pg`, and vice versa.
const requireDriver = createRequire(import.meta.url);
type BetterSqlite3Ctor = typeof BetterSqlite3Type;

const INT8_OID = 20;
const NUMERIC_OID = 1700;

/** Opens (and does not migrate) the database described by the options. */
export function openDb(options: OpenDbOptions): DbHandle {
  if (options.databaseUrl) {
    const pg = requireDriver('pg') as typeof PgModule;
    const pool = new pg.Pool({
      connectionString: options.databaseUrl,
      max: options.poolSize ?? 10,
      types: {
        getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
          oid === INT8_OID || oid === NUMERIC_OID ? (v: string) => (v === null ? null : Number(v)) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
      },
    });
    pool.on('error', () => {
      /* idle client errors surface on the next query */
    });
    // A connection lost while a client is checked out (a transaction) is also emitted as 'error' on the
    // client: without a listener it would be an uncaught exception that stops the daemon. The query in
    // flight rejects with it anyway, and the store turns that into DatabaseUnavailableError.
    pool.on('connect', (client) => {
      client.on('error', () => {});
    });
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    let closed = false;
    return {
      db,
      dialect: 'postgres',
      file: undefined,
      sqlite: undefined,
      writeGate: undefined,
      url: options.databaseUrl,
      async close() {
        if (closed) return;
        closed = true;
        await db.destroy();
      },
    };
  }
  const file = resolve(options.dbName ?? 'arbitrage.db');
  if (!options.readonly) mkdirSync(dirname(file), { recursive: true });
  // A WAL of another file (the manual's cp after a crash) is refused before SQLite applies it: a
  // connection would read the mix and, on close, checkpoint it into the file for good (src/db/integrity.ts).
  let wal: ReturnType<typeof inspectWal> = { state: 'none' };
  try {
    wal = inspectWal(file);
  } catch {
    /* unreadable: SQLite says why when it opens the file */
  }
  if (wal.state === 'foreign') throw new DatabaseCorruptError(file, wal.detail);
  let sqlite: BetterSqlite3Type.Database;
  try {
    const BetterSqlite3 = requireDriver('better-sqlite3') as BetterSqlite3Ctor;
    sqlite = new BetterSqlite3(file, { timeout: options.busyTimeoutMs ?? 10_000, readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
  } catch (cause) {
    throw new DatabaseError(`cannot open SQLite database ${file}: ${(cause as Error).message}`, { cause });
  }
  try {
    if (!options.readonly) {
      sqlite.pragma('journal_mode = WAL');
      sqlite.pragma('synchronous = NORMAL');
    }
    sqlite.pragma('foreign_keys = ON');
  } catch (cause) {
    sqlite.close();
    if (isCorruptionError(cause)) throw corrupt(file, cause);
    throw cause;
  }
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  let closed = false;
  return {
    db,
    dialect: 'sqlite',
    file,
    sqlite,
    writeGate: createWriteGate(),
    url: undefined,
    async close() {
      if (closed) return;
      closed = true;
      await db.destroy();
    },
  };
}

/** Runs pending migrations; idempotent. Returns the names applied now. */
export async function migrate(handle: DbHandle): Promise<string[]> {
  const migrator = new Migrator({ db: handle.db, provider: migrationProvider(handle.dialect) });
  const { error, results } = await migrator.migrateToLatest();
  if (error && isCorruptionError(error) && handle.file) throw corrupt(handle.file, error);
  if (error) throw new DatabaseError(`migration failed: ${(error as Error).message ?? String(error)}`, { cause: error });
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/** Opens and migrates. */
export async function openAndMigrate(options: OpenDbOptions): Promise<DbHandle> {
  const handle = openDb(options);
  try {
    await migrate(handle);
  } catch (e) {
    await handle.close();
    throw e;
  }
  return handle;
}

/**
 * One write transaction. On SQLite it begins IMMEDIATE (takes the write lock up front, so a concurrent
 * writer waits on the busy timeout instead of failing with SQLITE_BUSY on upgrade); on PostgreSQL it is
 * an ordinary READ COMMITTED transaction whose conditional updates are atomic per row.
 */
export async function transact<T>(handle: DbHandle, fn: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
  if (handle.dialect === 'postgres') return handle.db.transaction().execute(fn);
  return handle.db.connection().execute(async (conn) => {
    await sql`begin immediate`.execute(conn);
    try {
      const result = await fn(conn);
      await sql`commit`.execute(conn);
      return result;
    } catch (e) {
      try {
        await sql`rollback`.execute(conn);
      } catch {
        /* already rolled back */
      }
      throw e;
    }
  });
}
