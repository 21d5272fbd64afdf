/**
 * Plain output for non-TTY runs: cli-table3 tables without colours (so pipes and tests see clean text)
 * and key/value blocks. Formatting of money and counts happens here, at the edge.
 */
import Table from 'cli-table3';

export type Cell = string | number | null | undefined;
export type Align = 'left' | 'right';

export interface TableOptions {
  /** per-column alignment; numbers default to right */
  align?: readonly Align[];
}

/** Renders rows under a header as a bordered table (no ANSI colours). */
export function renderTable(head: readonly string[], rows: readonly (readonly Cell[])[], options: TableOptions = {}): string {
  const align = head.map((_, i) => options.align?.[i] ?? (rows.length > 0 && typeof rows[0][i] === 'number' ? 'right' : 'left'));
  const table = new Table({ head: [...head], colAligns: align, style: { head: [], border: [], compact: false } });
  for (const row of rows) table.push(row.map((c) => (c === null || c === undefined ? '' : String(c))));
  return table.toString();
}

/** Two-column "label: value" block, labels padded. */
export function renderKeyValues(pairs: readonly (readonly [string, Cell])[]): string {
  const width = Math.max(0, ...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${`${k}:`.padEnd(width + 1)} ${v ?? ''}`).join('\n');
}
