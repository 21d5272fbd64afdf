/**
 * The CLI side of support and refunds, spawned as an operator runs it: `arb support list|show|close`,
 * `arb user refund <charge id> [--force]` (through the fake Bot API's refundStarPayment, once),
 * `arb keys refund <prefix> [--pro-rata]` and `arb keys replace <prefix>`; `arb audit` stays clean and the
 * manual's daily-revenue recipe counts a refund as a negative amount.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { openAndMigrate, openDb } from '../../src/db/dialect.js';
import { creditUser, ensureUser } from '../../src/ledger/ledger.js';
import { hashApiKey } from '../../src/keys/api-key.js';
import { starsTopupNote } from '../../src/ledger/stars-refunds.js';
import { addTicketMessage, createTicket } from '../../src/support/tickets.js';
import { startFakeTelegram } from '../support/fake-telegram.js';
import { tempDir } from '../support/db.js';
import { arbEnvDb, runArb, seedShop } from './support.js';

function logLines(dir: string): Record<string, unknown>[] {
  return readdirSync(dir)
    .filter((f) => f.startsWith('arbitrage'))
    .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

test('arb support list|show|close', async (t) => {
  const env = await arbEnvDb(t, tempDir(t));
  const handle = await openAndMigrate(env.db);
  const ann = await ensureUser(handle, { telegramId: 4101, firstName: 'Ann', username: 'ann' });
  const first = await createTicket(handle, { userId: ann.id, text: 'My key\nstopped working', chargeId: null });
  await addTicketMessage(handle, first.id, { author: 'admin', authorTelegramId: 900001, text: 'Try 🔁 Replace key.', delivered: true });
  await createTicket(handle, { userId: ann.id, text: 'Refund please', chargeId: 'stxCH-1' });
  await handle.close();

  const list = await runArb(['support', 'list'], env);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /^2 +open +Ann @ann +4101 +.* +0 +stxCH-1 +Refund please$/m);
  assert.match(list.stdout, /^1 +open +Ann @ann +4101 +.* +1 +My key stopped working$/m);
  const json = JSON.parse((await runArb(['support', 'list', '--json'], env)).stdout);
  assert.deepEqual(
    json.tickets.map((x: { id: number }) => x.id),
    [2, 1],
  );
  assert.equal(json.tickets[0].charge_id, 'stxCH-1');

  const show = await runArb(['support', 'show', '1'], env);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /ticket: +#1\nstatus: +open\ncustomer: +Ann @ann \(telegram id 4101\)/);
  assert.match(show.stdout, /customer, .* UTC:\nMy key\nstopped working\n\nadmin 900001, .* UTC:\nTry 🔁 Replace key\.\n/);
  const show2 = await runArb(['support', 'show', '#2'], env);
  assert.match(show2.stdout, /payment: +stxCH-1 \(refund: arb user refund stxCH-1\)/);

  const close = await runArb(['support', 'close', '1'], env);
  assert.equal(close.code, 0, close.stderr);
  assert.match(close.stdout, /closed ticket #1/);
  assert.match((await runArb(['support', 'close', '1'], env)).stdout, /already closed; nothing changed/);
  assert.deepEqual(
    JSON.parse((await runArb(['support', 'list', '--json'], env)).stdout).tickets.map((x: { id: number }) => x.id),
    [2],
  );
  assert.equal(JSON.parse((await runArb(['support', 'list', '--all', '--json'], env)).stdout).tickets.length, 2);

  const bad = await runArb(['support', 'show', 'twelve'], env);
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr, 'error: ticket: "twelve" is not a ticket number; use the number from arb support list, e.g. 12\n');
  const missing = await runArb(['support', 'close', '99'], env);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /no ticket #99/);
});

test('arb user refund: Telegram refunds once, the credit comes back off the balance; a spent credit needs --force and records the loss', async (t) => {
  const fake = await startFakeTelegram();
  t.after(() => fake.close());
  const env = await arbEnvDb(t, tempDir(t), { TOKEN: fake.token, TELEGRAM_API_ROOT: fake.apiRoot });
  const handle = await openAndMigrate(env.db);
  const shop = await seedShop(handle); // user 1001 bought $3.75 + $0.32 from a $20 top-up
  for (const [id, charge, stars] of [
    [1001, 'stxBIG', 2000],
    [1004, 'stxSMALL', 100],
  ] as const) {
    fake.successfulPaymentUpdate(fake.user(id), { payload: `stars:${id}:${stars}`, total_amount: stars, charge_id: charge });
    await creditUser({ handle }, { telegramId: id, amountMicros: stars * 13_000, type: 'topup', reference: charge, note: starsTopupNote(stars) });
  }
  await handle.close();
  void shop;

  const ok = await runArb(['user', 'refund', 'stxSMALL', '--yes'], env);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /refunded 100 ⭐ to user 1004 \(charge stxSMALL\); took back \$1\.30 of the \$1\.30 credited; balance now \$0\.00/);
  assert.equal(fake.starPayments.get('stxSMALL')?.refunded, true);
  const again = await runArb(['user', 'refund', 'stxSMALL', '--json', '--yes'], env);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(JSON.parse(again.stdout).already_refunded, true);
  assert.equal(fake.calls.filter((c) => c.method === 'refundStarPayment').length, 1);

  // 1001's balance: $20 − $4.07 + $26 = $41.93 < ... make the credit partly spent: refund the $26 after spending
  const h = openDb(env.db);
  await creditUser({ handle: h }, { telegramId: 1001, amountMicros: -30_000_000, type: 'adjustment', note: 'spent elsewhere' });
  await h.close();
  const refused = await runArb(['user', 'refund', 'stxBIG', '--yes'], env);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /already spent \$14\.07 of the \$26\.00 this payment credited \(balance \$11\.93\); refunding it would cost you \$14\.07\. Nothing was changed; re-run with --force/);
  assert.equal(fake.starPayments.get('stxBIG')?.refunded, false);
  const forced = await runArb(['user', 'refund', 'stxBIG', '--force', '--json', '--yes'], env);
  assert.equal(forced.code, 0, forced.stderr);
  const doc = JSON.parse(forced.stdout);
  assert.equal(doc.loss_micros, 14_070_000);
  assert.equal(doc.taken_back_micros, 11_930_000);
  assert.equal(doc.balance_after_micros, 0);

  const unknown = await runArb(['user', 'refund', 'stxNOPE', '--yes'], env);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /no Stars payment with charge id "stxNOPE"/);
  const noToken = await runArb(['user', 'refund', 'stxBIG', '--yes'], { ...env, env: { ...env.env, TOKEN: undefined } });
  assert.equal(noToken.code, 2);
  assert.match(noToken.stderr, /TOKEN: not set/);

  const audit = await runArb(['audit'], env);
  assert.equal(audit.code, 0, audit.stdout + audit.stderr);
  const refunds = logLines(env.logDir).filter((l) => l.transaction === true && l.type === 'refund');
  assert.deepEqual(
    refunds.map((l) => l.amount),
    [-14.07],
  );
});

test('arb keys refund (full or --pro-rata, key revoked) and arb keys replace (new key printed once, old one dead)', async (t) => {
  const env = await arbEnvDb(t, tempDir(t));
  const handle = await openAndMigrate(env.db);
  const shop = await seedShop(handle);
  await handle.close();
  const balance = async (id: number) => {
    const h = openDb(env.db);
    try {
      return Number((await h.db.selectFrom('users').select('balance').where('telegram_id', '=', id).executeTakeFirstOrThrow()).balance);
    } finally {
      await h.close();
    }
  };

  // key 0: 3,000 of 100,000 used, $3.75 paid → pro rata $3.6375
  const before = await balance(1001);
  const proRata = await runArb(['keys', 'refund', shop.keys[0], '--pro-rata', '--yes'], env);
  assert.equal(proRata.code, 0, proRata.stderr);
  assert.match(proRata.stdout, /refunded \$3\.64 \(the unused 97,000 of 100,000 tokens\) to user 1001's balance and revoked sk-arb-/);
  assert.equal((await balance(1001)) - before, 3_637_500);
  assert.match((await runArb(['keys', 'refund', shop.keys[0], '--yes'], env)).stdout, /was refunded before; nothing changed/);

  // key 2 (user 1002, unused): full price
  const full = await runArb(['keys', 'refund', shop.keys[2], '--json', '--yes'], env);
  assert.equal(full.code, 0, full.stderr);
  const doc = JSON.parse(full.stdout);
  assert.equal(doc.refunded_micros, 3_750_000);
  assert.equal(doc.status, 'revoked');

  // replace key 1: a new key for the same allocation
  const replaced = await runArb(['keys', 'replace', shop.keys[1].slice(0, 14), '--yes'], env);
  assert.equal(replaced.code, 0, replaced.stderr);
  const newKey = /\n(sk-arb-[A-Za-z0-9_-]+)\n$/.exec(replaced.stdout)![1];
  const h = openDb(env.db);
  const row = await h.db.selectFrom('ai_token_allocations').selectAll().where('id', '=', shop.allocations[1]).executeTakeFirstOrThrow();
  await h.close();
  assert.equal(row.api_key_hash, hashApiKey(newKey));
  assert.equal(row.tokens_used, 10_000, 'usage carries over');
  const security = logLines(env.logDir)
    .filter((l) => l.security_event === true)
    .map((l) => l.event);
  assert.deepEqual(security, ['key_revoked', 'key_issued']);
  assert.ok(!readdirSync(env.logDir).some((f) => readFileSync(join(env.logDir, f), 'utf8').includes(newKey)), 'the new key is not in the log');
  const revoked = await runArb(['keys', 'replace', shop.keys[0]], env);
  assert.equal(revoked.code, 2);
  assert.match(revoked.stderr, /is revoked; only an active key can be replaced/);

  const audit = await runArb(['audit'], env);
  assert.equal(audit.code, 0, audit.stdout + audit.stderr);
  const refunds = logLines(env.logDir).filter((l) => l.transaction === true && l.type === 'refund');
  assert.deepEqual(
    refunds.map((l) => l.amount),
    [-3.6375, -3.75],
  );
});
