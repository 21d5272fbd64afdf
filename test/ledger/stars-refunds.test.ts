/**
 * Stars refunds (src/ledger/stars-refunds.ts) against the fake Bot API: once per charge id, the credit taken
 * back by one ledger row, refused when it was spent unless forced (then the loss is a refund: revenue goes
 * down, a negative transaction line), Telegram's refusal changes nothing, a crash after Telegram refunded
 * is resumed. `arb audit` stays clean throughout.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { tempDb, testDialects, PG_SKIP_REASON } from '../support/db.js';
import { startFakeTelegram } from '../support/fake-telegram.js';
import { seedPackage } from '../support/seed.js';
import { createLogger } from '../../src/logger.js';
import { auditLedger } from '../../src/ledger/audit.js';
import { creditUser, purchasePackage } from '../../src/ledger/ledger.js';
import { botApiStarRefunder, refundStarsPayment, starsTopupNote, StarRefundError } from '../../src/ledger/stars-refunds.js';
import { computeStats } from '../../src/stats/stats.js';
import { InputError, NotFoundError } from '../../src/errors.js';

if (!process.env.TEST_DATABASE_URL) test('Stars refunds on PostgreSQL', { skip: PG_SKIP_REASON }, () => {});

for (const dialect of testDialects()) {
  test(`[${dialect}] a Stars refund: once, the credit taken back, refused when spent unless forced, Telegram's refusal changes nothing`, async (t) => {
    const handle = await tempDb(t, dialect);
    const fake = await startFakeTelegram();
    t.after(() => fake.close());
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger({
      destination: new Writable({
        write: (c, _e, cb) => (
          lines.push(
            ...String(c)
              .split('\n')
              .filter(Boolean)
              .map((l) => JSON.parse(l)),
          ),
          cb()
        ),
      }),
    });
    const refund = botApiStarRefunder({ token: fake.token, telegramApiRoot: fake.apiRoot });
    const deps = { handle, logger, refund };
    const pay = async (telegramId: number, chargeId: string, stars: number) => {
      fake.successfulPaymentUpdate(fake.user(telegramId), { payload: `stars:${telegramId}:${stars}`, total_amount: stars, charge_id: chargeId });
      await creditUser({ handle }, { telegramId, amountMicros: stars * 13_000, type: 'topup', reference: chargeId, note: starsTopupNote(stars) });
    };
    const balance = async (telegramId: number) => Number((await handle.db.selectFrom('users').select('balance').where('telegram_id', '=', telegramId).executeTakeFirstOrThrow()).balance);

    // unspent: one adjustment row takes the 100 ⭐ ($1.30) back
    await pay(501, 'charge-a', 100);
    await creditUser({ handle }, { telegramId: 501, amountMicros: 2_000_000, type: 'adjustment', note: 'other money' });
    const first = await refundStarsPayment(deps, { chargeId: 'charge-a', requestedBy: 'cli' });
    assert.equal(first.alreadyRefunded, false);
    assert.equal(first.takenBackMicros, 1_300_000);
    assert.equal(first.lossMicros, 0);
    assert.equal(first.transaction?.amountMicros, -1_300_000);
    assert.equal(first.transaction?.type, 'adjustment');
    assert.equal(await balance(501), 2_000_000);
    assert.equal(fake.starPayments.get('charge-a')?.refunded, true);
    const again = await refundStarsPayment(deps, { chargeId: 'charge-a', requestedBy: 'cli' });
    assert.equal(again.alreadyRefunded, true);
    assert.equal(await balance(501), 2_000_000);
    assert.equal(fake.calls.filter((c) => c.method === 'refundStarPayment').length, 1, 'Telegram is asked once');
    assert.ok(lines.some((l) => l.business_event === true && l.event_type === 'stars_refunded' && l.user_id === 501));
    assert.ok(!lines.some((l) => l.transaction === true), 'an unspent top-up given back is not revenue');

    // spent: refused with the reason, nothing changed
    const pkg = await seedPackage(handle); // $3.75
    await pay(502, 'charge-b', 500); // $6.50
    await purchasePackage({ handle }, { telegramId: 502, packageId: pkg.id, reference: 'buy-b' }); // balance $2.75
    await assert.rejects(refundStarsPayment(deps, { chargeId: 'charge-b', requestedBy: 'cli' }), (e: unknown) => {
      assert.ok(e instanceof InputError);
      assert.match((e as Error).message, /already spent \$3\.75 of the \$6\.50 .*balance \$2\.75.*--force/);
      return true;
    });
    assert.equal(await balance(502), 2_750_000);
    assert.equal(fake.starPayments.get('charge-b')?.refunded, false);
    assert.equal((await handle.db.selectFrom('star_refunds').selectAll().where('charge_id', '=', 'charge-b').execute()).length, 0);

    // forced: the spent $3.75 is a refund (revenue −$3.75), the balance ends at 0
    const revenueBefore = (await computeStats(handle)).revenueMicros;
    const forced = await refundStarsPayment(deps, { chargeId: 'charge-b', force: true, requestedBy: 'cli' });
    assert.equal(forced.takenBackMicros, 2_750_000);
    assert.equal(forced.lossMicros, 3_750_000);
    assert.equal(await balance(502), 0);
    assert.equal((await computeStats(handle)).revenueMicros, revenueBefore - 3_750_000);
    const tx = lines.filter((l) => l.transaction === true);
    assert.deepEqual(
      tx.map((l) => [l.type, l.amount]),
      [['refund', -3.75]],
    );

    // Telegram refuses (it never saw this charge): nothing changed, the claim is gone
    await creditUser({ handle }, { telegramId: 503, amountMicros: 650_000, type: 'topup', reference: 'charge-c', note: starsTopupNote(50) });
    await assert.rejects(
      refundStarsPayment(deps, { chargeId: 'charge-c', requestedBy: 'cli' }),
      (e: unknown) => e instanceof StarRefundError && /CHARGE_NOT_FOUND.*nothing was changed/.test((e as Error).message),
    );
    assert.equal(await balance(503), 650_000);
    assert.equal((await handle.db.selectFrom('star_refunds').selectAll().where('charge_id', '=', 'charge-c').execute()).length, 0);

    // a crash after Telegram refunded: the pending claim is resumed, the ledger written once
    await pay(504, 'charge-d', 50);
    const u504 = await handle.db.selectFrom('users').select('id').where('telegram_id', '=', 504).executeTakeFirstOrThrow();
    await handle.db
      .insertInto('star_refunds')
      .values({
        charge_id: 'charge-d',
        user_id: u504.id,
        stars: 50,
        credited: 650_000,
        taken_back: 0,
        loss: 0,
        status: 'pending',
        requested_by: 'cli',
        created_at: '2026-01-01 00:00:00',
        completed_at: null,
      })
      .execute();
    await refund(504, 'charge-d');
    const resumed = await refundStarsPayment(deps, { chargeId: 'charge-d', requestedBy: 'cli' });
    assert.equal(resumed.alreadyRefunded, false);
    assert.equal(await balance(504), 0);

    // bad input
    await assert.rejects(refundStarsPayment(deps, { chargeId: 'no such', requestedBy: 'cli' }), /telegram_payment_charge_id: expected the charge id/);
    await assert.rejects(refundStarsPayment(deps, { chargeId: 'unknown-charge', requestedBy: 'cli' }), (e: unknown) => e instanceof NotFoundError);

    const audit = await auditLedger(handle);
    assert.deepEqual(audit.problems, []);
  });
}
