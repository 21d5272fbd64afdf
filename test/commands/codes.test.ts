/** `arb codes create|list`, spawned: codes printed once (never logged, only hashes stored), used/unused without the codes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { openAndMigrate, openDb } from '../../src/db/dialect.js';
import { redeemCode } from '../../src/codes/gift-codes.js';
import { tempDir } from '../support/db.js';
import { arbEnvDb, runArb, seedShop } from './support.js';

test('arb codes create prints the codes once; arb codes list shows used/unused without them; bad input exits 2', async (t) => {
  const env = await arbEnvDb(t, tempDir(t));
  const handle = await openAndMigrate(env.db);
  const shop = await seedShop(handle);
  await handle.close();

  const usd = await runArb(['codes', 'create', '3', '--usd', '10', '--expires', '30d'], env);
  assert.equal(usd.code, 0, usd.stderr);
  const lines = usd.stdout.trim().split('\n');
  assert.match(lines[0], /^3 gift codes worth \$10\.00 each, batch \d{8}-[0-9a-f]{6}, valid until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\. Shown only now/);
  const codes = lines.slice(1);
  assert.equal(codes.length, 3);
  for (const c of codes) assert.match(c, /^ARB-(\w{4}-){3}\w{4}$/);

  const pack = await runArb(['codes', 'create', '1', '--package', String(shop.gpt4PackageId), '--json'], env);
  assert.equal(pack.code, 0, pack.stderr);
  const doc = JSON.parse(pack.stdout);
  assert.equal(doc.package_id, shop.gpt4PackageId);
  assert.equal(doc.expires_at, null);
  assert.equal(doc.codes.length, 1);

  const h = openDb(env.db);
  await redeemCode({ handle: h }, { telegramId: 4242, code: codes[1] });
  const stored = JSON.stringify(await h.db.selectFrom('gift_codes').selectAll().execute());
  await h.close();
  for (const c of [...codes, ...doc.codes]) assert.ok(!stored.includes(c), 'only hashes are stored');

  const list = await runArb(['codes', 'list'], env);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /^.* +\$10\.00 +used +.* +4242( |$)/m);
  assert.match(list.stdout, /^.* +package \d+ +unused +.* +never( |$)/m);
  assert.match(list.stdout, /4 codes: 3 unused, 1 used, 0 expired/);
  const json = JSON.parse((await runArb(['codes', 'list', '--json', '--batch', doc.batch], env)).stdout);
  assert.equal(json.codes.length, 1);
  assert.equal(json.codes[0].state, 'unused');
  for (const c of [...codes, ...doc.codes]) assert.ok(!list.stdout.includes(c), 'the list never shows a code');
  const logs = readdirSync(env.logDir)
    .map((f) => readFileSync(join(env.logDir, f), 'utf8'))
    .join('');
  for (const c of [...codes, ...doc.codes]) assert.ok(!logs.includes(c), 'codes never reach the log');
  assert.match(logs, /"event_type":"gift_codes_created"/);

  for (const [args, message] of [
    [['codes', 'create', 'ten', '--usd', '5'], /^error: count: "ten" is not a whole number between 1 and 10,000/],
    [['codes', 'create', '5'], /^error: --usd\/--package: give exactly one/],
    [['codes', 'create', '5', '--usd', '5', '--expires', 'soon'], /^error: --expires: "soon" is not a lifetime/],
    [['codes', 'create', '5', '--package', '999'], /^error: --package: no package 999/],
  ] as const) {
    const r = await runArb(args, env);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
  assert.equal(JSON.parse((await runArb(['codes', 'list', '--json'], env)).stdout).codes.length, 4, 'bad input made nothing');
});
