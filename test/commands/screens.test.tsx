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
  for (const [key, expected] of [['y', true], ['Y', true], ['n', false], ['\r', false], ['\u001b', false]] as const) {
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
    { model: 'openai/gpt-4', sales: 20, freeGrants: 0, tokensSold: 2_000_000, grossSalesMicros: 75_000_000, refundsMicros: 0, revenueMicros: 75_000_000, costMicros: 60_000_000, profitMicros: 15_000_000, ...usage },
    { model: 'anthropic/claude-3-haiku', sales: 10, freeGrants: 1, tokensSold: 10_000_000, grossSalesMicros: 45_000_000, refundsMicros: 0, revenueMicros: 45_000_000, costMicros: 36_000_000, profitMicros: 9_000_000, ...usage },
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

test('StatsScreen: totals, a daily-revenue bar chart scaled to the best day, top models', (t) => {
  const { lastFrame, unmount } = render(<StatsScreen stats={stats} windowLabel="all time" barWidth={40} />);
  t.after(unmount);
  const frame = lastFrame()!;
  assert.match(frame, /arb stats — all time \(beginning → 2026-11-25 12:00:00 UTC\)/);
  assert.match(frame, /Revenue +Cost +Profit +Margin +Sales +Active keys/);
  assert.match(frame, /\$120\.00 +\$96\.00 +\$24\.00 +25\.0 % +30 \(1 free\) +12/);
  assert.match(frame, /3,456,789 +1,234 \(7 failed\) +\$12\.35 +unavailable/);
  assert.match(frame, /^2026-11-23 █{40} +\$80\.00 +10 sales$/m);
  assert.match(frame, /^2026-11-24 █{20} {20} +\$40\.00 +15 sales$/m);
  assert.match(frame, /^2026-11-25 {41} +\$0\.00 +5 sales$/m);
  assert.match(frame, /^openai\/gpt-4 +20 sales +\$75\.00 profit +\$15\.00$/m);
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
