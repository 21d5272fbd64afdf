/** `arb package import` is safe to repeat: unchanged / --upsert / --dry-run statuses; large imports print a summary. */
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

test('arb package import is idempotent: a second import leaves everything unchanged; --upsert updates by model, tokens and description; --dry-run says which', async (t) => {
  const env = await withCatalog(t);
  const file = join(ROOT, 'fixtures', 'packages-valid.json');
  const first = await runArb(['package', 'import', file, '--json'], env);
  assert.equal(first.code, 0, first.stderr);
  assert.deepEqual([JSON.parse(first.stdout).created, JSON.parse(first.stdout).unchanged], [2, 0]);

  const again = await runArb(['package', 'import', file], env);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /^ +1 +unchanged +1 +openai\/gpt-4 /m);
  assert.match(again.stdout, /^0 created, 0 updated, 2 unchanged \(2 items\)$/m);
  assert.equal(await packageCount(env.db), 2, 'the same file twice creates nothing twice');

  // the operator edits the file: a new price for one package, a new package, one left as it was
  const edited = join(env.dir, 'edited.json');
  writeFileSync(
    edited,
    JSON.stringify([
      { model: 'gpt-4', tokens: 100000, description: 'GPT-4 Premium Access - 100k tokens', validity_days: 30, price_usd: 4 },
      { model: 'gpt-3.5-turbo', tokens: 1000000, description: 'GPT-3.5 Turbo Bulk - 1M tokens', validity_days: 60 },
      { model: 'gpt-4', tokens: 200000, description: 'GPT-4 - 200k tokens' },
    ]),
  );
  const dry = await runArb(['package', 'import', edited, '--dry-run', '--upsert', '--json'], env);
  assert.equal(dry.code, 0, dry.stderr);
  const d = JSON.parse(dry.stdout);
  assert.deepEqual([d.dry_run, d.created, d.updated, d.unchanged], [true, 1, 1, 1]);
  assert.deepEqual(
    d.packages.map((p: { status: string; id: number | null }) => [p.status, p.id]),
    [
      ['updated', 1],
      ['unchanged', 2],
      ['created', null],
    ],
  );
  assert.deepEqual(d.packages[0].changes, ['price $3.75 → $4.00', 'price_mode formula → fixed']);
  const dryText = await runArb(['package', 'import', edited, '--dry-run', '--upsert'], env);
  assert.match(dryText.stdout, /^ +1 +would be updated +1 +openai\/gpt-4 +100,000 +\$4\.00 .*price \$3\.75 → \$4\.00; price_mode formula → fixed$/m);
  assert.match(dryText.stdout, /^dry run: 1 would be created, 1 would be updated, 1 unchanged \(3 items\); nothing was stored$/m);
  assert.equal(await packageCount(env.db), 2, 'a dry run stores nothing');

  const plain = await runArb(['package', 'import', edited], env);
  assert.equal(plain.code, 0, plain.stderr);
  assert.match(plain.stdout, /^1 created, 0 updated, 2 unchanged \(3 items\)$/m);
  assert.match(plain.stdout, /^1 existing package\(s\) differ from the file; --upsert updates them$/m);
  const upsert = await runArb(['package', 'import', edited, '--upsert', '--json'], env);
  assert.deepEqual([JSON.parse(upsert.stdout).created, JSON.parse(upsert.stdout).updated, JSON.parse(upsert.stdout).unchanged], [0, 1, 2]);
  const list = JSON.parse((await runArb(['package', 'list', '--json'], env)).stdout).packages;
  // the price the file gives is kept when the settings change; the others follow the formula
  assert.deepEqual(
    list.map((p: { id: number; price_micros: number; price_mode: string }) => [p.id, p.price_micros, p.price_mode]),
    [
      [1, 4_000_000, 'fixed'],
      [2, 600_000, 'formula'],
      [3, 7_500_000, 'formula'],
    ],
  );

  const dup = join(env.dir, 'dup.json');
  writeFileSync(
    dup,
    JSON.stringify([
      { model: 'gpt-4', tokens: 5000, description: 'x' },
      { model: 'openai/gpt-4', tokens: 5000, description: ' x ' },
    ]),
  );
  const refused = await runArb(['package', 'import', dup], env);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /item 2 \(openai\/gpt-4\): description: item 1 has the same model, tokens and description/);
  assert.equal(await packageCount(env.db), 3);
});

test('arb package import of many items: a summary and the first rows; every row with --all', async (t) => {
  const env = await withCatalog(t);
  const file = join(env.dir, 'many.json');
  writeFileSync(file, JSON.stringify(Array.from({ length: 45 }, (_, i) => ({ model: 'gpt-4', tokens: 1000 * (i + 1), description: `GPT-4 ${i + 1}k` }))));
  const r = await runArb(['package', 'import', file, '--dry-run'], env);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.split('\n').filter((l) => /^ +\d+ +would be created/.test(l)).length, 20);
  assert.match(r.stdout, /^… and 25 more \(--all lists every item, --json prints them all\)$/m);
  assert.match(r.stdout, /^dry run: 45 would be created, 0 would be updated, 0 unchanged \(45 items\); nothing was stored$/m);
  const all = await runArb(['package', 'import', file, '--dry-run', '--all'], env);
  assert.equal(all.stdout.split('\n').filter((l) => /^ +\d+ +would be created/.test(l)).length, 45);
  assert.doesNotMatch(all.stdout, /more \(--all/);
});
