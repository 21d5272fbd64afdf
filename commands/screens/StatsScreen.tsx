/** @jsxRuntime automatic */
/** @jsxImportSource react */
/** `arb stats` dashboard: totals, a daily-revenue bar chart and the top models. Renders props only. */
import { Box, Text } from 'ink';
import type { Stats } from '../../src/stats/stats.js';
import { formatCount, formatPercent, formatUsd } from '../ui/format.js';
import { RevenueBars } from './RevenueBars.js';

export interface StatsScreenProps {
  stats: Stats;
  /** "last 7d", "all time" */
  windowLabel: string;
  /** days shown in the chart (most recent), default 14 */
  chartDays?: number;
  /** width of the longest bar, default 40 */
  barWidth?: number;
}

function Figure({ label, value, color }: { label: string; value: string; color?: string }) {
  return (
    <Box flexDirection="column" marginRight={3}>
      <Text color="gray">{label}</Text>
      <Text bold color={color}>
        {value}
      </Text>
    </Box>
  );
}

export function RevenueChart({ days, barWidth = 40 }: { days: Stats['byDay']; barWidth?: number }) {
  if (days.length === 0) return <Text color="gray">no sales in this window</Text>;
  return (
    <RevenueBars bars={days.map((d) => ({ day: d.day, revenueMicros: d.revenueMicros, amount: formatUsd(d.revenueMicros), count: d.sales }))} barWidth={barWidth} unit="sales" amountWidth={10} countWidth={5} />
  );
}

export function StatsScreen({ stats, windowLabel, chartDays = 14, barWidth = 40 }: StatsScreenProps) {
  const credit = stats.openrouterCreditMicros === null ? (stats.openrouterCreditNote?.startsWith('unavailable') ? 'unavailable' : 'not checked') : formatUsd(stats.openrouterCreditMicros);
  const top = stats.byModel.slice(0, 5);
  const days = stats.byDay.slice(-chartDays);
  return (
    <Box flexDirection="column">
      <Text bold>
        arb stats — {windowLabel} <Text color="gray">({stats.since ?? 'beginning'} → {stats.until} UTC)</Text>
      </Text>
      <Box marginTop={1}>
        <Figure label="Revenue" value={formatUsd(stats.revenueMicros)} color="green" />
        <Figure label="Cost" value={formatUsd(stats.costMicros)} />
        <Figure label="Profit" value={formatUsd(stats.profitMicros)} color={stats.profitMicros < 0 ? 'red' : 'green'} />
        <Figure label="Margin" value={formatPercent(stats.marginPercent)} />
        <Figure label="Sales" value={`${formatCount(stats.sales)}${stats.freeGrants ? ` (${stats.freeGrants} free)` : ''}`} />
        <Figure label="Active keys" value={formatCount(stats.activeKeys)} />
      </Box>
      <Box marginTop={1}>
        <Figure label="Tokens sold" value={formatCount(stats.tokensSold)} />
        <Figure label="Tokens used" value={formatCount(stats.tokensUsed)} />
        <Figure label="Requests" value={`${formatCount(stats.requests)}${stats.failedRequests ? ` (${formatCount(stats.failedRequests)} failed)` : ''}`} />
        <Figure label="Upstream cost" value={formatUsd(stats.upstreamCostMicros)} />
        <Figure label="OpenRouter credit" value={credit} color={credit === 'unavailable' ? 'yellow' : undefined} />
      </Box>
      <Box marginTop={1} flexDirection="column">
        <Text bold>Daily revenue{stats.byDay.length > days.length ? ` (last ${days.length} days)` : ''}</Text>
        <RevenueChart days={days} barWidth={barWidth} />
      </Box>
      <Box marginTop={1} flexDirection="column">
        <Text bold>Top models</Text>
        {top.length === 0 ? <Text color="gray">none</Text> : null}
        {top.map((m) => (
          <Text key={m.model}>
            {m.model.padEnd(32)} {String(m.sales).padStart(6)} sales {formatUsd(m.revenueMicros).padStart(12)} <Text color="gray">profit</Text> {formatUsd(m.profitMicros).padStart(10)}
          </Text>
        ))}
      </Box>
    </Box>
  );
}
