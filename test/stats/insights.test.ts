/** src/stats/insights.ts: the daily series with empty days and the top keys by usage, on a real database. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dailySeries, marginByModel, topKeysByUsage } from '../../src/stats/insights.js';
import { computeStats } from '../../src/stats/stats.js';
import { tempDb } from '../support/db.js';
import { addUsage, GPT4, seedShop } from '../commands/support.js';

test('dailySeries: every day of the window, days without sales as zeros, totals kept', () => {
  const byDay = [
    { day: '2026-03-02', sales: 2, revenueMicros: 7_500_000, costMicros: 6_000_000, profitMicros: 1_500_000 },
    { day: '2026-03-05', sales: 1, revenueMicros: 3_750_000, costMicros: 3_000_000, profitMicros: 750_000 },
  ];
  const s = dailySeries(byDay, { since: '2026-03-01 09:00:00', until: '2026-03-07 18:00:00' });
  assert.equal(s.unit, 'day');
  assert.deepEqual([s.from, s.to, s.days], ['2026-03-01', '2026-03-07', 7]);
  assert.deepEqual(
    s.points.map((p) => [p.day.slice(5), p.sales, p.revenueMicros]),
    [
      ['03-01', 0, 0],
      ['03-02', 2, 7_500_000],
      ['03-03', 0, 0],
      ['03-04', 0, 0],
      ['03-05', 1, 3_750_000],
      ['03-06', 0, 0],
      ['03-07', 0, 0],
    ],
  );
  const allTime = dailySeries(byDay, { since: null, until: '2026-03-07 18:00:00' });
  assert.equal(allTime.from, '2026-03-02', 'all time starts at the first sale');
  assert.equal(dailySeries([], { since: null, until: '2026-03-07 18:00:00' }).points.length, 1);
});

test('topKeysByUsage: ranked by tokens used in the window, with quota used; all time ranks by tokens used', async (t) => {
  const handle = await tempDb(t);
  const shop = await seedShop(handle);
  // an old request outside the window on the third key
  await addUsage(handle, shop.allocations[2], { requestId: 'old', model: GPT4.model, weighted: 50_000, upstreamCost: 1, at: new Date(Date.now() - 10 * 86_400_000) });
  const week = await topKeysByUsage(handle, { since: new Date(Date.now() - 7 * 86_400_000) });
  assert.deepEqual(
    week.map((k) => [k.allocationId, k.tokensInWindow, k.requests, k.tokensUsed, k.quotaPercent]),
    [
      [shop.allocations[1], 10_000, 2, 10_000, 1],
      [shop.allocations[0], 3_000, 2, 3_000, 3],
    ],
  );
  assert.match(week[0].apiKey, /^sk-arb-.{4}….{4}$/);
  assert.equal(week[0].telegramId, 1001);
  const all = await topKeysByUsage(handle, { since: null, limit: 2 });
  assert.deepEqual(
    all.map((k) => [k.allocationId, k.tokensUsed, k.requests, k.quotaPercent]),
    [
      [shop.allocations[2], 50_000, null, 50],
      [shop.allocations[1], 10_000, null, 1],
    ],
  );
  const stats = await computeStats(handle);
  const margins = marginByModel(stats.byModel);
  assert.deepEqual(
    margins.map((m) => [m.model, m.marginPercent]),
    stats.byModel.map((m) => [m.model, m.costMicros ? Math.round((m.profitMicros / m.costMicros) * 1000) / 10 : null]),
  );
});
