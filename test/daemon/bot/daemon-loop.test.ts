/**
 * The whole loop through the real daemon (daemon/main.ts loads the bot because TOKEN is set): a customer
 * pays in Stars, buys a package in Telegram, and the key from its message works against the proxy, whose
 * metering then shows in 🔑 My Keys. Long polling against the fake Bot API; OpenRouter simulator upstream.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startFakeTelegram } from '../../support/fake-telegram.js';
import { HELLO, startStack } from '../harness.js';

test('Stars → buy in Telegram → the key works on the proxy → My Keys shows the usage', async (t) => {
  const fake = await startFakeTelegram();
  const stack = await startStack(t, {
    env: { TOKEN: fake.token, TELEGRAM_API_ROOT: fake.apiRoot, ADMIN_ID_LIST: '900001', STARS_USD_RATE: '0.013' },
    daemon: { bot: undefined },
  });
  t.after(() => fake.close()); // after the daemon (and its bot) stopped

  const zoe = fake.user(4711, { first_name: 'Zoe' });
  await fake.send(zoe, '/start');
  assert.match(fake.lastBotMessage(4711).text, /Hello, Zoe!/);
  await fake.press(zoe, '💰 Balance');
  await fake.press(zoe, '⭐ Top up with Stars');
  await fake.press(zoe, '500 ⭐ → $6.50');
  assert.equal((await fake.pay(zoe, 'loop-charge-1')).preCheckoutOk, true);
  await fake.press(zoe, '🤖 AI Tokens');
  await fake.press(zoe, /· \$3\.75$/);
  await fake.press(zoe, '🛒 Buy for $3.75');
  await fake.press(zoe, '✅ Confirm purchase');
  const key = fake.copyTexts(4711).at(-1)!.text;

  const reply = await stack.client(key).chat.completions.create({ model: 'gpt-4', messages: HELLO });
  assert.ok(reply.usage!.total_tokens > 0);

  await fake.press(zoe, '🔑 My Keys');
  const keys = fake.findBotMessage(4711, /Your keys/)!.text;
  const m = /([\d,]+) of 100,000 tokens left/.exec(keys);
  assert.ok(m, keys);
  const left = Number(m[1].replace(/,/g, ''));
  assert.equal(left, 100_000 - (reply.usage!.prompt_tokens + 2 * reply.usage!.completion_tokens));

  // a lost key: 🔁 Replace key in My Keys — the new key works, the old one is refused, the tokens stay
  await fake.press(zoe, /^🔁 Replace sk-arb-/);
  await fake.press(zoe, '✅ Replace key');
  const newKey = fake.copyTexts(4711).at(-1)!.text;
  assert.notEqual(newKey, key);
  const oldModels = await fetch(`${stack.baseURL}/models`, { headers: { authorization: `Bearer ${key}` } });
  assert.equal(oldModels.status, 401, 'the old key stopped working');
  const again = await stack.client(newKey).chat.completions.create({ model: 'gpt-4', messages: HELLO });
  assert.ok(again.usage!.total_tokens > 0);
  await fake.press(zoe, '🔑 My Keys');
  const after = /([\d,]+) of 100,000 tokens left/.exec(fake.findBotMessage(4711, /Your keys/)!.text)!;
  assert.equal(Number(after[1].replace(/,/g, '')), left - (again.usage!.prompt_tokens + 2 * again.usage!.completion_tokens), 'the same allocation, usage carried over');
});
