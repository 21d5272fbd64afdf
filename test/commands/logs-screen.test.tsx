/** @jsxRuntime automatic */
/** @jsxImportSource react */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { render } from 'ink-testing-library';
import { LogsScreen } from '../../commands/logs/LogsScreen.js';
import { screenProps } from '../../commands/logs/query.js';
import type { LogQueryResult } from '../../src/logs/query.js';

function result(partial: Partial<LogQueryResult>): LogQueryResult {
  return { query: 'errors', since: null, entries: [], total: 0, amountMicros: 0, days: [], malformed: 0, files: [], cursor: { ino: -1, offset: 0 }, ...partial };
}

const parsed = { since: null, limit: 50, minAmountMicros: 100_000_000 };

test('LogsScreen shows the lines in aligned columns with the summary', () => {
  const r = result({
    query: 'errors',
    total: 3,
    malformed: 1,
    entries: [
      { timestamp: '2024-01-15T10:30:00.000Z', level: 'ERROR', message: 'purchase failed', err: { message: 'database is locked' } },
      { timestamp: '2024-01-15T10:31:00.000Z', level: 'CRITICAL', message: 'database unreachable' },
    ],
  });
  const { lastFrame, unmount } = render(<LogsScreen {...screenProps(r, parsed)} />);
  const frame = lastFrame() ?? '';
  unmount();
  assert.match(frame, /arb logs errors \(all time\)/);
  assert.match(frame, /time \(UTC\) +level +message +failure +request id/);
  assert.match(frame, /2024-01-15 10:30:00Z +ERROR +purchase failed +database is locked/);
  assert.match(frame, /CRITICAL +database unreachable/);
  assert.match(frame, /3 error lines \(all time\), showing the last 2 \(--limit\); 0 files read; 1 malformed line skipped/);
});

test('LogsScreen draws revenue per day as bars, and says so when there is nothing', () => {
  const r = result({
    query: 'revenue',
    total: 3,
    amountMicros: 11_250_000,
    days: [
      { day: '2024-01-14', purchases: 1, revenueMicros: 3_750_000 },
      { day: '2024-01-15', purchases: 2, revenueMicros: 7_500_000 },
    ],
  });
  // 51 columns leave 10 cells for the bar after the day, the amount, the count and the unit
  const { lastFrame, unmount } = render(<LogsScreen {...screenProps(r, parsed)} width={51} />);
  const frame = lastFrame() ?? '';
  unmount();
  assert.match(frame, /2024-01-14 █████ +\$3\.75 +1 purchases/);
  assert.match(frame, /2024-01-15 ██████████ +\$7\.50 +2 purchases/);
  assert.match(frame, /revenue \$11\.25/);

  const empty = render(<LogsScreen {...screenProps(result({ query: 'security' }), parsed)} />);
  assert.match(empty.lastFrame() ?? '', /no matching lines/);
  empty.unmount();
});

test('LogsScreen errors: the failure reason and the request id; at 60, 80 and 120 columns the time stays whole and lines fit', () => {
  const r = result({
    query: 'errors',
    total: 1,
    entries: [
      {
        timestamp: '2026-12-01T08:00:00.000Z',
        level: 'ERROR',
        message: 'proxied request failed',
        api_call: true,
        endpoint: '/v1/chat/completions',
        status: 502,
        failure: 'upstream status 500',
        request_id: 'req_0193aa55bb66cc77dd88ee99',
      },
    ],
  });
  for (const width of [60, 80, 120]) {
    const { lastFrame, unmount } = render(<LogsScreen {...screenProps(r, parsed)} width={width} />);
    const frame = lastFrame() ?? '';
    unmount();
    for (const line of frame.split('\n')) assert.ok([...line].length <= width, `${width}: ${JSON.stringify(line)}`);
    assert.match(frame, /2026-12-01 08:00:00Z/, `${width}: the time is never cut`);
    assert.match(frame, /upstream status 500/, `${width}: the failure is the most important column after the time`);
    if (width >= 80) assert.match(frame, /req_0193aa55bb66cc77dd88ee99/, `${width}: the request id fits`);
  }
});
