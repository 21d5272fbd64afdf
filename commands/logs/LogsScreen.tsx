/** @jsxRuntime automatic */
/** @jsxImportSource react */
/** `arb logs <query>` on a terminal: a summary line, then the matching lines (or revenue per day). Renders props only. */
import { Box, Text } from 'ink';
import { RevenueBars } from '../screens/RevenueBars.js';
import { fitColumns } from '../ui/table.js';
import { displayWidth, pad, truncate } from '../ui/terminal.js';

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
  /** importance of each column on a narrow terminal (ui/table.ts); default left to right */
  priority?: number[];
  /** columns never cut (the time, ids) */
  keep?: number[];
  /** narrowest each column is cut to before less important ones are hidden */
  min?: (number | undefined)[];
  /** columns to lay out to (the terminal's width) */
  width?: number;
}

const LEVEL_COLOR: Record<string, string> = { DEBUG: 'gray', INFO: 'green', WARN: 'yellow', ERROR: 'red', CRITICAL: 'magenta' };

/** The lines as a table fitted to `width`: the time is never cut, other columns shrink or hide by priority. */
function Lines({ head, rows, levelColumn, priority, keep, min, width }: Pick<LogsScreenProps, 'head' | 'rows' | 'levelColumn' | 'priority' | 'keep' | 'min' | 'width'>) {
  const columns = head.map((header, i) => ({ header, align: 'left' as const, priority: priority?.[i] ?? i, keep: i === 0 || i === levelColumn || Boolean(keep?.includes(i)), min: min?.[i] }));
  const dataWidths = head.map((_, i) => Math.max(0, ...rows.map((r) => displayWidth(r[i] ?? ''))));
  const natural = head.map((h, i) => Math.max(displayWidth(h), dataWidths[i]));
  const { visible, widths } = fitColumns(columns, natural, dataWidths, width ?? null);
  const cell = (text: string, i: number, last: boolean) => {
    const cut = truncate(text, widths[i]);
    return last ? cut : `${pad(cut, widths[i])}  `;
  };
  return (
    <Box flexDirection="column">
      <Text bold>{visible.map((i, n) => cell(head[i], i, n === visible.length - 1)).join('')}</Text>
      {rows.map((r, row) => (
        <Text key={row}>
          {visible.map((i, n) => (
            <Text key={i} color={i === 0 ? 'gray' : i === levelColumn ? (LEVEL_COLOR[r[i] ?? ''] ?? 'white') : undefined}>
              {cell(r[i] ?? '', i, n === visible.length - 1)}
            </Text>
          ))}
        </Text>
      ))}
    </Box>
  );
}

export function LogsScreen({ title, windowLabel, summary, head, rows, levelColumn, days, priority, keep, min, width = 100 }: LogsScreenProps) {
  return (
    <Box flexDirection="column" width={width}>
      <Text bold wrap="truncate">
        {title} <Text color="gray">({windowLabel})</Text>
      </Text>
      <Box marginTop={1} flexDirection="column">
        {days ? (
          days.length === 0 ? <Text color="gray">no purchases in this window</Text> : (
            <RevenueBars bars={days.map((d) => ({ day: d.day, revenueMicros: d.revenueMicros, amount: d.revenue, count: d.purchases }))} width={width} unit="purchases" amountWidth={12} countWidth={6} />
          )
        ) : rows.length === 0 ? (
          <Text color="gray">no matching lines</Text>
        ) : (
          <Lines head={head} rows={rows} levelColumn={levelColumn} priority={priority} keep={keep} min={min} width={width} />
        )}
      </Box>
      <Box marginTop={1}>
        <Text>{summary}</Text>
      </Box>
    </Box>
  );
}
