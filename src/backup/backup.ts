/**
 * Online backups of the SQLite database (SPEC §6 `arb backup`). The copy is taken with `VACUUM INTO`,
 * which reads one consistent snapshot in a single read transaction — the daemon keeps writing (WAL) and
 * the copy is never a mix of before and after. Snapshot and `PRAGMA integrity_check` of the copy run in a
 * worker thread on their own connection (seconds on a large database: never on the daemon's event loop).
 * The checked copy is published and listed with its SHA-256 in `SHA256SUMS` (`sha256sum -c SHA256SUMS`).
 * With age recipients (BACKUP_ENCRYPTION_RECIPIENT) the checked copy is encrypted and only the `.age` file
 * is published (src/backup/encryption.ts).
 *
 * Files (0600, in a 0700 directory): `arbitrage_YYYYMMDD-HHMMSS.db[.age]` per backup,
 * `arbitrage_latest.db[.age]` (a copy of the newest; the other kind is removed so "latest" is never
 * stale), `SHA256SUMS`. `keep` prunes the oldest timestamped backups.
 */
import { createHash } from 'node:crypto';
import { accessSync, chmodSync, closeSync, constants, copyFileSync, createReadStream, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import BetterSqlite3 from 'better-sqlite3';
import { AGE_SUFFIX, encryptFile } from './encryption.js';
import type { DbHandle } from '../db/dialect.js';
import { ArbError, InputError } from '../errors.js';

export const BACKUP_PREFIX = 'arbitrage_';
export const LATEST_NAME = 'arbitrage_latest.db';
export const MANIFEST_NAME = 'SHA256SUMS';
const TIMESTAMPED = /^arbitrage_(\d{8}-\d{6})(?:-(\d+))?\.db(?:\.age)?$/;

export class BackupError extends ArbError {
  override readonly code = 'ARB_BACKUP';
}

export type BackupStep = 'snapshot' | 'verify' | 'encrypt' | 'checksum' | 'publish' | 'prune';
export const BACKUP_STEPS: readonly BackupStep[] = ['snapshot', 'verify', 'encrypt', 'checksum', 'publish', 'prune'];
export const ENCRYPTION_OFF = 'off (BACKUP_ENCRYPTION_RECIPIENT not set)';

export interface BackupOptions {
  /** target directory (created when missing) */
  dir: string;
  /** keep only the newest N timestamped backups (N ≥ 1); undefined keeps all */
  keep?: number;
  now?: Date;
  /** which setting named the directory, for error messages ("BACKUP_DIR" or "--dir") */
  dirSource?: string;
  /** age recipients (BACKUP_ENCRYPTION_RECIPIENT): set ⇒ only an encrypted `.age` file is published */
  recipients?: readonly string[];
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
  /** written in the age format (the file ends in .age) */
  encrypted: boolean;
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
    mkdirSync(abs, { recursive: true, mode: 0o700 });
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
  writeFileSync(tmp, names.map((n) => `${entries.get(n)}  ${n}\n`).join(''), { mode: 0o600 });
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

/** Creates an empty file only this user can read (VACUUM INTO accepts an empty target and keeps its mode). */
export function createPrivateFile(file: string): void {
  closeSync(openSync(file, 'wx', 0o600));
}

/**
 * Publishes a checked, checksummed `partial` as `dir/name` and a copy as `dir/latestName`; removes the
 * other kinds of "latest" (`staleLatest`, e.g. the plain file once backups are encrypted) so the newest
 * backup is the only one called latest. Updates the manifest entries in `manifest`.
 */
export function publishBackupFile(dir: string, partial: string, name: string, latestName: string, staleLatest: readonly string[], sha256: string, manifest: Map<string, string>): { file: string; latest: string } {
  const file = join(dir, name);
  chmodSync(partial, 0o600);
  renameSync(partial, file);
  const latest = join(dir, latestName);
  const latestTmp = join(dir, `.${latestName}.partial`);
  rmSync(latestTmp, { force: true });
  copyFileSync(file, latestTmp);
  chmodSync(latestTmp, 0o600);
  renameSync(latestTmp, latest);
  for (const stale of staleLatest) {
    rmSync(join(dir, stale), { force: true });
    manifest.delete(stale);
  }
  manifest.set(name, sha256);
  manifest.set(latestName, sha256);
  return { file, latest };
}

/** Writes SHA256SUMS without the entries whose files are gone. */
export function saveManifest(dir: string, manifest: Map<string, string>): string {
  for (const listed of [...manifest.keys()]) if (!existsSync(join(dir, listed))) manifest.delete(listed);
  return writeManifest(dir, manifest);
}

const SNAPSHOT_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.modulePath);
try {
  const db = new Database(workerData.file, { readonly: true, fileMustExist: true, timeout: 10000 });
  try { db.prepare('vacuum into ?').run(workerData.target); } finally { db.close(); }
} catch (e) {
  parentPort.postMessage({ step: 'snapshot', code: e && e.code, message: String(e && e.message) });
  return;
}
try {
  const copy = new Database(workerData.target, { readonly: true, fileMustExist: true });
  try {
    const integrity = copy.pragma('integrity_check', { simple: true });
    const tables = {};
    for (const t of workerData.tables) {
      try { tables[t] = Number(copy.prepare('select count(*) as n from ' + t).get().n); } catch {}
    }
    parentPort.postMessage({ integrity: String(integrity), tables });
  } finally { copy.close(); }
} catch (e) {
  parentPort.postMessage({ step: 'verify', code: e && e.code, message: String(e && e.message) });
}
`;

const COUNTED_TABLES = ['users', 'transactions', 'ai_token_packages', 'ai_token_allocations', 'usage_events'];

interface SnapshotOutcome {
  step?: 'snapshot' | 'verify';
  code?: string;
  message?: string;
  integrity?: string;
  tables?: Record<string, number>;
}

/** VACUUM INTO + integrity check of the copy on a connection of its own, in a worker thread. */
function snapshotInWorker(file: string, target: string): Promise<SnapshotOutcome> {
  const require = createRequire(import.meta.url);
  return new Promise((resolvePromise, reject) => {
    const worker = new Worker(`(() => {${SNAPSHOT_WORKER}})()`, { eval: true, workerData: { modulePath: require.resolve('better-sqlite3'), file, target, tables: COUNTED_TABLES } });
    let outcome: SnapshotOutcome | undefined;
    worker.once('message', (m: SnapshotOutcome) => (outcome = m));
    worker.once('error', reject);
    worker.once('exit', () => (outcome ? resolvePromise(outcome) : reject(new BackupError('the backup worker stopped without an answer'))));
  });
}

/** Same as snapshotInWorker on the caller's connection (a database without a file of its own). */
function snapshotHere(sqlite: BetterSqlite3.Database, target: string): SnapshotOutcome {
  try {
    sqlite.prepare('vacuum into ?').run(target);
  } catch (e) {
    return { step: 'snapshot', code: (e as { code?: string }).code, message: (e as Error).message };
  }
  const copy = new BetterSqlite3(target, { readonly: true, fileMustExist: true });
  try {
    return { integrity: String(copy.pragma('integrity_check', { simple: true })), tables: tableCounts(copy) };
  } catch (e) {
    return { step: 'verify', code: (e as { code?: string }).code, message: (e as Error).message };
  } finally {
    copy.close();
  }
}

/** Takes a verified online backup of the SQLite database behind `handle`. */
export async function createBackup(handle: DbHandle, options: BackupOptions): Promise<BackupResult> {
  if (handle.dialect !== 'sqlite' || !handle.sqlite) {
    throw new InputError('DATABASE_URL: createBackup copies an SQLite database; on PostgreSQL arb backup uses pg_dump (createPgBackup in src/backup/postgres.ts)', 'DATABASE_URL');
  }
  const dir = ensureWritableDir(options.dir, options.dirSource);
  const step = options.onStep ?? (() => {});
  const encrypt = (options.recipients?.length ?? 0) > 0;
  const suffix = encrypt ? AGE_SUFFIX : '';
  const stamp = backupStamp(options.now ?? new Date());
  let base = `${BACKUP_PREFIX}${stamp}.db`;
  for (let i = 2; existsSync(join(dir, base)) || existsSync(join(dir, `${base}${AGE_SUFFIX}`)); i++) base = `${BACKUP_PREFIX}${stamp}-${i}.db`;
  const name = `${base}${suffix}`;
  const partial = join(dir, `.${base}.partial`);
  const partialAge = `${partial}${AGE_SUFFIX}`;
  rmSync(partial, { force: true });
  rmSync(partialAge, { force: true });

  try {
    step('snapshot', 'start');
    await tick();
    createPrivateFile(partial);
    const outcome = handle.file && existsSync(handle.file) ? await snapshotInWorker(handle.file, partial) : snapshotHere(handle.sqlite, partial);
    if (outcome.step === 'snapshot') {
      const code = outcome.code ?? '';
      if (/CANTOPEN|READONLY|IOERR|FULL/.test(code)) {
        throw new InputError(`${options.dirSource ?? 'BACKUP_DIR/--dir'}: cannot write ${partial} (${code}); point it at a writable directory with free space (nothing was changed)`, 'BACKUP_DIR');
      }
      throw new BackupError(`backup snapshot failed: ${outcome.message}`);
    }
    step('snapshot', 'done', `${statSync(partial).size.toLocaleString('en-US')} bytes`);

    step('verify', 'start');
    await tick();
    const integrity = outcome.step === 'verify' ? outcome.message : outcome.integrity;
    if (integrity !== 'ok') throw new BackupError(`backup copy failed its integrity check (${String(integrity)}); the database itself may be damaged — run PRAGMA integrity_check on it`);
    const tables = outcome.tables ?? {};
    step('verify', 'done', 'integrity ok');

    step('encrypt', 'start');
    let publishedPartial = partial;
    if (encrypt) {
      await encryptFile(partial, partialAge, options.recipients!);
      rmSync(partial, { force: true });
      publishedPartial = partialAge;
    }
    step('encrypt', 'done', encrypt ? `age, ${options.recipients!.length} recipient${options.recipients!.length > 1 ? 's' : ''}` : ENCRYPTION_OFF);

    step('checksum', 'start');
    const sha256 = await sha256File(publishedPartial, options.onProgress);
    step('checksum', 'done', sha256.slice(0, 16));

    step('publish', 'start');
    const manifest = readManifest(dir);
    const latestName = `${LATEST_NAME}${suffix}`;
    const stale = encrypt ? [LATEST_NAME] : [`${LATEST_NAME}${AGE_SUFFIX}`];
    const { file, latest } = publishBackupFile(dir, publishedPartial, name, latestName, stale, sha256, manifest);
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
    const manifestFile = saveManifest(dir, manifest);
    step('prune', 'done', pruned.length ? `removed ${pruned.length}` : 'nothing to remove');

    return { file, latest, manifest: manifestFile, bytes: statSync(file).size, sha256, integrity: 'ok', encrypted: encrypt, pruned, kept: listBackups(dir), tables };
  } finally {
    rmSync(partial, { force: true });
    rmSync(partialAge, { force: true });
  }
}
