/**
 * A shop that flows: "Pay N ⭐ and buy" pays exactly what is missing and buys once the payment arrives
 * (once, however often the payment is delivered); a top-up started from a package offers to continue with
 * it; /terms shows the operator's terms; unknown input gets a one-line pointer; command lists per language,
 * admin commands only in the admins' chats. And a successful_payment that is not a positive whole amount of
 * XTR with a charge id is not credited.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { auditLedger } from '../../../src/ledger/audit.js';
import { setPackageAvailability } from '../../../src/packages/packages.js';
import { seedPackage } from '../../support/seed.js';
import { tempDir } from '../../support/db.js';
import { ADMIN_ID, startBotHarness } from './harness.js';

const PAT = 7070;

async function balanceOf(h: Awaited<ReturnType<typeof startBotHarness>>, telegramId: number): Promise<number> {
  return Number((await h.handle.db.selectFrom('users').select('balance').where('telegram_id', '=', telegramId).executeTakeFirstOrThrow()).balance);
}

test('Pay N ⭐ and buy: exactly what is missing, the purchase completes after the payment, once', async (t) => {
  const h = await startBotHarness(t, { env: { STARS_USD_RATE: '0.013' } });
  await seedPackage(h.handle); // $3.75
  const pat = h.fake.user(PAT, { first_name: 'Pat' });
  await h.credit(PAT, 3); // $0.75 short → 58 ⭐ ($0.754)
  await h.fake.send(pat, '/shop');
  await h.fake.press(pat, /· \$3\.75$/);
  await h.fake.press(pat, '🛒 Buy for $3.75');
  assert.match(h.fake.lastBotMessage(PAT).text, /\$0\.75 short\. Pay 58 ⭐ and the package is bought as soon as the payment arrives/);
  await h.fake.press(pat, '⭐ Pay 58 ⭐ and buy');
  const invoice = h.fake.lastBotMessage(PAT).invoice!;
  assert.equal(invoice.total_amount, 58);
  assert.match(invoice.payload, /^buy:7070:58:1:[A-Za-z0-9_-]{12}$/);
  assert.equal((await h.fake.pay(pat, 'stxBUY-1')).preCheckoutOk, true);

  assert.ok(h.fake.findBotMessage(PAT, /Purchase complete/), 'bought right after the payment');
  const keys = h.fake.copyTexts(PAT);
  assert.equal(keys.length, 1);
  assert.equal(await balanceOf(h, PAT), 3_000_000 + 58 * 13_000 - 3_750_000);
  const tx = await h.handle.db.selectFrom('transactions').select(['type', 'amount', 'reference']).orderBy('id').execute();
  assert.deepEqual(
    tx.map((r) => [r.type, r.amount]),
    [
      ['adjustment', 3_000_000],
      ['topup', 754_000],
      ['purchase', -3_750_000],
    ],
  );

  // the same payment delivered again: nothing more is bought or sent
  await h.fake.deliver(h.fake.successfulPaymentUpdate(pat, { payload: invoice.payload, total_amount: 58, charge_id: 'stxBUY-1' }));
  assert.equal(h.fake.copyTexts(PAT).length, 1);
  assert.equal((await h.handle.db.selectFrom('ai_token_allocations').selectAll().execute()).length, 1);
  assert.equal((await h.handle.db.selectFrom('transactions').selectAll().execute()).length, 3);
  // …and again after a restart (the bot's memory of update ids is not what stops it: the charge id is)
  await h.restart();
  await h.fake.deliver(h.fake.successfulPaymentUpdate(pat, { payload: invoice.payload, total_amount: 58, charge_id: 'stxBUY-1' }));
  assert.equal(h.fake.copyTexts(PAT).length, 1);
  assert.equal((await h.handle.db.selectFrom('ai_token_allocations').selectAll().execute()).length, 1);
  assert.equal((await h.handle.db.selectFrom('transactions').selectAll().execute()).length, 3);
  assert.equal(await balanceOf(h, PAT), 3_000_000 + 58 * 13_000 - 3_750_000);

  // a cent short: one Star, Telegram's minimum
  const sam = h.fake.user(7071);
  await h.credit(7071, 3.74);
  await h.fake.send(sam, '/shop');
  await h.fake.press(sam, /· \$3\.75$/);
  await h.fake.press(sam, '🛒 Buy for $3.75');
  assert.ok(h.fake.buttons(7071).includes('⭐ Pay 1 ⭐ and buy'), JSON.stringify(h.fake.buttons(7071)));

  // the package taken off sale before paying: Telegram's pre-checkout is declined, nothing is charged
  await h.fake.press(sam, '⭐ Pay 1 ⭐ and buy');
  await setPackageAvailability(h.handle, 1, false);
  const declined = await h.fake.pay(sam, 'stxBUY-2');
  assert.equal(declined.preCheckoutOk, false);
  assert.match(declined.errorMessage ?? '', /changed since this invoice/);
  assert.equal(await balanceOf(h, 7071), 3_740_000);
  assert.deepEqual((await auditLedger(h.handle)).problems, []);
});

test('a top-up started from a package offers to continue with it', async (t) => {
  const h = await startBotHarness(t);
  await seedPackage(h.handle, { description: 'GPT-4 100k' });
  const pat = h.fake.user(PAT);
  await h.fake.send(pat, '/shop');
  await h.fake.press(pat, 'GPT-4 100k · $3.75');
  await h.fake.press(pat, '🛒 Buy for $3.75');
  await h.fake.press(pat, '⭐ Top up with Stars');
  await h.fake.press(pat, '500 ⭐ → $6.50');
  assert.equal(h.fake.lastBotMessage(PAT).invoice?.payload, `stars:${PAT}:500:1`);
  await h.fake.pay(pat, 'stxTOP-1');
  const receipt = h.fake.lastBotMessage(PAT);
  assert.match(receipt.text, /Payment received: 500 ⭐ → \$6\.50 added\.[\s\S]*Continue with the package you picked: GPT-4 100k for \$3\.75\./);
  assert.deepEqual(h.fake.buttons(PAT), ['🛒 Buy GPT-4 100k for $3.75', '🤖 AI Tokens', '💰 Balance']);
  await h.fake.press(pat, '🛒 Buy GPT-4 100k for $3.75');
  assert.match(h.fake.lastBotMessage(PAT).text, /Confirm your purchase/);
  await h.fake.press(pat, '✅ Confirm purchase');
  assert.equal(h.fake.copyTexts(PAT).length, 1);
});

test('a successful_payment that is not a positive whole amount of XTR with a charge id is not credited; security event; admins told', async (t) => {
  const h = await startBotHarness(t);
  const pat = h.fake.user(PAT);
  await h.fake.send(pat, '/start');
  const bad = [
    { payload: `stars:${PAT}:50`, total_amount: 12.5, charge_id: 'stxFRACTION' },
    { payload: `stars:${PAT}:50`, total_amount: 50, charge_id: '' },
    { payload: `stars:${PAT}:50`, total_amount: 50, charge_id: '   ' },
    { payload: `stars:${PAT}:50`, total_amount: 0, charge_id: 'stxZERO' },
    { payload: `stars:${PAT}:50`, total_amount: -5, charge_id: 'stxNEG' },
    { payload: `stars:${PAT}:50`, total_amount: 50, charge_id: 'stxUSD', currency: 'USD' },
  ];
  for (const p of bad) await h.fake.deliver(h.fake.successfulPaymentUpdate(pat, p));
  assert.equal(await balanceOf(h, PAT), 0);
  assert.equal((await h.handle.db.selectFrom('transactions').selectAll().execute()).length, 0);
  const events = h.logs().filter((l) => l.security_event === true && l.event === 'payment_rejected');
  assert.equal(events.length, bad.length);
  assert.match(String(events[0].reason), /12\.5 is not a positive whole number of Stars/);
  assert.match(String(events[1].reason), /charge_id is empty/);
  const toAdmin = h.fake.botMessages(ADMIN_ID).filter((m) => /Payment not credited/.test(m.text));
  assert.equal(toAdmin.length, bad.length);
  assert.match(toAdmin[0].text, /from 7070: total_amount 12\.5 is not a positive whole number/);
  assert.match(h.fake.lastBotMessage(PAT).text, /could not be credited automatically/);

  // a valid one still is
  await h.fake.deliver(h.fake.successfulPaymentUpdate(pat, { payload: `stars:${PAT}:50`, total_amount: 50, charge_id: 'stxOK' }));
  assert.equal(await balanceOf(h, PAT), 650_000);
});

test('/terms shows TERMS_TEXT (text or @file); unknown commands and free text get a one-line pointer to /help', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'terms.txt');
  writeFileSync(file, `Refunds within 14 days <unless used> & more.\n${'Clause. '.repeat(700)}`);
  const h = await startBotHarness(t, { env: { TERMS_TEXT: `@${file}` } });
  const pat = h.fake.user(PAT);
  await h.fake.send(pat, '/terms');
  const terms = h.fake.botMessages(PAT);
  assert.ok(terms.length >= 2, 'long terms are split over messages');
  assert.match(terms[0].text, /^📄 Terms of service\n\nRefunds within 14 days <unless used> & more\./);
  assert.ok(terms.every((m) => m.text.length <= 4096));
  assert.ok(!terms.some((m) => /Hello/.test(m.text)), 'not the main menu');

  writeFileSync(file, 'Version 2 of the terms.');
  await h.fake.send(pat, '/terms');
  assert.equal(h.fake.lastBotMessage(PAT).text, '📄 Terms of service\n\nVersion 2 of the terms.', 'edits apply without a restart');

  for (const [input, expected] of [
    ['/settings', "🤔 I don't know that command. /help lists what I can do."],
    ['what can you do?', "🤔 I didn't understand that. /help lists what I can do."],
  ]) {
    const before = h.fake.botMessages(PAT).length;
    await h.fake.send(pat, input);
    assert.equal(h.fake.botMessages(PAT).length, before + 1);
    assert.equal(h.fake.lastBotMessage(PAT).text, expected);
  }

  const plain = await startBotHarness(t, { env: { TERMS_TEXT: 'Be nice.' } });
  await plain.fake.send(pat, '/terms');
  assert.equal(plain.fake.lastBotMessage(PAT).text, '📄 Terms of service\n\nBe nice.');
  const none = await startBotHarness(t);
  await none.fake.send(pat, '/terms');
  assert.match(none.fake.lastBotMessage(PAT).text, /has not published terms yet/);
  const missing = await startBotHarness(t, { env: { TERMS_TEXT: `@${join(dir, 'nope.txt')}` } });
  await missing.fake.send(pat, '/terms');
  assert.match(missing.fake.lastBotMessage(PAT).text, /cannot be shown right now/);
  assert.ok(missing.logs().some((l) => l.level === 'ERROR' && /TERMS_TEXT names a file that cannot be read/.test(String(l.message))));
});

test("command lists: customer commands per language; admin commands only in the admins' chats", async (t) => {
  const h = await startBotHarness(t);
  const names = (list: { command: string }[] | undefined) => (list ?? []).map((c) => c.command);
  const customer = names(h.fake.commandsFor());
  assert.deepEqual(customer, ['start', 'shop', 'balance', 'keys', 'redeem', 'support', 'paysupport', 'terms', 'help']);
  assert.equal(h.fake.commandsFor(undefined, 'ru')?.find((c) => c.command === 'balance')?.description, 'Баланс и пополнение');
  const admin = names(h.fake.commandsFor({ type: 'chat', chat_id: ADMIN_ID }));
  assert.deepEqual(admin, [...customer, 'admin', 'token_stats', 'tickets', 'create_package', 'add_balance']);
  for (const c of ['admin', 'token_stats', 'create_package', 'add_balance', 'tickets']) assert.ok(!customer.includes(c), `${c} is not in the customers' list`);
  // every list in each shipped language: the same commands, described in that language
  const describe = (list: { command: string; description: string }[] | undefined, command: string) => list?.find((c) => c.command === command)?.description;
  const customerRu = h.fake.commandsFor(undefined, 'ru');
  assert.deepEqual(names(customerRu), customer);
  assert.notEqual(describe(customerRu, 'shop'), describe(h.fake.commandsFor(), 'shop'), 'the Russian list is in Russian');
  const adminScope = { type: 'chat', chat_id: ADMIN_ID };
  assert.match(describe(h.fake.commandsFor(adminScope), 'admin') ?? '', /^[\x20-\x7e]+$/, 'an admin the bot does not know yet: English');
  // only the admins' chats get the admin list: no other chat scope was set
  const scopes = h.fake.callsOf('setMyCommands').map((p) => JSON.stringify(p.scope ?? { type: 'default' }));
  assert.deepEqual([...new Set(scopes)].sort(), [JSON.stringify({ type: 'default' }), JSON.stringify(adminScope)].sort(), scopes.join(' '));
  // an admin whose Telegram speaks Russian gets the admin list in Russian (set at the next start)
  await h.fake.send(h.fake.user(ADMIN_ID, { language_code: 'ru' }), '/start');
  await h.restart();
  assert.deepEqual(names(h.fake.commandsFor(adminScope)), admin);
  assert.match(describe(h.fake.commandsFor(adminScope), 'admin') ?? '', /[а-яА-Я]/, "in the admin's language");
});
