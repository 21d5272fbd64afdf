/**
 * The tokenizer's side of tokens.ts: gpt-tokenizer (o200k_base), made linear, bounded and fair. It runs in
 * the token counter's worker thread (token-worker.ts), and in the main thread only if that worker cannot
 * run: importing this module loads the tokenizer's ~21 MB of tables into the importing thread's heap.
 * - linear: runs without spaces (CJK, base64, "aaaa…") are cut into MAX_RUN-character pieces, since
 *   gpt-tokenizer's byte-pair merge is quadratic in one pre-token (20,000 CJK characters took ~2 s in one
 *   call), and its merge cache is kept small (a full 100k-entry cache churned by random text made every
 *   lookup slow: 1 MB of random text took 14 s instead of 2 s);
 * - in slices: a large count waits for its turn of the thread's event loop and gives it back every
 *   SLICE_MS (turns.ts), so the other counts go on;
 * - bounded: the tokenizer gets at most a budget of work per request, counted deterministically from the
 *   text (an ASCII character costs 1, any other NON_ASCII_COST: merging multi-byte text is that much
 *   slower), so ordinary prompts up to ~2 M characters are counted whole and hostile text (random Unicode,
 *   emoji, CJK) costs at most ~250k characters of tokenizer work; what is left is counted by the byte
 *   bound, so the result never falls below the exact count by more than the piece cuts (it errs high,
 *   never low: a hold or an estimated charge cannot be made small by padding a prompt).
 */
import { countTokens, setMergeCacheSize } from 'gpt-tokenizer';
import { nextTurn } from './turns.js';
import { EXACT_BUDGET, textTokensUpperBound } from './tokens.js';

/** The work of one non-ASCII character relative to an ASCII one (measured: 5–15×). */
const NON_ASCII_COST = 8;

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

/** The pieces of `text` the tokenizer may see in one call: contiguous, in order, covering it. */
function* pieces(text: string): Generator<string> {
  let from = 0;
  // a regex of its own: a count may pause (await) between pieces while another one runs
  const longRun = new RegExp(LONG_RUN);
  for (;;) {
    const m = longRun.exec(text);
    const runStart = m ? m.index : text.length;
    // ordinary text before the run, in calls of at most MAX_CALL characters cut before a space
    while (runStart - from > MAX_CALL) {
      let cut = from + MAX_CALL;
      let space = cut;
      while (space > from + MAX_CALL / 2 && !isSpace(text.charCodeAt(space))) space--;
      if (space > from + MAX_CALL / 2) cut = space;
      else if (isHighSurrogate(text.charCodeAt(cut - 1))) cut--;
      yield text.slice(from, cut);
      from = cut;
    }
    if (runStart > from) yield text.slice(from, runStart);
    if (!m) return;
    const end = runStart + m[0].length;
    for (let i = runStart; i < end;) {
      let j = Math.min(end, i + MAX_RUN);
      // never split a surrogate pair (an emoji) between two pieces
      if (j < end && isHighSurrogate(text.charCodeAt(j - 1)) && j - 1 > i) j--;
      yield text.slice(i, j);
      i = j;
    }
    from = end;
  }
}

function isSpace(code: number): boolean {
  return code === 32 || code === 10 || code === 9 || code === 13;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/** Tokens of a text, counted at once (for short texts and tests; requests use tokens.ts's countTexts). */
export function countTextTokens(text: string): number {
  const count = tokenizer();
  let total = 0;
  for (const piece of pieces(text)) total += count(piece, PLAIN_TEXT);
  return total;
}

/** The tokenizer work of a piece: its length, non-ASCII characters counted NON_ASCII_COST times. */
function workOf(piece: string): number {
  let work = piece.length;
  for (let i = 0; i < piece.length; i++) if (piece.charCodeAt(i) > 0x7f) work += NON_ASCII_COST - 1;
  return work;
}

/** Tokens of several texts, exact within the work `budget`, the byte bound for the rest (see the module comment). */
export async function countTexts(texts: readonly string[], budget = EXACT_BUDGET): Promise<number> {
  const count = tokenizer();
  let total = 0;
  let chars = 0;
  for (const t of texts) chars += t.length;
  if (chars > SMALL_CHARS) await nextTurn();
  let left = budget;
  let sliceStart = performance.now();
  for (const text of texts) {
    let counted = 0;
    for (const piece of pieces(text)) {
      const work = workOf(piece);
      if (work > left) {
        left = 0;
        break;
      }
      left -= work;
      total += count(piece, PLAIN_TEXT);
      counted += piece.length;
      if (performance.now() - sliceStart > SLICE_MS) {
        await nextTurn();
        sliceStart = performance.now();
      }
    }
    if (counted < text.length) total += textTokensUpperBound(counted === 0 ? text : text.slice(counted));
  }
  return total;
}
