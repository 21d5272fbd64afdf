import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { computeStats } from '../../src/stats/stats.js';
import { auditLedger } from '../../src/ledger/audit.js';
import { refundAllocation } from '../../src/ledger/ledger.js';
import { startSimulator } from '../../src/catalog/simulator.js';
import { createOpenRouterClient } from '../../src/catalog/openrouter.js';
import { tempDb, testDialects } from '../support/db.js';
import { addUsage, GPT4, seedShop } from '../commands/support.js';
import { addDays, toDbTime } from '../../src/time.js';

for (const dialect of testDialects()) {
  test(`${dialect}: all-time totals of a seeded shop, and they agree with the ledger and auditLedger`, async (t) => {
    const handle = await tempDb(t, dialect);
    const shop = await seedShop(handle);
    const s = await computeStats(handle);
    assert.equal(s.since, null);
    assert.equal(s.sales, 3, 'paid sales');
    assert.equal(s.freeGrants, 1);
    assert.equal(s.freeGrantTokens, 1_000_000);
    assert.equal(s.freeGrantCostMicros, 250_000, 'the cost basis of the grant, on its own line');
    assert.equal(s.grossSalesMicros, 3_750_000 + 320_000 + 3_750_000);
    assert.equal(s.refundsMicros, 0);
    assert.equal(s.revenueMicros, 7_820_000);
    assert.equal(s.costMicros, 3_000_000 * 2 + 250_000, 'cost of tokens sold: paid sales only (the free grant is not a loss)');
    assert.equal(s.profitMicros, 1_570_000);
    assert.equal(s.marginPercent, 25.1);
    assert.equal(s.topupsMicros, 25_000_000);
    assert.equal(s.activeKeys, 4);
    assert.equal(s.tokensSold, 1_200_000);
    assert.equal(s.tokensUsed, 13_000);
    assert.equal(s.requests, 4);
    assert.equal(s.failedRequests, 1);
    assert.equal(s.upstreamCostMicros, 92_500, 'upstream spend: what OpenRouter charged');
    // revenue of tokens used: ⌊1,000 × $3.75 / 100k⌋ + ⌊2,000 × $3.75 / 100k⌋ + ⌊10,000 × $0.32 / 1M⌋
    assert.equal(s.usedRevenueMicros, 37_500 + 75_000 + 3_200);
    assert.equal(s.realisedMarginPercent, 25.1, '(115,700 − 92,500) / 92,500');
    assert.equal(s.freeGrantUpstreamCostMicros, 0);
    assert.equal(s.openrouterCreditMicros, null);
    assert.deepEqual(
      s.byModel.map((m) => [m.model, m.sales, m.freeGrants, m.revenueMicros, m.costMicros, m.freeGrantCostMicros, m.upstreamCostMicros, m.usedRevenueMicros, m.realisedMarginPercent]),
      [
        ['openai/gpt-4', 2, 0, 7_500_000, 6_000_000, 0, 90_000, 112_500, 25],
        ['anthropic/claude-3-haiku', 1, 1, 320_000, 250_000, 250_000, 2_500, 3_200, 28],
      ],
    );
    const today = toDbTime(new Date()).slice(0, 10);
    assert.deepEqual(s.byDay, [
      {
        day: today,
        sales: 3,
        revenueMicros: 7_820_000,
        costMicros: 6_250_000,
        profitMicros: 1_570_000,
        freeGrants: 1,
        requests: 4,
        tokensUsed: 13_000,
        upstreamCostMicros: 92_500,
        usedRevenueMicros: 115_700,
      },
    ]);

    // a refund lowers revenue and the active keys
    const refund = await refundAllocation({ handle }, { allocationId: shop.allocations[1] });
    assert.equal(refund.refundedMicros, 316_800);
    const after = await computeStats(handle);
    assert.equal(after.refundsMicros, 316_800);
    assert.equal(after.revenueMicros, 7_820_000 - 316_800);
    assert.equal(after.activeKeys, 3);
    assert.equal(after.byModel.find((m) => m.model === 'anthropic/claude-3-haiku')!.revenueMicros, 320_000 - 316_800);
    assert.equal(after.byDay[0].revenueMicros, after.revenueMicros);

    // agreement: the ledger (purchases − refunds), the audit's counts, a clean audit
    const audit = await auditLedger(handle);
    assert.equal(audit.ok, true, audit.problems.join('\n'));
    assert.equal(audit.checked.allocations, after.sales + after.freeGrants);
    assert.equal(audit.checked.usage_events, after.requests);
    const ledger = await sql<{ purchases: unknown; refunds: unknown; topups: unknown }>`
      select sum(case when type = 'purchase' then -amount else 0 end) as purchases,
             sum(case when type = 'refund' then amount else 0 end) as refunds,
             sum(case when type = 'topup' then amount else 0 end) as topups from transactions`.execute(handle.db);
    assert.equal(Number(ledger.rows[0].purchases) - Number(ledger.rows[0].refunds), after.revenueMicros);
    assert.equal(Number(ledger.rows[0].topups), after.topupsMicros);
  });

  test(`${dialect}: --since windows sales, refunds and usage by their own timestamps`, async (t) => {
    const handle = await tempDb(t, dialect);
    const shop = await seedShop(handle);
    const old = toDbTime(addDays(new Date(), -10));
    await sql`update ai_token_allocations set created_at = ${old} where id = ${shop.allocations[0]}`.execute(handle.db);
    await addUsage(handle, shop.allocations[0], { requestId: 'old-1', model: GPT4.model, weighted: 500, upstreamCost: 15_000, at: addDays(new Date(), -9) });
    const week = await computeStats(handle, { since: addDays(new Date(), -7) });
    assert.equal(week.sales, 2);
    assert.equal(week.revenueMicros, 320_000 + 3_750_000);
    assert.equal(week.requests, 4);
    assert.equal(week.tokensUsed, 13_000);
    assert.equal(week.activeKeys, 4, 'active keys are counted now, not windowed');
    const all = await computeStats(handle, { since: null });
    assert.equal(all.sales, 3);
    assert.equal(all.requests, 5);
    assert.deepEqual(
      all.byDay.map((d) => [d.day, d.sales, d.requests]),
      [
        [old.slice(0, 10), 1, 0],
        [toDbTime(addDays(new Date(), -9)).slice(0, 10), 0, 1],
        [toDbTime(new Date()).slice(0, 10), 2, 4],
      ],
      'days with sales or requests',
    );
  });
}

test('OpenRouter credit: asked concurrently; unreachable or slow → null with a note, never an error', async (t) => {
  const handle = await tempDb(t);
  const sim = await startSimulator({ apiKey: 'sk-or-test-key-123456', credits: { limit: 50, usage: 12.5 } });
  t.after(() => sim.close());
  const client = createOpenRouterClient({ baseUrl: sim.baseUrl, apiKey: 'sk-or-test-key-123456' });
  t.after(() => client.close());
  const s = await computeStats(handle, { creditRemainingMicros: () => client.creditRemainingMicros() });
  assert.equal(s.openrouterCreditMicros, 37_500_000);
  assert.equal(s.openrouterCreditNote, null);

  const slow = await computeStats(handle, { creditRemainingMicros: () => new Promise<number>(() => {}), creditTimeoutMs: 30 });
  assert.equal(slow.openrouterCreditMicros, null);
  assert.match(slow.openrouterCreditNote!, /^unavailable: no answer within 30 ms/);

  const down = createOpenRouterClient({ baseUrl: 'http://127.0.0.1:9/api/v1', apiKey: 'x' });
  t.after(() => down.close());
  const failed = await computeStats(handle, { creditRemainingMicros: () => down.creditRemainingMicros() });
  assert.equal(failed.openrouterCreditMicros, null);
  assert.match(failed.openrouterCreditNote!, /^unavailable: OpenRouter GET \/key failed/);
});
