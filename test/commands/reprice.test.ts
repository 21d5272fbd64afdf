import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openAndMigrate, openDb } from '../../src/db/dialect.js';
import { tempDir } from '../support/db.js';
import { defaultTestConfig, seedCatalog } from '../support/seed.js';
import { createPackage } from '../../src/packages/packages.js';
import { arbEnvDb, runArb } from './support.js';
import { writeShopBeforePriceModes } from '../support/old-shop.js';

test("arb package reprice --all reads the manual's .env line, reprices the formula packages, lists the fixed ones with their margin; bad combinations are exit 2", async (t) => {
  const env = await arbEnvDb(t, tempDir(t));
  const handle = await openAndMigrate(env.db);
  await seedCatalog(handle);
  await createPackage({ handle, config: defaultTestConfig() }, { model: 'gpt-4', tokens: 100_000, description: 'GPT-4 Premium Access - 100k tokens' });
  await createPackage({ handle, config: defaultTestConfig() }, { model: 'gpt-4', tokens: 200_000, description: 'GPT-4 promo', priceUsd: '7.00' });
  await handle.close();
  writeFileSync(join(env.dir, '.env'), 'TOKEN_MARKUP_PERCENTAGE="30"  # Increase to 30%\n');

  for (const [args, message] of [
    [['package', 'reprice'], /^error: id: give the package id to reprice \(arb package reprice 3\), or --all for every package\n$/],
    [['package', 'reprice', '1', '--all'], /^error: id: --all reprices every package; drop "1", or drop --all to reprice package 1 alone\n$/],
    [['package', 'reprice', '--all', '--price', '5'], /^error: price: --price sets one package's price; use arb package reprice <id> --price USD \(without --all\)\n$/],
  ] as const) {
    const r = await runArb(args, env);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
  const h = openDb(env.db);
  const untouched = await h.db.selectFrom('ai_token_packages').select(['id', 'price']).orderBy('id').execute();
  await h.close();
  assert.deepEqual(
    untouched.map((p) => Number(p.price)),
    [3_750_000, 7_000_000],
    'a refused command changes nothing',
  );

  const r = await runArb(['package', 'reprice', '--all', '--json'], env);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.deepEqual(doc.settings, { markup_percent: 30, min_profit_margin: 0.1, bulk_discount_percent: 5, bulk_discount_threshold: 1_000_000 });
  assert.deepEqual(
    doc.repriced.map((p: Record<string, unknown>) => [p.id, p.previous_price_usd, p.price_usd, p.margin_percent, p.price_mode]),
    [[1, 3.75, 3.9, 30, 'formula']],
  );
  assert.deepEqual(
    doc.fixed_price.map((p: Record<string, unknown>) => [p.id, p.price_usd, p.cost_now_usd, p.floor_usd, p.margin_percent_now, p.below_floor, p.price_mode]),
    [[2, 7, 6, 6.6, 16.7, false, 'fixed']],
  );

  const text = await runArb(['package', 'reprice', '--all'], env);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^Package prices follow the pricing settings \(markup 30 %, margin floor 10 %, bulk discount 5 % from 1,000,000 tokens\):$/m);
  assert.match(text.stdout, /^no price changed\.$/m);
  assert.match(text.stdout, /^#2 openai\/gpt-4: \$7\.00, margin 16\.7 %$/m);

  const log = readFileSync(join(env.logDir, 'arbitrage.log'), 'utf8');
  assert.equal(log.split('\n').filter((l) => l.includes('"arbitrage":true') && l.includes('"operation":"package_repriced"')).length, 1);
});

test('arb package reprice on a database from before price modes: --all decides and prints each mode; <id> --formula lets a fixed price follow the formula; bad combinations are exit 2', async (t) => {
  const env = await arbEnvDb(t, tempDir(t));
  const handle = openDb(env.db);
  await writeShopBeforePriceModes(handle);
  await handle.close();

  const r = await runArb(['package', 'reprice', '--all'], env);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^2 package\(s\) stored before price modes were recorded, now decided:$/m);
  assert.match(r.stdout, /^#1 openai\/gpt-4: follows the formula \(its price \$3\.75 is the formula's price\)$/m);
  assert.match(r.stdout, /^#2 openai\/gpt-4: keeps its price \$7\.00 as a fixed price \(the formula gives \$7\.50\); to let it follow the formula: arb package reprice 2 --formula$/m);
  assert.match(r.stdout, /^#2 openai\/gpt-4: \$7\.00, margin 16\.7 %$/m);
  const log = readFileSync(join(env.logDir, 'arbitrage.log'), 'utf8');
  assert.equal(log.split('\n').filter((l) => l.includes('"business_event":true') && l.includes('"event_type":"package_price_mode_decided"')).length, 2);

  for (const [args, message] of [
    [['package', 'reprice', '2', '--formula', '--price', '8'], /^error: formula: --formula prices the package by the formula, --price fixes its price; give one of them\n$/],
    [['package', 'reprice', '--all', '--formula'], /^error: formula: --formula puts one fixed-price package on the formula; use arb package reprice <id> --formula \(without --all\)\n$/],
  ] as const) {
    const bad = await runArb(args, env);
    assert.equal(bad.code, 2, `${args.join(' ')}: ${bad.stderr}`);
    assert.match(bad.stderr, message);
  }
  const json = JSON.parse((await runArb(['package', 'list', '--all', '--json'], env)).stdout);
  assert.deepEqual(
    json.packages.map((p: Record<string, unknown>) => [p.id, p.price_usd, p.price_mode]),
    [
      [1, 3.75, 'formula'],
      [2, 7, 'fixed'],
    ],
  );

  const formula = await runArb(['package', 'reprice', '2', '--formula'], env);
  assert.equal(formula.code, 0, formula.stderr);
  assert.match(formula.stdout, /^repriced package 2: price \$7\.00 → \$7\.50/m);
  assert.match(formula.stdout, /^priced by the formula: follows the pricing settings and the upstream rates$/m);
  const fixed = await runArb(['package', 'reprice', '1', '--price', '4.00'], env);
  assert.equal(fixed.code, 0, fixed.stderr);
  assert.match(fixed.stdout, /^fixed price: kept when the settings change \(arb package reprice 1 --formula lets it follow the formula\)$/m);
});
