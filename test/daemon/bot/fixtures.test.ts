/**
 * Real-shaped Telegram updates (fixtures/telegram/updates.json) are handled as expected: a /start, a
 * callback from an edited bot message, a Stars pre-checkout and payment, and a group message (ignored but
 * for a hint: keys and balances are never shown in groups).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Update } from 'grammy/types';
import { startBotHarness } from './harness.js';

const fixtures = JSON.parse(readFileSync(new URL('../../../fixtures/telegram/updates.json', import.meta.url), 'utf8')) as Record<string, Update>;
const JANE = 111222333;

test('real-shaped updates from Telegram are handled', async (t) => {
  const h = await startBotHarness(t, { env: { STARS_USD_RATE: '0.02' } });
  await h.fake.deliver(fixtures.start);
  assert.match(h.fake.lastBotMessage(JANE).text, /Hello, Jane!/);
  const user = await h.handle.db.selectFrom('users').selectAll().where('telegram_id', '=', JANE).executeTakeFirstOrThrow();
  assert.deepEqual([user.username, user.first_name, user.language_code], ['jane_roe', 'Jane', 'en']);

  // a callback from a bot message the fake never saw: answered; the edit targets a message this chat does not have → a new message instead
  await h.fake.deliver(fixtures.callback_main_menu);
  assert.equal(h.fake.callsOf('answerCallbackQuery').at(-1)?.callback_query_id, '4772835918372645128');
  assert.match(h.fake.lastBotMessage(JANE).text, /Hello, Jane!/);

  await h.fake.deliver(fixtures.pre_checkout_query);
  assert.deepEqual(h.fake.callsOf('answerPreCheckoutQuery')[0], { pre_checkout_query_id: '1110992341259818376', ok: true });
  await h.fake.deliver(fixtures.successful_payment);
  assert.match(h.fake.lastBotMessage(JANE).text, /250 ⭐ → \$5\.00 added/);
  const tx = await h.handle.db.selectFrom('transactions').selectAll().executeTakeFirstOrThrow();
  assert.equal(tx.reference, 'stxAbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_fixture');
  assert.equal(tx.amount, 5_000_000);

  await h.fake.deliver(fixtures.group_message);
  const toGroup = h.fake.callsOf('sendMessage').filter((p) => p.chat_id === -1001234567890);
  assert.deepEqual(
    toGroup.map((p) => p.text),
    ['Please talk to me in a private chat.'],
  );
});
