/**
 * The terminal policy of the CLI, in one place: when to colour (no-color.org: `NO_COLOR`, `--no-color`,
 * `FORCE_COLOR`, only on a TTY otherwise), how wide the output may be, and how wide a string is on
 * screen. Tables (ui/table.ts), plain text and Ink screens (through chalk, which bin/main.ts points at the
 * same decision with FORCE_COLOR) all follow it.
 */

type Stream = { isTTY?: boolean; columns?: number };
type Env = Record<string, string | undefined>;

/** The colour decision for output written to `stream`. */
export function colorEnabled(stream: Stream = process.stdout, env: Env = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  const force = env.FORCE_COLOR;
  if (force === '0' || force === 'false') return false;
  if (force !== undefined) return true;
  if (env.TERM === 'dumb') return false;
  return Boolean(stream.isTTY);
}

/**
 * Applies the colour policy for this process before anything that colours is loaded: `--no-color` (anywhere
 * before `--`) becomes `NO_COLOR=1`, and when stdout may not be coloured `FORCE_COLOR=0` makes chalk (Ink's
 * colouring) agree — chalk does not read NO_COLOR itself.
 */
export function applyColorPolicy(argv: readonly string[], env: Env = process.env, stream: Stream = process.stdout): void {
  const end = argv.indexOf('--');
  const flags = end === -1 ? argv : argv.slice(0, end);
  if (flags.includes('--no-color')) env.NO_COLOR = '1';
  if (!colorEnabled(stream, env)) env.FORCE_COLOR = '0';
}

/**
 * Columns available for output on `stream`: the terminal's width on a TTY (COLUMNS when the TTY does not
 * say, else 80); on a pipe only when COLUMNS is set (a file or `grep` gets whole lines otherwise).
 */
export function outputWidth(stream: Stream = process.stdout, env: Env = process.env): number | undefined {
  const fromEnv = Number(env.COLUMNS);
  const envWidth = Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : undefined;
  if (stream.isTTY) return stream.columns && stream.columns > 0 ? stream.columns : (envWidth ?? 80);
  return envWidth;
}

/** The width for a screen (Ink): the terminal's, or COLUMNS, or 100. */
export function screenWidth(stream: Stream = process.stdout, env: Env = process.env): number {
  return outputWidth(stream, env) ?? 100;
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;?]*[A-Za-z]|\u001b\][^\u0007]*\u0007/g;

export function stripAnsi(text: string): string {
  return text.includes('\u001b') ? text.replace(ANSI, '') : text;
}

function isWide(cp: number): boolean {
  return (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0xa4cf && cp !== 0x303f) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1f64f) ||
    (cp >= 0x1f900 && cp <= 0x1f9ff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  );
}

function isZeroWidth(cp: number): boolean {
  return (cp >= 0x300 && cp <= 0x36f) || cp === 0x200b || cp === 0x200d || (cp >= 0xfe00 && cp <= 0xfe0f) || cp < 0x20;
}

function charWidth(cp: number): number {
  return isZeroWidth(cp) ? 0 : isWide(cp) ? 2 : 1;
}

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** Cells a string takes on screen (ANSI codes take none, CJK and emoji two). */
export function displayWidth(text: string): number {
  if (PRINTABLE_ASCII.test(text)) return text.length;
  let w = 0;
  for (const ch of stripAnsi(text)) w += charWidth(ch.codePointAt(0)!);
  return w;
}

/** Cuts `text` to at most `width` cells, ending with `…` when something was cut. */
export function truncate(text: string, width: number): string {
  if (displayWidth(text) <= width) return text;
  if (width <= 0) return '';
  if (width === 1) return '…';
  const plain = stripAnsi(text);
  let out = '';
  let w = 0;
  for (const ch of plain) {
    const cw = charWidth(ch.codePointAt(0)!);
    if (w + cw > width - 1) break;
    out += ch;
    w += cw;
  }
  return `${out}…`;
}

/** Pads to `width` cells (never cuts). */
export function pad(text: string, width: number, align: 'left' | 'right' = 'left'): string {
  const fill = width - displayWidth(text);
  if (fill <= 0) return text;
  return align === 'right' ? ' '.repeat(fill) + text : text + ' '.repeat(fill);
}

const SGR = { bold: [1, 22], dim: [2, 22], red: [31, 39], green: [32, 39], yellow: [33, 39], cyan: [36, 39], gray: [90, 39] } as const;
export type StyleName = keyof typeof SGR;

/** Styling for plain text that honours the colour policy: `paint(true).red('ALERT')`. */
export function paint(enabled: boolean = colorEnabled()): Record<StyleName, (text: string) => string> {
  const make = ([open, close]: readonly [number, number]) => (enabled ? (text: string) => `\u001b[${open}m${text}\u001b[${close}m` : (text: string) => text);
  return Object.fromEntries(Object.entries(SGR).map(([name, codes]) => [name, make(codes)])) as Record<StyleName, (text: string) => string>;
}
