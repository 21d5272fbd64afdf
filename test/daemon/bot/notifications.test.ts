/**
 * Notices the bot sends on its own: each customer is told once at 80 % used and once 3 days before expiry
 * (flags on ai_token_allocations); operational alerts reach every admin.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { purchasePackage } from '../../../src/ledger/ledger.js';
import { addDays, toDbTime } from '../../../src/time.js';
import { seedPackage } from '../../support/seed.js';
import { telegramErrors } from '../../support/fake-telegram.js';
import { ADMIN_ID, startBotHarness } from './harness.js';

test('customers are told once at 80 % used and once 3 days before expiry', async (t) => {
  const h = await startBotHarness(t);
  const pkg = await seedPackage(h.handle);
  const grant = async (telegramId: number, used: number, expiresInDays: number, languageCode = 'en') => {
    h.fake.user(telegramId);
    await h.handle.db
      .insertInto('users')
      .values({ telegram_id: telegramId, language_code: languageCode, username: null, first_name: 'X', balance: 0, created_at: toDbTime(new Date()), updated_at: toDbTime(new Date()) })
      .execute();
    const { allocation } = await purchasePackage({ handle: h.handle }, { telegramId, packageId: pkg.id, free: true });
    await h.handle.db
      .updateTable('ai_token_allocations')
      .set({ tokens_used: used, expires_at: toDbTime(addDays(new Date(), expiresInDays)) })
      .where('id', '=', allocation.id)
      .execute();
    return allocation;
  };
  const heavy = await grant(101, 85_000, 20); // 85 % used
  const exact = await grant(102, 80_000, 20); // exactly 80 %
  const light = await grant(103, 79_999, 20); // just under
  const expiring = await grant(104, 1_000, 2); // 2 days left
  await grant(105, 90_000, -1); // already expired: no notices
  const blocked = await grant(106, 95_000, 20);
  const russian = await grant(107, 99_000, 1, 'ru'); // both notices, in Russian
  h.fake.blockBot(106);
  h.fake.failNext('sendMessage', { error_code: 500, description: 'Internal Server Error' }, { match: (p) => p.chat_id === 104 });

  const sent = await h.shopBot.runCustomerAlerts();
  assert.equal(sent, 4); // 101, 102, 107 (usage) + 107 (expiry); 104 failed once, 106 blocked
  assert.match(h.fake.lastBotMessage(101).text, /Your key sk-arb-.{4}….{4} \(openai\/gpt-4\) has used 85 % of its tokens: 15,000 of 100,000 left/);
  assert.match(h.fake.lastBotMessage(102).text, /has used 80 %/);
  assert.equal(h.fake.botMessages(103).length, 0);
  assert.equal(h.fake.botMessages(105).length, 0);
  const ru = h.fake.botMessages(107).map((m) => m.text);
  assert.equal(ru.length, 2);
  assert.match(ru[0], /израсходовал 99 %/);
  assert.match(ru[1], /Срок действия ключа .* истекает/);

  const sentAgain = await h.shopBot.runCustomerAlerts();
  assert.equal(sentAgain, 1, 'only the notice that failed for a passing reason is retried');
  assert.match(h.fake.lastBotMessage(104).text, /expires on \d{4}-\d\d-\d\d \d\d:\d\d UTC, with 99,000 tokens left/);
  assert.equal(await h.shopBot.runCustomerAlerts(), 0);

  const rows = await h.handle.db.selectFrom('ai_token_allocations').selectAll().orderBy('id').execute();
  const byId = new Map(rows.map((r) => [r.id, r]));
  assert.ok(byId.get(heavy.id)!.alerted_usage_at);
  assert.ok(byId.get(exact.id)!.alerted_usage_at);
  assert.equal(byId.get(light.id)!.alerted_usage_at, null);
  assert.equal(byId.get(heavy.id)!.alerted_expiry_at, null);
  assert.ok(byId.get(expiring.id)!.alerted_expiry_at);
  assert.ok(byId.get(blocked.id)!.alerted_usage_at, 'a blocked user is not retried forever');
  assert.ok(byId.get(russian.id)!.alerted_usage_at && byId.get(russian.id)!.alerted_expiry_at);
});

test('notifyAdmins sends the alert to every admin; one who blocked the bot does not stop the others', async (t) => {
  const h = await startBotHarness(t, { env: { ADMIN_ID_LIST: `${ADMIN_ID},900002,900003` } });
  h.fake.blockBot(900002);
  h.fake.failNext('sendMessage', telegramErrors.tooManyRequests(1), { match: (p) => p.chat_id === 900003 });
  await h.shopBot.notifyAdmins('Error rate 7.5 % > 5 % in the last 5 minutes <check upstream> & logs');
  for (const id of [ADMIN_ID, 900003]) {
    assert.equal(h.fake.lastBotMessage(id).text, '⚠️ arb alert\nError rate 7.5 % > 5 % in the last 5 minutes <check upstream> & logs');
  }
  assert.equal(h.fake.botMessages(900002).length, 0);
  assert.ok(h.logs().some((l) => l.level === 'WARN' && l.telegram_user_id === 900002));
});
