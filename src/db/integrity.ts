/**
 * Start-up checks of an SQLite database file, before any connection writes to it (issue: the manual's
 * `cp backup/arbitrage_latest.db arbitrage.db` after a crash leaves the crashed database's `-wal` beside
 * the copied file; SQLite then applies the old WAL's pages to the new file and the result is malformed or,
 * worse, quietly mixes two databases).
 *
 * 1. `inspectWal` reads the files themselves (no SQLite connection: opening one would rebuild the
 *    `-shm` index and, on close, checkpoint the foreign pages into the file). A WAL whose committed frames
 *    cannot belong to the main file is refused when any of these holds:
 *    - the main file is not in WAL mode (header bytes 18–19 are not 2): a file written by `VACUUM INTO`
 *      (every `arb backup`) or any rollback-journal copy was never opened in WAL mode since it was written;
 *    - the page sizes differ, or the main file is empty or shorter than its header;
 *    - the WAL's last commit says the database has N pages, and a page beyond the main file's end is in
 *      neither the file nor the WAL (the main file is older than the WAL's history);
 *    - the `-shm` index (same WAL generation: equal salts) says frames 1..nBackfill were copied into the
 *      main file, and a page whose every WAL version is among them differs from its last version.
 *    Each condition holds for every WAL SQLite itself left beside its own file at any quiet moment
 *    (crash, kill -9, power loss with a durable WAL), so a healthy crash never reads as damage. The files
 *    are read twice around the check: if another process changed them meanwhile, the WAL is live (some
 *    connection owns it) and only the integrity check below decides.
 * 2. `PRAGMA quick_check` on a read-only connection (which never checkpoints on close).
 * A file that is not a database at all (SQLITE_NOTADB) or that SQLite cannot read (SQLITE_CORRUPT) is
 * damaged too. Every refusal is a DatabaseCorruptError naming `arb restore`.
 */
import { closeSync, existsSync, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { endianness } from 'node:os';
import { createRequire } from 'node:module';
import type BetterSqlite3Type from 'better-sqlite3';
import { DatabaseCorruptError } from '../errors.js';
import { isCorruptionError } from './errors.js';

const WAL_MAGIC_LE = 0x377f0682;
const WAL_MAGIC_BE = 0x377f0683;
const WAL_HEADER = 32;
const FRAME_HEADER = 24;
const SQLITE_HEADER = 'SQLite format 3\0';

export type WalVerdict =
  /** no -wal file, or one without a committed frame: SQLite ignores it */
  | { state: 'none' }
  /** the WAL's committed frames fit the main file */
  | { state: 'ok'; frames: number }
  /** another process changed the files while they were read: some connection owns the WAL */
  | { state: 'live' }
  | { state: 'foreign'; detail: string };

function readAt(fd: number, length: number, position: number): Buffer {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buf, got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got === length ? buf : buf.subarray(0, got);
}

/** SQLite's WAL checksum (wal.c walChecksumBytes), continuing from (s1, s2). */
function walChecksum(data: Buffer, bigEndian: boolean, s1: number, s2: number): [number, number] {
  for (let i = 0; i + 8 <= data.length; i += 8) {
    const x0 = bigEndian ? data.readUInt32BE(i) : data.readUInt32LE(i);
    const x1 = bigEndian ? data.readUInt32BE(i + 4) : data.readUInt32LE(i + 4);
    s1 = (s1 + x0 + s2) >>> 0;
    s2 = (s2 + x1 + s1) >>> 0;
  }
  return [s1, s2];
}

function pageSizeOf(raw: number): number {
  return raw === 1 ? 65_536 : raw;
}

interface WalScan {
  pageSize: number;
  /** the WAL header's two salts as written (8 bytes) */
  saltBytes: Buffer;
  /** committed frames (1-based count) */
  mxFrame: number;
  /** database size in pages after the last commit */
  dbPages: number;
  /** page → the committed frames (1-based, ascending) that hold a version of it */
  versions: Map<number, number[]>;
}

/** The WAL's committed frames, validated as SQLite's recovery does (salts + cumulative checksums). */
function scanWal(fd: number, size: number): WalScan | undefined {
  if (size < WAL_HEADER) return undefined;
  const header = readAt(fd, WAL_HEADER, 0);
  const magic = header.readUInt32BE(0);
  if (magic !== WAL_MAGIC_LE && magic !== WAL_MAGIC_BE) return undefined;
  const bigEndian = magic === WAL_MAGIC_BE;
  const pageSize = header.readUInt32BE(8);
  if (pageSize < 512 || pageSize > 65_536 || (pageSize & (pageSize - 1)) !== 0) return undefined;
  let [s1, s2] = walChecksum(header.subarray(0, 24), bigEndian, 0, 0);
  if (s1 !== header.readUInt32BE(24) || s2 !== header.readUInt32BE(28)) return undefined;
  const salt1 = header.readUInt32BE(16);
  const salt2 = header.readUInt32BE(20);
  const frameSize = FRAME_HEADER + pageSize;
  const versions = new Map<number, number[]>();
  const pending: Array<[number, number]> = [];
  let mxFrame = 0;
  let dbPages = 0;
  for (let frame = 1, off = WAL_HEADER; off + frameSize <= size; frame++, off += frameSize) {
    const buf = readAt(fd, frameSize, off);
    if (buf.length < frameSize) break;
    const pgno = buf.readUInt32BE(0);
    const commit = buf.readUInt32BE(4);
    if (pgno === 0 || buf.readUInt32BE(8) !== salt1 || buf.readUInt32BE(12) !== salt2) break;
    [s1, s2] = walChecksum(buf.subarray(0, 8), bigEndian, s1, s2);
    [s1, s2] = walChecksum(buf.subarray(FRAME_HEADER), bigEndian, s1, s2);
    if (s1 !== buf.readUInt32BE(16) || s2 !== buf.readUInt32BE(20)) break;
    pending.push([pgno, frame]);
    if (commit !== 0) {
      for (const [p, f] of pending) {
        const list = versions.get(p);
        if (list) list.push(f);
        else versions.set(p, [f]);
      }
      pending.length = 0;
      mxFrame = frame;
      dbPages = commit;
    }
  }
  return { pageSize, saltBytes: Buffer.from(header.subarray(16, 24)), mxFrame, dbPages, versions };
}

/** nBackfill from the -shm wal-index when it describes this WAL generation; else undefined. */
function backfilledFrames(shmFile: string, wal: WalScan): number | undefined {
  if (!existsSync(shmFile)) return undefined;
  const fd = openSync(shmFile, 'r');
  try {
    const buf = readAt(fd, 136, 0);
    if (buf.length < 136) return undefined;
    // two copies of the 48-byte WalIndexHdr, then WalCkptInfo.nBackfill; native byte order
    if (!buf.subarray(0, 48).equals(buf.subarray(48, 96))) return undefined;
    const le = endianness() === 'LE';
    const u32 = (o: number) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
    if (u32(0) !== 3007000 || buf[12] !== 1) return undefined;
    // the salts are copied byte for byte from the WAL header (not converted to native order)
    if (!buf.subarray(32, 40).equals(wal.saltBytes)) return undefined;
    const nBackfill = u32(96);
    return nBackfill <= wal.mxFrame ? nBackfill : undefined;
  } finally {
    closeSync(fd);
  }
}

function judge(mainFd: number, mainSize: number, wal: WalScan, shmFile: string): WalVerdict {
  const frames = wal.mxFrame;
  if (mainSize < 100) return { state: 'foreign', detail: `the database file is ${mainSize} bytes but ${frames} committed WAL frames wait to be applied to it` };
  const header = readAt(mainFd, 100, 0);
  if (header.subarray(0, 16).toString('latin1') !== SQLITE_HEADER) return { state: 'foreign', detail: 'the file is not an SQLite database' };
  if (header[18] !== 2 || header[19] !== 2) {
    return { state: 'foreign', detail: `a WAL file from another database lies beside it: the file was replaced (e.g. copied from a backup) after a crash left ${frames} WAL frames` };
  }
  const pageSize = pageSizeOf(header.readUInt16BE(16));
  if (pageSize !== wal.pageSize) return { state: 'foreign', detail: `its WAL file has ${wal.pageSize}-byte pages, the file ${pageSize}-byte pages` };
  const mainPages = Math.floor(mainSize / pageSize);
  const pendingBytePage = Math.floor(0x40000000 / pageSize) + 1; // never written by SQLite
  for (let p = mainPages + 1; p <= wal.dbPages; p++) {
    if (!wal.versions.has(p) && p !== pendingBytePage) {
      return {
        state: 'foreign',
        detail: `its WAL file describes a ${wal.dbPages}-page database whose page ${p} is neither in the ${mainPages}-page file nor in the WAL: the file is older than the WAL (replaced after a crash?)`,
      };
    }
  }
  const nBackfill = backfilledFrames(shmFile, wal);
  if (nBackfill) {
    const frameSize = FRAME_HEADER + wal.pageSize;
    const walFd = openSync(`${shmFile.slice(0, -4)}-wal`, 'r');
    try {
      for (const [page, list] of wal.versions) {
        // A checkpoint copies a page's latest version or none of it (when that version is past what
        // readers allow), so only a page with no version after nBackfill is sure to be in the file.
        const last = list[list.length - 1];
        if (page > mainPages || last > nBackfill) continue;
        const inMain = readAt(mainFd, pageSize, (page - 1) * pageSize);
        if (!readAt(walFd, wal.pageSize, WAL_HEADER + (last - 1) * frameSize + FRAME_HEADER).equals(inMain)) {
          return {
            state: 'foreign',
            detail: `page ${page} was checkpointed from its WAL file but the file holds another version of it: the file was replaced (e.g. copied from a backup) after a crash`,
          };
        }
      }
    } finally {
      closeSync(walFd);
    }
  }
  return { state: 'ok', frames };
}

const sameStat = (a: Stats | undefined, b: Stats | undefined) => a === b || (a !== undefined && b !== undefined && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ino === b.ino);

const statOrUndefined = (file: string): Stats | undefined => {
  try {
    return statSync(file);
  } catch {
    return undefined;
  }
};

/** Does the `-wal` beside `file` belong to it? Reads the files only (see the module comment). */
export function inspectWal(file: string): WalVerdict {
  const walFile = `${file}-wal`;
  const shmFile = `${file}-shm`;
  const before = [statOrUndefined(file), statOrUndefined(walFile), statOrUndefined(shmFile)];
  if (!before[0] || !before[1]) return { state: 'none' };
  const mainFd = openSync(file, 'r');
  let verdict: WalVerdict;
  try {
    const walFd = openSync(walFile, 'r');
    let wal: WalScan | undefined;
    try {
      wal = scanWal(walFd, fstatSync(walFd).size);
    } finally {
      closeSync(walFd);
    }
    if (!wal || wal.mxFrame === 0) return { state: 'none' };
    verdict = judge(mainFd, fstatSync(mainFd).size, wal, shmFile);
  } finally {
    closeSync(mainFd);
  }
  const after = [statOrUndefined(file), statOrUndefined(walFile), statOrUndefined(shmFile)];
  if (!before.every((s, i) => sameStat(s, after[i]))) return { state: 'live' };
  return verdict;
}

const requireDriver = createRequire(import.meta.url);

/**
 * Refuses a damaged SQLite database with DatabaseCorruptError (naming `arb restore`): a WAL that does not
 * belong to the file, a file that is not a database, or a failed `PRAGMA quick_check`. A missing file is
 * fine (it will be created). Changes nothing on disk.
 */
export function checkSqliteDatabase(file: string): void {
  if (!existsSync(file)) return;
  let wal: WalVerdict;
  try {
    wal = inspectWal(file);
  } catch (cause) {
    throw new DatabaseCorruptError(file, `cannot read it: ${(cause as Error).message}`, { cause });
  }
  if (wal.state === 'foreign') throw new DatabaseCorruptError(file, wal.detail);
  const BetterSqlite3 = requireDriver('better-sqlite3') as typeof BetterSqlite3Type;
  let db: BetterSqlite3Type.Database | undefined;
  try {
    db = new BetterSqlite3(file, { readonly: true, fileMustExist: true });
    const rows = db.pragma('quick_check(5)') as Array<{ quick_check: string }>;
    const problems = rows.map((r) => r.quick_check).filter((r) => r !== 'ok');
    if (problems.length > 0) throw new DatabaseCorruptError(file, `integrity check: ${problems.join('; ')}`);
  } catch (e) {
    if (e instanceof DatabaseCorruptError) throw e;
    if (isCorruptionError(e)) throw new DatabaseCorruptError(file, (e as Error).message, { cause: e });
    throw e;
  } finally {
    db?.close();
  }
}
