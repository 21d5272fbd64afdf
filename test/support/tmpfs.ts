/**
 * A small, size-limited tmpfs for tests that need a real full disk (`mount -t tmpfs -o size=…`). Mounting
 * needs root (or CAP_SYS_ADMIN); where it is not allowed the test is skipped with the reason.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
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
    return { skip: `cannot mount a size-limited tmpfs here (needs root or CAP_SYS_ADMIN): ${(r.stderr || r.error?.message || `exit ${r.status}`).trim()}` };
  }
  let mounted = true;
  return {
    dir,
    unmount() {
      if (!mounted) return;
      mounted = false;
      const u = spawnSync('umount', [dir], { encoding: 'utf8' });
      if (u.status !== 0) spawnSync('umount', ['-l', dir]);
      rmSync(dir, { recursive: true, force: true });
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
  const fail = (what: string, r: ReturnType<typeof run>) => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(image, { force: true });
    return { skip: `cannot ${what} here (needs mkfs.ext4, loop devices and root): ${(r.stderr || r.error?.message || `exit ${r.status}`).trim()}` };
  };
  const trunc = run('truncate', ['-s', String(bytes), image]);
  if (trunc.status !== 0) return fail('make a disk image', trunc);
  const mkfs = run('mkfs.ext4', ['-q', '-F', '-m', String(reservedPercent), image]);
  if (mkfs.status !== 0) return fail('make an ext4 file system', mkfs);
  const mount = run('mount', ['-o', 'loop', image, dir]);
  if (mount.status !== 0) return fail('loop-mount an ext4 image', mount);
  let mounted = true;
  return {
    dir,
    unmount() {
      if (!mounted) return;
      mounted = false;
      if (run('umount', [dir]).status !== 0) run('umount', ['-l', dir]);
      rmSync(dir, { recursive: true, force: true });
      rmSync(image, { force: true });
    },
  };
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
