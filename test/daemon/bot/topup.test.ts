/**
 * Telegram Stars top-ups: the XTR invoice, the pre_checkout_query answer, crediting once per
 * telegram_payment_charge_id.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { auditLedger } from '../../../src/ledger/audit.js';
import { startBotHarness } from './harness.js';

const DAN = 5150;

test('Balance → Top up → 100 ⭐ invoice → pay → credited once at STARS_USD_RATE; a replay credits nothing', async (t) => {
  const h = await startBotHarness(t, { env: { STARS_USD_RATE: '0.013' } });
  const dan = h.fake.user(DAN);
  await h.fake.send(dan, '/start');
  await h.fake.press(dan, '💰 Balance');
  assert.match(h.fake.lastBotMessage(DAN).text, /Balance: \$0\.00[\s\S]*No activity yet/);
  await h.fake.press(dan, '⭐ Top up with Stars');
  assert.match(h.fake.lastBotMessage(DAN).text, /1 ⭐ = \$0\.013/);
  await h.fake.press(dan, '100 ⭐ → $1.30');

  const [invoice] = h.fake.callsOf('sendInvoice');
  assert.equal(invoice.currency, 'XTR');
  assert.equal(invoice.provider_token, '');
  assert.deepEqual(invoice.prices, [{ label: 'Balance top-up', amount: 100 }]);
  assert.equal(invoice.payload, `stars:${DAN}:100`);
  assert.equal(h.fake.lastBotMessage(DAN).invoice?.total_amount, 100);

  const paid = await h.fake.pay(dan, 'stxCHARGE-0001');
  assert.equal(paid.preCheckoutOk, true);
  const answer = h.fake.callsOf('answerPreCheckoutQuery')[0];
  assert.equal(answer.ok, true);
  assert.match(h.fake.lastBotMessage(DAN).text, /Payment received: 100 ⭐ → \$1\.30 added\.\n💰 Balance: \$1\.30/);

  // the same charge delivered again in a new update (e.g. a second replica, a re-sent webhook)
  await h.fake.deliver(h.fake.successfulPaymentUpdate(dan, { payload: `stars:${DAN}:100`, total_amount: 100, charge_id: 'stxCHARGE-0001' }));
  const topups = await h.handle.db.selectFrom('transactions').selectAll().where('type', '=', 'topup').execute();
  assert.equal(topups.length, 1);
  assert.equal(topups[0].amount, 1_300_000);
  assert.equal(topups[0].reference, 'stxCHARGE-0001');
  const user = await h.handle.db.selectFrom('users').selectAll().where('telegram_id', '=', DAN).executeTakeFirstOrThrow();
  assert.equal(user.balance, 1_300_000);
  assert.equal(h.fake.botMessages(DAN).filter((m) => m.text.includes('Payment received')).length, 1);

  // a second, different payment is credited
  await h.fake.press(dan, '💰 Balance');
  await h.fake.press(dan, '⭐ Top up with Stars');
  await h.fake.press(dan, '50 ⭐ → $0.65');
  await h.fake.pay(dan, 'stxCHARGE-0002');
  const after = await h.handle.db.selectFrom('users').selectAll().where('telegram_id', '=', DAN).executeTakeFirstOrThrow();
  assert.equal(after.balance, 1_950_000);
  await h.fake.press(dan, '💰 Balance');
  assert.match(h.fake.lastBotMessage(DAN).text, /Top-up · \+\$0\.65 → \$1\.95/);
  assert.equal((await auditLedger(h.handle)).ok, true);

  const logLine = h.logs().find((l) => l.business_event === true && l.event_type === 'balance_topup' && l.source === 'telegram_stars');
  assert.ok(logLine, 'a Stars payment is a balance_topup business event');
  assert.ok(!h.logs().some((l) => l.transaction === true), 'and not a revenue transaction');
  assert.equal(logLine.amount, 1.3);
});

test('a pre_checkout_query that does not match an invoice we issued is declined', async (t) => {
  const h = await startBotHarness(t);
  const dan = h.fake.user(DAN);
  const cases = [
    { payload: `stars:${DAN + 1}:100`, total_amount: 100 }, // someone else's invoice
    { payload: `stars:${DAN}:100`, total_amount: 1 }, // amount tampered
    { payload: 'something-else', total_amount: 100 },
    { payload: `stars:${DAN}:100`, total_amount: 100, currency: 'USD' },
  ];
  for (const c of cases) await h.fake.deliver(h.fake.preCheckoutUpdate(dan, c));
  const answers = h.fake.callsOf('answerPreCheckoutQuery');
  assert.equal(answers.length, cases.length);
  for (const a of answers) {
    assert.equal(a.ok, false);
    assert.match(String(a.error_message), /no longer valid/);
  }
  assert.equal(h.logs().filter((l) => l.security_event === true && l.event === 'invoice_rejected').length, cases.length);
});

test('Russian users get the Russian texts; unknown languages fall back to English', async (t) => {
  const h = await startBotHarness(t);
  const ivan = h.fake.user(6001, { first_name: 'Иван', language_code: 'ru' });
  await h.fake.send(ivan, '/start');
  assert.match(h.fake.lastBotMessage(6001).text, /Здравствуйте, Иван!/);
  assert.deepEqual(h.fake.buttons(6001), ['🤖 AI-токены', '💰 Баланс', '🔑 Мои ключи', 'ℹ️ Помощь']);
  await h.fake.press(ivan, '💰 Баланс');
  await h.fake.press(ivan, '⭐ Пополнить звёздами');
  await h.fake.press(ivan, '100 ⭐ → $1.30');
  assert.equal(h.fake.callsOf('sendInvoice')[0].title, 'Пополнение на $1.30');

  const klaus = h.fake.user(6002, { first_name: 'Klaus', language_code: 'de-AT' });
  await h.fake.send(klaus, '/start');
  assert.match(h.fake.lastBotMessage(6002).text, /Hello, Klaus!/);
  const ptBr = h.fake.user(6003, { first_name: 'Ana', language_code: 'ru-RU' });
  await h.fake.send(ptBr, '/start');
  assert.match(h.fake.lastBotMessage(6003).text, /Здравствуйте/);
});
