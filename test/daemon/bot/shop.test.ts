/**
 * The customer's shop, as a user sees it in Telegram: the real grammY bot over real HTTP against the fake
 * Bot API, webhook mode, a real SQLite database with the fixture catalog and a package made by the real
 * package service.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hashApiKey } from '../../../src/keys/api-key.js';
import { auditLedger } from '../../../src/ledger/audit.js';
import { seedPackage } from '../../support/seed.js';
import { startBotHarness } from './harness.js';

const ALICE = 4242;

test('a customer browses, is refused without balance, buys once, and gets the key in a message of its own that stays', async (t) => {
  const h = await startBotHarness(t);
  const pkg = await seedPackage(h.handle, { description: 'GPT-4 Premium Access - 100k tokens' });
  const alice = h.fake.user(ALICE, { first_name: 'Alice' });

  // /start → main menu
  await h.fake.send(alice, '/start');
  const menu = h.fake.lastBotMessage(ALICE);
  assert.match(menu.text, /Hello, Alice!/);
  assert.match(menu.text, /Balance: \$0\.00/);
  assert.deepEqual(h.fake.buttons(ALICE), ['🤖 AI Tokens', '💰 Balance', '🔑 My Keys', 'ℹ️ Help']);

  // AI Tokens → the package list (one category: straight to the list) → details
  await h.fake.press(alice, '🤖 AI Tokens');
  const list = h.fake.lastBotMessage(ALICE).text;
  assert.match(list, /AI Tokens/);
  // each package on the page with model, tokens, price, validity and the weighting rule
  assert.match(list, /1\. GPT-4 Premium Access - 100k tokens\n {4}openai\/gpt-4 · 100,000 tokens · \$3\.75 · 30 days · a prompt token counts 1, a completion token counts 2/);
  assert.ok(h.fake.buttons(ALICE).includes('GPT-4 Premium Access - 100k tokens · $3.75'), JSON.stringify(h.fake.buttons(ALICE)));
  await h.fake.press(alice, 'GPT-4 Premium Access - 100k tokens · $3.75');
  const details = h.fake.lastBotMessage(ALICE).text;
  assert.match(details, /Model: openai\/gpt-4/);
  assert.match(details, /Tokens: 100,000/);
  assert.match(details, /Price: \$3\.75/);
  assert.match(details, /Valid for: 30 days/);
  assert.match(details, /Metering: a prompt token counts 1, a completion token counts 2/);
  assert.match(details, /\$30\.00 per 1M prompt tokens, \$60\.00 per 1M completion tokens/);
  // the menu is one living message: buttons edit it instead of sending new ones
  assert.equal(h.fake.botMessages(ALICE).length, 1);

  // Buy with $0 → a clear refusal with a top-up button; nothing moved
  await h.fake.press(alice, '🛒 Buy for $3.75');
  const refusal = h.fake.lastBotMessage(ALICE);
  assert.match(refusal.text, /Not enough balance/);
  assert.match(refusal.text, /costs \$3\.75; your balance is \$0\.00, \$3\.75 short/);
  assert.ok(h.fake.buttons(ALICE).includes('⭐ Top up with Stars'));
  assert.ok(h.fake.buttons(ALICE).includes('⭐ Pay 289 ⭐ and buy'), JSON.stringify(h.fake.buttons(ALICE)));
  assert.equal((await h.handle.db.selectFrom('ai_token_allocations').selectAll().execute()).length, 0);
  assert.equal((await h.handle.db.selectFrom('transactions').selectAll().execute()).length, 0);

  // with $10: Buy → Confirm → the key
  await h.credit(ALICE, 10);
  await h.fake.press(alice, '⬅️ Back');
  await h.fake.press(alice, '🛒 Buy for $3.75');
  assert.match(h.fake.lastBotMessage(ALICE).text, /Confirm your purchase[\s\S]*Balance: \$10\.00 → \$6\.25/);
  await h.fake.press(alice, '✅ Confirm purchase');

  // the confirmation turns into a receipt; the key comes in a message of its own
  const receipt = h.fake.findBotMessage(ALICE, /Purchase complete/)!;
  assert.ok(receipt, 'a receipt');
  assert.match(receipt.text, /Your API key is in the next message/);
  assert.deepEqual(
    receipt.inline_keyboard?.flat().map((b) => b.text),
    ['🔑 My Keys', '🏠 Main menu'],
  );
  const keyMessage = h.fake.lastBotMessage(ALICE);
  assert.notEqual(keyMessage.message_id, receipt.message_id);
  const [copy] = h.fake.copyTexts(ALICE);
  assert.equal(copy.label, '📋 Copy key');
  assert.equal(copy.message.message_id, keyMessage.message_id);
  const key = copy.text;
  assert.match(key, /^sk-arb-[A-Za-z0-9_-]{32}$/);
  assert.ok(!receipt.text.includes(key), 'the receipt never shows the key');
  assert.deepEqual(
    keyMessage.inline_keyboard?.flat().map((b) => Object.keys(b).sort()),
    [['copy_text', 'text']],
    'the key message has no button that could turn it into another screen',
  );
  assert.ok(
    keyMessage.entities.some((e) => e.type === 'spoiler' && e.text === key),
    'the key itself is in a spoiler',
  );
  const base = h.shopBot.apiBaseUrl;
  assert.match(keyMessage.text, new RegExp(`Base URL: ${base.replace(/[./]/g, '\\$&')}`));
  const blocks = keyMessage.entities.filter((e) => e.type === 'pre').map((e) => e.text);
  assert.ok(
    blocks.some((b) => b.includes(`curl ${base}/chat/completions`) && b.includes(`Authorization: Bearer ${key}`) && b.includes('"model":"openai/gpt-4"')),
    'a ready curl',
  );
  assert.ok(blocks.includes(`export OPENAI_BASE_URL='${base}'\nexport OPENAI_API_KEY='${key}'`), 'ready OpenAI SDK settings');
  assert.ok(!keyMessage.text.includes('ANTHROPIC_'), 'no Claude Code settings for an OpenAI model');

  const allocations = await h.handle.db.selectFrom('ai_token_allocations').selectAll().execute();
  assert.equal(allocations.length, 1);
  assert.equal(allocations[0].api_key_hash, hashApiKey(key));
  assert.equal(allocations[0].package_id, pkg.id);
  const user = await h.handle.db.selectFrom('users').selectAll().where('telegram_id', '=', ALICE).executeTakeFirstOrThrow();
  assert.equal(user.balance, 6_250_000);

  // My Keys (from the receipt): masked key, remaining tokens, expiry — the key message stays as it was
  const keyText = keyMessage.text;
  await h.fake.press(alice, '🔑 My Keys');
  const keys = h.fake.findBotMessage(ALICE, /Your keys/)!.text;
  assert.ok(keys.includes(allocations[0].api_key), keys);
  assert.match(keys, /100,000 of 100,000 tokens left · expires \d{4}-\d\d-\d\d \d\d:\d\d UTC/);
  assert.equal(keyMessage.edits, 0);
  assert.equal(keyMessage.text, keyText);
  assert.ok(h.fake.messages(ALICE).includes(keyMessage), 'never deleted');
  assert.equal(h.fake.calls.filter((c) => c.method === 'editMessageText' && c.payload.message_id === keyMessage.message_id).length, 0);
  assert.equal(h.fake.calls.filter((c) => JSON.stringify(c.payload).includes(key)).length, 1, 'the key was sent exactly once');
  assert.ok(!h.logText().includes(key), 'the key never reaches the log');

  // Balance: amount and the ledger tail
  await h.fake.press(alice, '🏠 Main menu');
  await h.fake.press(alice, '💰 Balance');
  const balance = h.fake.lastBotMessage(ALICE).text;
  assert.match(balance, /Balance: \$6\.25/);
  assert.match(balance, /Purchase · -\$3\.75 → \$6\.25 · GPT-4 Premium Access/);
  assert.match(balance, /Adjustment · \+\$10\.00 → \$10\.00/);

  // Help explains how to use the key
  await h.fake.press(alice, '🏠 Main menu');
  await h.fake.press(alice, 'ℹ️ Help');
  assert.match(h.fake.lastBotMessage(ALICE).text, /Base URL: http:\/\/127\.0\.0\.1:\d+\/v1[\s\S]*Authorization: Bearer sk-arb-…/);

  assert.equal((await auditLedger(h.handle)).ok, true);
});

test('a double tap on Confirm buys once; the second tap is told the purchase is complete', async (t) => {
  const h = await startBotHarness(t);
  await seedPackage(h.handle);
  const bob = h.fake.user(7777);
  await h.credit(7777, 10);
  await h.fake.send(bob, '/start');
  await h.fake.press(bob, '🤖 AI Tokens');
  await h.fake.press(bob, /· \$3\.75$/);
  await h.fake.press(bob, '🛒 Buy for $3.75');
  const confirm = h.fake.findButton(7777, '✅ Confirm purchase');
  assert.ok(confirm);
  const data = (confirm.button as { callback_data: string }).callback_data;

  // two taps in flight at once (two updates, same button)
  const [a, b] = await Promise.all([h.fake.deliver(h.fake.callbackUpdate(bob, data, confirm.message)), h.fake.deliver(h.fake.callbackUpdate(bob, data, confirm.message))]);
  assert.equal(a.status, 200);
  assert.equal(b.status, 200);
  // and a late third one
  await h.fake.deliver(h.fake.callbackUpdate(bob, data, confirm.message));

  const allocations = await h.handle.db.selectFrom('ai_token_allocations').selectAll().execute();
  assert.equal(allocations.length, 1);
  const purchases = await h.handle.db.selectFrom('transactions').selectAll().where('type', '=', 'purchase').execute();
  assert.equal(purchases.length, 1);
  const user = await h.handle.db.selectFrom('users').selectAll().where('telegram_id', '=', 7777).executeTakeFirstOrThrow();
  assert.equal(user.balance, 6_250_000);
  const keyMessages = h.fake.calls.filter((c) => c.ok && /sk-arb-[A-Za-z0-9_-]{20,}/.test(JSON.stringify(c.payload)));
  assert.equal(keyMessages.length, 1, 'one key message');
  assert.equal(h.fake.callbackAnswers.filter((a2) => a2.text?.includes('already complete')).length, 2);
});

test('a package description with HTML and Markdown characters is shown literally', async (t) => {
  const h = await startBotHarness(t);
  const description = 'Tricky _*[<b>&amp;</b>]* `code` & "quotes" <script>';
  await seedPackage(h.handle, { description });
  const carol = h.fake.user(31337);
  await h.credit(31337, 5);
  await h.fake.send(carol, '/start');
  await h.fake.press(carol, '🤖 AI Tokens');
  await h.fake.press(carol, /· \$3\.75$/);
  assert.ok(h.fake.lastBotMessage(31337).text.startsWith(`📦 ${description}\n`), h.fake.lastBotMessage(31337).text);
  await h.fake.press(carol, '🛒 Buy for $3.75');
  assert.ok(h.fake.lastBotMessage(31337).text.includes(description));
  await h.fake.press(carol, '✅ Confirm purchase');
  assert.ok(h.fake.findBotMessage(31337, /Purchase complete/)!.text.includes(`Purchase complete: ${description}`));
  assert.ok(h.fake.lastBotMessage(31337).text.includes(`Your API key · ${description}`));
  await h.fake.press(carol, '🔑 My Keys');
  assert.ok(h.fake.lastBotMessage(31337).text.includes(description.slice(0, 30)));
  assert.equal(h.fake.calls.filter((c) => !c.ok).length, 0, JSON.stringify(h.fake.calls.filter((c) => !c.ok)));
});

test('a balance spent between Buy and Confirm: refused, nothing moves, and the failure is logged for the alert rule', async (t) => {
  const h = await startBotHarness(t);
  await seedPackage(h.handle, { description: 'GPT-4 Premium Access - 100k tokens' });
  const bob = h.fake.user(5151, { first_name: 'Bob' });
  await h.credit(5151, 5);
  await h.fake.send(bob, '/start');
  await h.fake.press(bob, '🤖 AI Tokens');
  await h.fake.press(bob, 'GPT-4 Premium Access - 100k tokens · $3.75');
  await h.fake.press(bob, '🛒 Buy for $3.75');
  await h.credit(5151, -4); // spent elsewhere meanwhile
  await h.fake.press(bob, '✅ Confirm purchase');
  assert.match(h.fake.lastBotMessage(5151).text, /Not enough balance/);
  assert.equal((await h.handle.db.selectFrom('ai_token_allocations').selectAll().execute()).length, 0);
  const failed = h.logs().filter((l) => l.event_type === 'purchase_failed');
  assert.equal(failed.length, 1);
  assert.equal(failed[0].user_id, 5151);
  assert.equal(failed[0].business_event, true);
  assert.ok((await auditLedger(h.handle)).ok);
});
