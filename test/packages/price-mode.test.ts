/**
 * Packages stored before price modes were recorded: the price-mode migration leaves them 'unknown', and the
 * next reprice decides each one — 'formula' when its stored price is the formula's price at the settings of
 * that run, else 'fixed' (kept). Run against a database migrated to just before the migration, with rows
 * written as the old code wrote them, then migrated up, on SQLite and PostgreSQL.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createPgDatabase, tempDir, testDialects, type TestDialect } from '../support/db.js';
import { defaultTestConfig } from '../support/seed.js';
import { writeShopBeforePriceModes } from '../support/old-shop.js';
import { migrate, openDb, type DbHandle } from '../../src/db/dialect.js';
import { captureLogger } from '../support/log-lines.js';
import { NotFoundError } from '../../src/errors.js';
import { creditUser, purchasePackage } from '../../src/ledger/ledger.js';
import { getPackage, repricePackage } from '../../src/packages/packages.js';
import { describeReprice, repriceAllPackages, repriceAtStart } from '../../src/packages/reprice.js';

/**
 * A shop as the old version left it: GPT-4 in the catalog, package 1 priced by the formula at 25 %
 * ($3.00 cost → $3.75), package 2 at the operator's explicit --price 7.00; then the new version migrates it.
 */
async function oldShopMigratedUp(t: TestContext, dialect: TestDialect): Promise<DbHandle> {
  const handle = dialect === 'postgres' ? openDb({ databaseUrl: await createPgDatabase(t), poolSize: 3 }) : openDb({ dbName: join(tempDir(t), 'arbitrage.db') });
  t.after(() => handle.close());
  await writeShopBeforePriceModes(handle);
  assert.ok((await migrate(handle)).includes('20261206_140000_package_price_mode'));
  return handle;
}

for (const dialect of testDialects()) {
  test(`[${dialect}] an old database: the first reprice decides each package's price mode (logged); after a markup change the formula package follows and the explicit one keeps its price`, async (t) => {
    const handle = await oldShopMigratedUp(t, dialect);
    const rows = await handle.db.selectFrom('ai_token_packages').select(['id', 'price', 'price_mode']).orderBy('id').execute();
    assert.deepEqual(rows, [
      { id: 1, price: 3_750_000, price_mode: 'unknown' },
      { id: 2, price: 7_000_000, price_mode: 'unknown' },
    ]);
    // the column only takes the three modes
    await assert.rejects(
      handle.db
        .updateTable('ai_token_packages')
        .set({ price_mode: 'sometimes' as never })
        .where('id', '=', 1)
        .execute(),
    );

    // the upgrade's first start, same settings (25 %): decided, no price changes
    const start = captureLogger();
    const notified: string[] = [];
    const first = await repriceAtStart({ handle, logger: start.logger, config: defaultTestConfig(), notifyAdmins: (text) => void notified.push(text) });
    assert.deepEqual(
      first.decided.map((d) => [d.package.id, d.mode, d.formulaPriceMicros]),
      [
        [1, 'formula', 3_750_000],
        [2, 'fixed', 7_500_000],
      ],
    );
    assert.deepEqual(first.repriced, []);
    assert.deepEqual(
      first.fixed.map((f) => [f.package.id, f.package.priceMicros, f.marginPercent, f.heldNow]),
      [[2, 7_000_000, 16.7, false]],
    );
    const decided = start.lines.filter((l) => l.business_event === true && l.event_type === 'package_price_mode_decided');
    assert.deepEqual(
      decided.map((l) => [l.package_id, l.price_mode, l.price, l.formula_price, l.trigger]),
      [
        [1, 'formula', 3.75, 3.75, 'start'],
        [2, 'fixed', 7, 7.5, 'start'],
      ],
    );
    assert.match(String(decided[1].message), /package 2 \(openai\/gpt-4\) keeps its price \$7\.00 \(the formula gives \$7\.50\); arb package reprice 2 --formula lets it follow the formula/);
    await new Promise((r) => setImmediate(r));
    assert.equal(notified.length, 1, 'the admins are told about the decisions');
    assert.match(notified[0], /^#1 openai\/gpt-4: follows the formula \(its price \$3\.75 is the formula's price\)$/m);
    assert.match(notified[0], /^#2 openai\/gpt-4: keeps its price \$7\.00 as a fixed price \(the formula gives \$7\.50\); to let it follow the formula: arb package reprice 2 --formula$/m);

    // TOKEN_MARKUP_PERCENTAGE=30 and a restart
    const raised = captureLogger();
    const config30 = defaultTestConfig({ TOKEN_MARKUP_PERCENTAGE: '30' });
    const second = await repriceAtStart({ handle, logger: raised.logger, config: config30 });
    assert.deepEqual(second.decided, []);
    assert.deepEqual(
      second.repriced.map((r) => [r.package.id, r.previousPriceMicros, r.package.priceMicros, r.package.priceMode]),
      [[1, 3_750_000, 3_900_000, 'formula']],
    );
    assert.deepEqual(
      second.fixed.map((f) => [f.package.id, f.package.priceMicros, f.marginPercent, f.belowFloor]),
      [[2, 7_000_000, 16.7, false]],
    );
    assert.deepEqual(
      raised.lines.filter((l) => l.arbitrage === true && l.operation === 'package_repriced').map((l) => [l.package_id, l.previous_sell_price, l.sell_price, l.trigger]),
      [[1, 3.75, 3.9, 'start']],
    );
    assert.match(describeReprice(second), /^#2 openai\/gpt-4: \$7\.00, margin 16\.7 %$/m);

    // a floor above the explicit price: on hold, never sold below it; the formula package is sold at the floor
    const config20 = defaultTestConfig({ TOKEN_MARKUP_PERCENTAGE: '30', MIN_PROFIT_MARGIN: '0.20' });
    await creditUser({ handle }, { telegramId: 42, amountMicros: 20_000_000, type: 'topup' });
    const third = await repriceAllPackages({ handle, config: config20 }, { trigger: 'command', liftMarginHolds: true });
    assert.deepEqual(
      third.fixed.map((f) => [f.package.id, f.belowFloor, f.heldNow, f.floorMicros]),
      [[2, true, true, 7_200_000]],
    );
    await assert.rejects(purchasePackage({ handle, config: config20 }, { telegramId: 42, packageId: 2 }), NotFoundError);
    assert.equal((await purchasePackage({ handle, config: config20 }, { telegramId: 42, packageId: 1 })).allocation.pricePaidMicros, 3_900_000);

    // the operator lets package 2 follow the formula (arb package reprice 2 --formula)
    const back = await repricePackage({ handle, config: config20 }, 2);
    assert.deepEqual([back.package.priceMode, back.package.priceMicros, back.package.available], ['formula', 7_800_000, true]);
  });

  test(`[${dialect}] an old database upgraded and repriced at a new markup in one restart: a price that is not the formula's is kept as fixed, listed with its margin and how to let it follow`, async (t) => {
    const handle = await oldShopMigratedUp(t, dialect);
    const { logger, lines } = captureLogger();
    const report = await repriceAllPackages({ handle, logger, config: defaultTestConfig({ TOKEN_MARKUP_PERCENTAGE: '30' }) }, { trigger: 'command', liftMarginHolds: true });
    assert.deepEqual(
      report.decided.map((d) => [d.package.id, d.mode]),
      [
        [1, 'fixed'],
        [2, 'fixed'],
      ],
    );
    assert.deepEqual(report.repriced, []);
    assert.deepEqual(
      report.fixed.map((f) => [f.package.id, f.package.priceMicros, f.marginPercent]),
      [
        [1, 3_750_000, 25],
        [2, 7_000_000, 16.7],
      ],
    );
    assert.equal(lines.filter((l) => l.event_type === 'package_price_mode_decided').length, 2);
    const text = describeReprice(report);
    assert.match(text, /^#1 openai\/gpt-4: keeps its price \$3\.75 as a fixed price \(the formula gives \$3\.90\); to let it follow the formula: arb package reprice 1 --formula$/m);
    assert.match(text, /^#1 openai\/gpt-4: \$3\.75, margin 25\.0 %$/m);
    assert.equal((await getPackage(handle, 1)).priceMicros, 3_750_000);
  });
}
