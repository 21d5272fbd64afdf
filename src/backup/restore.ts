/**
 * Restores a backup over the SQLite database (SPEC §6 `arb restore`). Everything is verified before
 * the current database is touched: the file must be an intact SQLite database (integrity_check, and
 * the SHA-256 in a neighbouring SHA256SUMS when it is listed there), an arb database (its kysely
 * migration table and core tables), and not newer than this arb's schema. The current database is kept
 * as `<db>.<stamp>.pre-restore` (a damaged one, which cannot be copied, is moved aside as
 * `<db>.corrupt-<stamp>`), the verified copy is moved in with an atomic rename, and migrations
 * bring an older backup up to date. A refused or failed restore leaves the current database as it was.
 */
import { chmodSync, closeSync, copyFileSync, existsSync, openSync, readSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { ArbError, DatabaseCorruptError, InputError } from '../errors.js';
import { isPidAlive } from '../metering/instances.js';
import { toDbTime } from '../time.js';
import { LATEST_NAME, backupStamp, readManifest, sha256File, tableCounts } from './backup.js';
import { AGE_SUFFIX, withAgeSuffixIfOnly } from './encryption.js';

export class RestoreRefusedError extends InputError {
  override readonly code = 'ARB_RESTORE_REFUSED';
}

export interface BackupInspection {
  file: string;
  bytes: number;
  sha256: string;
  migrations: string[];
  /** newest migration name in the file */
  schema: string | null;
  tables: Record<string, number>;
  /** true when a SHA256SUMS next to the file lists it (and it matched) */
  checksumListed: boolean;
}

/**
 * Finds the backup an operator named: a path as given, else a name inside the backup directory;
 * `latest` means arbitrage_latest.db there.
 */
export function resolveBackupFile(text: string, backupDir: string): string {
  return findBackupFile(text, backupDir, LATEST_NAME);
}

/**
 * A path as given, else a name inside the backup directory (either also found with `.age` when only the
 * encrypted file exists); `latest` is `latestName` there, or its `.age` file — the newer when both exist.
 */
export function findBackupFile(text: string, backupDir: string, latestName: string): string {
  const newest = (files: string[]) => files.filter((f) => existsSync(f)).sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
  const latest = join(backupDir, latestName);
  const candidates =
    text === 'latest' ? [newest([latest, `${latest}${AGE_SUFFIX}`]) ?? latest] : [resolve(text), resolve(backupDir, text)].map(withAgeSuffixIfOnly);
  for (const c of candidates) if (existsSync(c) && statSync(c).isFile()) return c;
  throw new InputError(`file: no backup "${text}" (looked for ${[...new Set(candidates)].join(' and ')}); pass a path or a name from ${resolve(backupDir)} (see ls ${backupDir}), or "latest"`, 'file');
}

const SQLITE_MAGIC = 'SQLite format 3\0';

function readHeader(file: string): string {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(16);
    const n = readSync(fd, buf, 0, 16, 0);
    return buf.subarray(0, n).toString('latin1');
  } finally {
    closeSync(fd);
  }
}

/**
 * Verifies a backup file; throws RestoreRefusedError (exit 2) saying why it cannot be restored.
 * `knownMigrations` are this arb's migration names, oldest first.
 */
export async function inspectBackup(file: string, knownMigrations: readonly string[]): Promise<BackupInspection> {
  const shown = basename(file);
  if (readHeader(file) !== SQLITE_MAGIC) {
    throw new RestoreRefusedError(`file: ${shown} is not an SQLite database (wrong header); pick a file written by arb backup`, 'file');
  }
  const sha256 = await sha256File(file);
  const listed = readManifest(dirname(file)).get(shown);
  if (listed !== undefined && listed !== sha256) {
    throw new RestoreRefusedError(`file: ${shown} does not match its SHA-256 in ${join(dirname(file), 'SHA256SUMS')} (the file changed or is damaged); pick another backup`, 'file');
  }
  let sqlite: BetterSqlite3.Database;
  try {
    sqlite = new BetterSqlite3(file, { readonly: true, fileMustExist: true });
  } catch (e) {
    throw new RestoreRefusedError(`file: ${shown} cannot be opened as an SQLite database (${(e as Error).message}); pick another backup`, 'file', { cause: e });
  }
  try {
    let integrity: unknown;
    try {
      integrity = sqlite.pragma('integrity_check', { simple: true });
    } catch (e) {
      integrity = (e as Error).message;
    }
    if (integrity !== 'ok') {
      throw new RestoreRefusedError(`file: ${shown} is corrupt (integrity check: ${String(integrity).split('\n')[0]}); pick another backup`, 'file');
    }
    const tables = new Set((sqlite.prepare(`select name from sqlite_master where type = 'table'`).all() as { name: string }[]).map((r) => r.name));
    const missing = ['kysely_migration', 'users', 'transactions', 'ai_token_packages', 'ai_token_allocations'].filter((t) => !tables.has(t));
    if (missing.length > 0) {
      throw new RestoreRefusedError(`file: ${shown} is not an arb database (no ${missing.join(', ')} table); pick a file written by arb backup`, 'file');
    }
    const migrations = (sqlite.prepare('select name from kysely_migration order by name').all() as { name: string }[]).map((r) => r.name);
    refuseNewerSchema(shown, migrations, knownMigrations);
    return { file, bytes: statSync(file).size, sha256, migrations, schema: migrations[migrations.length - 1] ?? null, tables: tableCounts(sqlite), checksumListed: listed !== undefined };
  } finally {
    sqlite.close();
  }
}

export type RestoreStep = 'copy' | 'keep-current' | 'replace';
export const RESTORE_STEPS: readonly RestoreStep[] = ['copy', 'keep-current', 'replace'];

/** The database a restore replaces: none, intact (copied aside), or damaged (moved aside, never read). */
export type CurrentDatabase = { state: 'missing' } | { state: 'ok' } | { state: 'corrupt'; error: DatabaseCorruptError; detail: string };

const CORRUPT_CODES = /^SQLITE_(CORRUPT|NOTADB)/;

/**
 * Looks at the live database before a restore: `quick_check` on a read-only connection. A damaged file
 * (SQLITE_CORRUPT / NOTADB, a truncated file, a WAL of another file) is reported as such; any other
 * failure (busy, permissions) is thrown, since moving an intact database aside would be wrong.
 */
export function checkCurrentDatabase(dbFile: string): CurrentDatabase {
  if (!existsSync(dbFile)) return { state: 'missing' };
  const corrupt = (detail: string): CurrentDatabase => ({ state: 'corrupt', detail, error: new DatabaseCorruptError(dbFile, detail) });
  let sqlite: BetterSqlite3.Database | undefined;
  try {
    sqlite = new BetterSqlite3(dbFile, { readonly: true, fileMustExist: true, timeout: 5_000 });
    const result = sqlite.pragma('quick_check', { simple: true });
    return result === 'ok' ? { state: 'ok' } : corrupt(`quick_check: ${String(result).split('\n')[0]}`);
  } catch (e) {
    const code = (e as { code?: string }).code ?? '';
    if (CORRUPT_CODES.test(code)) return corrupt(`${code}: ${(e as Error).message}`);
    throw new ArbError(`cannot read the current database ${dbFile} (${code || 'error'}: ${(e as Error).message}); check its permissions and that no other program holds it locked, then rerun arb restore (nothing was changed)`, { cause: e });
  } finally {
    sqlite?.close();
  }
}

export interface RestoreOptions {
  /** the live database file (DB_NAME) */
  dbFile: string;
  /** a file already checked by inspectBackup */
  backup: BackupInspection;
  /** what checkCurrentDatabase said (checked again here when absent) */
  current?: CurrentDatabase;
  now?: Date;
  onStep?: (step: RestoreStep, state: 'start' | 'done', detail?: string) => void;
}

export interface RestoreResult {
  dbFile: string;
  restoredFrom: string;
  /** where the previous database was kept (null when there was none, or it was damaged) */
  preRestore: string | null;
  /** a damaged previous database: where it was moved (with its -wal/-journal), and what was wrong */
  corrupt: { movedTo: string; detail: string } | null;
  sha256: string;
}

/** Renames a damaged database and the files that belong to it to `<db>.corrupt-<stamp>` (kept for forensics). */
function moveAside(dbFile: string, stamp: string): string {
  let target = `${dbFile}.corrupt-${stamp}`;
  for (let i = 2; existsSync(target); i++) target = `${dbFile}.corrupt-${stamp}-${i}`;
  renameSync(dbFile, target);
  for (const side of ['-wal', '-journal']) if (existsSync(`${dbFile}${side}`)) renameSync(`${dbFile}${side}`, `${target}${side}`);
  rmSync(`${dbFile}-shm`, { force: true });
  return target;
}

/**
 * Replaces the database with a verified backup. An intact old database is copied aside first
 * (consistently, with VACUUM INTO, to `*.pre-restore`); a damaged one cannot be copied and is moved aside
 * instead (`*.corrupt-<stamp>`). Only then is the backup renamed in; any failure before that leaves the
 * old database where it was. Run migrations afterwards (the caller opens the restored database).
 */
export async function restoreBackup(options: RestoreOptions): Promise<RestoreResult> {
  const dbFile = resolve(options.dbFile);
  const step = options.onStep ?? (() => {});
  const stamp = backupStamp(options.now ?? new Date());
  const staged = `${dbFile}.restore-tmp`;
  rmSync(staged, { force: true });
  let preRestore: string | null = null;
  let corrupt: RestoreResult['corrupt'] = null;
  try {
    step('copy', 'start');
    copyFileSync(options.backup.file, staged);
    chmodSync(staged, 0o600);
    const copied = await sha256File(staged);
    if (copied !== options.backup.sha256) throw new ArbError(`restore: the copy of ${basename(options.backup.file)} differs from the original (disk problem?); nothing was changed`);
    step('copy', 'done');

    step('keep-current', 'start');
    let current = options.current ?? checkCurrentDatabase(dbFile);
    if (current.state === 'ok') {
      const target = `${dbFile}.${stamp}.pre-restore`;
      const partial = `${target}.partial`;
      rmSync(partial, { force: true });
      try {
        const sqlite = new BetterSqlite3(dbFile, { fileMustExist: true, timeout: 10_000 });
        try {
          sqlite.prepare('vacuum into ?').run(partial);
          // fold the WAL into the main file so no stale -wal is left next to the replacement
          sqlite.pragma('wal_checkpoint(TRUNCATE)');
        } finally {
          sqlite.close();
        }
        chmodSync(partial, 0o600);
        renameSync(partial, target);
        preRestore = target;
      } catch (e) {
        rmSync(partial, { force: true });
        const code = (e as { code?: string }).code ?? '';
        // damage quick_check did not reach (VACUUM reads every row): the file cannot be copied
        if (!CORRUPT_CODES.test(code)) {
          throw new ArbError(`could not keep a copy of the current database as ${basename(target)} (${code || 'error'}: ${(e as Error).message}); free disk space next to it and rerun arb restore (nothing was changed)`, { cause: e });
        }
        current = { state: 'corrupt', detail: `${code}: ${(e as Error).message}`, error: new DatabaseCorruptError(dbFile, `${code}: ${(e as Error).message}`) };
      }
    }
    if (current.state === 'corrupt') corrupt = { movedTo: moveAside(dbFile, stamp), detail: current.detail };
    step('keep-current', 'done', preRestore ? basename(preRestore) : corrupt ? `damaged: moved aside as ${basename(corrupt.movedTo)}` : 'no current database');

    step('replace', 'start');
    for (const side of ['-wal', '-shm', '-journal']) rmSync(`${dbFile}${side}`, { force: true });
    renameSync(staged, dbFile);
    step('replace', 'done');
  } catch (e) {
    rmSync(staged, { force: true });
    throw e;
  }
  return { dbFile, restoredFrom: options.backup.file, preRestore, corrupt, sha256: options.backup.sha256 };
}

export interface LiveInstance {
  instanceId: string;
  pid: number;
  hostname: string;
  heartbeatAt: string;
}

/**
 * Daemon instances that look alive (fresh heartbeat, and on this host a live pid). Restoring under a
 * running daemon would lose its later writes and pull its WAL away, so the CLI refuses then.
 */
export function liveInstances(dbFile: string, hostname: string, now: Date = new Date(), staleAfterMs = 60_000): LiveInstance[] {
  if (!existsSync(dbFile)) return [];
  let sqlite: BetterSqlite3.Database | undefined;
  try {
    sqlite = new BetterSqlite3(dbFile, { readonly: true, fileMustExist: true, timeout: 5_000 });
    const fresh = toDbTime(new Date(now.getTime() - staleAfterMs));
    const rows = sqlite.prepare('select instance_id, pid, hostname, heartbeat_at from instances where heartbeat_at >= ?').all(fresh) as { instance_id: string; pid: number; hostname: string; heartbeat_at: string }[];
    return rows
      .filter((r) => r.hostname !== hostname || isPidAlive(r.pid))
      .map((r) => ({ instanceId: r.instance_id, pid: r.pid, hostname: r.hostname, heartbeatAt: r.heartbeat_at }));
  } catch {
    return []; // no instances table (foreign/old database): nothing to protect
  } finally {
    sqlite?.close();
  }
}

/** Refuses a backup whose migrations include one this arb does not know (written by a newer arb). */
export function refuseNewerSchema(shown: string, migrations: readonly string[], knownMigrations: readonly string[]): void {
  const known = new Set(knownMigrations);
  const unknown = migrations.filter((m) => !known.has(m));
  if (unknown.length > 0) {
    throw new RestoreRefusedError(
      `file: ${shown} was written by a newer arb (schema ${unknown[unknown.length - 1]}, this arb knows up to ${knownMigrations[knownMigrations.length - 1]}); upgrade arb before restoring it`,
      'file',
    );
  }
}
