/**
 * Online backups of the SQLite database (SPEC §6 `arb backup`). The copy is taken with `VACUUM INTO`,
 * which reads one consistent snapshot in a single read transaction — the daemon keeps writing (WAL) and
 * the copy is never a mix of before and after. Each copy is checked with `PRAGMA integrity_check`
 * before it is published, and listed with its SHA-256 in `SHA256SUMS` (`sha256sum -c SHA256SUMS` works).
 *
 * Files: `arbitrage_YYYYMMDD-HHMMSS.db` per backup, `arbitrage_latest.db` (a copy of the newest),
 * `SHA256SUMS`. `keep` prunes the oldest timestamped backups.
 */
import { createHash } from 'node:crypto';
import { accessSync, constants, copyFileSync, createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import type { DbHandle } from '../db/dialect.js';
import { ArbError, InputError } from '../errors.js';

export const BACKUP_PREFIX = 'arbitrage_';
export const LATEST_NAME = 'arbitrage_latest.db';
export const MANIFEST_NAME = 'SHA256SUMS';
const TIMESTAMPED = /^arbitrage_(\d{8}-\d{6})(?:-(\d+))?\.db$/;

export class BackupError extends ArbError {
  override readonly code = 'ARB_BACKUP';
}

export type BackupStep = 'snapshot' | 'verify' | 'checksum' | 'publish' | 'prune';
export const BACKUP_STEPS: readonly BackupStep[] = ['snapshot', 'verify', 'checksum', 'publish', 'prune'];

export interface BackupOptions {
  /** target directory (created when missing) */
  dir: string;
  /** keep only the newest N timestamped backups (N ≥ 1); undefined keeps all */
  keep?: number;
  now?: Date;
  /** which setting named the directory, for error messages ("BACKUP_DIR" or "--dir") */
  dirSource?: string;
  onStep?: (step: BackupStep, state: 'start' | 'done', detail?: string) => void;
  onProgress?: (fraction: number) => void;
}

export interface BackupResult {
  file: string;
  latest: string;
  manifest: string;
  bytes: number;
  sha256: string;
  integrity: 'ok';
  /** files removed by --keep */
  pruned: string[];
  /** timestamped backups left in the directory, newest first */
  kept: string[];
  tables: Record<string, number>;
}

/** Stamp used in file names: UTC YYYYMMDD-HHMMSS. */
export function backupStamp(date: Date): string {
  return date.toISOString().slice(0, 19).replace(/[-:]/g, '').replace('T', '-');
}

/** Makes sure `dir` exists and is writable, else an InputError naming the setting and the fix. */
export function ensureWritableDir(dir: string, source = 'BACKUP_DIR/--dir'): string {
  const abs = resolve(dir);
  try {
    mkdirSync(abs, { recursive: true });
    if (!statSync(abs).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    accessSync(abs, constants.W_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new InputError(`${source}: cannot write backups to ${abs} (${code}); point ${source} at a writable directory (nothing was changed)`, 'BACKUP_DIR', { cause: e });
  }
  return abs;
}

/** SHA-256 of a file, streamed (progress 0..1 when asked). */
export async function sha256File(file: string, onProgress?: (fraction: number) => void): Promise<string> {
  const size = statSync(file).size;
  const hash = createHash('sha256');
  let read = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
    read += (chunk as Buffer).length;
    onProgress?.(size === 0 ? 1 : read / size);
  }
  return hash.digest('hex');
}

/** Reads SHA256SUMS (`<hex>  <name>` lines) into a map. */
export function readManifest(dir: string): Map<string, string> {
  const file = join(dir, MANIFEST_NAME);
  const out = new Map<string, string>();
  if (!existsSync(file)) return out;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line.trim());
    if (m) out.set(m[2], m[1]);
  }
  return out;
}

function writeManifest(dir: string, entries: Map<string, string>): string {
  const file = join(dir, MANIFEST_NAME);
  const names = [...entries.keys()].sort();
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, names.map((n) => `${entries.get(n)}  ${n}\n`).join(''));
  renameSync(tmp, file);
  return file;
}

/** Timestamped backups in `dir`, newest first. */
export function listBackups(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => TIMESTAMPED.test(n))
    .sort((a, b) => {
      const [, sa, na] = TIMESTAMPED.exec(a)!;
      const [, sb, nb] = TIMESTAMPED.exec(b)!;
      return sb.localeCompare(sa) || Number(nb ?? 0) - Number(na ?? 0);
    });
}

/** Row counts of the main tables of an open SQLite database (for reports and the restore prompt). */
export function tableCounts(sqlite: BetterSqlite3.Database): Record<string, number> {
  const out: Record<string, number> = {};
  for (const table of ['users', 'transactions', 'ai_token_packages', 'ai_token_allocations', 'usage_events']) {
    try {
      out[table] = Number((sqlite.prepare(`select count(*) as n from ${table}`).get() as { n: number }).n);
    } catch {
      /* table missing: reported by the caller's checks */
    }
  }
  return out;
}

const tick = () => new Promise<void>((r) => setImmediate(r));

/** Takes a verified online backup of the SQLite database behind `handle`. */
export async function createBackup(handle: DbHandle, options: BackupOptions): Promise<BackupResult> {
  if (handle.dialect !== 'sqlite' || !handle.sqlite) {
    throw new InputError('DATABASE_URL: createBackup copies an SQLite database; on PostgreSQL arb backup uses pg_dump (createPgBackup in src/backup/postgres.ts)', 'DATABASE_URL');
  }
  const dir = ensureWritableDir(options.dir, options.dirSource);
  const step = options.onStep ?? (() => {});
  const stamp = backupStamp(options.now ?? new Date());
  let name = `${BACKUP_PREFIX}${stamp}.db`;
  for (let i = 2; existsSync(join(dir, name)); i++) name = `${BACKUP_PREFIX}${stamp}-${i}.db`;
  const file = join(dir, name);
  const partial = join(dir, `.${name}.partial`);
  rmSync(partial, { force: true });

  try {
    step('snapshot', 'start');
    await tick();
    try {
      handle.sqlite.prepare('vacuum into ?').run(partial);
    } catch (e) {
      const code = (e as { code?: string }).code ?? '';
      if (/CANTOPEN|READONLY|IOERR|FULL/.test(code)) {
        throw new InputError(`${options.dirSource ?? 'BACKUP_DIR/--dir'}: cannot write ${partial} (${code}); point it at a writable directory with free space (nothing was changed)`, 'BACKUP_DIR', { cause: e });
      }
      throw new BackupError(`backup snapshot failed: ${(e as Error).message}`, { cause: e });
    }
    step('snapshot', 'done', `${statSync(partial).size.toLocaleString('en-US')} bytes`);

    step('verify', 'start');
    await tick();
    let tables: Record<string, number>;
    const copy = new BetterSqlite3(partial, { readonly: true, fileMustExist: true });
    try {
      const integrity = copy.pragma('integrity_check', { simple: true });
      if (integrity !== 'ok') throw new BackupError(`backup copy failed its integrity check (${String(integrity)}); the database itself may be damaged — run PRAGMA integrity_check on it`);
      tables = tableCounts(copy);
    } finally {
      copy.close();
    }
    step('verify', 'done', 'integrity ok');

    step('checksum', 'start');
    const sha256 = await sha256File(partial, options.onProgress);
    step('checksum', 'done', sha256.slice(0, 16));

    step('publish', 'start');
    renameSync(partial, file);
    const latest = join(dir, LATEST_NAME);
    const latestTmp = join(dir, `.${LATEST_NAME}.partial`);
    copyFileSync(file, latestTmp);
    renameSync(latestTmp, latest);
    const manifest = readManifest(dir);
    manifest.set(name, sha256);
    manifest.set(LATEST_NAME, sha256);
    step('publish', 'done', basename(file));

    step('prune', 'start');
    const pruned: string[] = [];
    const all = listBackups(dir);
    if (options.keep !== undefined) {
      for (const old of all.slice(options.keep)) {
        rmSync(join(dir, old), { force: true });
        manifest.delete(old);
        pruned.push(old);
      }
    }
    for (const listed of [...manifest.keys()]) if (!existsSync(join(dir, listed))) manifest.delete(listed);
    const manifestFile = writeManifest(dir, manifest);
    step('prune', 'done', pruned.length ? `removed ${pruned.length}` : 'nothing to remove');

    return { file, latest, manifest: manifestFile, bytes: statSync(file).size, sha256, integrity: 'ok', pruned, kept: listBackups(dir), tables };
  } finally {
    rmSync(partial, { force: true });
  }
}
