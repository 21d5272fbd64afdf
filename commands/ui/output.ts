/**
 * `--output table|json|csv` for list commands, through one helper. `--json` stays the short form of
 * `--output json`. A command only ever prints a table or one JSON document: `withContext` (run.ts) turns
 * `--output json` into `--json`, and for CSV it captures the JSON document and prints its list (the
 * `rowsKey` property: `keys`, `packages`, `entries`, …) as CSV with the same values, so a command needs no
 * CSV code of its own.
 */
import { InvalidArgumentError, Option } from 'commander';
import { InputError } from '../../src/errors.js';

export const OUTPUT_FORMATS = ['table', 'json', 'csv'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** The parsed `--output` value: the format and which property of the JSON document holds the list. */
export interface OutputChoice {
  format: OutputFormat;
  rowsKey: string;
}

export interface OutputOptions {
  json?: boolean;
  output?: OutputChoice;
}

/**
 * The `--output table|json|csv` option of a list command whose JSON document holds its rows in `rowsKey`:
 * `.addOption(outputOption('keys'))`.
 */
export function outputOption(rowsKey: string): Option {
  return new Option('--output <format>', 'table, json or csv (--json is short for --output json)').choices(OUTPUT_FORMATS).argParser((value: string): OutputChoice => {
    if (!(OUTPUT_FORMATS as readonly string[]).includes(value)) throw new InvalidArgumentError(`use one of ${OUTPUT_FORMATS.join(', ')}`);
    return { format: value as OutputFormat, rowsKey };
  });
}

/** The format asked for; `--json` together with `--output table|csv` is a contradiction (exit 2). */
export function outputFormat(opts: OutputOptions): OutputFormat {
  const chosen = opts.output?.format;
  if (opts.json && chosen && chosen !== 'json') {
    throw new InputError(`--output: --json and --output ${chosen} ask for two formats; keep one of them`, 'output');
  }
  return opts.json ? 'json' : (chosen ?? 'table');
}

function flatten(value: unknown, prefix: string, out: Map<string, unknown>): void {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const entries = Object.entries(value);
    if (entries.length === 0) out.set(prefix, '');
    for (const [k, v] of entries) flatten(v, prefix ? `${prefix}.${k}` : k, out);
    return;
  }
  out.set(prefix, value);
}

function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : JSON.stringify(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** RFC 4180 CSV of a list of JSON objects: one column per (flattened) field, in first-seen order. */
export function toCsv(rows: readonly unknown[]): string {
  const flat = rows.map((r) => {
    const m = new Map<string, unknown>();
    flatten(r, '', m);
    return m;
  });
  const columns: string[] = [];
  const seen = new Set<string>();
  for (const m of flat) {
    for (const k of m.keys()) {
      if (!seen.has(k)) {
        seen.add(k);
        columns.push(k);
      }
    }
  }
  const lines = [columns.map(csvCell).join(',')];
  for (const m of flat) lines.push(columns.map((c) => csvCell(m.get(c))).join(','));
  return `${lines.join('\n')}\n`;
}

/** The CSV for a command's JSON document: its `rowsKey` list (a document without one is passed through). */
export function documentToCsv(text: string, rowsKey: string): string {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return text;
  }
  const rows = (doc as Record<string, unknown> | null)?.[rowsKey];
  return Array.isArray(rows) ? toCsv(rows) : text;
}
