/**
 * `"performance":true` lines for the slow operations the manual reviews weekly, and its recipe:
 * grep '"performance":true' logs/arbitrage.log | grep '"execution_time":[1-9]' | jq '{operation: .operation, time: .execution_time}'
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openAndMigrate } from '../../src/db/dialect.js';
import { closeLogger, createLogger, logPerformance, withPerformanceLog } from '../../src/logger.js';
import { tempDir } from '../support/db.js';
import { seedCatalog } from '../support/seed.js';
import { syncModels } from '../../src/catalog/sync.js';
import { loadFixtureModels } from '../../src/catalog/fixture.js';
import { arbEnvDb, ROOT, runArb } from '../commands/support.js';

test("slow operations write performance lines (operation, execution_time in seconds) and the manual's recipe finds the ones over a second", async (t) => {
  const env = await arbEnvDb(t, tempDir(t));
  const handle = await openAndMigrate(env.db);
  t.after(() => handle.close());
  await seedCatalog(handle);
  const logger = createLogger({ logDir: env.logDir });
  await syncModels(handle, loadFixtureModels(), { logger });
  // an operation that takes over a second (a backup of a big database, say)
  await withPerformanceLog(logger, 'backup', () => new Promise((r) => setTimeout(r, 1_050)), { file: 'backup/arbitrage_x.db' });
  await assert.rejects(withPerformanceLog(logger, 'backup', () => Promise.reject(new Error('disk full'))), /disk full/);
  logPerformance(logger, 'tiny', 1e-7);
  await closeLogger(logger);

  for (const args of [
    ['stats', '--json'],
    ['package', 'import', join(ROOT, 'fixtures', 'packages-valid.json'), '--dry-run', '--json'],
    ['backup', '--json'],
  ]) {
    const r = await runArb(args, env);
    assert.equal(r.code, 0, r.stderr);
  }

  const lines = readFileSync(join(env.logDir, 'arbitrage.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const perf = lines.filter((l) => l.performance === true);
  assert.deepEqual(
    perf.map((l) => [l.operation, l.success]),
    [
      ['catalog_sync', undefined],
      ['backup', true],
      ['backup', false],
      ['tiny', undefined],
      ['stats', true],
      ['package_import', true],
      ['backup', undefined],
    ],
  );
  assert.match(String(perf[6].file), /arbitrage_.*\.(db|dump)$/, 'arb backup itself writes the line, naming the file (a .db on SQLite, a .dump on PostgreSQL)');
  for (const l of perf) assert.equal(typeof l.execution_time, 'number');
  assert.equal(perf[3].execution_time, 0, 'rounded to the millisecond: never 1e-7, which the grep would take for slow');

  if (spawnSync('bash', ['-c', 'command -v jq'], { encoding: 'utf8' }).status !== 0) {
    t.skip('jq is not installed (the manual recipe needs it; .ci/run installs it)');
    return;
  }
  const r = spawnSync(
    'bash',
    [
      '-c',
      `grep '"performance":true' logs/arbitrage.log | \\
grep '"execution_time":[1-9]' | \\
jq '{operation: .operation, time: .execution_time}'`,
    ],
    { cwd: env.dir, encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  const found = r.stdout.trim().split(/\n(?=\{)/).map((j) => JSON.parse(j) as { operation: string; time: number });
  // exactly the lines of a second or more (on a loaded machine stats may be one of them too)
  assert.deepEqual(
    found.map((f) => f.operation),
    perf.filter((l) => (l.execution_time as number) >= 1).map((l) => l.operation),
  );
  assert.ok(found.some((f) => f.operation === 'backup' && f.time >= 1), r.stdout);
});
