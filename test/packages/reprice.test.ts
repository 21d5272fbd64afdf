import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tempDb, testDialects } from '../support/db.js';
import { defaultTestConfig, seedCatalog } from '../support/seed.js';
import { captureLogger } from '../support/log-lines.js';
import { NotFoundError } from '../../src/errors.js';
import { creditUser, purchasePackage } from '../../src/ledger/ledger.js';
import { createPackage, getPackage, repricePackage } from '../../src/packages/packages.js';
import { describeReprice, repriceAllPackages, repriceAtStart } from '../../src/packages/reprice.js';
import type { DbHandle } from '../../src/db/dialect.js';

async function shop(handle: DbHandle) {
  await seedCatalog(handle);
  const config = defaultTestConfig();
  const deps = { handle, config };
  return {
    gpt4: (await createPackage(deps, { model: 'gpt-4', tokens: 100_000, description: 'GPT-4 100k' })).package,
    bulk: (await createPackage(deps, { model: 'gpt-3.5-turbo', tokens: 1_000_000, description: 'GPT-3.5 1M' })).package,
    promo: (await createPackage(deps, { model: 'gpt-4', tokens: 200_000, description: 'GPT-4 200k promo', priceUsd: '7.00' })).package,
    premium: (await createPackage(deps, { model: 'gpt-4', tokens: 10_000, description: 'GPT-4 10k premium', priceUsd: '0.50' })).package,
  };
}

for (const dialect of testDialects()) {
  test(`[${dialect}] reprice all: formula packages follow a new markup, explicit prices stay and are listed with their margin; a second run changes nothing`, async (t) => {
    const handle = await tempDb(t, dialect);
    const p = await shop(handle);
    assert.deepEqual([p.gpt4.priceMode, p.promo.priceMode], ['formula', 'fixed']);
    const { logger, lines } = captureLogger();
    const config = defaultTestConfig({ TOKEN_MARKUP_PERCENTAGE: '30' });
    const report = await repriceAllPackages({ handle, logger, config }, { trigger: 'command' });
    assert.deepEqual(
      report.repriced.map((r) => [r.package.id, r.previousPriceMicros, r.package.priceMicros, r.pricing.marginPercent]),
      [
        [p.gpt4.id, 3_750_000, 3_900_000, 30],
        [p.bulk.id, 600_000, 620_000, 24],
      ],
    );
    assert.deepEqual(
      report.fixed.map((f) => [f.package.id, f.package.priceMicros, f.marginPercent, f.belowFloor, f.heldNow]),
      [
        [p.promo.id, 7_000_000, 16.7, false, false],
        [p.premium.id, 500_000, 66.7, false, false],
      ],
    );
    assert.equal((await getPackage(handle, p.promo.id)).priceMicros, 7_000_000);
    const logged = lines.filter((l) => l.arbitrage === true && l.operation === 'package_repriced');
    assert.deepEqual(
      logged.map((l) => [l.package_id, l.previous_sell_price, l.sell_price, l.cost, l.profit, l.margin_percent]),
      [
        [p.gpt4.id, 3.75, 3.9, 3, 0.9, 30],
        [p.bulk.id, 0.6, 0.62, 0.5, 0.12, 24],
      ],
    );
    const text = describeReprice(report);
    assert.match(text, /markup 30 %, margin floor 10 %/);
    assert.match(text, /#3 openai\/gpt-4: \$7\.00, margin 16\.7 %/);

    const again = await repriceAllPackages({ handle, config });
    assert.equal(again.repriced.length, 0);
    assert.equal(again.unchanged, 2);
  });

  test(`[${dialect}] a raised margin floor: formula prices rise to it, an explicit price below it is put on hold and not sold; nothing sells below the floor before the reprice either`, async (t) => {
    const handle = await tempDb(t, dialect);
    const p = await shop(handle);
    // MIN_PROFIT_MARGIN 0.35 > markup 25 %: the floor decides; the promo ($7.00 on $6.00 cost) is below it
    const config = defaultTestConfig({ MIN_PROFIT_MARGIN: '0.35' });
    await creditUser({ handle }, { telegramId: 42, amountMicros: 50_000_000, type: 'topup' });
    // the CLI with the new .env before the daemon restarted: the stored price is under the new floor
    await assert.rejects(purchasePackage({ handle, config }, { telegramId: 42, packageId: p.gpt4.id }), (err: unknown) => {
      assert.ok(err instanceof NotFoundError);
      assert.match(err.message, /below the margin floor .*arb package reprice --all/);
      return true;
    });
    const notified: string[] = [];
    const { logger, lines } = captureLogger();
    const report = await repriceAtStart({ handle, logger, config, notifyAdmins: (text) => void notified.push(text) });
    assert.deepEqual(
      report.repriced.map((r) => [r.package.id, r.package.priceMicros]),
      [
        [p.gpt4.id, 4_050_000],
        [p.bulk.id, 680_000],
      ],
    );
    const promo = await getPackage(handle, p.promo.id);
    assert.deepEqual([promo.available, promo.holdReason, promo.priceMicros], [false, 'margin', 7_000_000]);
    assert.deepEqual(report.fixed.find((f) => f.package.id === p.promo.id)?.floorMicros, 8_100_000);
    assert.ok(lines.some((l) => l.event_type === 'package_on_hold' && l.package_id === p.promo.id));
    await assert.rejects(purchasePackage({ handle, config }, { telegramId: 42, packageId: p.promo.id }), NotFoundError);
    const sold = await purchasePackage({ handle, config, logger }, { telegramId: 42, packageId: p.gpt4.id });
    assert.equal(sold.allocation.pricePaidMicros, 4_050_000);

    await new Promise((r) => setImmediate(r));
    assert.equal(notified.length, 1);
    assert.match(notified[0], /1 fixed-price package\(s\) put on hold \(price below the margin floor\):\n#3 openai\/gpt-4: \$7\.00 < floor \$8\.10; fix with arb package reprice 3/);

    // the operator fixes the promo price; it leaves the hold and keeps its new explicit price
    const fixed = await repricePackage({ handle, config }, p.promo.id, { priceUsd: '8.50' });
    assert.deepEqual([fixed.package.priceMicros, fixed.package.priceMode, fixed.package.available], [8_500_000, 'fixed', true]);
    // and a reprice without --price puts a package back on the formula
    const back = await repricePackage({ handle, config }, p.premium.id);
    assert.deepEqual([back.package.priceMode, back.package.priceMicros], ['formula', 410_000]);
  });
}
