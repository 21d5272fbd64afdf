import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tempDb, testDialects, PG_SKIP_REASON } from '../support/db.js';
import type { DbHandle } from '../../src/db/dialect.js';
import { creditUser, ensureUser, purchasePackage, refundAllocation, listTransactions } from '../../src/ledger/ledger.js';
import { auditLedger } from '../../src/ledger/audit.js';
import { hashApiKey, looksLikeApiKey, maskApiKey } from '../../src/keys/api-key.js';
import { InsufficientBalanceError, InputError, NotFoundError } from '../../src/errors.js';
import { nowDb } from '../../src/time.js';

async function insertPackage(handle: DbHandle, price = 3_750_000, tokens = 100_000): Promise<number> {
  const now = nowDb();
  const row = await handle.db
    .insertInto('ai_token_packages')
    .values({
      model: 'openai/gpt-4',
      tokens,
      description: 'GPT-4 Premium Access - 100k tokens',
      category_id: null,
      subcategory_id: null,
      cost: 3_000_000,
      price,
      validity_days: 30,
      is_available: 1,
      hold_reason: null,
      created_at: now,
      updated_at: now,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

if (!process.env.TEST_DATABASE_URL) test('ledger on PostgreSQL', { skip: PG_SKIP_REASON }, () => {});

for (const dialect of testDialects()) {
  test(`[${dialect}] credit, purchase, refund keep the ledger exact`, async (t) => {
    const handle = await tempDb(t, dialect);
    const deps = { handle };
    const pkg = await insertPackage(handle);

    const { user } = await creditUser(deps, { telegramId: 1001, amountMicros: 10_000_000, type: 'topup', reference: 'charge-1' });
    assert.equal(user.balanceMicros, 10_000_000);

    // the same external payment delivered twice credits once
    const replay = await creditUser(deps, { telegramId: 1001, amountMicros: 10_000_000, type: 'topup', reference: 'charge-1' });
    assert.equal(replay.duplicate, true);
    assert.equal((await ensureUser(handle, { telegramId: 1001 })).balanceMicros, 10_000_000);

    const bought = await purchasePackage(deps, { telegramId: 1001, packageId: pkg, reference: 'buy-1' });
    assert.ok(bought.apiKey && looksLikeApiKey(bought.apiKey), 'a full key is handed out once');
    assert.equal(bought.allocation.maskedKey, maskApiKey(bought.apiKey!));
    const stored = await handle.db.selectFrom('ai_token_allocations').selectAll().where('id', '=', bought.allocation.id).executeTakeFirstOrThrow();
    assert.equal(stored.api_key_hash, hashApiKey(bought.apiKey!));
    assert.ok(!JSON.stringify(stored).includes(bought.apiKey!), 'the stored row never holds the key');
    assert.equal(bought.allocation.tokensTotal, 100_000);
    assert.equal(bought.transaction.amountMicros, -3_750_000);
    assert.equal(bought.transaction.balanceAfterMicros, 6_250_000);

    // double tap: same reference buys nothing more
    const again = await purchasePackage(deps, { telegramId: 1001, packageId: pkg, reference: 'buy-1' });
    assert.equal(again.duplicate, true);
    assert.equal(again.apiKey, null);
    assert.equal(again.allocation.id, bought.allocation.id);
    assert.equal((await ensureUser(handle, { telegramId: 1001 })).balanceMicros, 6_250_000);

    // used a quarter, refund three quarters of the price
    await handle.db.updateTable('ai_token_allocations').set({ tokens_used: 25_000 }).where('id', '=', bought.allocation.id).execute();
    await handle.db
      .insertInto('usage_events')
      .values({
        request_id: 'r1',
        allocation_id: bought.allocation.id,
        model: 'openai/gpt-4',
        prompt_tokens: 25_000,
        completion_tokens: 0,
        weighted_tokens: 25_000,
        loss_tokens: 0,
        upstream_cost: 0,
        latency_ms: 5,
        status_code: 200,
        outcome: 'ok',
        estimated: 0,
        stream: 0,
        created_at: nowDb(),
      })
      .execute();
    const refund = await refundAllocation(deps, { allocationId: bought.allocation.id });
    assert.equal(refund.refundedMicros, 2_812_500);
    assert.equal(refund.allocation.status, 'revoked');
    assert.equal((await refundAllocation(deps, { allocationId: bought.allocation.id })).refundedMicros, 0, 'refund is idempotent');

    const rows = await listTransactions(handle, user.id, 10);
    assert.deepEqual(
      rows.map((r) => r.type),
      ['refund', 'purchase', 'topup'],
    );
    const report = await auditLedger(handle);
    assert.deepEqual(report.problems, []);
    assert.equal(report.ok, true);
  });

  test(`[${dialect}] insufficient balance or a bad package moves nothing`, async (t) => {
    const handle = await tempDb(t, dialect);
    const pkg = await insertPackage(handle);
    await creditUser({ handle }, { telegramId: 7, amountMicros: 1_000_000, type: 'topup' });
    await assert.rejects(
      purchasePackage({ handle }, { telegramId: 7, packageId: pkg }),
      (e: unknown) => e instanceof InsufficientBalanceError && /have \$1\.00, need \$3\.75/.test((e as Error).message),
    );
    await assert.rejects(purchasePackage({ handle }, { telegramId: 7, packageId: 999 }), NotFoundError);
    await handle.db.updateTable('ai_token_packages').set({ is_available: 0 }).execute();
    await assert.rejects(purchasePackage({ handle }, { telegramId: 7, packageId: pkg }), /not available/);
    await assert.rejects(creditUser({ handle }, { telegramId: 7, amountMicros: -2_000_000, type: 'adjustment' }), InsufficientBalanceError);
    await assert.rejects(creditUser({ handle }, { telegramId: 7, amountMicros: -1, type: 'topup' }), InputError);
    assert.equal((await ensureUser(handle, { telegramId: 7 })).balanceMicros, 1_000_000);
    assert.equal((await handle.db.selectFrom('ai_token_allocations').selectAll().execute()).length, 0);
    assert.equal((await handle.db.selectFrom('transactions').selectAll().execute()).length, 1);
    // a free grant is recorded as a zero adjustment and moves no money
    await handle.db.updateTable('ai_token_packages').set({ is_available: 1 }).execute();
    const free = await purchasePackage({ handle }, { telegramId: 7, packageId: pkg, free: true });
    assert.equal(free.transaction.type, 'adjustment');
    assert.equal(free.transaction.amountMicros, 0);
    assert.equal(free.allocation.pricePaidMicros, 0);
    assert.equal((await auditLedger(handle)).ok, true);
  });

  test(`[${dialect}] 1,000 random credits and purchases with injected failures keep audit clean`, async (t) => {
    const handle = await tempDb(t, dialect);
    const packages = [await insertPackage(handle, 1_230_000, 1000), await insertPackage(handle, 4_560_000, 5000), await insertPackage(handle, 10_000, 10)];
    let seed = 42;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    let injected = 0;
    let insufficient = 0;
    const users = [11, 12, 13, 14, 15];
    const ops: Promise<unknown>[] = [];
    for (let i = 0; i < 1000; i++) {
      const telegramId = users[Math.floor(rand() * users.length)];
      const fail = rand() < 0.15;
      const stagePick = rand();
      const faultPoint = (stage: string) => {
        if (fail && ((stagePick < 0.5 && stage.endsWith('after-allocation')) || stage.endsWith('after-debit') || stage.endsWith('after-insert'))) {
          throw new Error(`injected failure at ${stage}`);
        }
      };
      const op =
        rand() < 0.4
          ? creditUser({ handle, faultPoint }, { telegramId, amountMicros: 1 + Math.floor(rand() * 5_000_000), type: 'topup', reference: rand() < 0.2 ? `ref-${Math.floor(rand() * 50)}` : undefined })
          : purchasePackage({ handle, faultPoint }, { telegramId, packageId: packages[Math.floor(rand() * packages.length)], reference: rand() < 0.2 ? `buy-${Math.floor(rand() * 50)}` : undefined });
      ops.push(
        op.catch((e: Error) => {
          if (/injected failure/.test(e.message)) injected++;
          else if (e instanceof InsufficientBalanceError) insufficient++;
          else throw e;
        }),
      );
      if (ops.length >= 8) await Promise.all(ops.splice(0));
    }
    await Promise.all(ops);
    assert.ok(injected > 50, `failures were injected (${injected})`);
    assert.ok(insufficient > 0, 'some purchases were refused for balance');
    const report = await auditLedger(handle);
    assert.deepEqual(report.problems, []);
    const sums = await handle.db
      .selectFrom('transactions')
      .select((eb) => eb.fn.sum<number>('amount').as('s'))
      .executeTakeFirstOrThrow();
    const balances = await handle.db
      .selectFrom('users')
      .select((eb) => eb.fn.sum<number>('balance').as('s'))
      .executeTakeFirstOrThrow();
    assert.equal(Number(sums.s), Number(balances.s));
  });
}

test('audit reports each kind of discrepancy in words', async (t) => {
  const handle = await tempDb(t);
  const pkg = await insertPackage(handle);
  await creditUser({ handle }, { telegramId: 5, amountMicros: 5_000_000, type: 'topup' });
  const { allocation } = await purchasePackage({ handle }, { telegramId: 5, packageId: pkg });
  await handle.db.updateTable('users').set({ balance: 999 }).execute();
  await handle.db.updateTable('ai_token_allocations').set({ tokens_used: 10 }).where('id', '=', allocation.id).execute();
  const report = await auditLedger(handle);
  assert.equal(report.ok, false);
  assert.ok(
    report.problems.some((p) => /user 5: balance 999 µ\$ but ledger sums to 1250000 µ\$/.test(p)),
    report.problems.join('\n'),
  );
  assert.ok(report.problems.some((p) => /allocation \d+: tokens_used 10 but its usage events sum to 0/.test(p)));
});
