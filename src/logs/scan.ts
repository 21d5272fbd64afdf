/**
 * Line scanning over log files in constant memory. Forward scans read 4 MiB chunks and, when the query
 * has needles (`"transaction":true`, a request id, …), search the raw bytes for them first (src/logs/
 * search.ts, SIMD): only the lines holding a needle are looked at, which is what makes a query over a big
 * log as cheap as `grep`. Lines are handed over as byte spans of the chunk, so a caller decodes only what
 * it keeps. Backward scans (tail) read chunks from the end of a file.
 */
import type { FileHandle } from 'node:fs/promises';
import { createChunkSearch, type ChunkSearch } from './search.js';

const NL = 10;
// big reads for forward scans (fewer syscalls and searches), small ones for tail, which usually stops early
const FORWARD_CHUNK = 4 * 1024 * 1024;
const BACKWARD_CHUNK = 256 * 1024;

/** Positional reads: a FileHandle, or a file descriptor shared with a worker thread. */
export interface ReadAt {
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
}

/** A line of `buf` (bytes `start` to `end`, without the newline); valid until the callback returns. */
export type SpanSink = (buf: Buffer, start: number, end: number) => void;

export interface ForwardScanOptions {
  final: boolean;
  signal?: AbortSignal;
  /** called after the lines of each chunk were handed over, while `buf` still holds them */
  onChunkDone?: (buf: Buffer) => void;
}

/** A forward scanner for one set of needles; reuse it for repeated scans (follow) to keep its buffer. */
export interface LineScanner {
  /**
   * Reads `fh` from `start` to its current end, passing candidate lines to `onLine`. With `final`, a
   * last line without a newline is passed too; otherwise it is left unread. Returns the offset just
   * after the last line consumed.
   */
  forward(fh: ReadAt, start: number, opts: ForwardScanOptions, onLine: SpanSink): Promise<number>;
}

/** A scanner passing every line (`needles` null or empty) or only the lines holding one of `needles`. */
export function createLineScanner(needles: readonly Buffer[] | null, chunkBytes = FORWARD_CHUNK): LineScanner {
  const list = needles ?? [];
  const search = createChunkSearch(list, chunkBytes);
  const positions: number[] = [];
  return {
    async forward(fh, start, opts, onLine) {
      let carry = 0;
      let pos = start;
      for (;;) {
        if (opts.signal?.aborted) return pos - carry;
        if (carry === search.buffer.length) search.grow(search.buffer.length * 2); // a line longer than the buffer
        const buf = search.buffer;
        const { bytesRead } = await fh.read(buf, carry, buf.length - carry, pos);
        pos += bytesRead;
        const len = carry + bytesRead;
        if (bytesRead === 0) {
          if (opts.final && len > 0) {
            eachCandidate(search, list.length, 0, len, positions, onLine);
            opts.onChunkDone?.(buf);
            return pos;
          }
          return pos - carry;
        }
        const lastNl = buf.lastIndexOf(NL, len - 1);
        if (lastNl < 0) {
          carry = len;
          continue;
        }
        eachCandidate(search, list.length, 0, lastNl + 1, positions, onLine);
        opts.onChunkDone?.(buf);
        carry = len - lastNl - 1;
        if (carry > 0) buf.copy(buf, 0, lastNl + 1, len);
      }
    },
  };
}

/** Calls `onLine` for each non-empty line of `search.buffer[from, to)` that holds a needle (every line without needles). */
function eachCandidate(search: ChunkSearch, needleCount: number, from: number, to: number, positions: number[], onLine: SpanSink): void {
  const buf = search.buffer;
  if (needleCount === 0) {
    let s = from;
    while (s < to) {
      let e = buf.indexOf(NL, s);
      if (e < 0 || e > to) e = to;
      if (e > s) onLine(buf, s, e);
      s = e + 1;
    }
    return;
  }
  positions.length = 0;
  for (let n = 0; n < needleCount; n++) search.find(n, from, to, positions);
  if (needleCount > 1) positions.sort((a, b) => a - b);
  let lastStart = -1;
  for (const p of positions) {
    const s = Math.max(from, buf.lastIndexOf(NL, p) + 1);
    if (s === lastStart) continue; // several hits in one line
    lastStart = s;
    let e = buf.indexOf(NL, p);
    if (e < 0 || e > to) e = to;
    onLine(buf, s, e);
  }
}

/**
 * Reads `fh` backwards from `end`, passing lines newest first to `onLine` until it returns false; with
 * `needles`, only the lines holding one. `skipPartial`: ignore a last line that has no newline yet (a
 * write in progress); returns the offset after the last complete line.
 */
export async function scanBackward(
  fh: FileHandle,
  end: number,
  opts: { skipPartial: boolean; needles?: readonly Buffer[] | null },
  onLine: (text: string) => boolean,
): Promise<number> {
  const needles = opts.needles && opts.needles.length > 0 ? opts.needles : null;
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
    if (needles) {
      if (!eachCandidateBackward(data, linesFrom, needles, onLine)) return completeEnd;
      continue;
    }
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

/** The lines of `data[from, …)` holding a needle, newest first; false when `onLine` asked to stop. */
function eachCandidateBackward(data: Buffer, from: number, needles: readonly Buffer[], onLine: (text: string) => boolean): boolean {
  const spans: number[] = [];
  for (const needle of needles) {
    for (let p = data.indexOf(needle, from); p >= 0; p = data.indexOf(needle, p + 1)) {
      const s = Math.max(from, data.lastIndexOf(NL, p) + 1);
      let e = data.indexOf(NL, p);
      if (e < 0) e = data.length;
      spans.push(s, e);
      p = e;
    }
  }
  const order = Array.from({ length: spans.length / 2 }, (_, k) => 2 * k).sort((a, b) => spans[b] - spans[a]);
  let last = -1;
  for (const k of order) {
    if (spans[k] === last) continue;
    last = spans[k];
    if (!onLine(data.toString('utf8', spans[k], spans[k + 1]))) return false;
  }
  return true;
}
