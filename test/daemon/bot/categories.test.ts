/**
 * 🗂 Categories in the admin menu: list with usage, create (top level and under a category), rename, delete
 * — refused while packages use it (named), asked first otherwise; customers see the new names in the shop.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seedPackage } from '../../support/seed.js';
import { ADMIN_ID, startBotHarness } from './harness.js';

test('🗂 Categories: create, rename, delete refused while in use and asked first when not; only admins', async (t) => {
  const h = await startBotHarness(t);
  const admin = h.fake.user(ADMIN_ID);
  await h.fake.send(admin, '/admin');
  await h.fake.press(admin, '🗂 Categories');
  assert.match(h.fake.lastBotMessage(ADMIN_ID).text, /No categories yet/);

  await h.fake.press(admin, '➕ New category');
  assert.match(h.fake.lastBotMessage(ADMIN_ID).text, /^🗂 ➕ New category: reply/);
  await h.fake.reply(admin, '  OpenAI  <models> ');
  assert.match(h.fake.lastBotMessage(ADMIN_ID).text, /Category #1 “OpenAI <models>” created/);
  await h.fake.reply(admin, 'OpenAI <models>', h.fake.findBotMessage(ADMIN_ID, /^🗂 ➕ New category/)!);
  assert.match(h.fake.lastBotMessage(ADMIN_ID).text, /already exists/);

  const pkg = await seedPackage(h.handle, { description: 'GPT-4 100k', categoryId: 1 });
  await h.fake.press(admin, '🗂 Categories');
  assert.match(h.fake.lastBotMessage(ADMIN_ID).text, /Categories \(1\)[\s\S]*#1 OpenAI <models> · 1 package/);
  await h.fake.press(admin, 'OpenAI <models> (1)');
  assert.match(h.fake.lastBotMessage(ADMIN_ID).text, /OpenAI <models> \(#1\)\n1 package · 0 subcategories/);

  // a subcategory, then a rename
  await h.fake.press(admin, '➕ New subcategory');
  await h.fake.reply(admin, 'GPT-4 family');
  assert.match(h.fake.lastBotMessage(ADMIN_ID).text, /Category #2 “GPT-4 family” created/);
  await h.fake.press(admin, '🗂 Categories');
  await h.fake.press(admin, 'OpenAI <models> (1)');
  await h.fake.press(admin, '✏️ Rename');
  await h.fake.reply(admin, 'OpenAI');
  assert.match(h.fake.lastBotMessage(ADMIN_ID).text, /Category #1 renamed: “OpenAI <models>” → “OpenAI”/);
  const customer = h.fake.user(555);
  await h.fake.send(customer, '/shop');
  assert.match(h.fake.lastBotMessage(555).text, /AI Tokens/);

  // in use: refused, naming the package and the subcategory; nothing deleted
  await h.fake.press(admin, '🗂 Categories');
  await h.fake.press(admin, 'OpenAI (1)');
  await h.fake.press(admin, '🗑 Delete');
  const refusal = h.fake.lastBotMessage(ADMIN_ID).text;
  assert.match(refusal, /“OpenAI” is in use and cannot be deleted/);
  assert.match(refusal, new RegExp(`#${pkg.id} openai/gpt-4 GPT-4 100k`));
  assert.match(refusal, /Subcategories: GPT-4 family/);
  assert.equal((await h.handle.db.selectFrom('categories').selectAll().execute()).length, 2);

  // unused: asked first, then deleted
  await h.fake.press(admin, '⬅️ Back');
  await h.fake.press(admin, '⬅️ Back');
  await h.fake.press(admin, 'OpenAI › GPT-4 family (0)');
  await h.fake.press(admin, '🗑 Delete');
  assert.match(h.fake.lastBotMessage(ADMIN_ID).text, /Delete category #2 “OpenAI › GPT-4 family”\? No package uses it/);
  assert.equal((await h.handle.db.selectFrom('categories').selectAll().execute()).length, 2, 'not before the confirmation');
  await h.fake.press(admin, '🗑 Delete it');
  assert.equal(h.fake.callbackAnswers.at(-1)?.text, 'Category “GPT-4 family” deleted.');
  assert.deepEqual(
    (await h.handle.db.selectFrom('categories').select('name').execute()).map((c) => c.name),
    ['OpenAI'],
  );

  // a customer replying to a category prompt is refused and logged
  const prompt = h.fake.findBotMessage(ADMIN_ID, /^🗂 ✏️ #1/)!;
  await h.fake.deliver(h.fake.replyUpdate(customer, 'Hacked', prompt));
  assert.match(h.fake.lastBotMessage(555).text, /only for the shop’s administrators/);
  assert.deepEqual(
    (await h.handle.db.selectFrom('categories').select('name').execute()).map((c) => c.name),
    ['OpenAI'],
  );
});
