/**
 * `arb … | head` for every kind of command: a reader that is gone before arb writes (EPIPE on the first
 * write) ends the command with status 0 and nothing on stderr — the Ink/table output of `models`, a list, a
 * JSON document, log CSV and the help text. (cli-output.test.ts covers a reader that leaves mid-stream.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { openAndMigrate } from '../../src/db/dialect.js';
import { closeLogger, createLogger } from '../../src/logger.js';
import { tempDir } from '../support/db.js';
import { seedCatalog } from '../support/seed.js';
import { ARB, arbEnv, seedShop } from './support.js';

test('every kind of command, whose reader is gone before it writes (| head -n 0), ends with status 0 and nothing on stderr', async (t) => {
  const env = arbEnv(tempDir(t));
  const handle = await openAndMigrate(env.db);
  const logger = createLogger({ logDir: env.logDir });
  await seedCatalog(handle);
  await seedShop(handle, logger);
  await closeLogger(logger);
  await handle.close();
  // the reader exits at once; arb starts after it is gone, so its first write meets a closed pipe (EPIPE)
  for (const args of ['models', 'keys list', 'stats --json', 'logs transactions --output csv', '--help']) {
    const r = spawnSync('bash', ['-c', `(sleep 0.2; '${process.execPath}' '${ARB}' ${args}) | head -n 0; echo "arb exit \${PIPESTATUS[0]}" >&2`], {
      cwd: env.dir,
      env: env.env,
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(r.stderr, 'arb exit 0\n', `arb ${args}: quiet, status 0`);
  }
});
