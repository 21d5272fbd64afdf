/**
 * Customers never see the operator's wholesale cost: upstream members such as `usage.cost`,
 * `usage.cost_details` and `provider` are cut out of every body and stream passed on (they reveal the
 * margin). The cut works on the JSON text, without parsing and re-serialising it: a member key `"cost":`
 * can only be a key (inside a JSON string every `"` is escaped, so `cost":` never occurs there), its value
 * is skipped by a small scanner, and one comma goes with it. Streams are cut per complete SSE event: the
 * bytes of an event split across reads wait for its end.
 */

/** The keys removed from upstream JSON wherever they occur. */
export const COST_KEYS: readonly string[] = ['provider', 'cost', 'cost_details'];

function isWs(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

/** The index just after the JSON value starting at `i` (whitespace skipped), or -1 when it runs past `end`. */
function skipValue(b: Buffer, i: number, end: number): number {
  while (i < end && isWs(b[i])) i++;
  if (i >= end) return -1;
  const c = b[i];
  if (c === 0x22 /* " */) {
    for (let j = i + 1; j < end; j++) {
      if (b[j] === 0x5c /* \ */) j++;
      else if (b[j] === 0x22) return j + 1;
    }
    return -1;
  }
  if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
    let depth = 0;
    for (let j = i; j < end; j++) {
      const d = b[j];
      if (d === 0x22) {
        j++;
        while (j < end && b[j] !== 0x22) j += b[j] === 0x5c ? 2 : 1;
      } else if (d === 0x7b || d === 0x5b) depth++;
      else if (d === 0x7d || d === 0x5d) {
        if (--depth === 0) return j + 1;
      }
    }
    return -1;
  }
  let j = i;
  while (j < end && b[j] !== 0x2c && b[j] !== 0x7d && b[j] !== 0x5d && !isWs(b[j])) j++;
  return j;
}

interface Member {
  /** the key's opening quote */
  start: number;
  /** just after the value */
  end: number;
}

/** The removable members in b[from, to), in order, outermost only. */
function findMembers(b: Buffer, keys: readonly Buffer[], from: number, to: number): Member[] {
  const found: Member[] = [];
  for (const key of keys) {
    for (let at = b.indexOf(key, from); at !== -1 && at < to; at = b.indexOf(key, at + 1)) {
      let j = at + key.length;
      while (j < to && isWs(b[j])) j++;
      if (b[j] !== 0x3a /* : */) continue;
      const end = skipValue(b, j + 1, to);
      if (end !== -1) found.push({ start: at, end });
    }
  }
  if (found.length < 2) return found;
  found.sort((x, y) => x.start - y.start);
  const outer: Member[] = [];
  for (const m of found) if (outer.length === 0 || m.start >= outer[outer.length - 1].end) outer.push(m);
  return outer;
}

/**
 * Cuts the members out of b[from, to): each goes with the comma before it, or — when it is (now) the
 * first member of its object — with the comma after it.
 */
function cut(b: Buffer, members: Member[], from: number, to: number): Buffer[] {
  const out: Array<[number, number]> = [];
  let pos = from;
  for (const m of members) {
    out.push([pos, m.start]);
    pos = m.end;
    // the last character kept, skipping whitespace (ranges may be empty)
    let r = out.length - 1;
    let k = out[r][1] - 1;
    for (;;) {
      while (k >= out[r][0] && isWs(b[k])) k--;
      if (k >= out[r][0] || r === 0) break;
      r--;
      k = out[r][1] - 1;
    }
    if (k >= out[r][0] && b[k] === 0x2c /* , */) {
      out[r][1] = k; // the comma before goes
      out.length = r + 1;
      out.push([k + 1, k + 1]);
    } else {
      let j = pos;
      while (j < to && isWs(b[j])) j++;
      if (b[j] === 0x2c) pos = j + 1; // first member: the comma after goes
    }
  }
  out.push([pos, to]);
  return out.filter(([s, e]) => e > s).map(([s, e]) => b.subarray(s, e));
}

export interface Scrubber {
  /** A whole JSON body without the cost members (the same buffer when it has none). */
  body(b: Buffer): Buffer;
  /** A stream: what of `chunk` (with bytes held back before) may be passed on now. */
  push(chunk: Buffer): Buffer;
  /** The stream's held-back rest. */
  end(): Buffer;
}

const EMPTY = Buffer.alloc(0);

/** A scrubber for the given member keys (COST_KEYS by default), one per response. */
export function createScrubber(keys: readonly string[] = COST_KEYS): Scrubber {
  const needles = keys.map((k) => Buffer.from(`"${k}"`));
  let held: Buffer = EMPTY;

  const scrub = (b: Buffer, from: number, to: number): Buffer => {
    const members = findMembers(b, needles, from, to);
    if (members.length === 0) return from === 0 && to === b.length ? b : b.subarray(from, to);
    const parts = cut(b, members, from, to);
    return parts.length === 1 ? parts[0] : Buffer.concat(parts);
  };

  return {
    body: (b) => scrub(b, 0, b.length),
    push(chunk) {
      const b = held.length === 0 ? chunk : Buffer.concat([held, chunk]);
      // the end of the last complete event (a blank line: LF LF, or CR LF CR LF)
      const lf = b.lastIndexOf('\n\n');
      const crlf = b.lastIndexOf('\r\n\r\n');
      const end = Math.max(lf === -1 ? 0 : lf + 2, crlf === -1 ? 0 : crlf + 4);
      held = end === b.length ? EMPTY : b.subarray(end);
      return end === 0 ? EMPTY : scrub(b, 0, end);
    },
    end() {
      const rest = held;
      held = EMPTY;
      return rest.length === 0 ? rest : scrub(rest, 0, rest.length);
    },
  };
}
