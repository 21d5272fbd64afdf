/**
 * ➕ Create Package as a guided conversation (grammY conversations, state in the database): model with
 * search, tokens, description, category, a price preview with cost and margin, confirm — with bad input
 * asked again, a price below the floor refused, and the flow surviving a restart; a command leaves it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ensureCategory } from '../../../src/packages/categories.js';
import { seedPackage } from '../../support/seed.js';
import { ADMIN_ID, startBotHarness } from './harness.js';

test('➕ Create Package: search the model, tokens, description, category, preview with cost and margin, set a price, create', async (t) => {
  const h = await startBotHarness(t);
  await seedPackage(h.handle, { tokens: 50_000, description: 'Seed' });
  const openai = await ensureCategory(h.handle, 'OpenAI');
  const admin = h.fake.user(ADMIN_ID);
  await h.fake.send(admin, '/admin');
  await h.fake.press(admin, '📦 Manage Packages');
  await h.fake.press(admin, '➕ Create Package');
  assert.match(h.fake.lastBotMessage(ADMIN_ID).text, /New package · step 1 of 5: the model/);

  await h.fake.send(admin, 'zzzz-no-such-model');
  assert.match(h.fake.lastBotMessage(ADMIN_ID).text, /No priced model matches “zzzz-no-such-model”/);
  await h.fake.send(admin, 'gpt-4');
  assert.match(h.fake.lastBotMessage(ADMIN_ID).text, /Models matching “gpt-4”/);
  const choices = h.fake.buttons(ADMIN_ID);
  assert.ok(choices.includes('openai/gpt-4'), JSON.stringify(choices));
  assert.ok(choices.every((c) => c.includes('gpt-4') || c === '✖️ Cancel'));
  await h.fake.press(admin, 'openai/gpt-4');
  assert.match(h.fake.lastBotMessage(ADMIN_ID).text, /Step 2 of 5: tokens\n\nModel: openai\/gpt-4 \(\$30\.00 per 1M prompt tokens/);

  await h.fake.send(admin, 'lots');
  assert.match(h.fake.lastBotMessage(ADMIN_ID).text, /That is not a number of tokens/);
  await h.fake.send(admin, '100k');
  assert.match(h.fake.lastBotMessage(ADMIN_ID).text, /Step 3 of 5: description/);
  await h.fake.send(admin, 'GPT-4 Premium Access - 100k tokens');
  assert.match(h.fake.lastBotMessage(ADMIN_ID).text, /Step 4 of 5: category/);
  assert.deepEqual(h.fake.buttons(ADMIN_ID), ['OpenAI', 'No category', '✖️ Cancel']);
  await h.fake.press(admin, 'OpenAI');

  const preview = h.fake.lastBotMessage(ADMIN_ID).text;
  assert.match(preview, /Step 5 of 5: check and create/);
  assert.match(preview, /GPT-4 Premium Access - 100k tokens\nModel: openai\/gpt-4 · 100,000 tokens · valid 30 days · category: OpenAI/);
  assert.match(preview, /Cost of the tokens: \$3\.00 \(100,000 × \$30\.00 per 1M\)\nPrice: \$3\.75 \(markup 25 %\)\nProfit: \$0\.75 · margin 25\.0 % · lowest allowed price \$3\.30/);

  await h.fake.press(admin, '✏️ Set a price');
  await h.fake.send(admin, '1.00');
  assert.match(h.fake.lastBotMessage(ADMIN_ID).text, /Send a USD amount of at least \$3\.30/);
  await h.fake.send(admin, '4.50');
  assert.match(h.fake.lastBotMessage(ADMIN_ID).text, /Price: \$4\.50 \(set by you\)\nProfit: \$1\.50 · margin 50\.0 %/);
  assert.equal((await h.handle.db.selectFrom('ai_token_packages').selectAll().execute()).length, 1, 'nothing created before the confirmation');
  await h.fake.press(admin, '✅ Create package');
  assert.match(h.fake.lastBotMessage(ADMIN_ID).text, /Package #2 created: GPT-4 Premium Access - 100k tokens/);

  const pkg = await h.handle.db.selectFrom('ai_token_packages').selectAll().where('id', '=', 2).executeTakeFirstOrThrow();
  assert.equal(pkg.model, 'openai/gpt-4');
  assert.equal(pkg.tokens, 100_000);
  assert.equal(pkg.price, 4_500_000);
  assert.equal(pkg.cost, 3_000_000);
  assert.equal(pkg.category_id, openai.id);
  assert.equal((await h.handle.db.selectFrom('bot_conversations').selectAll().execute()).length, 0, 'the finished conversation is gone');

  // after the flow, text is handled as usual again
  await h.fake.send(admin, 'hello');
  assert.match(h.fake.lastBotMessage(ADMIN_ID).text, /didn't understand that/);
});

test('the conversation survives a restart; ✖️ Cancel and commands leave it; only admins', async (t) => {
  const h = await startBotHarness(t);
  await seedPackage(h.handle, { tokens: 50_000, description: 'Seed' });
  const admin = h.fake.user(ADMIN_ID);
  await h.fake.send(admin, '/admin');
  await h.fake.press(admin, '📦 Manage Packages');
  await h.fake.press(admin, '➕ Create Package');
  await h.fake.send(admin, 'claude opus 4.5');
  await h.fake.press(admin, 'anthropic/claude-opus-4.5');
  assert.equal((await h.handle.db.selectFrom('bot_conversations').selectAll().execute()).length, 1, 'kept in the database');

  await h.restart();
  await h.fake.send(admin, '1M');
  assert.match(h.fake.lastBotMessage(ADMIN_ID).text, /Step 3 of 5: description/, 'continued after the restart');
  await h.fake.press(admin, '✖️ Cancel');
  assert.match(h.fake.lastBotMessage(ADMIN_ID).text, /Package creation cancelled; nothing was created/);
  assert.equal((await h.handle.db.selectFrom('ai_token_packages').selectAll().execute()).length, 1);

  // a command in the middle leaves the flow and is handled
  await h.fake.press(admin, '➕ Create Package');
  await h.fake.send(admin, '/start');
  assert.match(h.fake.lastBotMessage(ADMIN_ID).text, /Hello/);
  await h.fake.send(admin, 'gpt-4');
  assert.match(h.fake.lastBotMessage(ADMIN_ID).text, /didn't understand that/, 'no longer in the flow');
  assert.equal((await h.handle.db.selectFrom('ai_token_packages').selectAll().execute()).length, 1);
});
