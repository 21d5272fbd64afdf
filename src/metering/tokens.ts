/**
 * Local token counting with gpt-tokenizer (o200k_base), for every protocol: a request's prompt is given as
 * a `PromptText` (a fixed overhead of tokens plus the texts whose tokens count, as the protocol adapter
 * reads them from the body), and counted two ways:
 * - `promptUpperBound`: no tokenizer, microseconds — every token is at least one UTF-8 byte. It sizes most
 *   holds (see hold.ts).
 * - `countPromptTokens`: the tokenizer, for holds near the end of a quota and for estimated charges (no
 *   usage came). It never blocks the event loop and its cost per request is bounded:
 *   - linear: runs without spaces (CJK, base64, "aaaa…") are cut into MAX_RUN-character pieces, since
 *     gpt-tokenizer's byte-pair merge is quadratic in one pre-token (20,000 CJK characters took ~2 s in one
 *     call), and its merge cache is kept small (a full 100k-entry cache churned by random text made every
 *     lookup slow: 1 MB of random text took 14 s instead of 2 s);
 *   - in slices: a large count waits for its turn of the event loop and gives it back every SLICE_MS
 *     (turns.ts), so other requests and /health go on;
 *   - bounded: at most `exactChars` characters per request go through the tokenizer; the rest is counted by
 *     the byte bound, so the result never falls below the exact count by more than the piece cuts (it errs
 *     high, never low: a hold or an estimated charge cannot be made small by padding a prompt).
 */
import { countTokens, setMergeCacheSize } from 'gpt-tokenizer';
import { nextTurn } from './turns.js';

/** A prompt as the protocol counts it: `overhead` tokens plus the tokens of each text. */
export interface PromptText {
  overhead: number;
  texts: string[];
}

/** Characters per request counted exactly by default; beyond, the byte bound. */
export const EXACT_CHARS = 128 * 1024;

/** Longest stretch of work between two yields to the event loop. */
const SLICE_MS = 5;
/** Texts shorter than this in all are counted at once (well under a millisecond). */
const SMALL_CHARS = 8 * 1024;

/** Longest text handed to the tokenizer in one call (cut at a space where there is one). */
const MAX_CALL = 4096;

/**
 * The longest run of non-space (or of space) characters handed to the tokenizer in one piece: longer runs
 * are counted in pieces of this length — linear time, and at most about one token more per cut than the
 * whole run.
 */
const MAX_RUN = 64;
const LONG_RUN = new RegExp(`\\S{${MAX_RUN + 1},}|\\s{${MAX_RUN + 1},}`, 'g');

/** Special-token strings in customer text (`<|endoftext|>`…) are ordinary text, as providers treat them. */
const PLAIN_TEXT = { disallowedSpecial: new Set<string>() };

let tokenizerReady = false;
function tokenizer(): typeof countTokens {
  if (!tokenizerReady) {
    // (see the module comment: a large merge cache is slower than none on hostile text, and no faster on prose)
    setMergeCacheSize(1024);
    tokenizerReady = true;
  }
  return countTokens;
}

/** Calls `fn` on the pieces of `text` the tokenizer may see in one call. */
function forEachPiece(text: string, fn: (piece: string) => void): void {
  let from = 0;
  LONG_RUN.lastIndex = 0;
  const plain = (end: number) => {
    // ordinary text between long runs, in calls of at most MAX_CALL characters cut before a space
    while (end - from > MAX_CALL) {
      let cut = from + MAX_CALL;
      let space = cut;
      while (space > from + MAX_CALL / 2 && !isSpace(text.charCodeAt(space))) space--;
      if (space > from + MAX_CALL / 2) cut = space;
      else if (isHighSurrogate(text.charCodeAt(cut - 1))) cut--;
      fn(text.slice(from, cut));
      from = cut;
    }
    if (end > from) fn(text.slice(from, end));
    from = end;
  };
  for (let m = LONG_RUN.exec(text); m !== null; m = LONG_RUN.exec(text)) {
    plain(m.index);
    const end = m.index + m[0].length;
    for (let i = m.index; i < end; ) {
      let j = Math.min(end, i + MAX_RUN);
      // never split a surrogate pair (an emoji) between two pieces
      if (j < end && isHighSurrogate(text.charCodeAt(j - 1)) && j - 1 > i) j--;
      fn(text.slice(i, j));
      i = j;
    }
    from = end;
  }
  plain(text.length);
}

function isSpace(code: number): boolean {
  return code === 32 || code === 10 || code === 9 || code === 13;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/** Tokens of a text, counted at once (for short texts and tests; requests use countPromptTokens). */
export function countTextTokens(text: string): number {
  const count = tokenizer();
  let total = 0;
  forEachPiece(text, (piece) => {
    total += count(piece, PLAIN_TEXT);
  });
  return total;
}

/** An upper bound of countTextTokens(text) without the tokenizer: every token is at least one byte. */
export function textTokensUpperBound(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/** An upper bound of the prompt's tokens, in microseconds. */
export function promptUpperBound(prompt: PromptText): number {
  let n = prompt.overhead;
  for (const t of prompt.texts) n += Buffer.byteLength(t, 'utf8');
  return n;
}

/**
 * The prompt's tokens by the tokenizer (see the module comment): exact for the first `exactChars`
 * characters, the byte bound beyond; yields to the event loop every few milliseconds.
 */
export async function countPromptTokens(prompt: PromptText, exactChars = EXACT_CHARS): Promise<number> {
  return prompt.overhead + (await countTexts(prompt.texts, exactChars));
}

/** Tokens of several texts (see countPromptTokens). */
export async function countTexts(texts: readonly string[], exactChars = EXACT_CHARS): Promise<number> {
  const count = tokenizer();
  let total = 0;
  let budget = exactChars;
  let chars = 0;
  for (const t of texts) chars += t.length;
  if (chars > SMALL_CHARS) await nextTurn();
  let sliceStart = performance.now();
  for (const text of texts) {
    if (budget <= 0) {
      total += textTokensUpperBound(text);
      continue;
    }
    const exact = text.length <= budget ? text : text.slice(0, isHighSurrogate(text.charCodeAt(budget - 1)) ? budget - 1 : budget);
    budget -= exact.length;
    if (exact.length < text.length) total += textTokensUpperBound(text.slice(exact.length));
    const pieces: string[] = [];
    forEachPiece(exact, (p) => pieces.push(p));
    for (const piece of pieces) {
      total += count(piece, PLAIN_TEXT);
      if (performance.now() - sliceStart > SLICE_MS) {
        await nextTurn();
        sliceStart = performance.now();
      }
    }
  }
  return total;
}
