import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import { openAndMigrate, openDb, type OpenDbOptions } from '../../src/db/dialect.js';
import { tempDir } from '../support/db.js';
import { arbEnvDb, runArb, seedShop } from './support.js';

async function setup(t: Parameters<typeof tempDir>[0]) {
  const env = await arbEnvDb(t, tempDir(t));
  const handle = await openAndMigrate(env.db);
  const shop = await seedShop(handle);
  await handle.close();
  return { env, shop };
}

async function count(db: OpenDbOptions, table: 'transactions' | 'ai_token_allocations'): Promise<number> {
  const h = openDb(db);
  try {
    return Number((await sql<{ n: number }>`select count(*) as n from ${sql.table(table)}`.execute(h.db)).rows[0].n);
  } finally {
    await h.close();
  }
}

test('arb keys list: masked keys only, filter by user, JSON and table', async (t) => {
  const { env, shop } = await setup(t);
  const r = await runArb(['keys', 'list', '--json'], env);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.equal(doc.keys.length, 4);
  for (const k of doc.keys) assert.match(k.api_key, /^sk-arb-[A-Za-z0-9_-]{4}…[A-Za-z0-9_-]{4}$/);
  for (const full of shop.keys) assert.ok(!r.stdout.includes(full), 'a full key never appears in a listing');
  const first = doc.keys.find((k: { id: number }) => k.id === shop.allocations[0]);
  assert.equal(first.tokens_used, 3_000);
  assert.equal(first.tokens_remaining, 97_000);
  assert.equal(first.price_paid_micros, 3_750_000);
  assert.equal(first.status, 'active');

  const mine = await runArb(['keys', 'list', '--user', '1001', '--json'], env);
  assert.deepEqual(
    JSON.parse(mine.stdout).keys.map((k: { telegram_id: number }) => k.telegram_id),
    [1001, 1001],
  );
  const table = await runArb(['keys', 'list', '--user', '1002'], env);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^ *\d+ +sk-arb-.{4}….{4} +1002 +openai\/gpt-4 +0 \/ 100,000 +100,000 +active /m);
  const bad = await runArb(['keys', 'list', '--user', 'bob'], env);
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr, 'error: --user: "bob" is not a Telegram user id; use the numeric id, e.g. 123456789\n');
});

test('arb keys revoke: by a prefix of the full key or of the masked form; ambiguous and unknown prefixes are exit 2', async (t) => {
  const { env, shop } = await setup(t);
  // make keys 1 and 2 look alike in their masked form
  const h = openDb(env.db);
  const k1 = (await h.db.selectFrom('ai_token_allocations').select('api_key').where('id', '=', shop.allocations[0]).executeTakeFirstOrThrow()).api_key;
  const head = k1.split('…')[0];
  await h.db
    .updateTable('ai_token_allocations')
    .set({ api_key: `${head}…zzzz` })
    .where('id', '=', shop.allocations[1])
    .execute();
  await h.close();

  const ambiguous = await runArb(['keys', 'revoke', head], env);
  assert.equal(ambiguous.code, 2);
  assert.match(
    ambiguous.stderr,
    new RegExp(
      `^error: key-prefix: "${head}" matches 2 keys: ${head}….{4} \\(id ${shop.allocations[0]}, user 1001, openai/gpt-4, active\\); ${head}…zzzz \\(id ${shop.allocations[1]}, user 1001, anthropic/claude-3-haiku, active\\); give more characters of the key`,
    ),
  );

  const unknown = await runArb(['keys', 'revoke', 'sk-arb-ZZZZZZZZ'], env);
  assert.equal(unknown.code, 2);
  assert.equal(unknown.stderr, 'error: key-prefix: no key matches "sk-arb-ZZZZZZZZ"; see arb keys list\n');
  const notKey = await runArb(['keys', 'revoke', 'hello'], env);
  assert.equal(notKey.code, 2);
  assert.match(notKey.stderr, /^error: key-prefix: "hello" is not a key prefix; give the start of the key as shown by arb keys list, e\.g\. sk-arb-AbCd/);

  // a longer prefix of the full key is still ambiguous against the masked form; the whole key is exact
  const whole = await runArb(['keys', 'revoke', shop.keys[0], '--json', '--yes'], env);
  assert.equal(whole.code, 0, whole.stderr);
  const doc = JSON.parse(whole.stdout);
  assert.equal(doc.revoked, true);
  assert.equal(doc.key.id, shop.allocations[0]);
  assert.ok(!whole.stdout.includes(shop.keys[0]));

  const masked = await runArb(['keys', 'revoke', `${head}...zz`, '--yes'], env);
  assert.equal(masked.code, 0, masked.stderr);
  assert.match(masked.stdout, new RegExp(`^revoked ${head}…zzzz \\(id ${shop.allocations[1]}, user 1001, anthropic/claude-3-haiku\\); requests with it now get 401`));
  const again = await runArb(['keys', 'revoke', `${head}…zzzz`], env);
  assert.equal(again.code, 0);
  assert.match(again.stdout, /was already revoked; nothing changed/);

  // a prefix of a full key, longer than the masked form shows
  const k3 = shop.keys[2];
  const partial = await runArb(['keys', 'revoke', k3.slice(0, 16), '--yes'], env);
  assert.equal(partial.code, 0, partial.stderr);
  assert.match(partial.stdout, new RegExp(`\\(id ${shop.allocations[2]}, user 1002`));

  const list = JSON.parse((await runArb(['keys', 'list', '--json'], env)).stdout).keys as { id: number; status: string }[];
  assert.deepEqual(list.map((k) => k.status).reverse(), ['revoked', 'revoked', 'revoked', 'active']);
  const log = readFileSync(join(env.logDir, 'arbitrage.log'), 'utf8');
  assert.match(log, /"security_event":true.*"event":"key_revoked"/);
});

test('arb keys issue: sells from the balance or grants with --free, prints the key once; bad input changes nothing', async (t) => {
  const { env, shop } = await setup(t);
  const ledger = await count(env.db, 'transactions');
  const allocations = await count(env.db, 'ai_token_allocations');

  const poor = await runArb(['keys', 'issue', '1002', String(shop.gpt4PackageId)], env);
  assert.equal(poor.code, 2);
  assert.equal(poor.stderr, 'error: insufficient balance: have $1.25, need $3.75 for user 1002; credit the balance first (arb user credit 1002 <usd>) or grant it with --free (nothing was changed)\n');
  for (const [args, message] of [
    [['keys', 'issue', 'abc', '1'], /^error: telegram_id: "abc" is not a Telegram user id/],
    [['keys', 'issue', '1002', 'x'], /^error: package_id: "x" is not an id; use a positive whole number \(see arb package list\)/],
    [['keys', 'issue', '1002', '999'], /^error: package_id: no package 999; see `arb package list --all`/],
  ] as const) {
    const r = await runArb(args, env);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, message);
  }
  assert.equal(await count(env.db, 'transactions'), ledger);
  assert.equal(await count(env.db, 'ai_token_allocations'), allocations);

  const sold = await runArb(['keys', 'issue', '1002', String(shop.claudePackageId)], env);
  assert.equal(sold.code, 0, sold.stderr);
  assert.match(sold.stdout, /^sold for \$0\.32: package \d+ \(anthropic\/claude-3-haiku, 1,000,000 tokens\) to user 1002, key id \d+, expires \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/m);
  const key = /^(sk-arb-[A-Za-z0-9_-]{32})$/m.exec(sold.stdout)?.[1];
  assert.ok(key, sold.stdout);

  const granted = await runArb(['keys', 'issue', '4242', String(shop.gpt4PackageId), '--free', '--json'], env);
  assert.equal(granted.code, 0, granted.stderr);
  const g = JSON.parse(granted.stdout);
  assert.equal(g.free, true);
  assert.equal(g.price_micros, 0);
  assert.equal(g.tokens, 100_000);
  assert.match(g.api_key, /^sk-arb-/);
  assert.equal(g.api_key_masked, `${g.api_key.slice(0, 11)}…${g.api_key.slice(-4)}`);

  const list = await runArb(['keys', 'list'], env);
  assert.ok(!list.stdout.includes(key) && !list.stdout.includes(g.api_key), 'keys are shown once');
  const log = existsSync(join(env.logDir, 'arbitrage.log')) ? readFileSync(join(env.logDir, 'arbitrage.log'), 'utf8') : '';
  assert.ok(!log.includes(key) && !log.includes(g.api_key), 'no full key in the log');
  assert.match(log, /"event_type":"token_package_sold"/);
  const audit = await runArb(['audit'], env);
  assert.equal(audit.code, 0, audit.stdout);
});
