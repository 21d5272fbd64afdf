/**
 * The simulator's deterministic token rules and its prompt markers.
 *
 * "tokens" of a text is gpt-tokenizer's default encoding (o200k_base), special-token strings counted as text.
 * - Chat: Σ over messages (3 + tokens of the message's text content) + 3, where text content is the
 *   string content or the `text` of each part (OpenAI's chat rule; `countPromptTokens`).
 * - Every other protocol: tokens of every string value in its prompt-bearing fields, keys not counted
 *   (`countTextTokens`), + 3 for Messages and Responses. Completions: `prompt`; embeddings: `input`
 *   (an array of token ids counts its length); Messages: `system`, `messages`, `tools`; Responses:
 *   `instructions`, `input`, `tools`.
 * - Generated text: each token is one fixed word from a cycle, so n generated tokens encode to n tokens.
 *
 * Markers anywhere in a request body (they pass through a proxy untouched) shape the answer:
 *   [sim:cache_read=N|all]   N of the counted prompt tokens are reported as cache reads
 *   [sim:cache_write=N|all]  N of the rest are reported as cache writes (creation)
 *   [sim:reasoning=N]        the model thinks N tokens before answering (within the output cap)
 *   [sim:completion=N]       the answer has N tokens (like the x-sim-completion-tokens header)
 *   [sim:fault=…]            a fault for this request: status:503, cut:5, midstream:5, slow:200, no_usage, hang
 * Cache classes are carved out of the counted prompt, never added to it, so a prompt's total is fixed by
 * its text and a hold sized from the text stays an upper bound.
 */
import { countTokens } from 'gpt-tokenizer';
import type { SimFault } from './types.js';

const PLAIN_TEXT = { disallowedSpecial: new Set<string>() };

const WORDS = [' The', ' quick', ' brown', ' fox', ' jumps', ' over', ' the', ' lazy', ' dog', '.', ' Hello', ' from', ' a', ' simulated', ' model'];
const THOUGHTS = [' Let', ' me', ' think', ' about', ' this', ' step', ' by', ' step', '.'];

/** The i-th generated completion token (each encodes to exactly one token). */
export function simulatedToken(i: number): string {
  return i === 0 ? 'The' : WORDS[i % WORDS.length];
}

/** The text of n generated completion tokens. */
export function simulatedText(n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += simulatedToken(i);
  return s;
}

/** The i-th generated reasoning token. */
export function simulatedThought(i: number): string {
  return i === 0 ? 'Let' : THOUGHTS[i % THOUGHTS.length];
}

/** The text of n generated reasoning tokens. */
export function simulatedThinking(n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += simulatedThought(i);
  return s;
}

export function textTokens(text: string): number {
  return text === '' ? 0 : countTokens(text, PLAIN_TEXT);
}

/** The simulator's chat prompt rule (see the module comment). */
export function countPromptTokens(messages: unknown): number {
  if (!Array.isArray(messages)) return 0;
  let total = 3;
  for (const m of messages) {
    total += 3;
    const content = (m as { content?: unknown } | null)?.content;
    if (typeof content === 'string') total += textTokens(content);
    else if (Array.isArray(content)) {
      for (const part of content) {
        const text = (part as { text?: unknown } | null)?.text;
        if (typeof text === 'string') total += textTokens(text);
      }
    }
  }
  return total;
}

/** Tokens of every string value under `value` (object keys are not counted); arrays of numbers count their length. */
export function countTextTokens(value: unknown): number {
  if (typeof value === 'string') return textTokens(value);
  if (Array.isArray(value)) {
    if (value.length > 0 && value.every((v) => typeof v === 'number')) return value.length;
    let n = 0;
    for (const v of value) n += countTextTokens(v);
    return n;
  }
  if (value && typeof value === 'object') {
    let n = 0;
    for (const v of Object.values(value)) n += countTextTokens(v);
    return n;
  }
  return 0;
}

export interface Markers {
  cacheRead?: number | 'all';
  cacheWrite?: number | 'all';
  reasoning?: number;
  completion?: number;
  fault?: SimFault;
}

const MARKER = /\[sim:(cache_read|cache_write|reasoning|completion|fault)=([A-Za-z0-9_:]+)\]/g;

/** Markers found in a raw request body (the last of each kind wins). */
export function readMarkers(raw: string): Markers {
  const out: Markers = {};
  if (!raw.includes('[sim:')) return out;
  for (const m of raw.matchAll(MARKER)) {
    const [, kind, value] = m;
    const count = /^\d+$/.test(value) ? Number(value) : null;
    if (kind === 'cache_read' || kind === 'cache_write') {
      const v = value === 'all' ? 'all' : count;
      if (v !== null) out[kind === 'cache_read' ? 'cacheRead' : 'cacheWrite'] = v;
    } else if (kind === 'reasoning' && count !== null) out.reasoning = count;
    else if (kind === 'completion' && count !== null) out.completion = count;
    else if (kind === 'fault') {
      const f = parseFaultMarker(value);
      if (f) out.fault = f;
    }
  }
  return out;
}

function parseFaultMarker(value: string): SimFault | null {
  const [kind, arg] = value.split(':');
  const n = Number(arg);
  const has = arg !== undefined && Number.isInteger(n) && n >= 0;
  switch (kind) {
    case 'status':
      return has ? { kind: 'status', status: n } : null;
    case 'cut':
      return has ? { kind: 'cut', afterTokens: n } : null;
    case 'midstream':
      return has ? { kind: 'midstream_error', afterTokens: n } : null;
    case 'slow':
      return has ? { kind: 'slow', delayMs: n } : null;
    case 'no_usage':
      return { kind: 'no_usage' };
    case 'hang':
      return { kind: 'hang' };
    default:
      return null;
  }
}

/** Splits a counted prompt into disjoint classes as the markers ask. */
export function splitPrompt(total: number, markers: Markers): { input: number; cacheRead: number; cacheWrite: number } {
  const want = (v: number | 'all' | undefined, left: number) => (v === undefined ? 0 : v === 'all' ? left : Math.min(v, left));
  const cacheRead = want(markers.cacheRead, total);
  const cacheWrite = want(markers.cacheWrite, total - cacheRead);
  return { input: total - cacheRead - cacheWrite, cacheRead, cacheWrite };
}
