/** @jsxRuntime automatic */
/** @jsxImportSource react */
/** `arb logs <query>` on a terminal: a summary line, then the matching lines (or revenue per day). Renders props only. */
import { Box, Text } from 'ink';
import { RevenueBars } from '../screens/RevenueBars.js';

/** one line: the query's columns, already formatted (the first is the time) */
export type LogsScreenRow = string[];

export interface LogsScreenDay {
  day: string;
  purchases: number;
  /** formatted, e.g. "$3.75" */
  revenue: string;
  revenueMicros: number;
}

export interface LogsScreenProps {
  /** "arb logs transactions" */
  title: string;
  /** "all time", "since 2024-01-15T10:00:00.000Z" */
  windowLabel: string;
  /** "6 transactions; total $444.50; 3 files read" */
  summary: string;
  head: string[];
  rows: LogsScreenRow[];
  /** the column holding DEBUG/INFO/WARN/ERROR/CRITICAL, coloured */
  levelColumn?: number;
  days?: LogsScreenDay[];
  barWidth?: number;
}

const LEVEL_COLOR: Record<string, string> = { DEBUG: 'gray', INFO: 'green', WARN: 'yellow', ERROR: 'red', CRITICAL: 'magenta' };

function Lines({ head, rows, levelColumn }: Pick<LogsScreenProps, 'head' | 'rows' | 'levelColumn'>) {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const pad = (text: string, i: number) => (i === head.length - 1 ? text : text.padEnd(widths[i]));
  return (
    <Box flexDirection="column">
      <Text bold wrap="truncate-end">
        {head.map(pad).join('  ')}
      </Text>
      {rows.map((r, n) => (
        <Text key={n} wrap="truncate-end">
          {r.map((cell, i) => (
            <Text key={i} color={i === 0 ? 'gray' : i === levelColumn ? (LEVEL_COLOR[cell] ?? 'white') : undefined}>
              {pad(cell, i)}
              {i < r.length - 1 ? '  ' : ''}
            </Text>
          ))}
        </Text>
      ))}
    </Box>
  );
}

export function LogsScreen({ title, windowLabel, summary, head, rows, levelColumn, days, barWidth = 40 }: LogsScreenProps) {
  return (
    <Box flexDirection="column">
      <Text bold>
        {title} <Text color="gray">({windowLabel})</Text>
      </Text>
      <Box marginTop={1} flexDirection="column">
        {days ? (
          days.length === 0 ? <Text color="gray">no purchases in this window</Text> : (
            <RevenueBars bars={days.map((d) => ({ day: d.day, revenueMicros: d.revenueMicros, amount: d.revenue, count: d.purchases }))} barWidth={barWidth} unit="purchases" amountWidth={12} countWidth={6} />
          )
        ) : rows.length === 0 ? (
          <Text color="gray">no matching lines</Text>
        ) : (
          <Lines head={head} rows={rows} levelColumn={levelColumn} />
        )}
      </Box>
      <Box marginTop={1}>
        <Text>{summary}</Text>
      </Box>
    </Box>
  );
}
