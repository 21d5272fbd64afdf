/**
 * The log files in LOG_DIR: the live file is always `arbitrage.log` (the manual's recipes grep that path);
 * a rotation renames it to `arbitrage.log.YYYYMMDD-HHMMSS` (SPEC §8; UTC time of the rotation; `_01`, `_02`,
 * … appended when several rotations fall in the same second), so the manual's
 * `find logs/ -name "*.log.*" -mtime +30 -delete` finds them and name order is chronological. Files
 * rotated by earlier versions (`arbitrage-YYYYMMDD-HHMMSS.log`) and logrotate's `arbitrage.log.N` are read
 * and pruned too.
 */
import { readdirSync, statSync, unlinkSync, existsSync } from 'node:fs';
import { join } from 'node:path';

export const LIVE_LOG_NAME = 'arbitrage.log';

const DATED = /^arbitrage\.log\.(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})(?:_(\d+))?$/;
/** the name earlier versions rotated to */
const DATED_OLD = /^arbitrage-(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})(?:_(\d+))?\.log$/;
const NUMBERED = /^arbitrage\.log\.(\d+)$/;

export interface LogFileInfo {
  path: string;
  name: string;
  bytes: number;
  mtime: Date;
  ino: number;
  /** true for `arbitrage.log` */
  live: boolean;
}

/** `arbitrage.log.20240115-103000` for a rotation at that UTC time; `seq` > 0 appends `_01`, `_02`, … */
export function rotatedLogName(at: Date, seq = 0): string {
  const stamp = at.toISOString().slice(0, 19).replace(/[-:]/g, '').replace('T', '-');
  return `${LIVE_LOG_NAME}.${stamp}${seq > 0 ? `_${String(seq).padStart(2, '0')}` : ''}`;
}

/** A free rotated-file name in `dir` for a rotation now. */
export function nextRotatedPath(dir: string, at: Date = new Date()): string {
  for (let seq = 0; ; seq++) {
    const p = join(dir, rotatedLogName(at, seq));
    if (!existsSync(p)) return p;
  }
}

/** true for names the rotation produces, earlier versions produced, or logrotate's `arbitrage.log.N`. */
export function isRotatedLogName(name: string): boolean {
  return DATED.test(name) || DATED_OLD.test(name) || NUMBERED.test(name);
}

function orderKey(name: string, mtimeMs: number): [number, number] {
  const m = DATED.exec(name) ?? DATED_OLD.exec(name);
  if (m) return [Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]), Number(m[7] ?? 0)];
  return [mtimeMs, 0];
}

/**
 * The rotated files and the live file, oldest first (the live file last). A missing directory is an
 * empty list, not an error.
 */
export function listLogFiles(logDir: string): LogFileInfo[] {
  let names: string[];
  try {
    names = readdirSync(logDir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
    throw e;
  }
  const rotated: (LogFileInfo & { key: [number, number] })[] = [];
  let live: LogFileInfo | undefined;
  for (const name of names) {
    const isLive = name === LIVE_LOG_NAME;
    if (!isLive && !isRotatedLogName(name)) continue;
    const path = join(logDir, name);
    let st;
    try {
      st = statSync(path);
    } catch {
      continue; // removed between readdir and stat
    }
    if (!st.isFile()) continue;
    const info: LogFileInfo = { path, name, bytes: st.size, mtime: st.mtime, ino: st.ino, live: isLive };
    if (isLive) live = info;
    else rotated.push({ ...info, key: orderKey(name, st.mtimeMs) });
  }
  rotated.sort((a, b) => a.key[0] - b.key[0] || a.key[1] - b.key[1] || a.name.localeCompare(b.name));
  const out: LogFileInfo[] = rotated.map(({ key: _key, ...info }) => info);
  if (live) out.push(live);
  return out;
}

export interface PruneResult {
  /** rotated files older than the cutoff (removed unless dryRun) */
  removed: LogFileInfo[];
  kept: number;
  freedBytes: number;
  dryRun: boolean;
  cutoff: Date;
}

/**
 * Removes rotated log files last written more than `olderThanDays` days ago. The live file is never
 * removed. With `dryRun` nothing is deleted and the result lists what would be.
 */
export function pruneLogFiles(logDir: string, olderThanDays: number, opts: { dryRun?: boolean; now?: Date } = {}): PruneResult {
  if (!Number.isFinite(olderThanDays) || olderThanDays < 0) throw new RangeError(`olderThanDays must be a non-negative number, got ${olderThanDays}`);
  const now = opts.now ?? new Date();
  const cutoff = new Date(now.getTime() - olderThanDays * 86_400_000);
  const removed: LogFileInfo[] = [];
  let kept = 0;
  let freedBytes = 0;
  for (const f of listLogFiles(logDir)) {
    if (f.live || f.mtime.getTime() >= cutoff.getTime()) {
      kept++;
      continue;
    }
    if (!opts.dryRun) {
      try {
        unlinkSync(f.path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    }
    removed.push(f);
    freedBytes += f.bytes;
  }
  return { removed, kept, freedBytes, dryRun: Boolean(opts.dryRun), cutoff };
}
