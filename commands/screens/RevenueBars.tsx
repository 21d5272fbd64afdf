/** @jsxRuntime automatic */
/** @jsxImportSource react */
/** Revenue per day as bars (`arb stats` and `arb logs revenue`): day, bar, amount, count. Renders props only. */
import { Box, Text } from 'ink';
import { barLength } from '../ui/format.js';

export interface RevenueBar {
  day: string;
  revenueMicros: number;
  /** the amount as shown, e.g. "$3.75" */
  amount: string;
  count: number;
}

/** The bar is as long as `width` allows (at most 40 cells) after the day and the figures. */
export function RevenueBars({ bars, width = 100, unit, amountWidth, countWidth }: { bars: RevenueBar[]; width?: number; unit: string; amountWidth: number; countWidth: number }) {
  const max = Math.max(1, ...bars.map((d) => d.revenueMicros));
  const barWidth = Math.max(5, Math.min(40, width - (bars[0]?.day.length ?? 10) - 1 - 1 - amountWidth - 1 - countWidth - 1 - unit.length));
  return (
    <Box flexDirection="column">
      {bars.map((d) => {
        const len = barLength(d.revenueMicros, max, barWidth);
        return (
          <Text key={d.day}>
            <Text color="gray">{d.day} </Text>
            <Text color="green">{'█'.repeat(len)}</Text>
            <Text>
              {' '.repeat(barWidth - len)} {d.amount.padStart(amountWidth)}
            </Text>
            <Text color="gray">
              {' '}
              {String(d.count).padStart(countWidth)} {unit}
            </Text>
          </Text>
        );
      })}
    </Box>
  );
}
