/**
 * Upgrading a shop whose packages were stored before price modes were recorded, with real daemon starts:
 * the first start of the new version migrates the database and decides each package's mode at the current
 * settings (logged); after `TOKEN_MARKUP_PERCENTAGE=30` and a restart the formula package follows and the
 * explicitly priced one keeps its price. SQLite, and PostgreSQL when TEST_DATABASE_URL is set.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { migrate, openDb } from '../../src/db/dialect.js';
import { tempDbEnv, tempDir, testDialects } from '../support/db.js';
import { spawnDaemon } from '../support/cli.js';
import { writeShopBeforePriceModes } from '../support/old-shop.js';

/** SIGTERM once the daemon has printed its start banner (a signal caught while it starts stops it once it is up). */
async function stopDaemon(d: Awaited<ReturnType<typeof spawnDaemon>>): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!/OpenAI base URL/.test(d.output())) {
    assert.ok(Date.now() < deadline, `no start banner:\n${d.output()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  await new Promise((r) => setTimeout(r, 200));
  d.child.kill('SIGTERM');
  assert.equal(await d.exited, 0, d.output());
}

for (const dialect of testDialects()) {
  test(`[${dialect}] an old shop upgraded by a daemon start: modes decided and logged; after a markup change and a restart the formula package follows, the explicit price stays`, async (t) => {
    const dir = tempDir(t);
    const dbEnv = await tempDbEnv(t as never, dir, dialect);
    const handle = openDb(dbEnv.DATABASE_URL ? { databaseUrl: dbEnv.DATABASE_URL, poolSize: 2 } : { dbName: dbEnv.DB_NAME });
    t.after(() => handle.close());
    // the database as the previous version left it
    await writeShopBeforePriceModes(handle);

    const logDir = join(dir, 'logs');
    const env = { ...dbEnv, OPENROUTER_BASE_URL: 'http://127.0.0.1:9/api/v1', LOG_DIR: logDir };
    const upgrade = await spawnDaemon(dir, { ...env, TOKEN_MARKUP_PERCENTAGE: '25' }, { t });
    await stopDaemon(upgrade);
    assert.deepEqual(await migrate(handle), [], 'the daemon start migrated the database');
    const modes = await handle.db.selectFrom('ai_token_packages').select(['id', 'price', 'price_mode']).orderBy('id').execute();
    assert.deepEqual(modes, [
      { id: 1, price: 3_750_000, price_mode: 'formula' },
      { id: 2, price: 7_000_000, price_mode: 'fixed' },
    ]);

    const restart = await spawnDaemon(dir, { ...env, TOKEN_MARKUP_PERCENTAGE: '30' }, { t });
    await stopDaemon(restart);
    const prices = await handle.db.selectFrom('ai_token_packages').select(['id', 'price', 'price_mode', 'is_available']).orderBy('id').execute();
    assert.deepEqual(prices, [
      { id: 1, price: 3_900_000, price_mode: 'formula', is_available: 1 },
      { id: 2, price: 7_000_000, price_mode: 'fixed', is_available: 1 },
    ]);

    const lines = readFileSync(join(logDir, 'arbitrage.log'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(
      lines.filter((l) => l.business_event === true && l.event_type === 'package_price_mode_decided').map((l) => [l.package_id, l.price_mode, l.price, l.formula_price, l.trigger]),
      [
        [1, 'formula', 3.75, 3.75, 'start'],
        [2, 'fixed', 7, 7.5, 'start'],
      ],
    );
    assert.deepEqual(
      lines.filter((l) => l.arbitrage === true && l.operation === 'package_repriced').map((l) => [l.package_id, l.previous_sell_price, l.sell_price, l.trigger]),
      [[1, 3.75, 3.9, 'start']],
    );
  });
}
