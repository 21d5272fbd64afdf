import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import type { DbHandle } from '../../src/db/dialect.js';
import { computeStats, type Stats } from '../../src/stats/stats.js';
import { readKeyUsage, readWatermarks, rollUp } from '../../src/stats/rollup.js';
import { creditUser, purchasePackage, refundAllocation } from '../../src/ledger/ledger.js';
import { applyCleanup, planCleanup } from '../../src/cleanup/cleanup.js';
import { auditLedger } from '../../src/ledger/audit.js';
import { addDays, toDbTime } from '../../src/time.js';
import { tempDb, tempDir, testDialects } from '../support/db.js';
import { addPackage, addUsage, CLAUDE, GPT4 } from '../commands/support.js';

const FAR_FUTURE = new Date(Date.now() + 365 * 86_400_000);
const n = (v: unknown) => Number(v ?? 0);

/** Random shop activity over the last 20 days: top-ups, sales, free grants, usage, refunds. */
async function randomActivity(handle: DbHandle, seed: number, round: number): Promise<void> {
  let s = seed;
  const rnd = () => (s = (s * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
  const packages = await handle.db.selectFrom('ai_token_packages').select(['id', 'model']).execute();
  const now = Date.now();
  for (let i = 0; i < 12; i++) {
    const at = new Date(now - Math.floor(rnd() * 20 * 86_400_000));
    const telegramId = 5000 + Math.floor(rnd() * 6);
    await creditUser({ handle, now: () => at }, { telegramId, amountMicros: 5_000_000 + Math.floor(rnd() * 10_000_000), type: 'topup', reference: `topup-${round}-${i}` });
    const pkg = packages[Math.floor(rnd() * packages.length)];
    const sale = await purchasePackage({ handle, now: () => at, config: { packageValidityDays: 30 } }, { telegramId, packageId: Number(pkg.id), free: rnd() < 0.25 });
    const allocation = sale.allocation;
    for (let k = 0; k < 6; k++) {
      const when = new Date(at.getTime() + Math.floor(rnd() * 3 * 86_400_000));
      await addUsage(handle, allocation.id, {
        requestId: `req-${round}-${i}-${k}`,
        model: allocation.model,
        weighted: Math.floor(rnd() * 3000),
        upstreamCost: Math.floor(rnd() * 50_000),
        outcome: rnd() < 0.1 ? 'upstream_error' : 'ok',
        at: when.getTime() > now ? new Date(now) : when,
      });
    }
    if (rnd() < 0.3) await refundAllocation({ handle, now: () => new Date(Math.min(now, at.getTime() + 86_400_000)) }, { allocationId: allocation.id });
  }
}

/** Every figure of two stats documents, the credit left out. */
function figures(s: Stats) {
  const { openrouterCreditMicros: _c, openrouterCreditNote: _n, ...rest } = s;
  return rest;
}

/** The windows an operator asks for, at odd times and at midnight. */
function windows(): (Date | null)[] {
  const midnight = new Date(new Date().toISOString().slice(0, 10) + 'T00:00:00Z');
  return [null, addDays(new Date(), -7), new Date(Date.now() - 86_400_000), addDays(midnight, -3), midnight, addDays(new Date(), -30)];
}

async function assertExact(handle: DbHandle, label: string): Promise<void> {
  const now = new Date();
  for (const since of windows()) {
    const rolled = await computeStats(handle, { since, now, rollUp: false });
    const raw = await computeStats(handle, { since, now, useRollups: false });
    assert.deepEqual(figures(rolled), figures(raw), `${label}: window since ${since?.toISOString() ?? 'all time'}`);
  }
  // independently of the stats code: the all-time totals are the tables' own sums
  const all = await computeStats(handle, { rollUp: false });
  const usage = await sql<Record<string, unknown>>`select count(*) as requests, sum(weighted_tokens) as used, sum(upstream_cost) as upstream, sum(prompt_tokens) as prompt from usage_events`.execute(
    handle.db,
  );
  const sales = await sql<
    Record<string, unknown>
  >`select sum(price_paid) as gross, sum(case when price_paid > 0 then 1 else 0 end) as sales, sum(case when price_paid = 0 then 1 else 0 end) as free from ai_token_allocations`.execute(handle.db);
  const ledger = await sql<
    Record<string, unknown>
  >`select sum(case when type = 'refund' then amount else 0 end) as refunds, sum(case when type = 'topup' then amount else 0 end) as topups from transactions`.execute(handle.db);
  assert.deepEqual(
    [all.requests, all.tokensUsed, all.upstreamCostMicros, all.grossSalesMicros, all.sales, all.freeGrants, all.refundsMicros, all.topupsMicros],
    [
      n(usage.rows[0].requests),
      n(usage.rows[0].used),
      n(usage.rows[0].upstream),
      n(sales.rows[0].gross),
      n(sales.rows[0].sales),
      n(sales.rows[0].free),
      n(ledger.rows[0].refunds),
      n(ledger.rows[0].topups),
    ],
    `${label}: all-time totals equal the raw table sums`,
  );
  // per day, model and key: the rollup rows are exactly the sums of the events at or below the watermark
  const mark = (await readWatermarks(handle.db)).usage_events;
  const perKey = await sql<Record<string, unknown>>`
    select substr(created_at, 1, 10) as day, model, allocation_id, count(*) as requests, sum(weighted_tokens) as weighted_tokens, sum(upstream_cost) as upstream_cost
    from usage_events where id <= ${mark} group by substr(created_at, 1, 10), model, allocation_id order by 1, 2, 3`.execute(handle.db);
  const daily = await handle.db
    .selectFrom('usage_daily')
    .select(['day', 'model', 'allocation_id', 'requests', 'weighted_tokens', 'upstream_cost'])
    .orderBy('day')
    .orderBy('model')
    .orderBy('allocation_id')
    .execute();
  const norm = (rows: Record<string, unknown>[]) => rows.map((r) => [r.day, r.model, n(r.allocation_id), n(r.requests), n(r.weighted_tokens), n(r.upstream_cost)]);
  assert.deepEqual(norm(daily as unknown as Record<string, unknown>[]), norm(perKey.rows), `${label}: usage_daily per day, model and key`);
  // keys ranked by usage: the rollups plus the raw rows give each key's own sums
  const keys = await readKeyUsage(handle.db, handle.dialect, null);
  const direct = await sql<Record<string, unknown>>`select allocation_id, sum(weighted_tokens) as w from usage_events group by allocation_id`.execute(handle.db);
  assert.deepEqual(
    keys.map((k) => [k.allocationId, k.weightedTokens]).sort((a, b) => a[0] - b[0]),
    direct.rows.map((r) => [n(r.allocation_id), n(r.w)]).sort((a, b) => a[0] - b[0]),
    `${label}: per-key usage`,
  );
}

for (const dialect of testDialects()) {
  test(`${dialect}: the daily rollups equal the raw sums after random activity, refunds, partial and concurrent roll-ups, and cleanup`, async (t) => {
    const handle = await tempDb(t, dialect);
    await addPackage(handle, GPT4, { tokens: 100_000, cost: 3_000_000, price: 3_750_000 });
    await addPackage(handle, CLAUDE, { tokens: 1_000_000, cost: 250_000, price: 320_000 });

    await randomActivity(handle, 7, 1);
    await assertExact(handle, 'nothing rolled up yet');

    // a roll-up now leaves the rows of the last minutes raw (ids taken then may not be visible yet)
    const someKey = await handle.db.selectFrom('ai_token_allocations').select(['id', 'model']).orderBy('id').executeTakeFirstOrThrow();
    await addUsage(handle, someKey.id, { requestId: 'fresh', model: someKey.model, weighted: 5, upstreamCost: 1, at: new Date() });
    await rollUp(handle);
    const marks = await readWatermarks(handle.db);
    const newest = await sql<{ id: unknown }>`select max(id) as id from usage_events`.execute(handle.db);
    assert.ok(marks.usage_events < n(newest.rows[0].id), 'the rows written within the grace stay above the watermark');
    await assertExact(handle, 'rolled up to the grace');

    // small batches, a time budget, and two roll-ups at once: nothing counted twice
    await rollUp(handle, { now: FAR_FUTURE, batchIds: 7, budgetMs: 0 });
    await assertExact(handle, 'one small batch');
    await Promise.all([rollUp(handle, { now: FAR_FUTURE, batchIds: 13 }), rollUp(handle, { now: FAR_FUTURE, batchIds: 11 })]);
    await assertExact(handle, 'concurrent roll-ups');
    assert.equal((await readWatermarks(handle.db)).usage_events, n((await sql<{ id: unknown }>`select max(id) as id from usage_events`.execute(handle.db)).rows[0].id));

    // more activity on days already rolled up (late settles, refunds of old sales), then a reprice
    await randomActivity(handle, 99, 2);
    await sql`update ai_token_packages set cost = cost * 2`.execute(handle.db);
    await assertExact(handle, 'new rows in rolled-up days, after a reprice');
    await rollUp(handle, { now: FAR_FUTURE });
    await assertExact(handle, 'rolled up again');

    // cleanup expires keys: the figures do not move
    const now = new Date();
    const before = figures(await computeStats(handle, { now, rollUp: false }));
    await sql`update ai_token_allocations set expires_at = ${toDbTime(addDays(new Date(), -1))} where id % 2 = 0`.execute(handle.db);
    const plan = await planCleanup(handle, { logDir: tempDir(t), logRetentionDays: 30 });
    assert.ok(plan.keys.length > 0);
    await applyCleanup(handle, plan);
    const after = figures(await computeStats(handle, { now, rollUp: false }));
    assert.deepEqual({ ...after, activeKeys: 0 }, { ...before, activeKeys: 0 }, 'cleanup changes no total');
    assert.ok(after.activeKeys < before.activeKeys);
    await assertExact(handle, 'after cleanup');
    const audit = await auditLedger(handle);
    assert.equal(audit.ok, true, audit.problems.join('\n'));
  });
}
