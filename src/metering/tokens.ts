/**
 * Local token counting with gpt-tokenizer (o200k_base). Used for the charge when the upstream sent no usage
 * (cut, disconnect): prompt estimate + the text actually delivered; and for the prompt part of a hold when
 * the cheap upper bound (`promptTokensUpperBound`, no tokenizer) would limit the request (see fastHoldPlan).
 *
 * The prompt rule is OpenAI's chat counting rule (and the simulator's): Σ over messages (3 + tokens of the
 * message's text) + 3. Tool definitions and non-text parts are counted as their JSON text, which
 * over-estimates rather than under-estimates.
 */
import { countTokens } from 'gpt-tokenizer';

/** Texts longer than this are counted on a prefix and extrapolated (keeps the event loop responsive). */
const EXACT_LIMIT = 64 * 1024;

/**
 * The longest run of non-space (or of space) characters handed to the tokenizer in one piece. gpt-tokenizer's
 * byte-pair merge is quadratic in the length of one pre-token, and a run without spaces (CJK text, a base64
 * blob, "aaaa…") is one pre-token: 20,000 CJK characters took ~2 s of blocked event loop in one call, 256 KiB
 * would take minutes. Longer runs are counted in pieces of this length: linear time, and at most about one
 * token more per cut than the whole run (an estimate that errs high, never below one token per piece).
 */
const MAX_RUN = 128;
const LONG_RUN = new RegExp(`\\S{${MAX_RUN + 1},}|\\s{${MAX_RUN + 1},}`, 'g');

/** Special-token strings in customer text (`<|endoftext|>`…) are ordinary text, as providers treat them. */
const PLAIN_TEXT = { disallowedSpecial: new Set<string>() };

/** Tokens of a text. */
export function countTextTokens(text: string): number {
  if (text.length === 0) return 0;
  if (text.length <= EXACT_LIMIT) return countInPieces(text);
  const sample = countInPieces(text.slice(0, EXACT_LIMIT));
  return Math.ceil((sample * text.length) / EXACT_LIMIT);
}

/** The tokenizer over `text`, with every run longer than MAX_RUN cut into MAX_RUN-character pieces. */
function countInPieces(text: string): number {
  let total = 0;
  let from = 0;
  LONG_RUN.lastIndex = 0;
  for (let m = LONG_RUN.exec(text); m !== null; m = LONG_RUN.exec(text)) {
    if (m.index > from) total += countTokens(text.slice(from, m.index), PLAIN_TEXT);
    const end = m.index + m[0].length;
    for (let i = m.index; i < end; ) {
      let j = Math.min(end, i + MAX_RUN);
      // never split a surrogate pair (an emoji) between two pieces
      if (j < end && isHighSurrogate(text.charCodeAt(j - 1)) && j - 1 > i) j--;
      total += countTokens(text.slice(i, j), PLAIN_TEXT);
      i = j;
    }
    from = end;
  }
  if (from < text.length) total += countTokens(text.slice(from), PLAIN_TEXT);
  return total;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/**
 * An upper bound of countTextTokens(text) without the tokenizer: every token is at least one byte of the
 * UTF-8 text, and a UTF-16 unit is at most 3 bytes (which also bounds the extrapolation of long texts).
 */
export function textTokensUpperBound(text: string): number {
  return text.length <= EXACT_LIMIT ? Buffer.byteLength(text, 'utf8') : 3 * text.length;
}

function contentTokens(content: unknown, count: (text: string) => number): number {
  if (typeof content === 'string') return count(content);
  if (Array.isArray(content)) {
    let n = 0;
    for (const part of content) {
      if (part && typeof part === 'object') {
        const text = (part as { text?: unknown }).text;
        if (typeof text === 'string') n += count(text);
        else n += count(JSON.stringify(part));
      }
    }
    return n;
  }
  if (content === null || content === undefined) return 0;
  return count(JSON.stringify(content));
}

/** The chat rule over a body, with `count` for each text. */
function promptTokens(body: Record<string, unknown>, count: (text: string) => number): number {
  const messages = body.messages;
  let total = 3;
  if (Array.isArray(messages)) {
    for (const m of messages) {
      total += 3;
      if (!m || typeof m !== 'object') continue;
      const msg = m as Record<string, unknown>;
      total += contentTokens(msg.content, count);
      if (msg.tool_calls !== undefined) total += count(JSON.stringify(msg.tool_calls));
      if (msg.function_call !== undefined) total += count(JSON.stringify(msg.function_call));
    }
  }
  for (const field of ['tools', 'functions', 'response_format'] as const) {
    const v = body[field];
    if (v !== undefined && v !== null) total += count(JSON.stringify(v));
  }
  return total;
}

/**
 * Estimated prompt tokens of a chat completions body: messages by the chat rule, plus tool calls inside
 * messages, tool/function definitions and a response_format schema as JSON text.
 */
export function estimatePromptTokens(body: Record<string, unknown>): number {
  return promptTokens(body, countTextTokens);
}

/**
 * A fast upper bound of estimatePromptTokens(body) (never below it): the same rule with every text
 * counted by textTokensUpperBound. Microseconds where the tokenizer takes ~0.1 ms per 1,000 tokens.
 */
export function promptTokensUpperBound(body: Record<string, unknown>): number {
  return promptTokens(body, textTokensUpperBound);
}
