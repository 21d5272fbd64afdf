/**
 * Line scanning over log files in constant memory. Forward scans read 4 MiB chunks and, when the query
 * has needles (`"transaction":true`, …), look for them in the raw bytes first: only lines holding a
 * needle are decoded and parsed, which is what makes a query over a large log cheaper than
 * `grep | jq`. Backward scans (tail) read chunks from the end of a file.
 */
import type { FileHandle } from 'node:fs/promises';

const NL = 10;
// big reads for forward scans (fewer syscalls and searches), small ones for tail, which usually stops early
const FORWARD_CHUNK = 4 * 1024 * 1024;
const BACKWARD_CHUNK = 256 * 1024;

/** Calls `onLine` for each line of `view` (whole lines; a missing final newline is allowed) that holds a needle. */
export function eachCandidateLine(view: Buffer, needles: readonly Buffer[] | null, onLine: (text: string) => void): void {
  if (!needles || needles.length === 0) {
    let s = 0;
    while (s < view.length) {
      let e = view.indexOf(NL, s);
      if (e < 0) e = view.length;
      if (e > s) onLine(view.toString('utf8', s, e));
      s = e + 1;
    }
    return;
  }
  if (needles.length === 1) {
    const needle = needles[0];
    let from = 0;
    for (;;) {
      const p = view.indexOf(needle, from);
      if (p < 0) return;
      const s = p === 0 ? 0 : view.lastIndexOf(NL, p - 1) + 1;
      let e = view.indexOf(NL, p);
      if (e < 0) e = view.length;
      onLine(view.toString('utf8', s, e));
      from = e + 1;
    }
  }
  // several needles: gather the line starts of every hit, then visit each line once, in order
  const spans: number[] = [];
  for (const needle of needles) {
    let from = 0;
    for (;;) {
      const p = view.indexOf(needle, from);
      if (p < 0) break;
      const s = p === 0 ? 0 : view.lastIndexOf(NL, p - 1) + 1;
      let e = view.indexOf(NL, p);
      if (e < 0) e = view.length;
      spans.push(s, e);
      from = e + 1;
    }
  }
  const order: number[] = [];
  for (let i = 0; i < spans.length; i += 2) order.push(i);
  order.sort((a, b) => spans[a] - spans[b]);
  let last = -1;
  for (const i of order) {
    if (spans[i] === last) continue;
    last = spans[i];
    onLine(view.toString('utf8', spans[i], spans[i + 1]));
  }
}

/**
 * Reads `fh` from `start` to its current end, passing candidate lines to `onLine`. With `final`, a last
 * line without a newline is passed too; otherwise it is left unread. Returns the offset just after the
 * last line consumed.
 */
export async function scanForward(
  fh: FileHandle,
  start: number,
  opts: { needles: readonly Buffer[] | null; final: boolean; signal?: AbortSignal },
  onLine: (text: string) => void,
): Promise<number> {
  let buf = Buffer.allocUnsafe(FORWARD_CHUNK);
  let carry = 0;
  let pos = start;
  for (;;) {
    if (opts.signal?.aborted) return pos - carry;
    if (carry === buf.length) {
      const bigger = Buffer.allocUnsafe(buf.length * 2); // a line longer than the buffer
      buf.copy(bigger, 0, 0, carry);
      buf = bigger;
    }
    const { bytesRead } = await fh.read(buf, carry, buf.length - carry, pos);
    pos += bytesRead;
    const len = carry + bytesRead;
    if (bytesRead === 0) {
      if (opts.final && len > 0) {
        eachCandidateLine(buf.subarray(0, len), opts.needles, onLine);
        return pos;
      }
      return pos - carry;
    }
    const lastNl = buf.lastIndexOf(NL, len - 1);
    if (lastNl < 0) {
      carry = len;
      continue;
    }
    eachCandidateLine(buf.subarray(0, lastNl + 1), opts.needles, onLine);
    carry = len - lastNl - 1;
    if (carry > 0) buf.copy(buf, 0, lastNl + 1, len);
  }
}

/**
 * Reads `fh` backwards from `end`, passing lines newest first to `onLine` until it returns false.
 * `skipPartial`: ignore a last line that has no newline yet (a write in progress); returns the offset
 * after the last complete line.
 */
export async function scanBackward(
  fh: FileHandle,
  end: number,
  opts: { skipPartial: boolean },
  onLine: (text: string) => boolean,
): Promise<number> {
  let pos = end;
  let carry: Buffer = Buffer.alloc(0);
  let completeEnd = end;
  // skipPartial: drop bytes after the last newline of the file (they may span several chunks)
  let skipping = opts.skipPartial;
  while (pos > 0) {
    const readStart = Math.max(0, pos - BACKWARD_CHUNK);
    const chunk = Buffer.allocUnsafe(pos - readStart);
    let got = 0;
    while (got < chunk.length) {
      const { bytesRead } = await fh.read(chunk, got, chunk.length - got, readStart + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    pos = readStart;
    let data = carry.length ? Buffer.concat([chunk.subarray(0, got), carry]) : chunk.subarray(0, got);
    if (skipping) {
      const nl = data.lastIndexOf(NL);
      if (nl < 0) {
        completeEnd = readStart;
        continue;
      }
      skipping = false;
      completeEnd = readStart + nl + 1;
      data = data.subarray(0, nl + 1);
    }
    let linesFrom = 0;
    if (pos > 0) {
      const f = data.indexOf(NL);
      if (f < 0) {
        carry = Buffer.from(data);
        continue;
      }
      carry = Buffer.from(data.subarray(0, f));
      linesFrom = f + 1;
    } else carry = Buffer.alloc(0);
    let e = data.length;
    if (e > linesFrom && data[e - 1] === NL) e--;
    while (e >= linesFrom) {
      const s = e === linesFrom ? linesFrom : data.lastIndexOf(NL, e - 1) + 1;
      const from = Math.max(s, linesFrom);
      if (e > from && !onLine(data.toString('utf8', from, e))) return completeEnd;
      if (from === linesFrom) break;
      e = from - 1;
    }
  }
  return completeEnd;
}
