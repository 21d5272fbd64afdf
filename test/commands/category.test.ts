/**
 * `arb category …`, and the manual's bulk file (fixtures/packages-manual.json, copied from the manual's
 * "Bulk Package Creation" block) imported with its category ids 1/1 and 1/2.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openAndMigrate, openDb } from '../../src/db/dialect.js';
import { tempDir } from '../support/db.js';
import { seedCatalog } from '../support/seed.js';
import { arbEnvDb, ROOT, runArb } from './support.js';

const MANUAL_FILE = join(ROOT, 'fixtures', 'packages-manual.json');

test("arb category create|list|rename|delete; with categories 1/1 and 1/2 the manual's bulk file is refused only for its retired model, by name with candidates", async (t) => {
  const env = await arbEnvDb(t, tempDir(t));
  const handle = await openAndMigrate(env.db);
  await seedCatalog(handle);
  await handle.close();

  const created = await runArb(['category', 'create', 'AI Models'], env);
  assert.equal(created.code, 0, created.stderr);
  assert.equal(created.stdout, 'created category 1 "AI Models"\n');
  const sub = await runArb(['category', 'create', 'Claude', '--parent', '1', '--json'], env);
  assert.equal(sub.code, 0, sub.stderr);
  assert.deepEqual({ ...JSON.parse(sub.stdout), created_at: undefined }, { id: 2, name: 'Claude', parent_id: 1, created_at: undefined });

  const refused = await runArb(['package', 'import', MANUAL_FILE], env);
  assert.equal(refused.code, 2);
  assert.match(
    refused.stderr,
    /^error: package import refused, nothing was imported: 1 of 2 items is invalid\n {2}item 2 \(claude-3-sonnet\): model: "claude-3-sonnet" is not a model in the catalog; candidates: .*anthropic\/claude-3\.7-sonnet/,
  );
  assert.doesNotMatch(refused.stderr, /category/, 'the categories are fine now');

  // the file's first item alone imports with its category ids
  writeFileSync(join(env.dir, 'first.json'), JSON.stringify([JSON.parse(readFileSync(MANUAL_FILE, 'utf8'))[0]]));
  const imported = await runArb(['package', 'import', join(env.dir, 'first.json'), '--json'], env);
  assert.equal(imported.code, 0, imported.stderr);
  assert.deepEqual(
    JSON.parse(imported.stdout).packages.map((p: Record<string, unknown>) => [p.model, p.category_id, p.subcategory_id]),
    [['openai/gpt-4', 1, 1]],
  );

  const list = await runArb(['category', 'list'], env);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /^ 1 +AI Models +1 +1$/m);
  assert.match(list.stdout, /^ 2 +Claude +1 AI Models +0 +0$/m);

  for (const [args, code, pattern] of [
    [['category', 'create', 'AI Models'], 2, /^error: name: category 1 "AI Models" already exists; use its id, or pick another name\n$/],
    [['category', 'rename', '9', 'New'], 2, /^error: id: no category with id 9; see arb category list\n$/],
    [['category', 'delete', '1'], 2, /^error: id: category 1 "AI Models" has 1 subcategory \(2 "Claude"\); delete or move them first\n$/],
  ] as const) {
    const r = await runArb(args, env);
    assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, pattern);
  }
  const renamed = await runArb(['category', 'rename', '2', 'Anthropic'], env);
  assert.equal(renamed.stdout, 'renamed category 2: "Claude" → "Anthropic"\n');
  const deleted = await runArb(['category', 'delete', '2', '--json'], env);
  assert.equal(deleted.code, 0, deleted.stderr);
  assert.deepEqual(JSON.parse(deleted.stdout).moved_packages, []);

  const inUse = await runArb(['category', 'delete', '1'], env);
  assert.equal(inUse.code, 2);
  assert.match(
    inUse.stderr,
    /^error: id: category 1 "AI Models" is used by 1 package\(s\): #1 openai\/gpt-4 "GPT-4 Access - 100k tokens"; move them with --move-to <category id>, or rename the category instead\n$/,
  );
  const h = openDb(env.db);
  try {
    assert.equal((await h.db.selectFrom('categories').select('id').execute()).length, 1, 'the refused delete changed nothing');
  } finally {
    await h.close();
  }
});
