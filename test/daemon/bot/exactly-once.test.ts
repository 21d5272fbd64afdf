/**
 * Exactly once, on SQLite and PostgreSQL: a redelivered update does nothing the second time, also after a
 * restart (update ids live in processed_updates); a replayed Confirm button buys nothing twice; a replayed
 * successful_payment credits nothing twice.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { auditLedger } from '../../../src/ledger/audit.js';
import { seedPackage } from '../../support/seed.js';
import { PG_SKIP_REASON, testDialects } from '../../support/db.js';
import { startBotHarness } from './harness.js';

const GUS = 2024;

for (const dialect of testDialects()) {
  test(`[${dialect}] redelivered updates, replayed buttons and payments change nothing, also across a restart`, async (t) => {
    const h = await startBotHarness(t, { dialect });
    await seedPackage(h.handle);
    const gus = h.fake.user(GUS);
    await h.credit(GUS, 10);

    const start = h.fake.messageUpdate(gus, '/start');
    await h.fake.deliver(start);
    await h.fake.deliver(start);
    assert.equal(h.fake.botMessages(GUS).length, 1, 'the second delivery of the same update did nothing');

    await h.fake.press(gus, '🤖 AI Tokens');
    await h.fake.press(gus, /· \$3\.75$/);
    await h.fake.press(gus, '🛒 Buy for $3.75');
    const confirm = h.fake.findButton(GUS, '✅ Confirm purchase')!;
    const data = (confirm.button as { callback_data: string }).callback_data;
    const tap = h.fake.callbackUpdate(gus, data, confirm.message);
    // a double tap racing itself
    await Promise.all([h.fake.deliver(tap), h.fake.deliver(h.fake.callbackUpdate(gus, data, confirm.message))]);

    await h.fake.press(gus, '🏠 Main menu');
    await h.fake.press(gus, '💰 Balance');
    await h.fake.press(gus, '⭐ Top up with Stars');
    await h.fake.press(gus, '100 ⭐ → $1.30');
    await h.fake.pay(gus, `charge-${dialect}-1`);
    const payment = h.fake.successfulPaymentUpdate(gus, { payload: `stars:${GUS}:100`, total_amount: 100, charge_id: `charge-${dialect}-1` });

    const sentBefore = h.fake.calls.length;
    await h.restart();
    const startupCalls = h.fake.calls.length - sentBefore;
    // after the restart: the same updates again (same ids), the same button in a new update, the same charge in a new update
    await h.fake.deliver(start);
    await h.fake.deliver(tap);
    await h.fake.deliver(h.fake.callbackUpdate(gus, data, confirm.message));
    await h.fake.deliver(payment);

    assert.equal((await h.handle.db.selectFrom('ai_token_allocations').selectAll().execute()).length, 1);
    const txs = await h.handle.db.selectFrom('transactions').selectAll().orderBy('id').execute();
    assert.deepEqual(
      txs.map((x) => [x.type, x.amount]),
      [
        ['adjustment', 10_000_000],
        ['purchase', -3_750_000],
        ['topup', 1_300_000],
      ],
    );
    const user = await h.handle.db.selectFrom('users').selectAll().where('telegram_id', '=', GUS).executeTakeFirstOrThrow();
    assert.equal(user.balance, 7_550_000);
    // after the restart only the replayed button got an answer (a toast), no messages, no invoices
    const afterRestart = h.fake.calls.slice(sentBefore + startupCalls).filter((c) => c.method !== 'getUpdates');
    assert.deepEqual(
      afterRestart.map((c) => c.method),
      ['answerCallbackQuery'],
      JSON.stringify(afterRestart.map((c) => [c.method, c.payload])),
    );
    assert.match(String(afterRestart[0].payload.text), /already complete/);
    assert.equal((await auditLedger(h.handle)).ok, true);
  });
}

if (!process.env.TEST_DATABASE_URL) test('[postgres] exactly once on PostgreSQL', { skip: PG_SKIP_REASON }, () => {});
