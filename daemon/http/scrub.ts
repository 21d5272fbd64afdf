/**
 * Customers never see the operator's wholesale cost: upstream members such as `usage.cost`,
 * `usage.cost_details` and `provider` are cut out of every body and stream passed on (they reveal the
 * margin). The cut works on the JSON text, without parsing and re-serialising it: `"cost"` followed by `:`
 * is a key when its first quote is not escaped (a closing quote is never followed by a letter, and inside
 * a string every quote is escaped), its value is skipped by a small scanner, and one comma goes with it. Streams are cut per complete SSE event: the
 * text of an event split across reads waits for its end. (On strings: the proxy decodes the stream once,
 * for its meter and for this, and String#indexOf costs far less than a Buffer search per call.)
 */

/** The keys removed from upstream JSON wherever they occur. */
export const COST_KEYS: readonly string[] = ['provider', 'cost', 'cost_details'];

function isWs(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

/** The index just after the JSON value starting at `i` (whitespace skipped), or -1 when it runs past `end`. */
function skipValue(b: string, i: number, end: number): number {
  while (i < end && isWs(b.charCodeAt(i))) i++;
  if (i >= end) return -1;
  const c = b.charCodeAt(i);
  if (c === 0x22 /* " */) {
    for (let j = i + 1; j < end; j++) {
      const d = b.charCodeAt(j);
      if (d === 0x5c /* \ */) j++;
      else if (d === 0x22) return j + 1;
    }
    return -1;
  }
  if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
    let depth = 0;
    for (let j = i; j < end; j++) {
      const d = b.charCodeAt(j);
      if (d === 0x22) {
        j++;
        while (j < end && b.charCodeAt(j) !== 0x22) j += b.charCodeAt(j) === 0x5c ? 2 : 1;
      } else if (d === 0x7b || d === 0x5b) depth++;
      else if (d === 0x7d || d === 0x5d) {
        if (--depth === 0) return j + 1;
      }
    }
    return -1;
  }
  let j = i;
  for (; j < end; j++) {
    const d = b.charCodeAt(j);
    if (d === 0x2c || d === 0x7d || d === 0x5d || isWs(d)) break;
  }
  return j;
}

/** A regex finding `"<key>"` followed by `:` for the keys (one scan for all of them: String#indexOf per key costs a searcher set-up per call). */
function keyPattern(keys: readonly string[]): RegExp {
  return new RegExp(`"(?:${keys.map((k) => k.replace(/[^\w]/g, (c) => `\\${c}`)).join('|')})"\\s*:`, 'g');
}

/** [start, end) of each removable member in b[0, to), in order, outermost only. */
function findMembers(b: string, pattern: RegExp, to: number): Array<[number, number]> {
  const found: Array<[number, number]> = [];
  pattern.lastIndex = 0;
  for (let m = pattern.exec(b); m !== null && m.index < to; m = pattern.exec(b)) {
    const at = m.index;
    // a quote after an odd run of backslashes is inside a string (`"a \\"cost\\":"`), not a key
    let k = at - 1;
    while (k >= 0 && b.charCodeAt(k) === 0x5c) k--;
    if ((at - 1 - k) % 2 === 1) continue;
    const end = skipValue(b, at + m[0].length, to);
    if (end === -1) continue;
    // an outer member contains what follows it: go on after it
    if (found.length === 0 || at >= found[found.length - 1][1]) found.push([at, end]);
    pattern.lastIndex = end;
  }
  return found;
}

/**
 * b[0, to) without the members: each goes with the comma before it, or — when it is (now) the first
 * member of its object — with the comma after it. Kept ranges are read in `b` itself (a flat string) and
 * joined once.
 */
function cut(b: string, members: Array<[number, number]>, to: number): string {
  const kept: Array<[number, number]> = [];
  let pos = 0;
  for (const [start, end] of members) {
    kept.push([pos, start]);
    pos = end;
    // the last character kept, skipping whitespace (ranges may be empty)
    let r = kept.length - 1;
    let k = kept[r][1] - 1;
    for (;;) {
      while (k >= kept[r][0] && isWs(b.charCodeAt(k))) k--;
      if (k >= kept[r][0] || r === 0) break;
      r--;
      k = kept[r][1] - 1;
    }
    if (k >= kept[r][0] && b.charCodeAt(k) === 0x2c /* , */) {
      kept[r][1] = k; // the comma before goes (with the whitespace-only ranges after it)
      kept.length = r + 1;
    } else {
      let j = pos;
      while (j < to && isWs(b.charCodeAt(j))) j++;
      if (b.charCodeAt(j) === 0x2c) pos = j + 1; // first member: the comma after goes
    }
  }
  kept.push([pos, to]);
  let out = '';
  for (const [s, e] of kept) if (e > s) out += b.slice(s, e);
  return out;
}

const COST_PATTERN = keyPattern(COST_KEYS);

/** JSON text without the members named by `keys` (COST_KEYS by default): the same string when it has none. */
export function scrubJson(text: string, keys: readonly string[] = COST_KEYS): string {
  return scrubUpTo(text, text.length, keys === COST_KEYS ? COST_PATTERN : keyPattern(keys));
}

function scrubUpTo(text: string, to: number, pattern: RegExp): string {
  const members = findMembers(text, pattern, to);
  if (members.length === 0) return to === text.length ? text : text.slice(0, to);
  return cut(text, members, to);
}

/** Cuts a stream's events as they complete; one per response. */
export interface StreamScrubber {
  /** What of `text` (with text held back before) may be passed on now. */
  push(text: string): string;
  /** The stream's held-back rest. */
  end(): string;
}

export function createStreamScrubber(keys: readonly string[] = COST_KEYS): StreamScrubber {
  const pattern = keys === COST_KEYS ? COST_PATTERN : keyPattern(keys);
  let held = '';
  return {
    push(text) {
      const b = held.length === 0 ? text : held + text;
      // the end of the last complete event (a blank line: LF LF, or CR LF CR LF)
      const lf = b.lastIndexOf('\n\n');
      const crlf = b.lastIndexOf('\r\n\r\n');
      const end = Math.max(lf === -1 ? 0 : lf + 2, crlf === -1 ? 0 : crlf + 4);
      held = end === b.length ? '' : b.slice(end);
      return end === 0 ? '' : scrubUpTo(b, end, pattern);
    },
    end() {
      const rest = held;
      held = '';
      return rest.length === 0 ? rest : scrubUpTo(rest, rest.length, pattern);
    },
  };
}
