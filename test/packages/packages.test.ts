import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDb, tempDir, testDialects } from '../support/db.js';
import { defaultTestConfig, seedCatalog, seedPackage } from '../support/seed.js';
import { loadFixtureModels } from '../../src/catalog/fixture.js';
import type { OpenRouterModel } from '../../src/catalog/types.js';
import { syncModels } from '../../src/catalog/sync.js';
import { captureLogger } from '../support/log-lines.js';
import { InputError, NotFoundError } from '../../src/errors.js';
import { ensureCategory } from '../../src/packages/categories.js';
import {
  createPackage,
  getPackage,
  importedItemToJson,
  importPackages,
  listPackages,
  packageToJson,
  PackageImportError,
  readImportFile,
  repricePackage,
  setPackageAvailability,
} from '../../src/packages/packages.js';
import type { DbHandle } from '../../src/db/dialect.js';

const config = defaultTestConfig();
const fixture = (name: string) => fileURLToPath(new URL(`../../fixtures/${name}`, import.meta.url));

async function packageCount(handle: DbHandle): Promise<number> {
  return (await handle.db.selectFrom('ai_token_packages').select('id').execute()).length;
}

function inputError(field: string, pattern: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof InputError, String(err));
    assert.equal(err.field, field);
    assert.match(err.message, pattern);
    return true;
  };
}

for (const dialect of testDialects()) {
  test(`[${dialect}] the worked example: gpt-4, 100k tokens → cost $3.00, price $3.75, profit $0.75, margin 25.0`, async (t) => {
    const handle = await tempDb(t, dialect);
    await seedCatalog(handle);
    const { logger, lines } = captureLogger();
    const { package: pkg, pricing } = await createPackage({ handle, config, logger }, { model: 'gpt-4', tokens: '100000', description: 'GPT-4 Premium Access - 100k tokens' });
    assert.deepEqual([pricing.costMicros, pricing.priceMicros, pricing.profitMicros, pricing.marginPercent, pricing.floorMicros], [3_000_000, 3_750_000, 750_000, 25, 3_300_000]);
    assert.deepEqual(
      { model: pkg.model, tokens: pkg.tokens, cost: pkg.costMicros, price: pkg.priceMicros, validity: pkg.validityDays, available: pkg.available, hold: pkg.holdReason },
      { model: 'openai/gpt-4', tokens: 100_000, cost: 3_000_000, price: 3_750_000, validity: 30, available: true, hold: null },
    );
    const json = packageToJson(pkg);
    assert.deepEqual(Object.keys(json).slice(0, 12), [
      'id',
      'model',
      'tokens',
      'description',
      'cost_usd',
      'price_usd',
      'profit_usd',
      'margin_percent',
      'cost_micros',
      'price_micros',
      'validity_days',
      'is_available',
    ]);
    assert.deepEqual(
      { ...json, id: 0 },
      {
        id: 0,
        model: 'openai/gpt-4',
        tokens: 100000,
        description: 'GPT-4 Premium Access - 100k tokens',
        cost_usd: 3,
        price_usd: 3.75,
        profit_usd: 0.75,
        margin_percent: 25,
        cost_micros: 3000000,
        price_micros: 3750000,
        validity_days: 30,
        is_available: true,
        hold_reason: null,
        price_mode: 'formula',
        category_id: null,
        subcategory_id: null,
      },
    );
    const created = lines.find((l) => l.business_event === true && l.event_type === 'package_created');
    assert.ok(created, 'business_event package_created logged');
    assert.equal(created.package_id, pkg.id);
    const arb = lines.find((l) => l.arbitrage === true);
    assert.deepEqual([arb?.model, arb?.tokens, arb?.cost, arb?.sell_price, arb?.profit, arb?.margin_percent], ['openai/gpt-4', 100000, 3, 3.75, 0.75, 25]);
  });

  test(`[${dialect}] bulk discount, explicit prices and the margin floor`, async (t) => {
    const handle = await tempDb(t, dialect);
    await seedCatalog(handle);
    const deps = { handle, config };
    // gpt-3.5-turbo 1M tokens: cost $0.50; ×1.25×0.95 = $0.59375 → $0.60
    const bulk = await createPackage(deps, { model: 'gpt-3.5-turbo', tokens: 1_000_000, description: 'bulk' });
    assert.deepEqual([bulk.pricing.costMicros, bulk.pricing.priceMicros, bulk.pricing.bulkDiscountApplied], [500_000, 600_000, true]);
    await assert.rejects(
      createPackage(deps, { model: 'gpt-4', tokens: 100_000, description: 'cheap', priceUsd: '3.29' }),
      inputError('price', /\$3\.29 is below the margin floor \$3\.30 .*use --price 3\.30 or more/),
    );
    const atFloor = await createPackage(deps, { model: 'gpt-4', tokens: 100_000, description: 'at floor', priceUsd: 3.3 });
    assert.deepEqual([atFloor.package.priceMicros, atFloor.pricing.explicit], [3_300_000, true]);
    await assert.rejects(createPackage(deps, { model: 'gpt-4', tokens: 1, description: 'x', priceUsd: 'abc' }), inputError('price', /not a USD amount/));
    assert.equal(await packageCount(handle), 2);
  });

  test(`[${dialect}] bad input names the field and changes nothing`, async (t) => {
    const handle = await tempDb(t, dialect);
    await seedCatalog(handle);
    const deps = { handle, config };
    const base = { model: 'gpt-4', tokens: 100_000, description: 'ok' };
    await assert.rejects(createPackage(deps, { ...base, model: 'claude-3-sonnet' }), inputError('model', /candidates: .*anthropic\/claude-3\.7-sonnet/));
    await assert.rejects(createPackage(deps, { ...base, model: 'openrouter/auto' }), inputError('model', /no fixed per-token price/));
    for (const tokens of [0, -5, 1.5, 10_000_000_001, 'abc', '']) {
      await assert.rejects(createPackage(deps, { ...base, tokens: tokens as number }), inputError('tokens', /whole number of tokens from 1 to 10,000,000,000/), String(tokens));
    }
    await assert.rejects(createPackage(deps, { ...base, description: '   ' }), inputError('description', /description is required/));
    await assert.rejects(createPackage(deps, { ...base, description: 'x'.repeat(201) }), inputError('description', /201 characters is too long; use at most 200/));
    for (const v of [0, 3651, 'week']) {
      await assert.rejects(createPackage(deps, { ...base, validityDays: v }), inputError('validity_days', /from 1 to 3650/));
    }
    await assert.rejects(createPackage(deps, { ...base, categoryId: 42 }), inputError('category', /no category with id 42; there are no categories yet/));
    assert.equal(await packageCount(handle), 0);
    // 1e10 tokens is accepted
    const big = await createPackage(deps, { ...base, model: 'gpt-3.5-turbo', tokens: '10,000,000,000', validityDays: '3650' });
    assert.deepEqual([big.package.tokens, big.package.validityDays], [10_000_000_000, 3650]);
  });

  test(`[${dialect}] categories: ensureCategory is idempotent; subcategories must sit under the category`, async (t) => {
    const handle = await tempDb(t, dialect);
    await seedCatalog(handle);
    const openai = await ensureCategory(handle, 'OpenAI');
    assert.equal((await ensureCategory(handle, ' OpenAI ')).id, openai.id);
    const gpt4 = await ensureCategory(handle, 'GPT-4', openai.id);
    const other = await ensureCategory(handle, 'Anthropic');
    const claude = await ensureCategory(handle, 'Claude', other.id);
    const { package: pkg } = await createPackage({ handle, config }, { model: 'gpt-4', tokens: 1000, description: 'd', categoryId: openai.id, subcategoryId: String(gpt4.id) });
    assert.deepEqual([pkg.categoryId, pkg.subcategoryId], [openai.id, gpt4.id]);
    await assert.rejects(
      createPackage({ handle, config }, { model: 'gpt-4', tokens: 1000, description: 'd', categoryId: openai.id, subcategoryId: claude.id }),
      inputError('subcategory', new RegExp(`category ${claude.id} \\(Claude\\) belongs to category ${other.id}, not ${openai.id}`)),
    );
    await assert.rejects(ensureCategory(handle, ''), inputError('category', /1 to 100 characters/));
  });

  test(`[${dialect}] import: the valid file stores every item; a dry run stores nothing`, async (t) => {
    const handle = await tempDb(t, dialect);
    await seedCatalog(handle);
    const { logger, lines } = captureLogger();
    const items = readImportFile(fixture('packages-valid.json'));
    const dry = await importPackages({ handle, config, logger }, items, { dryRun: true });
    assert.equal(dry.dryRun, true);
    assert.deepEqual(
      dry.items.map((i) => [i.values.model, i.package]),
      [
        ['openai/gpt-4', null],
        ['openai/gpt-3.5-turbo', null],
      ],
    );
    assert.equal(importedItemToJson(dry.items[0]).id, null);
    assert.equal(importedItemToJson(dry.items[0]).price_micros, 3_750_000);
    assert.equal(await packageCount(handle), 0);
    assert.equal(lines.length, 0);

    const done = await importPackages({ handle, config, logger }, items);
    assert.deepEqual(
      done.items.map((i) => [i.package?.model, i.package?.tokens, i.package?.priceMicros, i.package?.validityDays]),
      [
        ['openai/gpt-4', 100_000, 3_750_000, 30],
        ['openai/gpt-3.5-turbo', 1_000_000, 600_000, 60],
      ],
    );
    assert.equal(await packageCount(handle), 2);
    assert.equal(lines.filter((l) => l.event_type === 'package_created').length, 2);
  });

  test(`[${dialect}] import is all-or-nothing: the manual's example file is refused whole`, async (t) => {
    const handle = await tempDb(t, dialect);
    await seedCatalog(handle);
    const deps = { handle, config };
    await assert.rejects(importPackages(deps, readImportFile(fixture('packages-example.json'))), (err: unknown) => {
      assert.ok(err instanceof PackageImportError);
      assert.ok(err instanceof InputError);
      assert.equal(err.field, 'model');
      assert.match(err.message, /^package import refused, nothing was imported: 1 of 3 items is invalid\n/);
      assert.match(err.message, /\n {2}item 2 \(claude-3-sonnet\): model: "claude-3-sonnet" is not a model in the catalog; candidates: .*anthropic\/claude-3\.7-sonnet/);
      assert.deepEqual(
        err.problems.map((p) => [p.index, p.field]),
        [[1, 'model']],
      );
      return true;
    });
    assert.equal(await packageCount(handle), 0);

    // every problem of every item is reported, with the file's field names
    const bad = [
      { model: 'gpt-4', tokens: 100000, description: 'fine' },
      { model: 'gpt-4', tokens: 0, description: '', price: 3 },
      'not an object',
      { model: 'gpt-4', tokens: 100000, description: 'too cheap', price_usd: 1, validity_days: 9999, category_id: 5 },
    ];
    await assert.rejects(importPackages(deps, bad), (err: unknown) => {
      assert.ok(err instanceof PackageImportError);
      assert.deepEqual(
        err.problems.map((p) => `${p.index}:${p.field}`),
        ['1:price', '1:tokens', '1:description', '2:item', '3:validity_days', '3:category_id', '3:price_usd'],
      );
      assert.match(err.message, /3 of 4 items are invalid/);
      assert.match(err.message, /item 2 \(gpt-4\): price: unknown field; allowed: model, tokens/);
      assert.match(err.message, /item 3: item: expected an object/);
      assert.match(err.message, /item 4 \(gpt-4\): price_usd: \$1\.00 is below the margin floor \$3\.30 .*set price_usd to 3\.30 or more/);
      return true;
    });
    assert.equal(await packageCount(handle), 0);
    await assert.rejects(importPackages(deps, { model: 'gpt-4' }), inputError('file', /expected a JSON array/));
    await assert.rejects(importPackages(deps, []), inputError('file', /empty/));
  });

  test(`[${dialect}] list, disable, enable (clears a hold; refused while the model is gone)`, async (t) => {
    const handle = await tempDb(t, dialect);
    const a = await seedPackage(handle, { model: 'gpt-4' });
    const b = await seedPackage(handle, { model: 'gpt-3.5-turbo', tokens: 500_000 });
    assert.deepEqual(
      (await listPackages(handle)).map((p) => p.id),
      [a.id, b.id],
    );
    const off = await setPackageAvailability(handle, a.id, false);
    assert.equal(off.available, false);
    assert.deepEqual(
      (await listPackages(handle)).map((p) => p.id),
      [b.id],
    );
    assert.deepEqual(
      (await listPackages(handle, { all: true })).map((p) => p.id),
      [a.id, b.id],
    );
    assert.deepEqual(
      (await listPackages(handle, { all: true, model: 'openai/gpt-4' })).map((p) => p.id),
      [a.id],
    );

    await handle.db.updateTable('ai_token_packages').set({ hold_reason: 'margin' }).where('id', '=', a.id).execute();
    const on = await setPackageAvailability(handle, a.id, true);
    assert.deepEqual([on.available, on.holdReason], [true, null]);

    await syncModels(
      handle,
      loadFixtureModels().filter((m) => m.id !== 'openai/gpt-4'),
    );
    assert.deepEqual((await getPackage(handle, a.id)).holdReason, 'gone');
    await assert.rejects(setPackageAvailability(handle, a.id, true), inputError('id', /package \d+ stays on hold: its model openai\/gpt-4 is no longer offered upstream/));
    await assert.rejects(setPackageAvailability(handle, 9999, true), (err: unknown) => err instanceof NotFoundError && /no package with id 9999/.test(err.message));
  });

  test(`[${dialect}] reprice: recomputes at current rates and lifts a margin hold; explicit prices respect the floor`, async (t) => {
    const handle = await tempDb(t, dialect);
    const pkg = await seedPackage(handle, { model: 'gpt-4', priceUsd: '3.75' }); // fixed: held by the sync below
    const manual = await seedPackage(handle, { model: 'gpt-4', tokens: 200_000 });
    await setPackageAvailability(handle, manual.id, false);
    const raised: OpenRouterModel[] = loadFixtureModels().map((m) => (m.id === 'openai/gpt-4' ? { ...m, pricing: { ...m.pricing, prompt: '0.00004', completion: '0.00008' } } : m));
    const report = await syncModels(handle, raised, { config });
    assert.deepEqual(
      report.holds.map((h) => h.packageId),
      [pkg.id],
    );

    await assert.rejects(repricePackage({ handle, config }, pkg.id, { priceUsd: '4.39' }), inputError('price', /below the margin floor \$4\.40/));
    assert.equal((await getPackage(handle, pkg.id)).holdReason, 'margin');
    const { logger, lines } = captureLogger();
    const r = await repricePackage({ handle, config, logger }, pkg.id);
    assert.deepEqual([r.previous.costMicros, r.previous.priceMicros], [3_000_000, 3_750_000]);
    assert.deepEqual([r.package.costMicros, r.package.priceMicros, r.package.available, r.package.holdReason], [4_000_000, 5_000_000, true, null]);
    assert.ok(lines.some((l) => l.event_type === 'package_repriced' && l.package_id === pkg.id));
    const explicit = await repricePackage({ handle, config }, pkg.id, { priceUsd: 4.4 });
    assert.equal(explicit.package.priceMicros, 4_400_000);
    // a manually disabled package is repriced but stays disabled
    const m = await repricePackage({ handle, config }, manual.id);
    assert.deepEqual([m.package.priceMicros, m.package.available], [10_000_000, false]);
  });
}

test('readImportFile names the file on unreadable or malformed JSON', (t) => {
  const dir = tempDir(t);
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, '[{"model": "gpt-4",]');
  assert.throws(() => readImportFile(bad), inputError('file', /bad\.json is not valid JSON/));
  assert.throws(() => readImportFile(join(dir, 'missing.json')), inputError('file', /cannot read .*missing\.json: ENOENT/));
});
