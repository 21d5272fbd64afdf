/**
 * Reads a log line's top-level fields straight from its bytes: the line is checked to be one JSON object
 * (JSON's grammar: strings with their escapes, numbers, literals, nesting, whitespace), and the byte span
 * of each field a query asks about is noted; a value is decoded only when the query reads it. A query over
 * a big log tests hundreds of thousands of candidate lines; this costs about half a `JSON.parse` of the
 * line and builds no object, and only the lines shown are parsed in full.
 */

/** The value of a field that is an object or an array (never decoded here). */
export const NESTED: unique symbol = Symbol('nested');
export type FieldValue = string | number | boolean | null | typeof NESTED | undefined;

/** nesting deeper than this is left to JSON.parse */
const MAX_DEPTH = 64;

/** Outcome of reading a line. */
export const enum LineRead {
  Ok = 0,
  Malformed = 1,
  /** valid as far as read but nested too deep: parse it with JSON.parse */
  TooDeep = 2,
}

const ws = (c: number) => c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;
const digit = (c: number) => c >= 0x30 && c <= 0x39;
const hex = (c: number) => digit(c) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);

let tooDeep = false;

/** Index of the closing quote of the string whose content starts at `i`, or -1. */
function stringEnd(b: Buffer, i: number, e: number): number {
  while (i < e) {
    const c = b[i];
    if (c === 0x22) return i;
    if (c === 0x5c) {
      const x = b[i + 1];
      if (x === 0x75) {
        if (i + 5 >= e || !hex(b[i + 2]) || !hex(b[i + 3]) || !hex(b[i + 4]) || !hex(b[i + 5])) return -1;
        i += 6;
      } else if (x === 0x22 || x === 0x5c || x === 0x2f || x === 0x62 || x === 0x66 || x === 0x6e || x === 0x72 || x === 0x74) i += 2;
      else return -1;
      continue;
    }
    if (c < 0x20) return -1;
    i++;
  }
  return -1;
}

/** JSON's number grammar: -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)? — end or -1. */
function numberEnd(b: Buffer, i: number, e: number): number {
  if (b[i] === 0x2d) i++;
  if (i >= e || !digit(b[i])) return -1;
  if (b[i] === 0x30) i++;
  else while (i < e && digit(b[i])) i++;
  if (i < e && b[i] === 0x2e) {
    i++;
    if (i >= e || !digit(b[i])) return -1;
    while (i < e && digit(b[i])) i++;
  }
  if (i < e && (b[i] === 0x65 || b[i] === 0x45)) {
    i++;
    if (i < e && (b[i] === 0x2b || b[i] === 0x2d)) i++;
    if (i >= e || !digit(b[i])) return -1;
    while (i < e && digit(b[i])) i++;
  }
  return i;
}

/** End (exclusive) of the JSON value at `i` (after whitespace), or -1. */
function valueEnd(b: Buffer, i: number, e: number, depth: number): number {
  if (i >= e) return -1;
  const c = b[i];
  if (c === 0x22) {
    const q = stringEnd(b, i + 1, e);
    return q < 0 ? -1 : q + 1;
  }
  if (c === 0x2d || digit(c)) return numberEnd(b, i, e);
  if (c === 0x74) return i + 3 < e && b[i + 1] === 0x72 && b[i + 2] === 0x75 && b[i + 3] === 0x65 ? i + 4 : -1;
  if (c === 0x66) return i + 4 < e && b[i + 1] === 0x61 && b[i + 2] === 0x6c && b[i + 3] === 0x73 && b[i + 4] === 0x65 ? i + 5 : -1;
  if (c === 0x6e) return i + 3 < e && b[i + 1] === 0x75 && b[i + 2] === 0x6c && b[i + 3] === 0x6c ? i + 4 : -1;
  if (c !== 0x7b && c !== 0x5b) return -1;
  if (depth >= MAX_DEPTH) {
    tooDeep = true;
    return -1;
  }
  const object = c === 0x7b;
  const close = object ? 0x7d : 0x5d;
  i++;
  while (i < e && ws(b[i])) i++;
  if (i < e && b[i] === close) return i + 1;
  for (;;) {
    if (object) {
      if (i >= e || b[i] !== 0x22) return -1;
      i = stringEnd(b, i + 1, e);
      if (i < 0) return -1;
      i++;
      while (i < e && ws(b[i])) i++;
      if (i >= e || b[i] !== 0x3a) return -1;
      i++;
      while (i < e && ws(b[i])) i++;
    }
    i = valueEnd(b, i, e, depth + 1);
    if (i < 0) return -1;
    while (i < e && ws(b[i])) i++;
    if (i >= e) return -1;
    if (b[i] === 0x2c) {
      i++;
      while (i < e && ws(b[i])) i++;
      continue;
    }
    return b[i] === close ? i + 1 : -1;
  }
}

/**
 * A reusable reader for a fixed set of top-level field names. After `read`, `get(slot)` decodes the
 * slot's field (slots in the order of the names); fields the line lacks are undefined.
 */
export class FieldReader {
  private readonly names: readonly string[];
  private readonly byLength: (Buffer[] | undefined)[] = [];
  private readonly slotsByLength: (number[] | undefined)[] = [];
  /** per slot: value start, value end (-1: absent) */
  private readonly spans: Int32Array;
  /** per slot: the decoded value, or UNREAD */
  private readonly cache: unknown[];
  private buf: Buffer = Buffer.alloc(0);
  private parsed: Record<string, unknown> | null = null;

  constructor(names: readonly string[]) {
    this.names = names;
    this.spans = new Int32Array(names.length * 2);
    this.cache = new Array<unknown>(names.length).fill(UNREAD);
    names.forEach((name, slot) => {
      const bytes = Buffer.from(name);
      (this.byLength[bytes.length] ??= []).push(bytes);
      (this.slotsByLength[bytes.length] ??= []).push(slot);
    });
  }

  /** Reads `buf[start, end)` (one line, without its newline). The values stay readable until the next read. */
  read(buf: Buffer, start: number, end: number): LineRead {
    const spans = this.spans;
    spans.fill(-1);
    this.cache.fill(UNREAD);
    this.buf = buf;
    this.parsed = null;
    tooDeep = false;
    const b = buf;
    const e = end;
    let i = start;
    while (i < e && ws(b[i])) i++;
    if (i >= e || b[i] !== 0x7b) return LineRead.Malformed;
    i++;
    while (i < e && ws(b[i])) i++;
    if (i < e && b[i] === 0x7d) return this.rest(b, i + 1, e);
    for (;;) {
      if (i >= e || b[i] !== 0x22) return LineRead.Malformed;
      const q = stringEnd(b, i + 1, e);
      if (q < 0) return LineRead.Malformed;
      const slot = this.slotOf(b, i + 1, q);
      i = q + 1;
      while (i < e && ws(b[i])) i++;
      if (i >= e || b[i] !== 0x3a) return LineRead.Malformed;
      i++;
      while (i < e && ws(b[i])) i++;
      const valueStart = i;
      i = valueEnd(b, i, e, 1);
      if (i < 0) return tooDeep ? LineRead.TooDeep : LineRead.Malformed;
      if (slot >= 0) {
        spans[2 * slot] = valueStart;
        spans[2 * slot + 1] = i;
      }
      while (i < e && ws(b[i])) i++;
      if (i >= e) return LineRead.Malformed;
      if (b[i] === 0x2c) {
        i++;
        while (i < e && ws(b[i])) i++;
        continue;
      }
      return b[i] === 0x7d ? this.rest(b, i + 1, e) : LineRead.Malformed;
    }
  }

  /** Uses an already parsed object (the JSON.parse fallback for deep lines). */
  fromObject(o: Record<string, unknown>): void {
    this.parsed = o;
  }

  /** The field of `slot`, decoded (objects and arrays as NESTED). */
  get(slot: number): FieldValue {
    if (this.parsed) {
      const v = Object.hasOwn(this.parsed, this.names[slot]) ? this.parsed[this.names[slot]] : undefined;
      return v !== null && typeof v === 'object' ? NESTED : (v as FieldValue);
    }
    const cached = this.cache[slot];
    if (cached !== UNREAD) return cached as FieldValue;
    const s = this.spans[2 * slot];
    const v = s < 0 ? undefined : decode(this.buf, s, this.spans[2 * slot + 1]);
    this.cache[slot] = v;
    return v;
  }

  /** true when the field of `slot` is the literal `true` (no decoding). */
  isTrue(slot: number): boolean {
    if (this.parsed) return this.get(slot) === true;
    const s = this.spans[2 * slot];
    return s >= 0 && this.buf[s] === 0x74;
  }

  /** true when the field of `slot` is the literal `false`. */
  isFalse(slot: number): boolean {
    if (this.parsed) return this.get(slot) === false;
    const s = this.spans[2 * slot];
    return s >= 0 && this.buf[s] === 0x66;
  }

  /** true when the field of `slot` is the string `text` (ASCII), compared as bytes when written plainly. */
  isString(slot: number, text: Buffer): boolean {
    if (this.parsed) return this.get(slot) === text.toString('latin1');
    const s = this.spans[2 * slot];
    if (s < 0 || this.buf[s] !== 0x22) return false;
    const length = this.spans[2 * slot + 1] - s - 2;
    if (length === text.length) return this.buf.compare(text, 0, text.length, s + 1, s + 1 + length) === 0;
    // only a string written with escapes is longer than its text
    return length > text.length && this.get(slot) === text.toString('latin1');
  }

  private rest(b: Buffer, i: number, e: number): LineRead {
    while (i < e && ws(b[i])) i++;
    return i === e ? LineRead.Ok : LineRead.Malformed;
  }

  private slotOf(b: Buffer, s: number, e: number): number {
    const bucket = this.byLength[e - s];
    if (bucket === undefined) return -1;
    for (let k = 0; k < bucket.length; k++) {
      const name = bucket[k];
      let j = 0;
      while (j < name.length && b[s + j] === name[j]) j++;
      if (j === name.length) return this.slotsByLength[e - s]![k];
    }
    return -1; // (a key written with escapes is not one of ours)
  }
}

const UNREAD = Symbol('unread');

function decode(b: Buffer, s: number, e: number): FieldValue {
  const c = b[s];
  if (c === 0x22) {
    for (let i = s + 1; i < e - 1; i++) if (b[i] === 0x5c) return JSON.parse(b.toString('utf8', s, e)) as string;
    return b.toString('utf8', s + 1, e - 1);
  }
  if (c === 0x74) return true;
  if (c === 0x66) return false;
  if (c === 0x6e) return null;
  if (c === 0x7b || c === 0x5b) return NESTED;
  // whole numbers of up to 15 digits (ids, µ$, ms) without a string
  let i = s;
  const negative = c === 0x2d;
  if (negative) i++;
  if (e - i <= 15) {
    let n = 0;
    for (; i < e; i++) {
      const d = b[i];
      if (d < 0x30 || d > 0x39) return Number(b.toString('latin1', s, e));
      n = n * 10 + (d - 0x30);
    }
    return negative ? -n : n;
  }
  return Number(b.toString('latin1', s, e));
}
