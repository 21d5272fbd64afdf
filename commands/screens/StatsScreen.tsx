/** @jsxRuntime automatic */
/** @jsxImportSource react */
/**
 * `arb stats` dashboard: the figures, revenue and profit for every day of the window, margin by model and
 * the top keys by usage with their quota used. Renders props only. Every line is laid out to `width` here
 * (labels shrink, numbers keep their width), so Ink never wraps a number across two lines.
 */
import { Box, Text } from 'ink';
import type { Stats } from '../../src/stats/stats.js';
import type { ModelMargin, Series, TopKey } from '../../src/stats/insights.js';
import { barLength, formatCount, formatPercent, formatUsd } from '../ui/format.js';
import { displayWidth, pad, truncate } from '../ui/terminal.js';

export interface StatsScreenProps {
  stats: Stats;
  /** "last 30d", "all time", "since 2026-01-31" */
  windowLabel: string;
  series: Series;
  margins: readonly ModelMargin[];
  topKeys: readonly TopKey[];
  /** columns to lay out to (the terminal's width) */
  width?: number;
  /** watch mode: "updated 12:00:05 UTC · every 5 s · Ctrl-C to stop" */
  footer?: string;
}

function Figure({ label, value, color }: { label: string; value: string; color?: string }) {
  return (
    <Box flexDirection="column" marginRight={3} flexShrink={0}>
      <Text color="gray">{label}</Text>
      <Text bold color={color}>
        {value}
      </Text>
    </Box>
  );
}

const UNIT_WORD = { day: 'day', week: 'week', month: 'month' } as const;

function pointLabel(day: string, unit: Series['unit']): string {
  return unit === 'month' ? day.slice(0, 7) : day.slice(5);
}

/** Revenue per point as a bar whose profit part is solid; revenue, profit and sales beside it. */
export function RevenueProfitChart({ series, width }: { series: Series; width: number }) {
  const pts = series.points;
  const revenue = pts.map((p) => formatUsd(p.revenueMicros));
  const profit = pts.map((p) => formatUsd(p.profitMicros));
  const sales = pts.map((p) => formatCount(p.sales));
  const labelW = Math.max(...pts.map((p) => pointLabel(p.day, series.unit).length));
  const revW = Math.max('revenue'.length, ...revenue.map((s) => s.length));
  const profW = Math.max('profit'.length, ...profit.map((s) => s.length));
  const salesW = Math.max('sales'.length, ...sales.map((s) => s.length));
  const fixed = labelW + 1 + 1 + revW + 2 + profW + 2 + salesW;
  const showSales = width - fixed >= 10;
  const barW = Math.max(3, Math.min(60, width - (showSales ? fixed : fixed - 2 - salesW)));
  const max = Math.max(1, ...pts.map((p) => p.revenueMicros));
  return (
    <Box flexDirection="column">
      <Text color="gray">
        {' '.repeat(labelW + 1)}
        {pad('█ profit ▒ cost', barW)} {pad('revenue', revW, 'right')} {pad('profit', profW, 'right')}
        {showSales ? `  ${pad('sales', salesW, 'right')}` : ''}
      </Text>
      {pts.map((p, i) => {
        if (p.sales === 0 && p.revenueMicros === 0 && p.profitMicros === 0) {
          return (
            <Text key={p.day} color="gray">
              {pad(pointLabel(p.day, series.unit), labelW)} ·
            </Text>
          );
        }
        const len = barLength(p.revenueMicros, max, barW);
        const solid = p.profitMicros <= 0 || p.revenueMicros <= 0 ? 0 : Math.min(len, barLength(p.profitMicros, max, barW));
        return (
          <Text key={p.day}>
            <Text color="gray">{pad(pointLabel(p.day, series.unit), labelW)} </Text>
            <Text color="green">{'█'.repeat(solid)}</Text>
            <Text color="gray">{'▒'.repeat(len - solid)}</Text>
            {' '.repeat(barW - len)} {pad(revenue[i], revW, 'right')}
            {'  '}
            <Text color={p.profitMicros < 0 ? 'red' : undefined}>{pad(profit[i], profW, 'right')}</Text>
            {showSales ? <Text color="gray">{`  ${pad(sales[i], salesW, 'right')}`}</Text> : null}
          </Text>
        );
      })}
    </Box>
  );
}

/** Margin of each model as a bar (longest = best margin); negative margins in red without a bar. */
export function MarginBars({ margins, width }: { margins: readonly ModelMargin[]; width: number }) {
  const rows = margins.slice(0, 8);
  const pct = rows.map((m) => formatPercent(m.marginPercent));
  const profit = rows.map((m) => formatUsd(m.profitMicros));
  const pctW = Math.max(...pct.map((s) => s.length));
  const profW = Math.max(...profit.map((s) => s.length));
  const numbers = 1 + pctW + 2 + profW;
  const modelW = Math.max(8, Math.min(Math.max(...rows.map((m) => displayWidth(m.model))), Math.floor((width - numbers) * 0.45)));
  const barW = Math.max(3, Math.min(40, width - modelW - 1 - numbers));
  const max = Math.max(1, ...rows.map((m) => m.marginPercent ?? 0));
  return (
    <Box flexDirection="column">
      {rows.map((m, i) => {
        const len = barLength(m.marginPercent ?? 0, max, barW);
        const color = m.marginPercent === null ? 'gray' : m.marginPercent < 0 ? 'red' : m.marginPercent < 10 ? 'yellow' : 'cyan';
        return (
          <Text key={m.model}>
            {pad(truncate(m.model, modelW), modelW)} <Text color={color}>{'█'.repeat(len)}</Text>
            {' '.repeat(barW - len)} <Text color={color}>{pad(pct[i], pctW, 'right')}</Text>
            {'  '}
            <Text color="gray">{pad(profit[i], profW, 'right')}</Text>
          </Text>
        );
      })}
      {margins.length > rows.length ? <Text color="gray">… and {margins.length - rows.length} more model(s) (arb stats --json)</Text> : null}
    </Box>
  );
}

/** The keys that used the most tokens, each with a bar of its quota used (0–100 %). */
export function TopKeys({ keys, width, allTime }: { keys: readonly TopKey[]; width: number; allTime: boolean }) {
  const pct = keys.map((k) => formatPercent(k.quotaPercent));
  const used = keys.map((k) => `${formatCount(k.tokensUsed)} / ${formatCount(k.tokensTotal)}`);
  const inWindow = keys.map((k) => (allTime ? '' : `+${formatCount(k.tokensInWindow)}`));
  const keyW = Math.max(...keys.map((k) => displayWidth(k.apiKey)));
  const pctW = Math.max(...pct.map((s) => s.length));
  const usedW = Math.max(...used.map((s) => s.length));
  const winW = Math.max(...inWindow.map((s) => s.length));
  const numbers = 1 + pctW + 2 + usedW + (winW ? 2 + winW : 0);
  const modelW = Math.max(0, Math.min(Math.max(...keys.map((k) => displayWidth(k.model))), width - keyW - 1 - numbers - 11));
  const barW = Math.max(3, Math.min(20, width - keyW - 1 - (modelW ? modelW + 1 : 0) - numbers));
  return (
    <Box flexDirection="column">
      {keys.map((k, i) => {
        const len = Math.min(barW, Math.round((Math.min(100, k.quotaPercent) / 100) * barW));
        const color = k.quotaPercent >= 90 ? 'red' : k.quotaPercent >= 80 ? 'yellow' : 'green';
        return (
          <Text key={k.allocationId}>
            {pad(k.apiKey, keyW)} {modelW >= 6 ? `${pad(truncate(k.model, modelW), modelW)} ` : ''}
            <Text color={color}>{'█'.repeat(len)}</Text>
            <Text color="gray">{'░'.repeat(barW - len)}</Text> <Text color={color}>{pad(pct[i], pctW, 'right')}</Text>
            {'  '}
            {pad(used[i], usedW, 'right')}
            {winW ? <Text color="gray">{`  ${pad(inWindow[i], winW, 'right')}`}</Text> : null}
          </Text>
        );
      })}
    </Box>
  );
}

/** "30 days, 2026-11-06 → 2026-12-05 (UTC), per week" */
export function seriesLabel(series: Series): string {
  const span = `${series.days} day${series.days === 1 ? '' : 's'}, ${series.from} → ${series.to} (UTC)`;
  return series.unit === 'day' ? span : `${span}, per ${UNIT_WORD[series.unit]}`;
}

export function StatsScreen({ stats, windowLabel, series, margins, topKeys, width = 100, footer }: StatsScreenProps) {
  const credit = stats.openrouterCreditMicros === null ? (stats.openrouterCreditNote?.startsWith('unavailable') ? 'unavailable' : 'not checked') : formatUsd(stats.openrouterCreditMicros);
  const noSales = series.points.every((p) => p.sales === 0 && p.revenueMicros === 0);
  return (
    <Box flexDirection="column" width={width}>
      <Text bold wrap="truncate">
        arb stats — {windowLabel}{' '}
        <Text color="gray">
          ({stats.since ?? 'beginning'} → {stats.until} UTC)
        </Text>
      </Text>
      <Box marginTop={1} flexWrap="wrap">
        <Figure label="Revenue" value={formatUsd(stats.revenueMicros)} color="green" />
        <Figure label="Cost" value={formatUsd(stats.costMicros)} />
        <Figure label="Profit" value={formatUsd(stats.profitMicros)} color={stats.profitMicros < 0 ? 'red' : 'green'} />
        <Figure label="Margin" value={formatPercent(stats.marginPercent)} />
        <Figure label="Sales" value={`${formatCount(stats.sales)}${stats.freeGrants ? ` (${stats.freeGrants} free)` : ''}`} />
        <Figure label="Active keys" value={formatCount(stats.activeKeys)} />
      </Box>
      <Box marginTop={1} flexWrap="wrap">
        <Figure label="Tokens sold" value={formatCount(stats.tokensSold)} />
        <Figure label="Tokens used" value={formatCount(stats.tokensUsed)} />
        <Figure label="Requests" value={`${formatCount(stats.requests)}${stats.failedRequests ? ` (${formatCount(stats.failedRequests)} failed)` : ''}`} />
        <Figure label="Upstream spend" value={formatUsd(stats.upstreamCostMicros)} />
        <Figure label="Realised margin" value={formatPercent(stats.realisedMarginPercent)} />
        <Figure label="OpenRouter credit" value={credit} color={credit === 'unavailable' ? 'yellow' : undefined} />
      </Box>
      <Box marginTop={1} flexDirection="column">
        <Text bold wrap="truncate">
          Revenue and profit per {UNIT_WORD[series.unit]} <Text color="gray">— {seriesLabel(series)}</Text>
        </Text>
        {noSales ? <Text color="gray">no sales in this window</Text> : <RevenueProfitChart series={series} width={width} />}
      </Box>
      <Box marginTop={1} flexDirection="column">
        <Text bold>Margin by model</Text>
        {margins.length === 0 ? <Text color="gray">no sales in this window</Text> : <MarginBars margins={margins} width={width} />}
      </Box>
      <Box marginTop={1} flexDirection="column">
        <Text bold wrap="truncate">
          Top keys by usage <Text color="gray">— quota used{stats.since ? ', +tokens in this window' : ''}</Text>
        </Text>
        {topKeys.length === 0 ? <Text color="gray">no usage in this window</Text> : <TopKeys keys={topKeys} width={width} allTime={stats.since === null} />}
      </Box>
      {footer ? (
        <Box marginTop={1}>
          <Text color="gray" wrap="truncate">
            {footer}
          </Text>
        </Box>
      ) : null}
    </Box>
  );
}
