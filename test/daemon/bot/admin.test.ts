/**
 * Admin features and the admin gate: ADMIN_ID_LIST is checked on every admin command and callback; anyone
 * else gets a polite refusal, a security_event log line, and nothing changes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { purchasePackage } from '../../../src/ledger/ledger.js';
import { toDbTime } from '../../../src/time.js';
import { PNG } from 'pngjs';
import { CHART_COLORS } from '../../../daemon/bot/chart.js';
import { seedPackage } from '../../support/seed.js';
import { ADMIN_ID, startBotHarness } from './harness.js';

const MALLORY = 666;
const CUSTOMER = 1234;

test('a non-admin touching admin commands or admin buttons is refused politely and logged', async (t) => {
  const h = await startBotHarness(t);
  const pkg = await seedPackage(h.handle);
  const mallory = h.fake.user(MALLORY);
  await h.fake.send(mallory, '/start');
  assert.ok(!h.fake.buttons(MALLORY).includes('🤖 AI Token Arbitrage'), 'no admin button for customers');

  for (const command of ['/admin', '/token_stats', '/create_package gpt-4 1000 "Free lunch"', `/add_balance ${MALLORY} 1000`, '/add_balance@arb_test_bot 666 5']) {
    await h.fake.send(mallory, command);
    assert.equal(h.fake.lastBotMessage(MALLORY).text, '🚫 Sorry, this is only for the shop’s administrators.', command);
  }
  // crafted callbacks for admin buttons (e.g. from an old forwarded admin menu)
  for (const data of ['a', 'a:s', 'a:p:0', `a:t:${pkg.id}:0`, 'a:c', 'a:n']) {
    await h.fake.deliver(h.fake.callbackUpdate(mallory, data, h.fake.lastBotMessage(MALLORY)));
  }
  const alerts = h.fake.callbackAnswers.filter((a) => a.show_alert && a.text?.startsWith('🚫'));
  assert.equal(alerts.length, 6);

  const denied = h.logs().filter((l) => l.security_event === true && l.event === 'admin_access_denied');
  assert.equal(denied.length, 11);
  assert.ok(denied.every((l) => l.telegram_user_id === MALLORY && l.level === 'WARN'));
  assert.deepEqual(
    denied.slice(0, 2).map((l) => l.action),
    ['command /admin', 'command /token_stats'],
  );
  assert.equal(denied[5].action, 'callback a');

  // nothing changed
  const user = await h.handle.db.selectFrom('users').selectAll().where('telegram_id', '=', MALLORY).executeTakeFirstOrThrow();
  assert.equal(user.balance, 0);
  assert.equal((await h.handle.db.selectFrom('ai_token_packages').selectAll().execute()).length, 1);
  assert.equal((await h.handle.db.selectFrom('ai_token_packages').selectAll().executeTakeFirstOrThrow()).is_available, 1);
  assert.equal((await h.handle.db.selectFrom('transactions').selectAll().execute()).length, 0);
});

test('an admin creates a package, credits a customer, sees the stats, disables a package and cleans up', async (t) => {
  const h = await startBotHarness(t);
  await seedPackage(h.handle, { tokens: 50_000, description: 'Seed' }); // loads the catalog
  const admin = h.fake.user(ADMIN_ID, { first_name: 'Op' });
  const customer = h.fake.user(CUSTOMER);

  await h.fake.send(admin, '/start');
  assert.ok(h.fake.buttons(ADMIN_ID).includes('🤖 AI Token Arbitrage'));

  // /create_package as in the operations manual
  await h.fake.send(admin, '/create_package gpt-4 100000 "GPT-4 Premium Access - 100k tokens"');
  const created = h.fake.lastBotMessage(ADMIN_ID).text;
  assert.match(created, /Package #2 created: GPT-4 Premium Access - 100k tokens/);
  assert.match(created, /openai\/gpt-4 · 100,000 tokens · valid 30 days/);
  assert.match(created, /Cost \$3\.00 · price \$3\.75 · profit \$0\.75 · margin 25\.0 %/);
  const pkg = await h.handle.db.selectFrom('ai_token_packages').selectAll().where('id', '=', 2).executeTakeFirstOrThrow();
  assert.equal(pkg.price, 3_750_000);
  assert.equal(pkg.description, 'GPT-4 Premium Access - 100k tokens');

  // bad input: the package service's message, naming the field
  await h.fake.send(admin, '/create_package gpt-4 lots "x"');
  assert.match(h.fake.lastBotMessage(ADMIN_ID).text, /^❌ tokens: /);
  await h.fake.send(admin, '/create_package gpt-4');
  assert.match(h.fake.lastBotMessage(ADMIN_ID).text, /^Usage: \/create_package/);
  await h.fake.send(admin, '/create_package gpt-4 100000 “Curly quoted” 1.00');
  assert.match(h.fake.lastBotMessage(ADMIN_ID).text, /^❌ price: \$1\.00 is below the margin floor \$3\.30/);

  // /add_balance: an adjustment in the ledger, and the customer is told
  await h.fake.send(customer, '/start');
  await h.fake.send(admin, `/add_balance ${CUSTOMER} 10`);
  assert.match(h.fake.lastBotMessage(ADMIN_ID).text, /\+\$10\.00 for 1234\. Their balance is now \$10\.00/);
  assert.match(h.fake.lastBotMessage(CUSTOMER).text, /Your balance was adjusted by the shop: \+\$10\.00/);
  const tx = await h.handle.db.selectFrom('transactions').selectAll().executeTakeFirstOrThrow();
  assert.equal(tx.type, 'adjustment');
  assert.equal(tx.amount, 10_000_000);
  await h.fake.send(admin, `/add_balance ${CUSTOMER} ten`);
  assert.match(h.fake.lastBotMessage(ADMIN_ID).text, /^❌ usd: "ten" is not a USD amount/);
  await h.fake.send(admin, '/add_balance');
  assert.match(h.fake.lastBotMessage(ADMIN_ID).text, /^Usage: \/add_balance <telegram_id> <usd>/);

  // a sale and a free grant, then the stats: what src/stats says, the grant on its own line
  const sold = await purchasePackage({ handle: h.handle }, { telegramId: CUSTOMER, packageId: 2 });
  await purchasePackage({ handle: h.handle }, { telegramId: CUSTOMER, packageId: 1, free: true });
  // the customer used a tenth of the key: $0.375 of revenue used, for which OpenRouter charged $0.25
  await h.handle.db.updateTable('ai_token_allocations').set({ tokens_used: 10_000 }).where('id', '=', sold.allocation.id).execute();
  await h.handle.db
    .insertInto('usage_events')
    .values({
      request_id: 'req-admin-stats',
      allocation_id: sold.allocation.id,
      model: 'openai/gpt-4',
      prompt_tokens: 10_000,
      completion_tokens: 0,
      weighted_tokens: 10_000,
      loss_tokens: 0,
      upstream_cost: 250_000,
      latency_ms: 1,
      status_code: 200,
      outcome: 'ok',
      estimated: 0,
      stream: 0,
      created_at: toDbTime(new Date()),
    })
    .execute();
  await h.fake.send(admin, '/token_stats');
  const stats = h.fake.findBotMessage(ADMIN_ID, /Arbitrage stats/)!.text;
  for (const period of ['Today', '7 days', 'All time']) {
    assert.match(
      stats,
      new RegExp(
        `${period}\\nRevenue \\$3\\.75 · cost of tokens sold \\$3\\.00 · profit \\$0\\.75 · margin 25\\.0 % · 1 sale\\n` +
          `Upstream spend \\$0\\.25 · revenue of tokens used \\$0\\.38 · realised margin 50\\.0 %\\n` +
          `Free grants: 1 \\(50,000 tokens, cost basis \\$1\\.50\\) — not sales`,
      ),
      stats,
    );
  }
  assert.match(stats, /Top models \(all time\):\n1\. openai\/gpt-4 — 1 sale · revenue \$3\.75 · profit \$0\.75/);
  // …and beside the figures, the chart: a PNG of revenue and profit per day
  const chart = h.fake.lastBotMessage(ADMIN_ID);
  assert.ok(chart.photo, 'a photo next to the figures');
  assert.match(chart.text, /Revenue \(blue\) and profit \(green/);
  const image = PNG.sync.read(chart.photo);
  assert.deepEqual([image.width, image.height], [800, 400]);
  const colour = (x: number, y: number) => [...image.data.subarray((y * image.width + x) * 4, (y * image.width + x) * 4 + 3)].join(',');
  const rightmost = (rgb: readonly number[]) => {
    for (let x = image.width - 1; x >= 0; x--) for (let y = 0; y < image.height; y++) if (colour(x, y) === rgb.join(',')) return x;
    return -1;
  };
  assert.ok(rightmost(CHART_COLORS.revenue) > image.width * 0.9, "today's revenue bar is at the right end");
  assert.ok(rightmost(CHART_COLORS.profit) > image.width * 0.9, "today's profit bar beside it");

  // the same through the menu: 🤖 AI Token Arbitrage → 📊 Arbitrage Stats
  await h.fake.send(admin, '/start');
  await h.fake.press(admin, '🤖 AI Token Arbitrage');
  assert.deepEqual(h.fake.buttons(ADMIN_ID), ['📊 Arbitrage Stats', '📦 Manage Packages', '🎫 Support tickets (0)', '🗂 Categories', '🧹 Cleanup Expired', '🏠 Main menu']);
  const photos = h.fake.botMessages(ADMIN_ID).filter((m) => m.photo).length;
  await h.fake.press(admin, '📊 Arbitrage Stats');
  assert.equal(h.fake.findBotMessage(ADMIN_ID, /Arbitrage stats/)!.text, stats);
  assert.equal(h.fake.botMessages(ADMIN_ID).filter((m) => m.photo).length, photos + 1);

  // 📦 Manage Packages → disabling #2, which is on sale, asks first; then it is gone from the shop; enable again at once
  await h.fake.press(admin, '⬅️ Back');
  await h.fake.press(admin, '📦 Manage Packages');
  assert.match(h.fake.lastBotMessage(ADMIN_ID).text, /Packages \(2\) · page 1 of 1[\s\S]*✅ #2 openai\/gpt-4 · 100,000 tokens · \$3\.75/);
  await h.fake.press(admin, /^✅ #2 /);
  assert.match(h.fake.lastBotMessage(ADMIN_ID).text, /Take package #2 off sale\?[\s\S]*customers will no longer see or buy it\. The 1 active key already sold keeps working/);
  assert.equal((await h.handle.db.selectFrom('ai_token_packages').select('is_available').where('id', '=', 2).executeTakeFirstOrThrow()).is_available, 1, 'nothing changed yet');
  await h.fake.press(admin, '⛔ Take #2 off sale');
  assert.equal(h.fake.callbackAnswers.at(-1)?.text, 'Package #2 disabled.');
  assert.match(h.fake.lastBotMessage(ADMIN_ID).text, /⛔ #2 openai\/gpt-4/);
  await h.fake.press(customer, '🤖 AI Tokens');
  assert.ok(!h.fake.buttons(CUSTOMER).some((b) => b.startsWith('GPT-4 Premium')), JSON.stringify(h.fake.buttons(CUSTOMER)));
  await h.fake.press(admin, /^⛔ #2 /);
  assert.equal((await h.handle.db.selectFrom('ai_token_packages').select('is_available').where('id', '=', 2).executeTakeFirstOrThrow()).is_available, 1);

  // 🧹 Cleanup Expired: the key past its expiry becomes expired; money stays
  await h.handle.db
    .updateTable('ai_token_allocations')
    .set({ expires_at: toDbTime(new Date(Date.now() - 60_000)) })
    .execute();
  await h.fake.press(admin, '⬅️ Back');
  await h.fake.press(admin, '🧹 Cleanup Expired');
  assert.match(h.fake.lastBotMessage(ADMIN_ID).text, /Marked 2 keys past expiry as expired/);
  assert.equal((await h.handle.db.selectFrom('ai_token_allocations').select('status').executeTakeFirstOrThrow()).status, 'expired');
  await h.fake.press(admin, '⬅️ Back');
  await h.fake.press(admin, '🧹 Cleanup Expired');
  assert.match(h.fake.lastBotMessage(ADMIN_ID).text, /Nothing to clean up/);

  assert.equal(h.logs().filter((l) => l.security_event === true).length, 0);
});
