/**
 * Webhook mode (WEBHOOK_URL set): setWebhook with the secret token and allowed updates, and the secret
 * checked on every call. Long polling (WEBHOOK_URL unset): getUpdates through the fake's queue.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { seedPackage } from '../../support/seed.js';
import { until } from '../../support/wait.js';
import { startBotHarness, WEBHOOK_SECRET } from './harness.js';

function post(url: string, body: string, headers: Record<string, string> = {}, method = 'POST'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('webhook mode: setWebhook(WEBHOOK_URL/telegram/webhook) with secret and allowed updates; wrong or missing secret → 401, nothing processed', async (t) => {
  const h = await startBotHarness(t, { mode: 'webhook' });
  assert.equal(h.shopBot.mode, 'webhook');
  const [setWebhook] = h.fake.callsOf('setWebhook');
  assert.equal(setWebhook.url, `${h.webhookBase}/telegram/webhook`);
  assert.equal(setWebhook.secret_token, WEBHOOK_SECRET);
  assert.ok((setWebhook.allowed_updates as string[]).includes('pre_checkout_query'));
  assert.ok((setWebhook.allowed_updates as string[]).includes('callback_query'));
  assert.ok((setWebhook.allowed_updates as string[]).includes('message'));
  assert.equal(h.fake.callsOf('getUpdates').length, 0);

  const eve = h.fake.user(8080);
  const update = h.fake.messageUpdate(eve, '/start');
  const wrong = await h.fake.deliver(update, { secretToken: 'not-the-secret' });
  assert.equal(wrong.status, 401);
  const missing = await h.fake.deliver(update, { secretToken: null });
  assert.equal(missing.status, 401);
  const url = `${h.webhookBase}/telegram/webhook`;
  const almost = await post(url, JSON.stringify(update), { 'x-telegram-bot-api-secret-token': `${WEBHOOK_SECRET}x` });
  assert.equal(almost.status, 401);
  assert.equal(h.fake.botMessages(8080).length, 0);
  assert.equal((await h.handle.db.selectFrom('processed_updates').selectAll().execute()).length, 0);
  assert.equal((await h.handle.db.selectFrom('users').selectAll().execute()).length, 0);
  const security = h.logs().filter((l) => l.security_event === true && l.event === 'webhook_unauthorized');
  assert.deepEqual(
    security.map((l) => l.reason),
    ['wrong secret', 'no secret header', 'wrong secret'],
  );
  assert.ok(!h.logText().includes(WEBHOOK_SECRET), 'the secret never reaches the log');

  // other malformed calls
  assert.equal((await post(url, '', { 'x-telegram-bot-api-secret-token': WEBHOOK_SECRET }, 'GET')).status, 405);
  assert.equal((await post(url, '{not json', { 'x-telegram-bot-api-secret-token': WEBHOOK_SECRET })).status, 400);
  assert.equal((await post(url, '{"message":{}}', { 'x-telegram-bot-api-secret-token': WEBHOOK_SECRET })).status, 400);
  assert.equal((await post(url, 'x'.repeat(1024 * 1024 + 10), { 'x-telegram-bot-api-secret-token': WEBHOOK_SECRET })).status, 413);

  // the right secret: processed
  const ok = await h.fake.deliver(update);
  assert.equal(ok.status, 200);
  assert.match(h.fake.lastBotMessage(8080).text, /Hello/);
});

test('long polling mode: no WEBHOOK_URL → deleteWebhook, getUpdates with allowed updates; a purchase over polling; stop ends polling', async (t) => {
  const h = await startBotHarness(t, { mode: 'polling' });
  assert.equal(h.shopBot.mode, 'polling');
  assert.equal(h.fake.callsOf('setWebhook').length, 0);
  assert.equal(h.fake.callsOf('deleteWebhook').length, 1);

  await seedPackage(h.handle);
  const fay = h.fake.user(9090);
  await h.credit(9090, 5);
  await h.fake.send(fay, '/start');
  const first = h.fake.callsOf('getUpdates')[0];
  assert.ok((first.allowed_updates as string[]).includes('pre_checkout_query'));
  assert.match(h.fake.lastBotMessage(9090).text, /Balance: \$5\.00/);
  await h.fake.press(fay, '🤖 AI Tokens');
  await h.fake.press(fay, /· \$3\.75$/);
  await h.fake.press(fay, '🛒 Buy for $3.75');
  await h.fake.press(fay, '✅ Confirm purchase');
  assert.ok(h.fake.findBotMessage(9090, /Purchase complete/));
  assert.match(h.fake.copyTexts(9090).at(-1)?.text ?? '', /^sk-arb-/);

  // Stars top-up over polling too
  await h.fake.press(fay, '🏠 Main menu');
  await h.fake.press(fay, '💰 Balance');
  await h.fake.press(fay, '⭐ Top up with Stars');
  await h.fake.press(fay, '50 ⭐ → $0.65');
  assert.equal((await h.fake.pay(fay, 'poll-charge-1')).preCheckoutOk, true);
  const user = await h.handle.db.selectFrom('users').selectAll().where('telegram_id', '=', 9090).executeTakeFirstOrThrow();
  assert.equal(user.balance, 1_250_000 + 650_000);

  await until('a long poll held open while polling', () => h.fake.waitingPolls === 1);
  await h.shopBot.stop();
  await until('the bot closed its long poll', () => h.fake.waitingPolls === 0);
  const polls = h.fake.callsOf('getUpdates').length;
  await h.shopBot.stop(); // idempotent
  await new Promise((r) => setTimeout(r, 50)); // a polling loop still running would be holding a new poll by now
  assert.equal(h.fake.waitingPolls, 0, 'no new long poll after stop');
  assert.equal(h.fake.callsOf('getUpdates').length, polls, 'no polling after stop');
});

test('the base URL customers get: publicBaseUrl (a value or read when shown), else WEBHOOK_URL, else 127.0.0.1:PORT', async (t) => {
  const webhook = await startBotHarness(t, { mode: 'webhook' });
  assert.equal(webhook.shopBot.apiBaseUrl, `${webhook.webhookBase}/v1`);
  const polling = await startBotHarness(t, { mode: 'polling', env: { PORT: '8123' } });
  assert.equal(polling.shopBot.apiBaseUrl, 'http://127.0.0.1:8123/v1');
  let listening: string | undefined;
  const late = await startBotHarness(t, { mode: 'polling', deps: { publicBaseUrl: () => listening } });
  assert.equal(late.shopBot.apiBaseUrl, 'http://127.0.0.1:8000/v1');
  listening = 'https://shop.example.com/';
  assert.equal(late.shopBot.apiBaseUrl, 'https://shop.example.com/v1');
});
