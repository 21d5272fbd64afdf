/** @jsxRuntime automatic */
/** @jsxImportSource react */
/** Pricing breakdown of a package (`arb package create`). Renders props only. */
import { Box, Text } from 'ink';
import type { PricingView } from '../package/view.js';
import { formatCount, formatPercent, formatRate, formatUsd } from '../ui/format.js';

function Line({ label, value, note, color }: { label: string; value: string; note?: string; color?: string }) {
  return (
    <Text>
      <Text color="gray">{label.padEnd(8)}</Text>
      <Text bold color={color}>
        {value.padStart(12)}
      </Text>
      {note ? <Text color="gray"> {note}</Text> : null}
    </Text>
  );
}

export function PackageScreen(v: PricingView) {
  return (
    <Box flexDirection="column" borderStyle="round" paddingX={1} alignSelf="flex-start">
      <Text bold color="green">
        ✔ {v.title}
      </Text>
      <Text>
        {v.model} · {formatCount(v.tokens)} tokens · {v.validityDays} days
      </Text>
      <Text color="gray">{v.description}</Text>
      <Box flexDirection="column" marginTop={1}>
        <Line label="cost" value={formatUsd(v.costMicros, { precise: true })} note={`${formatCount(v.tokens)} × ${formatRate(v.unitRate)}`} />
        <Line label="price" value={formatUsd(v.priceMicros)} note={v.explicit ? 'explicit' : undefined} color="green" />
        <Line label="profit" value={formatUsd(v.profitMicros, { precise: true })} />
        <Line label="margin" value={formatPercent(v.marginPercent)} />
        <Line label="floor" value={formatUsd(v.floorMicros)} note={`cost + ${v.minMarginPercent} %`} />
        <Line label="bulk" value={v.bulkApplied ? `−${v.bulkPercent} %` : 'no'} note={`from ${formatCount(v.bulkThreshold)} tokens`} />
      </Box>
    </Box>
  );
}
