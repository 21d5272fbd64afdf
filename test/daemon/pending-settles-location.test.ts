/**
 * Where a daemon keeps its pending-settles file and ballast: beside the SQLite file it really opened, and
 * in LOG_DIR on PostgreSQL — never in the process's working directory (a PostgreSQL handle handed to the
 * daemon with a config that names no DATABASE_URL used to put `arbitrage.db.pending-settles.ballast` there).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { testDialects } from '../support/db.js';
import { startStack } from './harness.js';

for (const dialect of testDialects()) {
  test(`[${dialect}] the pending-settles ballast sits beside the database the daemon opened (or in LOG_DIR on PostgreSQL), not in the cwd`, async (t) => {
    const cwdBefore = new Set(readdirSync(process.cwd()));
    const stack = await startStack(t, { dialect });
    const expected = dialect === 'sqlite' ? `${stack.handle.file}.pending-settles.ballast` : join(stack.config.logDir, 'arbitrage.pending-settles.ballast');
    assert.ok(existsSync(expected), `ballast at ${expected}; beside it: ${readdirSync(dirname(expected)).join(', ')}`);
    const added = readdirSync(process.cwd()).filter((n) => !cwdBefore.has(n) && n.includes('pending-settles'));
    assert.deepEqual(added, [], 'nothing written into the working directory');
  });
}
