import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openAndMigrate, openDb, type OpenDbOptions } from '../../src/db/dialect.js';
import { tempDir } from '../support/db.js';
import { seedCatalog } from '../support/seed.js';
import { arbEnvDb, ROOT, runArb } from './support.js';

async function withCatalog(t: Parameters<typeof tempDir>[0]) {
  const env = await arbEnvDb(t, tempDir(t));
  const handle = await openAndMigrate(env.db);
  await seedCatalog(handle);
  await handle.close();
  return env;
}

async function packageCount(db: OpenDbOptions): Promise<number> {
  const h = openDb(db);
  try {
    return (await h.db.selectFrom('ai_token_packages').select('id').execute()).length;
  } finally {
    await h.close();
  }
}

test('arb package create: the SPEC worked example, the bulk discount, and the breakdown as text', async (t) => {
  const env = await withCatalog(t);
  const r = await runArb(['package', 'create', 'gpt-4', '100000', 'GPT-4 Premium Access - 100k tokens', '--json'], env);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.deepEqual(
    { ...doc, pricing: undefined },
    {
      id: 1,
      model: 'openai/gpt-4',
      tokens: 100_000,
      description: 'GPT-4 Premium Access - 100k tokens',
      cost_usd: 3,
      price_usd: 3.75,
      profit_usd: 0.75,
      margin_percent: 25,
      cost_micros: 3_000_000,
      price_micros: 3_750_000,
      validity_days: 30,
      is_available: true,
      hold_reason: null,
      price_mode: 'formula',
      category_id: null,
      subcategory_id: null,
      pricing: undefined,
    },
  );
  assert.deepEqual(doc.pricing, { unit_rate_micros_per_mtok: 30_000_000, floor_usd: 3.3, floor_micros: 3_300_000, bulk_discount_applied: false, explicit_price: false });

  const bulk = await runArb(['package', 'create', 'openai/gpt-4', '1000000', 'GPT-4 bulk', '--validity-days', '90'], env);
  assert.equal(bulk.code, 0, bulk.stderr);
  assert.match(bulk.stdout, /^created package 2$/m);
  assert.match(bulk.stdout, /^cost: +\$30\.00 \(1,000,000 × \$30\.00\/Mtok\)$/m);
  assert.match(bulk.stdout, /^price: +\$35\.63$/m);
  assert.match(bulk.stdout, /^margin: +18\.8 %$/m);
  assert.match(bulk.stdout, /^floor: +\$33\.00 \(lowest accepted price: cost \+ 10 %\)$/m);
  assert.match(bulk.stdout, /^bulk: +−5 % applied \(1,000,000 tokens or more\)$/m);
  assert.match(bulk.stdout, /^validity: +90 days$/m);

  const explicit = await runArb(['package', 'create', 'gpt-4', '100000', 'GPT-4 at 4 dollars', '--price', '4', '--json'], env);
  assert.equal(explicit.code, 0, explicit.stderr);
  assert.equal(JSON.parse(explicit.stdout).price_micros, 4_000_000);
  assert.equal(JSON.parse(explicit.stdout).pricing.explicit_price, true);
});

test('arb package create: bad input is one line naming the field and the fix, exit 2, nothing created', async (t) => {
  const env = await withCatalog(t);
  const cases: [string[], RegExp][] = [
    [['gpt-4', '100000', 'cheap', '--price', '3.00'], /^error: price: \$3\.00 is below the margin floor \$3\.30 for 100,000 tokens of openai\/gpt-4; use --price 3\.30 or more, or omit --price\n$/],
    [['gpt-99', '100000', 'x'], /^error: model: .*gpt-99/],
    [['gpt-4', '0', 'x'], /^error: tokens: "0" is out of range; use a whole number of tokens from 1 to 10,000,000,000, e\.g\. 100000\n$/],
    [['gpt-4', '-5', 'x'], /^error: tokens: "-5" is not a number of tokens; use a whole number of tokens from 1 to 10,000,000,000/],
    [['gpt-4', '99999999999999', 'x'], /^error: tokens: "99999999999999" is out of range/],
    [['gpt-4', 'lots', 'x'], /^error: tokens: "lots" is not a number of tokens/],
    [['gpt-4', '100000', ''], /^error: description: a description is required/],
    [['gpt-4', '100000', 'x', '--validity-days', '0'], /^error: validity_days: "0" is not valid; use a whole number of days from 1 to 3650/],
    [['gpt-4', '100000', 'x', '--category', '7'], /^error: category: no category with id 7; there are no categories yet/],
    [['gpt-4', '100000', 'x', '--price', 'cheap'], /^error: price: "cheap" is not a USD amount; write it like 3\.75/],
    [['gpt-4', '100000', 'x', '--prise', '3'], /^error: --prise: unknown option; see arb package create --help\n$/],
    [['gpt-4', '100000', 'GPT-4', 'Premium'], /^error: description: too many arguments \(4\); put the description in quotes/],
  ];
  for (const [args, message] of cases) {
    const r = await runArb(['package', 'create', ...args], env);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message, args.join(' '));
    assert.equal(r.stdout, '');
  }
  assert.equal(await packageCount(env.db), 0);
});

test('arb package import: the manual example file is refused whole (item 2, model), the valid one dry-runs then imports', async (t) => {
  const env = await withCatalog(t);
  const refused = await runArb(['package', 'import', join(ROOT, 'fixtures', 'packages-example.json')], env);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /^error: package import refused, nothing was imported: 1 of 3 items is invalid\n {2}item 2 \(claude-3-sonnet\): model: /);
  assert.equal(await packageCount(env.db), 0);
  const refusedJson = await runArb(['package', 'import', join(ROOT, 'fixtures', 'packages-example.json'), '--json'], env);
  assert.equal(refusedJson.code, 2);
  const problems = JSON.parse(refusedJson.stdout).problems;
  assert.deepEqual(
    problems.map((p: { item: number; field: string }) => [p.item, p.field]),
    [[2, 'model']],
  );

  const dry = await runArb(['package', 'import', join(ROOT, 'fixtures', 'packages-valid.json'), '--dry-run'], env);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /^ +1 +would be created +- +openai\/gpt-4 +100,000 +\$3\.75 +25\.0 % +30 +GPT-4 Premium Access - 100k tokens$/m);
  assert.match(dry.stdout, /^ +2 +would be created +- +openai\/gpt-3\.5-turbo +1,000,000 +\$0\.60 +20\.0 % +60 /m);
  assert.match(dry.stdout, /^dry run: 2 would be created, 0 would be updated, 0 unchanged \(2 items\); nothing was stored$/m);
  assert.equal(await packageCount(env.db), 0);

  const imported = await runArb(['package', 'import', join(ROOT, 'fixtures', 'packages-valid.json'), '--json'], env);
  assert.equal(imported.code, 0, imported.stderr);
  const doc = JSON.parse(imported.stdout);
  assert.equal(doc.imported, true);
  assert.deepEqual(
    doc.packages.map((p: { id: number; price_micros: number }) => [p.id, p.price_micros]),
    [
      [1, 3_750_000],
      [2, 600_000],
    ],
  );
  assert.equal(await packageCount(env.db), 2);

  writeFileSync(join(env.dir, 'broken.json'), '[{"model": "gpt-4", ');
  writeFileSync(
    join(env.dir, 'bad-items.json'),
    JSON.stringify([
      { model: 'gpt-4', tokens: 100000, description: 'ok' },
      { model: 'gpt-4', tokens: -5, description: 'neg', colour: 'red' },
    ]),
  );
  for (const [file, message] of [
    ['missing.json', /^error: file: cannot read missing\.json: ENOENT\n$/],
    ['broken.json', /^error: file: broken\.json is not valid JSON \(.*\); expected an array of packages\n$/],
    [
      'bad-items.json',
      /^error: package import refused, nothing was imported: 1 of 2 items is invalid\n {2}item 2 \(gpt-4\): colour: unknown field; .*\n {2}item 2 \(gpt-4\): tokens: -5 is out of range/,
    ],
  ] as const) {
    const r = await runArb(['package', 'import', file], env);
    assert.equal(r.code, 2, `${file}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
  assert.equal(await packageCount(env.db), 2);
});

test('arb package list / disable / enable / reprice', async (t) => {
  const env = await withCatalog(t);
  assert.equal((await runArb(['package', 'import', join(ROOT, 'fixtures', 'packages-valid.json')], env)).code, 0);
  const off = await runArb(['package', 'disable', '1'], env);
  assert.equal(off.code, 0, off.stderr);
  assert.equal(off.stdout, 'package 1 (openai/gpt-4, 100,000 tokens) is off sale\n');
  const onSale = JSON.parse((await runArb(['package', 'list', '--json'], env)).stdout).packages;
  assert.deepEqual(
    onSale.map((p: { id: number }) => p.id),
    [2],
  );
  const all = await runArb(['package', 'list', '--all'], env);
  assert.match(all.stdout, /^ +1 +openai\/gpt-4 .* no +/m);
  assert.equal((await runArb(['package', 'enable', '1'], env)).code, 0);

  const reprice = await runArb(['package', 'reprice', '1', '--price', '5', '--json'], env);
  assert.equal(reprice.code, 0, reprice.stderr);
  const doc = JSON.parse(reprice.stdout);
  assert.equal(doc.price_micros, 5_000_000);
  assert.equal(doc.previous.price_micros, 3_750_000);
  const text = await runArb(['package', 'reprice', '1'], env);
  assert.match(text.stdout, /^repriced package 1: price \$5\.00 → \$3\.75, cost \$3\.00 → \$3\.00$/m);
  for (const [args, message] of [
    [['package', 'enable', 'x'], /^error: id: "x" is not an id; use a positive whole number \(see arb package list --all\)/],
    [['package', 'disable', '99'], /^error: id: no package with id 99; see `arb package list --all`/],
    [['package', 'reprice', '1', '--price', '1'], /^error: price: \$1\.00 is below the margin floor \$3\.30/],
  ] as const) {
    const r = await runArb(args, env);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, message);
  }
});
