/**
 * The one table renderer of the CLI (every list: keys, packages, users, models, logs, alerts, …). It fits
 * the output width (ui/terminal.ts): when a table is too wide, text columns shrink and end in `…`, least
 * important first; columns marked `keep` (numbers, money, ids: right-aligned by default) are never cut, so
 * a number is never split; if that is still too wide, the least important columns are hidden and a note
 * says which. Compact style: a header, one rule under it, no rule between rows, no borders, so 10,000
 * rows print in milliseconds. Formatting of money and counts happens in the caller, at the edge.
 */
import { colorEnabled, displayWidth, outputWidth, pad, paint, truncate } from './terminal.js';

export type Cell = string | number | null | undefined;
export type Align = 'left' | 'right';

export interface Column {
  header: string;
  align?: Align;
  /**
   * Importance: 0 is the most important. The highest number shrinks first and is hidden first; the most
   * important column is never hidden. Default: the column's position (left to right).
   */
  priority?: number;
  /** never truncated (default: right-aligned columns, i.e. numbers and money) */
  keep?: boolean;
  /** narrowest a truncated column gets before less important columns are hidden (default 16, or its natural width when smaller) */
  min?: number;
}

export interface TableOptions {
  /** per-column alignment (numbers default to right) */
  align?: readonly Align[];
  /** per-column priority (see Column.priority) */
  priority?: readonly number[];
  /** cells available; undefined = the output's width (ui/terminal.ts), null = unlimited */
  width?: number | null;
  /** bold header and dim rule; default: the colour policy for stdout */
  color?: boolean;
}

const GAP = 2;

function cellText(c: Cell): string {
  if (c === null || c === undefined) return '';
  const s = String(c);
  return /[\n\r\t]/.test(s) ? s.replace(/\s+/g, ' ') : s;
}

/** A column with its defaults applied. */
export interface FitColumn {
  header: string;
  align: Align;
  priority: number;
  keep: boolean;
  min?: number;
}

interface Plan {
  visible: number[];
  widths: number[];
}

/**
 * Chooses the visible columns and their widths for `width` cells: text columns shrink (least important
 * first) down to their minimum; when that is not enough, the least important column is hidden and the
 * rest are fitted again, so important columns stay readable rather than everything being cut to a stub.
 */
export function fitColumns(columns: readonly FitColumn[], natural: readonly number[], dataWidths: readonly number[], width: number | null): Plan {
  const all = columns.map((_, i) => i);
  if (width === null) return { visible: all, widths: [...natural] };
  const mins = columns.map((c, i) => (c.keep ? Math.max(dataWidths[i], Math.min(displayWidth(c.header), 4)) : Math.min(natural[i], c.min ?? 16)));
  const leastImportantFirst = [...all].sort((a, b) => columns[b].priority - columns[a].priority || b - a);
  const fit = (visible: number[]): number[] | null => {
    const widths = [...natural];
    let total = visible.reduce((s, i) => s + widths[i], 0) + GAP * (visible.length - 1);
    if (total <= width) return widths;
    // text columns first, then the headers of kept columns
    for (const pass of [false, true]) {
      for (const i of leastImportantFirst) {
        if (!visible.includes(i) || columns[i].keep !== pass) continue;
        const take = Math.min(widths[i] - mins[i], total - width);
        if (take > 0) {
          widths[i] -= take;
          total -= take;
        }
        if (total <= width) return widths;
      }
    }
    return null;
  };
  const top = leastImportantFirst[leastImportantFirst.length - 1];
  let visible = all;
  for (;;) {
    const widths = fit(visible);
    if (widths) return { visible, widths };
    const drop = leastImportantFirst.find((i) => visible.includes(i) && i !== top);
    if (drop === undefined) break;
    visible = visible.filter((i) => i !== drop);
  }
  // only the most important column left and still too wide: cut it to the width (a kept one overflows)
  const widths = [...natural];
  if (!columns[top].keep) widths[top] = Math.max(1, Math.min(widths[top], width));
  return { visible, widths };
}

/** Renders rows under a header in the compact, width-fitting style. `head` holds titles or Column specs. */
export function renderTable(head: readonly (string | Column)[], rows: readonly (readonly Cell[])[], options: TableOptions = {}): string {
  const columns = head.map((h, i): FitColumn => {
    const spec: Column = typeof h === 'string' ? { header: h } : h;
    const firstNumeric = rows.length > 0 && typeof rows[0][i] === 'number';
    const align: Align = spec.align ?? options.align?.[i] ?? (firstNumeric ? 'right' : 'left');
    return { header: spec.header, align, priority: spec.priority ?? options.priority?.[i] ?? i, keep: spec.keep ?? align === 'right', min: spec.min };
  });
  const text = rows.map((r) => columns.map((_, i) => cellText(r[i])));
  // each cell is measured once: 10,000-row tables (package import --all) stay in the tens of milliseconds
  const cellWidths = text.map((r) => r.map(displayWidth));
  const dataWidths = columns.map(() => 0);
  for (const r of cellWidths) {
    for (let i = 0; i < r.length; i++) if (r[i] > dataWidths[i]) dataWidths[i] = r[i];
  }
  const natural = columns.map((c, i) => Math.max(displayWidth(c.header), dataWidths[i]));
  const width = options.width === undefined ? (outputWidth() ?? null) : options.width;
  const { visible, widths } = fitColumns(columns, natural, dataWidths, width);
  const style = paint(options.color ?? colorEnabled());

  const gap = ' '.repeat(GAP);
  const line = (cells: readonly string[], cellWidth: readonly number[]): string => {
    let out = '';
    for (let n = 0; n < visible.length; n++) {
      const i = visible[n];
      const w = widths[i];
      const last = n === visible.length - 1;
      if (cellWidth[i] > w) {
        const cut = truncate(cells[i], w);
        out += last && columns[i].align === 'left' ? cut : pad(cut, w, columns[i].align);
      } else if (last && columns[i].align === 'left') {
        out += cells[i];
      } else {
        const fill = ' '.repeat(w - cellWidth[i]);
        out += columns[i].align === 'right' ? fill + cells[i] : cells[i] + fill;
      }
      if (!last) out += gap;
    }
    return out.trimEnd();
  };
  const headers = columns.map((c) => c.header);
  const lines = [style.bold(line(headers, headers.map(displayWidth))), style.dim(visible.map((i) => '─'.repeat(widths[i])).join(gap))];
  for (let r = 0; r < text.length; r++) lines.push(line(text[r], cellWidths[r]));
  const hidden = columns.filter((_, i) => !visible.includes(i)).map((c) => c.header);
  if (hidden.length > 0) lines.push(style.dim(truncate(`(${hidden.join(', ')} hidden to fit ${width} columns; widen the terminal or use --output json)`, width ?? Infinity)));
  return lines.join('\n');
}

/** Two-column "label: value" block, labels padded. */
export function renderKeyValues(pairs: readonly (readonly [string, Cell])[]): string {
  const width = Math.max(0, ...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${`${k}:`.padEnd(width + 1)} ${v ?? ''}`).join('\n');
}
