/**
 * Robustness: Bot API errors (429 retry_after, 400 "message is not modified", 403 blocked), Telegram's
 * limits (4096 characters, 64-byte callback_data — the fake rejects anything over, like Telegram),
 * paging and categories, and the per-user rate limit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { purchasePackage } from '../../../src/ledger/ledger.js';
import { ensureCategory } from '../../../src/packages/categories.js';
import { cb } from '../../../daemon/bot/callback-data.js';
import { seedPackage } from '../../support/seed.js';
import { telegramErrors } from '../../support/fake-telegram.js';
import { ADMIN_ID, startBotHarness } from './harness.js';

const HAL = 3001;

test('429 Too Many Requests is retried after retry_after; "message is not modified" is ignored; a user who blocked the bot does not break anything', async (t) => {
  const h = await startBotHarness(t);
  const hal = h.fake.user(HAL);

  h.fake.failNext('sendMessage', telegramErrors.tooManyRequests(1));
  await h.fake.send(hal, '/start');
  const sends = h.fake.calls.filter((c) => c.method === 'sendMessage');
  assert.deepEqual(
    sends.map((c) => c.ok),
    [false, true],
    'failed once with 429, then retried',
  );
  assert.match(h.fake.lastBotMessage(HAL).text, /Hello/);
  assert.ok(h.logs().some((l) => l.level === 'WARN' && l.status === 429 && l.retry_after === 1));

  // pressing 🏠 Main menu on the main menu: the edit changes nothing → Telegram says "not modified" → fine
  await h.fake.press(hal, '💰 Balance');
  await h.fake.press(hal, '🏠 Main menu');
  await h.fake.press(hal, '💰 Balance');
  const balanceScreen = h.fake.lastBotMessage(HAL).text;
  h.fake.failNext('editMessageText', telegramErrors.notModified());
  await h.fake.press(hal, '🏠 Main menu');
  assert.equal(h.fake.lastBotMessage(HAL).text, balanceScreen);
  // and real ones: the main menu asked for while it is already shown
  await h.fake.deliver(h.fake.callbackUpdate(hal, cb.menu(), h.fake.lastBotMessage(HAL)));
  await h.fake.deliver(h.fake.callbackUpdate(hal, cb.menu(), h.fake.lastBotMessage(HAL)));
  const notModified = h.fake.calls.filter((c) => c.method === 'editMessageText' && !c.ok);
  assert.equal(notModified.length, 2);
  assert.ok(notModified.every((c) => /message is not modified/.test(c.error!.description)));
  assert.equal(h.fake.botMessages(HAL).length, 1, 'no error message was sent');
  assert.ok(!h.logs().some((l) => l.level === 'ERROR'), JSON.stringify(h.logs().filter((l) => l.level === 'ERROR')));

  // blocked: the update is dropped with an INFO line; the bot goes on serving others and the user later
  h.fake.blockBot(HAL);
  const r = await h.fake.send(hal, '/start');
  assert.equal(r.status, 200);
  assert.ok(h.logs().some((l) => l.level === 'INFO' && String(l.message).includes('blocked the bot')));
  const ivy = h.fake.user(3002);
  await h.fake.send(ivy, '/start');
  assert.match(h.fake.lastBotMessage(3002).text, /Hello/);
  h.fake.blockBot(HAL, false);
  await h.fake.send(hal, '/help');
  assert.match(h.fake.lastBotMessage(HAL).text, /How it works/);
});

test('callback data stays within 64 bytes even for the largest ids', () => {
  const big = Number.MAX_SAFE_INTEGER;
  const all = [
    cb.menu(),
    cb.category(big, 99_999),
    cb.category('a', 99_999),
    cb.package(big, big, 99_999),
    cb.buy(big),
    cb.confirm(big, 'AAAAAAAAAAAA'),
    cb.topupAmount(100_000),
    cb.adminPackages(99_999),
    cb.adminToggle(big, 99_999),
  ];
  for (const data of all) assert.ok(Buffer.byteLength(data) <= 64, `${data} is ${Buffer.byteLength(data)} bytes`);
  assert.throws(() => cb.confirm(1, 'x'.repeat(80)), /Telegram allows 64/);
});

test('long lists stay within 4096 characters; packages are paged and grouped by category', async (t) => {
  const h = await startBotHarness(t);
  const long = (i: number) => `Package ${i} ${'with a very long description '.repeat(10)}`.slice(0, 200);
  const openai = await ensureCategory(h.handle, 'OpenAI <models>');
  const first = await seedPackage(h.handle, { description: long(0), categoryId: openai.id });
  for (let i = 1; i < 8; i++) await seedPackage(h.handle, { tokens: 100_000 + i * 1000, description: long(i), categoryId: openai.id });
  await seedPackage(h.handle, { tokens: 20_000, description: 'Uncategorised small pack' });

  const kim = h.fake.user(3003);
  await h.fake.send(kim, '/start');
  await h.fake.press(kim, '🤖 AI Tokens');
  assert.match(h.fake.lastBotMessage(3003).text, /Choose a category/);
  assert.deepEqual(h.fake.buttons(3003), ['OpenAI <models> (8)', 'Other (1)', 'All packages (9)', '🏠 Main menu']);
  await h.fake.press(kim, 'OpenAI <models> (8)');
  assert.match(h.fake.lastBotMessage(3003).text, /OpenAI <models> · page 1 of 2/);
  assert.equal(h.fake.buttons(3003).filter((b) => b.startsWith('Package')).length, 6);
  await h.fake.press(kim, 'Next ▶️');
  assert.match(h.fake.lastBotMessage(3003).text, /page 2 of 2/);
  assert.equal(h.fake.buttons(3003).filter((b) => b.startsWith('Package')).length, 2);
  await h.fake.press(kim, '⬅️ Back');
  await h.fake.press(kim, 'Other (1)');
  assert.ok(h.fake.buttons(3003).includes('Uncategorised small pack · $0.75'), JSON.stringify(h.fake.buttons(3003)));

  // 60 keys with long descriptions: My Keys fits and says how many were left out
  for (let i = 0; i < 60; i++) await purchasePackage({ handle: h.handle }, { telegramId: 3003, packageId: first.id, free: true });
  await h.fake.press(kim, '⬅️ Back');
  await h.fake.press(kim, '🏠 Main menu');
  await h.fake.press(kim, '🔑 My Keys');
  const keys = h.fake.lastBotMessage(3003).text;
  assert.ok(keys.length <= 4096, `${keys.length}`);
  assert.match(keys, /^🔑 Your keys \(60\)/);
  assert.match(keys, /…and \d+ more\.\n\nBase URL/);

  // the admin's package list with long descriptions fits too
  const admin = h.fake.user(ADMIN_ID);
  await h.fake.send(admin, '/admin');
  await h.fake.press(admin, '📦 Manage Packages');
  assert.match(h.fake.lastBotMessage(ADMIN_ID).text, /Packages \(9\) · page 1 of 2/);
  await h.fake.press(admin, 'Next ▶️');
  assert.match(h.fake.lastBotMessage(ADMIN_ID).text, /page 2 of 2/);

  // an operational alert far over the limit is shortened, not refused
  await h.shopBot.notifyAdmins(`disk <almost> full & ${'x'.repeat(10_000)}`);
  const alert = h.fake.lastBotMessage(ADMIN_ID).text;
  assert.ok(alert.length <= 4096 && alert.startsWith('⚠️ arb alert\ndisk <almost> full & xxx'), alert.slice(0, 80));

  assert.deepEqual(
    h.fake.calls.filter((c) => !c.ok).map((c) => c.error?.description),
    [],
  );
  for (const rows of h.fake.allKeyboards()) for (const b of rows.flat()) assert.ok(Buffer.byteLength((b as { callback_data: string }).callback_data) <= 64);
});

test('the per-user rate limit drops a flood with one notice, never a payment', async (t) => {
  const h = await startBotHarness(t, { deps: { rateLimit: { limit: 3, windowMs: 60_000 } } });
  const leo = h.fake.user(3004);
  for (let i = 0; i < 6; i++) await h.fake.send(leo, '/start');
  const texts = h.fake.botMessages(3004).map((m) => m.text);
  assert.equal(texts.length, 4);
  assert.equal(texts[3], '⏳ Too many requests — please slow down a little.');
  assert.equal(h.logs().filter((l) => l.security_event === true && l.event === 'bot_rate_limited').length, 1);

  // payments go through regardless
  await h.fake.deliver(h.fake.preCheckoutUpdate(leo, { payload: 'stars:3004:50', total_amount: 50 }));
  assert.equal(h.fake.callsOf('answerPreCheckoutQuery')[0].ok, true);
  await h.fake.deliver(h.fake.successfulPaymentUpdate(leo, { payload: 'stars:3004:50', total_amount: 50, charge_id: 'rl-1' }));
  const user = await h.handle.db.selectFrom('users').selectAll().where('telegram_id', '=', 3004).executeTakeFirstOrThrow();
  assert.equal(user.balance, 650_000);
  // other users are not affected
  const mia = h.fake.user(3005);
  await h.fake.send(mia, '/start');
  assert.match(h.fake.lastBotMessage(3005).text, /Hello/);
});
