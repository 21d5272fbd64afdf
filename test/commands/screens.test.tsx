/** @jsxRuntime automatic */
/** @jsxImportSource react */
/** The Ink screens render their props (ink-testing-library); no database, no I/O. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { render } from 'ink-testing-library';
import { ProgressScreen } from '../../commands/screens/ProgressScreen.js';
import { ConfirmScreen } from '../../commands/screens/ConfirmScreen.js';
import { StatsScreen } from '../../commands/screens/StatsScreen.js';
import { PackageScreen } from '../../commands/screens/PackageScreen.js';
import type { Stats } from '../../src/stats/stats.js';
import { dailySeries, marginByModel, type TopKey } from '../../src/stats/insights.js';

const tick = () => new Promise((r) => setTimeout(r, 20));

test('ProgressScreen: a mark per step state, the running step with its bar', (t) => {
  const { lastFrame, unmount } = render(
    <ProgressScreen
      title="arb backup → backup"
      fraction={0.5}
      steps={[
        { label: 'Snapshot', status: 'done', detail: '147,456 bytes' },
        { label: 'SHA-256', status: 'running' },
        { label: 'Prune', status: 'pending' },
        { label: 'Store', status: 'failed' },
      ]}
    />,
  );
  t.after(unmount);
  const frame = lastFrame()!;
  assert.match(frame, /^arb backup → backup$/m);
  assert.match(frame, /^✔ Snapshot — 147,456 bytes$/m);
  assert.match(frame, /^◐ SHA-256$/m);
  assert.match(frame, /^ {2}█{15}░{15} 50%$/m);
  assert.match(frame, /^○ Prune$/m);
  assert.match(frame, /^✘ Store$/m);
});

test('ConfirmScreen: y answers yes; n, Enter and Esc answer no', async (t) => {
  for (const [key, expected] of [
    ['y', true],
    ['Y', true],
    ['n', false],
    ['\r', false],
    ['\u001b', false],
  ] as const) {
    const answers: boolean[] = [];
    const { stdin, lastFrame, unmount } = render(<ConfirmScreen question="Replace arbitrage.db?" details={['backup: x.db']} onAnswer={(a) => answers.push(a)} />);
    t.after(unmount);
    assert.match(lastFrame()!, /^backup: x\.db\n\? Replace arbitrage\.db\? \(y\/N\)$/);
    await tick();
    stdin.write(key);
    await tick();
    assert.deepEqual(answers, [expected], JSON.stringify(key));
  }
});

const usage = { marginPercent: 25, freeGrantTokens: 0, freeGrantCostMicros: 0, requests: 0, tokensUsed: 0, upstreamCostMicros: 0, usedRevenueMicros: 0, realisedMarginPercent: null };
const dayUsage = { freeGrants: 0, requests: 0, tokensUsed: 0, upstreamCostMicros: 0, usedRevenueMicros: 0 };
const stats: Stats = {
  since: null,
  until: '2026-11-25 12:00:00',
  sales: 30,
  freeGrants: 1,
  freeGrantTokens: 1_000_000,
  freeGrantCostMicros: 250_000,
  freeGrantUpstreamCostMicros: 0,
  grossSalesMicros: 120_000_000,
  refundsMicros: 0,
  revenueMicros: 120_000_000,
  costMicros: 96_000_000,
  profitMicros: 24_000_000,
  marginPercent: 25,
  topupsMicros: 200_000_000,
  byModel: [
    {
      model: 'openai/gpt-4',
      sales: 20,
      freeGrants: 0,
      tokensSold: 2_000_000,
      grossSalesMicros: 75_000_000,
      refundsMicros: 0,
      revenueMicros: 75_000_000,
      costMicros: 60_000_000,
      profitMicros: 15_000_000,
      ...usage,
    },
    {
      model: 'anthropic/claude-3-haiku',
      sales: 10,
      freeGrants: 1,
      tokensSold: 10_000_000,
      grossSalesMicros: 45_000_000,
      refundsMicros: 0,
      revenueMicros: 45_000_000,
      costMicros: 36_000_000,
      profitMicros: 9_000_000,
      ...usage,
    },
  ],
  byDay: [
    { day: '2026-11-23', sales: 10, revenueMicros: 80_000_000, costMicros: 64_000_000, profitMicros: 16_000_000, ...dayUsage },
    { day: '2026-11-24', sales: 15, revenueMicros: 40_000_000, costMicros: 32_000_000, profitMicros: 8_000_000, ...dayUsage },
    { day: '2026-11-25', sales: 5, revenueMicros: 0, costMicros: 0, profitMicros: 0, ...dayUsage },
  ],
  activeKeys: 12,
  tokensSold: 12_000_000,
  tokensUsed: 3_456_789,
  lossTokens: 0,
  requests: 1_234,
  failedRequests: 7,
  upstreamCostMicros: 12_345_678,
  usedRevenueMicros: 15_000_000,
  realisedMarginPercent: 21.5,
  openrouterCreditMicros: null,
  openrouterCreditNote: 'unavailable: OpenRouter GET /key timed out',
};

const topKeys: TopKey[] = [
  {
    allocationId: 7,
    apiKey: 'sk-arb-AbCd…wxyz',
    telegramId: 1001,
    model: 'openai/gpt-4',
    tokensTotal: 100_000,
    tokensUsed: 92_500,
    tokensInWindow: 12_000,
    requests: 40,
    quotaPercent: 92.5,
    status: 'active',
    expiresAt: '2026-12-20 00:00:00',
  },
  {
    allocationId: 9,
    apiKey: 'sk-arb-EfGh…stuv',
    telegramId: 1002,
    model: 'anthropic/claude-3-haiku',
    tokensTotal: 1_000_000,
    tokensUsed: 250_000,
    tokensInWindow: 250_000,
    requests: 12,
    quotaPercent: 25,
    status: 'active',
    expiresAt: '2026-12-22 00:00:00',
  },
];

function statsProps(width: number, s: Stats = stats) {
  return { stats: s, windowLabel: 'all time', width, series: dailySeries(s.byDay, { since: s.since, until: s.until }), margins: marginByModel(s.byModel), topKeys };
}

test('StatsScreen: totals, revenue and profit per day (days without sales included), margin bars, top keys with quota used', (t) => {
  const { lastFrame, unmount } = render(<StatsScreen {...statsProps(100)} />);
  t.after(unmount);
  const frame = lastFrame()!;
  assert.match(frame, /arb stats — all time \(beginning → 2026-11-25 12:00:00 UTC\)/);
  assert.match(frame, /Revenue +Cost +Profit +Margin +Sales +Active keys/);
  assert.match(frame, /\$120\.00 +\$96\.00 +\$24\.00 +25\.0 % +30 \(1 free\) +12/);
  assert.match(frame, /3,456,789 +1,234 \(7 failed\) +\$12\.35 /);
  assert.match(frame, /^OpenRouter credit\nunavailable$/m, 'a figure that does not fit moves to the next line whole');
  assert.match(frame, /^Revenue and profit per day — 3 days, 2026-11-23 → 2026-11-25 \(UTC\)$/m);
  // the best day's bar is the longest; its profit part is solid, the rest (cost) shaded
  const day23 = /^11-23 (█+)(▒+) +\$80\.00 +\$16\.00 +10$/m.exec(frame);
  const day24 = /^11-24 (█+)(▒+) +\$40\.00 +\$8\.00 +15$/m.exec(frame);
  assert.ok(day23 && day24, frame);
  assert.equal(day23[1].length + day23[2].length, 2 * (day24[1].length + day24[2].length));
  assert.equal(day23[1].length * 5, day23[1].length + day23[2].length, 'profit is a fifth of revenue');
  assert.match(frame, /^11-25 +\$0\.00 +\$0\.00 +5$/m);
  assert.match(frame, /^openai\/gpt-4 +█+ +25\.0 % +\$15\.00$/m);
  assert.match(frame, /^sk-arb-AbCd…wxyz openai\/gpt-4 +█+░* 92\.5 % +92,500 \/ 100,000$/m);
});

test('StatsScreen at 60, 80 and 120 columns: every line fits and no number is split', (t) => {
  for (const width of [60, 80, 120]) {
    const { lastFrame, unmount } = render(<StatsScreen {...statsProps(width, { ...stats, revenueMicros: 3_501_000_000, upstreamCostMicros: 123_456_789_000 })} />);
    t.after(unmount);
    const frame = lastFrame()!;
    for (const line of frame.split('\n')) assert.ok([...line].length <= width, `${width}: ${JSON.stringify(line)} is ${[...line].length} wide`);
    // the figures move to the next line instead of wrapping inside a number
    assert.match(frame, /\$3,501\.00/, `${width}: revenue whole`);
    assert.match(frame, /\$123,456\.79/, `${width}: upstream cost whole`);
    assert.match(frame, /3,456,789/, `${width}`);
    assert.match(frame, /1,234 \(7 failed\)/, `${width}`);
    assert.match(frame, /92\.5 % +92,500 \/ 100,000/, `${width}: quota use whole`);
  }
});

test('StatsScreen: a 30-day window is labelled 30 days and charts every day, empty ones too; long windows fold into weeks or months', (t) => {
  const s: Stats = { ...stats, since: '2026-10-27 12:00:00' };
  const series = dailySeries(s.byDay, { since: s.since, until: s.until });
  assert.equal(series.points.length, 30);
  const { lastFrame, unmount } = render(<StatsScreen {...statsProps(80, s)} windowLabel="last 30d" series={series} />);
  t.after(unmount);
  const frame = lastFrame()!;
  assert.match(frame, /^arb stats — last 30d/m);
  assert.match(frame, /^Revenue and profit per day — 30 days, 2026-10-27 → 2026-11-25 \(UTC\)$/m);
  assert.doesNotMatch(frame, /last 14 days/);
  assert.match(frame, /^10-27 ·$/m, 'the first day, without sales, is on the chart');
  assert.match(frame, /^11-22 ·$/m);

  const quarter = dailySeries(s.byDay, { since: '2026-08-27 12:00:00', until: s.until });
  assert.equal(quarter.unit, 'week');
  assert.equal(quarter.days, 91);
  assert.equal(quarter.points[0].day, '2026-08-27', 'the first week starts where the window does (a Thursday)');
  assert.equal(quarter.points[1].day, '2026-08-31', 'then weeks start on Mondays');
  assert.equal(
    quarter.points.reduce((a, p) => a + p.revenueMicros, 0),
    120_000_000,
    'folding keeps every dollar',
  );
  assert.equal(
    quarter.points.reduce((a, p) => a + p.sales, 0),
    30,
  );
  const long = render(<StatsScreen {...statsProps(80, s)} windowLabel="last 90d" series={quarter} />);
  t.after(long.unmount);
  assert.match(long.lastFrame()!, /^Revenue and profit per week — 91 days, 2026-08-27 → 2026-11-25 \(UTC\), per week$/m);
  const year = dailySeries(s.byDay, { since: '2025-11-25 12:00:00', until: s.until });
  assert.equal(year.unit, 'month');
  assert.deepEqual([year.days, year.points.length, year.points[0].day, year.points[1].day], [366, 13, '2025-11-25', '2025-12-01']);
});

test('PackageScreen: the pricing breakdown', (t) => {
  const { lastFrame, unmount } = render(
    <PackageScreen
      title="created package 1"
      packageId={1}
      model="openai/gpt-4"
      tokens={100_000}
      description="GPT-4 Premium Access - 100k tokens"
      validityDays={30}
      costMicros={3_000_000}
      priceMicros={3_750_000}
      profitMicros={750_000}
      marginPercent={25}
      floorMicros={3_300_000}
      unitRate={30_000_000}
      bulkApplied={false}
      bulkThreshold={1_000_000}
      bulkPercent={5}
      minMarginPercent={10}
      explicit={false}
    />,
  );
  t.after(unmount);
  const frame = lastFrame()!;
  assert.match(frame, /✔ created package 1/);
  assert.match(frame, /openai\/gpt-4 · 100,000 tokens · 30 days/);
  assert.match(frame, /cost +\$3\.00 100,000 × \$30\.00\/Mtok/);
  assert.match(frame, /price +\$3\.75/);
  assert.match(frame, /margin +25\.0 %/);
  assert.match(frame, /floor +\$3\.30 cost \+ 10 %/);
  assert.match(frame, /bulk +no from 1,000,000 tokens/);
});
