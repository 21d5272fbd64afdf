/**
 * diskRoom (src/db/health.ts): whether a SQLite database's disk has room again after it filled. Root may
 * write the blocks ext4 keeps for it, so for a daemon running as root a disk beyond its reserve still has
 * room: the database must heal once the operator frees space there, not only once usage drops below the
 * reserve. On a real ext4 file system (a loop-mounted image; skipped with the reason where that is not allowed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DISK_ROOM_BYTES, diskRoom } from '../../src/db/health.js';
import { fillDisk, mountExt4 } from '../support/tmpfs.js';

test("diskRoom: a full disk has no room; space freed inside ext4's root reserve is room for a daemon running as root", (t) => {
  if (process.getuid?.() !== 0) return t.skip("needs root (the reserved blocks are root's)");
  const fs = mountExt4(16 * 1024 * 1024, 50);
  if ('skip' in fs) return t.skip(fs.skip);
  t.after(() => fs.unmount());
  const file = join(fs.dir, 'arbitrage.db');
  const room = diskRoom(file);
  assert.equal(room(), undefined, 'an empty disk has room');

  const freed = join(fs.dir, 'freed');
  writeFileSync(freed, Buffer.alloc(2 * DISK_ROOM_BYTES, 1));
  fillDisk(join(fs.dir, 'filler'));
  assert.match(room() ?? '', /^disk full \(\d+ KiB free, 1024 KiB needed\)$/);

  // 2 MiB freed, all of it inside the reserve: none is available to other users, all of it to root
  rmSync(freed);
  const s = statfsSync(fs.dir);
  assert.ok(Number(s.bavail) * Number(s.bsize) < DISK_ROOM_BYTES, 'the freed space is inside the reserve');
  assert.ok(Number(s.bfree) * Number(s.bsize) >= DISK_ROOM_BYTES);
  assert.equal(room(), undefined, 'root has room');
});
