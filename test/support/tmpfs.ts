/**
 * A small, size-limited tmpfs for tests that need a real full disk (`mount -t tmpfs -o size=…`). Mounting
 * needs root (or CAP_SYS_ADMIN); where it is not allowed the test is skipped with the reason.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Tmpfs {
  dir: string;
  /** unmounts and removes the mount point (close every file on it first) */
  unmount(): void;
}

/** Mounts a tmpfs of `bytes`; returns it, or the reason it cannot be mounted here. */
export function mountTmpfs(bytes: number): Tmpfs | { skip: string } {
  const dir = mkdtempSync(join(tmpdir(), 'arb-tmpfs-'));
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes},mode=0700`, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    return { skip: `cannot mount a size-limited tmpfs here (needs root or CAP_SYS_ADMIN): ${why(r)}` };
  }
  return mounted(dir);
}

/** What a failed command said. */
const why = (r: SpawnSyncReturns<string>) => (r.stderr || r.error?.message || `exit ${r.status}`).trim();

/** The mount at `dir`: unmounting it (lazily if it is busy) removes `dir` and then `also`, once. */
function mounted(dir: string, also?: string): Tmpfs {
  let done = false;
  return {
    dir,
    unmount() {
      if (done) return;
      done = true;
      if (spawnSync('umount', [dir]).status !== 0) spawnSync('umount', ['-l', dir]);
      rmSync(dir, { recursive: true, force: true });
      if (also) rmSync(also, { force: true });
    },
  };
}

/**
 * A small ext4 file system in a loop-mounted image of `bytes`, keeping `reservedPercent` of its blocks for
 * root (`mkfs.ext4 -m`), as ext4 disks do (5 % by default); or the reason it cannot be made here.
 */
export function mountExt4(bytes: number, reservedPercent: number): Tmpfs | { skip: string } {
  const dir = mkdtempSync(join(tmpdir(), 'arb-ext4-'));
  const image = `${dir}.img`;
  const run = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: 'utf8' });
  const fail = (what: string, r: SpawnSyncReturns<string>) => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(image, { force: true });
    return { skip: `cannot ${what} here (needs mkfs.ext4, loop devices and root): ${why(r)}` };
  };
  writeFileSync(image, '');
  truncateSync(image, bytes);
  const mkfs = run('mkfs.ext4', ['-q', '-F', '-m', String(reservedPercent), image]);
  if (mkfs.status !== 0) return fail('make an ext4 file system', mkfs);
  const mount = run('mount', ['-o', 'loop', image, dir]);
  if (mount.status !== 0) return fail('loop-mount an ext4 image', mount);
  return mounted(dir, image);
}

/** Writes `file` until the file system is full (ENOSPC); returns the bytes written. */
export function fillDisk(file: string): number {
  const fd = openSync(file, 'a');
  const chunk = Buffer.alloc(64 * 1024, 0x66);
  let written = 0;
  try {
    for (let size = chunk.length; size >= 512;) {
      try {
        written += writeSync(fd, chunk, 0, size);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
        size >>= 1;
      }
    }
  } finally {
    closeSync(fd);
  }
  return written;
}
