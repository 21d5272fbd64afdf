/**
 * Reading what a response consumed (METERING.md §5, §9), for every protocol the proxy speaks:
 * - the usage is the upstream's own count, read from the whole body or from the stream — in a stream the
 *   LAST usage seen (OpenRouter's usage chunk may still carry `choices`; chunks are never summed);
 * - every token class is counted once: OpenAI-style usage reports cached tokens *inside* the prompt tokens
 *   and reasoning tokens inside the completion tokens, Anthropic reports cache reads and writes *beside*
 *   `input_tokens`; `TokenUsage` holds totals with the classes as parts of them;
 * - when no usage came (cut, disconnect, a provider without usage), the charge is counted locally: the
 *   prompt estimate (or the prompt side the stream did report) plus the text actually delivered, and the
 *   event is flagged `estimated`.
 */
import { meteringRule, weighTokenClasses, type MeteringRule } from '../pricing.js';
import { parseDecimalScaled } from '../money.js';
import { SseParser } from './sse.js';

/** One response's usage. Cache reads/writes are parts of `promptTokens`, reasoning a part of `completionTokens`. */
export interface TokenUsage {
  /** every input token, cached or not */
  promptTokens: number;
  /** every output token, reasoning included */
  completionTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  reasoningTokens: number;
  /** µ$ from usage.cost (rounded up), 0 when absent */
  costMicros: number;
}

/** The prompt side of a usage that a stream reported before it ended (Anthropic's `message_start`). */
export type PromptUsage = Pick<TokenUsage, 'promptTokens' | 'cacheReadTokens' | 'cacheWriteTokens'>;

/** USD number (usage.cost) → µ$, rounded up; 0 for anything that is not a non-negative finite number. */
export function usdToMicros(usd: unknown): number {
  if (typeof usd !== 'number' || !Number.isFinite(usd) || usd <= 0) return 0;
  const plain = usd.toFixed(12);
  const v = parseDecimalScaled(plain, 6, 'ceil');
  return v === null ? 0 : Number(v);
}

function count(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.round(v) : 0;
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

function field(obj: unknown, key: string): unknown {
  return obj && typeof obj === 'object' ? (obj as Record<string, unknown>)[key] : undefined;
}

function usageOf(prompt: number, completion: number, cacheRead: number, cacheWrite: number, reasoning: number, cost: unknown): TokenUsage {
  // the parts never exceed their totals (a malformed usage cannot make a class negative)
  const r = Math.min(cacheRead, prompt);
  const w = Math.min(cacheWrite, prompt - r);
  return { promptTokens: prompt, completionTokens: completion, cacheReadTokens: r, cacheWriteTokens: w, reasoningTokens: Math.min(reasoning, completion), costMicros: usdToMicros(cost) };
}

/**
 * OpenAI-style `usage` (Chat Completions, legacy completions, embeddings; OpenRouter's extensions):
 * `prompt_tokens` with `prompt_tokens_details.cached_tokens` / `cache_write_tokens` inside it,
 * `completion_tokens` with `completion_tokens_details.reasoning_tokens` inside it. Null when it has no
 * token counts. Embeddings report no completion tokens.
 */
export function readUsage(usage: unknown): TokenUsage | null {
  if (!usage || typeof usage !== 'object') return null;
  const u = usage as Record<string, unknown>;
  const p = u.prompt_tokens;
  const c = u.completion_tokens ?? (isCount(p) && u.total_tokens === p ? 0 : undefined);
  if (!isCount(p) || !isCount(c)) return null;
  const pd = u.prompt_tokens_details;
  const cd = u.completion_tokens_details;
  return usageOf(count(p), count(c), count(field(pd, 'cached_tokens')), count(field(pd, 'cache_write_tokens')), count(field(cd, 'reasoning_tokens')), u.cost);
}

/** OpenAI Responses `usage`: `input_tokens` (+ `input_tokens_details.cached_tokens`), `output_tokens` (+ reasoning). */
export function readResponsesUsage(usage: unknown): TokenUsage | null {
  if (!usage || typeof usage !== 'object') return null;
  const u = usage as Record<string, unknown>;
  if (!isCount(u.input_tokens) || !isCount(u.output_tokens)) return null;
  const id = u.input_tokens_details;
  const od = u.output_tokens_details;
  return usageOf(count(u.input_tokens), count(u.output_tokens), count(field(id, 'cached_tokens')), count(field(id, 'cache_write_tokens')), count(field(od, 'reasoning_tokens')), u.cost);
}

/** Anthropic Messages `usage`: cache reads and writes are reported beside `input_tokens`, not inside. */
export function readAnthropicUsage(usage: unknown): TokenUsage | null {
  if (!usage || typeof usage !== 'object') return null;
  const u = usage as Record<string, unknown>;
  if (!isCount(u.input_tokens) || !isCount(u.output_tokens)) return null;
  const read = count(u.cache_read_input_tokens);
  const write = count(u.cache_creation_input_tokens);
  return usageOf(count(u.input_tokens) + read + write, count(u.output_tokens), read, write, 0, u.cost);
}

/** The metering rule of a key's model; every token counts 1 when the catalog has no fixed rates for it. */
export function ruleForRates(promptRate: number | null, completionRate: number | null, cacheReadRate?: number | null, cacheWriteRate?: number | null): MeteringRule {
  try {
    return meteringRule(promptRate, completionRate, { cacheReadRate, cacheWriteRate });
  } catch {
    return meteringRule(0, 0);
  }
}

/** Appends the text a chat choice's message or delta carries (content, reasoning, refusal, tool calls). */
export function collectChatText(part: unknown, out: string[]): void {
  if (!part || typeof part !== 'object') return;
  const d = part as Record<string, unknown>;
  for (const k of ['content', 'reasoning', 'reasoning_content', 'refusal', 'text'] as const) {
    const v = d[k];
    if (typeof v === 'string' && v.length > 0) out.push(v);
  }
  const calls = d.tool_calls;
  if (Array.isArray(calls)) {
    for (const call of calls) {
      const fn = (call as { function?: { name?: unknown; arguments?: unknown } } | null)?.function;
      if (typeof fn?.name === 'string') out.push(fn.name);
      if (typeof fn?.arguments === 'string') out.push(fn.arguments);
    }
  }
  const fc = d.function_call as { name?: unknown; arguments?: unknown } | undefined;
  if (fc && typeof fc === 'object') {
    if (typeof fc.name === 'string') out.push(fc.name);
    if (typeof fc.arguments === 'string') out.push(fc.arguments);
  }
}

/** Unparsed event data a stream meter keeps before it extracts their text anyway (bounds its memory). */
const RETAIN_CHARS = 256 * 1024;

const MAYBE_USAGE_OR_ERROR = /"usage"|"error"|\\u/;

function isJsonSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

/**
 * Whether an event's JSON may carry a non-null `usage` or an `error` — false only when it cannot: a
 * `usage`/`error` key written without escapes appears as `"usage"`/`"error"` in the text (a `"` inside a
 * string is always escaped), a key spelled with escapes needs `\u`, and `"usage"` followed by `: null`
 * can only be a key set to null. Such events are JSON-parsed at once; the others (plain content deltas —
 * nearly all of a stream, including OpenAI's `"usage":null` chunks) only when their text is needed.
 */
export function mayCarryUsageOrError(data: string): boolean {
  // one scan for the common case: none of the three can occur
  if (!MAYBE_USAGE_OR_ERROR.test(data)) return false;
  if (data.includes('"error"') || data.includes('\\u')) return true;
  for (let i = data.indexOf('"usage"'); i !== -1; i = data.indexOf('"usage"', i + 7)) {
    let j = i + 7;
    while (isJsonSpace(data.charCodeAt(j))) j++;
    if (data.charCodeAt(j) !== 58 /* : */) return true;
    j++;
    while (isJsonSpace(data.charCodeAt(j))) j++;
    if (!data.startsWith('null', j)) return true;
  }
  return false;
}

export function parseObject(data: string): Record<string, unknown> | undefined {
  let obj: unknown;
  try {
    obj = JSON.parse(data);
  } catch {
    return undefined;
  }
  return obj && typeof obj === 'object' && !Array.isArray(obj) ? (obj as Record<string, unknown>) : undefined;
}

function errorMessage(e: unknown): string {
  const m = field(e, 'message');
  return typeof m === 'string' ? m : typeof e === 'string' ? e : 'upstream error';
}

/**
 * Follows a streamed response as its bytes are forwarded: the usage, a mid-stream error, the protocol's
 * end marker and the delivered text. Events that may carry usage, an error or the end are read as they
 * arrive. The delivered text (needed only when no usage comes) is taken out of each event as it passes:
 * the common events (one content delta) by a scan of their text in the protocol's own layout, without a
 * JSON parse; any other event's data is kept and parsed when the text is needed or more than RETAIN_CHARS
 * of it waits. What a stream keeps is its delivered text (a few bytes per event), copied out of the
 * events' data so that no received chunk stays alive with it. Subclasses say how their protocol spells
 * these (`onEvent`, `textOf`).
 */
export abstract class SseStreamMeter {
  private readonly parser = new SseParser((data, event) => this.event(data, event));
  /** delivered text, in flat strings (pieces joined, no slice of an event's data among them) */
  private readonly text: string[] = [];
  /** the latest pieces of delivered text (they may be slices of received chunks) */
  private recent: string[] = [];
  /** data of events not yet searched for delivered text */
  private pending: string[] = [];
  private pendingChars = 0;
  /** the last complete usage seen */
  usage: TokenUsage | null = null;
  /** the prompt side, when the stream reported it before its final usage */
  partial: PromptUsage | null = null;
  /** a mid-stream error event's message */
  error: string | null = null;
  /** the protocol's end marker arrived ([DONE], message_stop, response.completed) */
  done = false;
  /** the model the upstream says answered, when a parsed event named it */
  model: string | null = null;

  /** Feeds bytes exactly as they came from the upstream. */
  push(bytes: Uint8Array | string): void {
    this.parser.push(bytes);
  }

  end(): void {
    this.parser.end();
  }

  /**
   * Reads one event: false when it carries no delivered text, a string when it is its delivered text
   * (read here), true when its data should be kept and parsed for the text (`textOf`) later.
   */
  protected abstract onEvent(data: string, event: string): boolean | string;

  /** Appends the text an event's parsed data carries. */
  protected abstract textOf(obj: Record<string, unknown>, out: string[]): void;

  /** The delivered text of an event parsed anyway (for its usage): read now, nothing kept. */
  protected textNow(obj: Record<string, unknown>): string {
    const out: string[] = [];
    this.textOf(obj, out);
    return out.length === 0 ? '' : out.length === 1 ? out[0] : out.join('');
  }

  protected noteModel(obj: Record<string, unknown> | undefined): void {
    const m = obj?.model;
    if (typeof m === 'string' && m) this.model = m;
  }

  protected noteError(e: unknown): void {
    this.error = errorMessage(e);
  }

  private event(data: string, event: string): void {
    const r = this.onEvent(data, event);
    if (r === false) return;
    if (r === true) {
      this.pending.push(data);
      this.pendingChars += data.length;
      if (this.pendingChars > RETAIN_CHARS) this.extractText();
      return;
    }
    if (r.length === 0) return;
    // in stream order: events kept before this one first
    if (this.pending.length > 0) this.extractText();
    this.recent.push(r);
    if (this.recent.length >= RECENT_PIECES) this.flatten();
  }

  /** Joins the recent pieces into one flat string (a copy: the chunks they were sliced from can go). */
  private flatten(): void {
    if (this.recent.length === 0) return;
    this.text.push(this.recent.length === 1 ? `${this.recent[0]}` : this.recent.join(''));
    this.recent = [];
    if (this.text.length >= FLAT_PIECES) {
      const all = this.text.join('');
      this.text.length = 0;
      this.text.push(all);
    }
  }

  /** Moves the text of the pending events into the delivered text, in stream order. */
  private extractText(): void {
    const pending = this.pending;
    this.pending = [];
    this.pendingChars = 0;
    for (const data of pending) {
      const obj = parseObject(data);
      if (obj) this.textOf(obj, this.recent);
    }
    this.flatten();
  }

  /** The text delivered so far. */
  deliveredText(): string {
    if (this.pending.length > 0) this.extractText();
    this.flatten();
    return this.text.join('');
  }
}

/** Delivered-text pieces held before they are joined into one flat string. */
const RECENT_PIECES = 16;
/** Flat strings of delivered text held before they are joined into one. */
const FLAT_PIECES = 64;

/** The value of a JSON string literal's body (the text between its quotes), escapes decoded. */
function stringBody(raw: string, escaped: boolean): string | undefined {
  if (!escaped) return raw;
  try {
    const v: unknown = JSON.parse(`"${raw}"`);
    return typeof v === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The end (index of the closing quote) of the JSON string whose body starts at `from`, and whether it
 * has escapes; undefined when it does not end, or holds a raw control character (then it is no valid
 * JSON: the parse decides).
 */
function stringEnd(d: string, from: number): { end: number; escaped: boolean } | undefined {
  let escaped = false;
  for (let k = from; k < d.length; k++) {
    const c = d.charCodeAt(k);
    if (c === 0x22 /* " */) return { end: k, escaped };
    if (c === 0x5c /* \ */) {
      escaped = true;
      k++;
    } else if (c < 0x20) return undefined;
  }
  return undefined;
}

/** Whether the quote at `i` starts a key: not escaped (a quote inside a string always is). */
function unescapedQuote(d: string, i: number): boolean {
  return i > 0 && d.charCodeAt(i - 1) !== 0x5c;
}

const CHOICES = '"choices":[{';
const DELTA = '"delta":{';
/** After the first choice's delta: another delta or choices (which the parse would take instead), or an escape in a key. */
const LATER_TEXT = /"(?:delta|choices)"|\\u/g;

/**
 * The delivered text of a chat chunk whose one choice's delta is only its content — what the parse and
 * `textOf` would give — read without parsing: `…"choices":[{("index":N,)"delta":{("role":"assistant",)
 * "content":"…"}…` with no `"delta"` or `"choices"` after it. Undefined for any other layout (tool calls,
 * reasoning, several choices, escapes in a key): such an event is parsed. (Of a malformed event it may
 * read the content the client received, where the parse reads nothing; the meter parses every event that
 * may carry usage or an error first.)
 */
export function chatDeltaText(d: string): string | undefined {
  const c = d.indexOf(CHOICES);
  if (c === -1 || !unescapedQuote(d, c)) return undefined;
  // the first choice: its index at most, then its delta
  let j = c + CHOICES.length;
  if (d.startsWith('"index":', j)) {
    j += 8;
    const digits = j;
    while (j < d.length && d.charCodeAt(j) >= 0x30 && d.charCodeAt(j) <= 0x39) j++;
    if (j === digits || d.charCodeAt(j) !== 0x2c /* , */) return undefined;
    j++;
  }
  if (!d.startsWith(DELTA, j)) return undefined;
  j += DELTA.length;
  let text = '';
  let end: number;
  if (d.startsWith('"role":"assistant"', j)) {
    j += 18;
    if (d.charCodeAt(j) === 0x2c) j++;
    else if (d.charCodeAt(j) !== 0x7d /* } */) return undefined;
  }
  if (d.charCodeAt(j) === 0x7d) end = j;
  else {
    if (!d.startsWith('"content":"', j)) return undefined;
    j += 11;
    const s = stringEnd(d, j);
    if (!s || d.charCodeAt(s.end + 1) !== 0x7d) return undefined;
    const body = stringBody(d.slice(j, s.end), s.escaped);
    if (body === undefined) return undefined;
    text = body;
    end = s.end + 1;
  }
  LATER_TEXT.lastIndex = end;
  return LATER_TEXT.test(d) ? undefined : text;
}

const MESSAGES_DELTA = /^\{"type":"content_block_delta","index":\d+,"delta":\{"type":"(?:text_delta|thinking_delta|input_json_delta)","(?:text|thinking|partial_json)":"/;

/**
 * The delivered text of an Anthropic `content_block_delta` in Anthropic's own layout
 * (`{"type":"content_block_delta","index":N,"delta":{"type":"text_delta","text":"…"}}`), without parsing;
 * undefined for any other layout (then it is parsed).
 */
export function messagesDeltaText(d: string): string | undefined {
  const m = MESSAGES_DELTA.exec(d);
  if (!m) return undefined;
  const j = m[0].length;
  const s = stringEnd(d, j);
  if (!s || s.end + 3 !== d.length || d.charCodeAt(s.end + 1) !== 0x7d || d.charCodeAt(s.end + 2) !== 0x7d) return undefined;
  return stringBody(d.slice(j, s.end), s.escaped);
}

/**
 * The delivered text of an OpenAI Responses `*.delta` event (its top-level string `delta`) without
 * parsing, when `"delta"` occurs once and at the top level; undefined otherwise (then it is parsed).
 */
export function responsesDeltaText(d: string): string | undefined {
  const i = d.indexOf('"delta":"');
  if (i === -1 || !unescapedQuote(d, i) || d.indexOf('"delta"', i + 9) !== -1) return undefined;
  // depth of the key: braces and brackets before it, outside strings
  let depth = 0;
  for (let k = 0; k < i; k++) {
    const c = d.charCodeAt(k);
    if (c === 0x22) {
      const s = stringEnd(d, k + 1);
      if (!s) return undefined;
      k = s.end;
    } else if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) depth--;
  }
  if (depth !== 1 || d.charCodeAt(0) !== 0x7b) return undefined;
  const s = stringEnd(d, i + 9);
  if (!s) return undefined;
  return stringBody(d.slice(i + 9, s.end), s.escaped);
}

/** A streamed chat completion (and, with `legacy`, a legacy completion: `choices[].text`). */
export class StreamMeter extends SseStreamMeter {
  constructor(private readonly legacy = false) {
    super();
  }

  protected onEvent(data: string): boolean | string {
    if (data === '[DONE]') {
      this.done = true;
      return false;
    }
    if (mayCarryUsageOrError(data)) {
      const obj = parseObject(data);
      if (!obj) return false; // no text either
      if (obj.usage !== undefined && obj.usage !== null) {
        const u = readUsage(obj.usage);
        if (u) {
          this.usage = u;
          this.noteModel(obj);
        }
      }
      if (obj.error !== undefined && obj.error !== null) this.noteError(obj.error);
      return this.textNow(obj);
    }
    return (this.legacy ? undefined : chatDeltaText(data)) ?? true;
  }

  protected textOf(obj: Record<string, unknown>, out: string[]): void {
    const choices = obj.choices;
    if (!Array.isArray(choices)) return;
    for (const c of choices) {
      if (this.legacy) {
        const t = field(c, 'text');
        if (typeof t === 'string') out.push(t);
      } else {
        const delta = field(c, 'delta');
        if (delta) collectChatText(delta, out);
      }
    }
  }
}

const RESPONSES_END = new Set(['response.completed', 'response.incomplete', 'response.failed']);

/** A streamed OpenAI Responses answer: usage in `response.completed` (or incomplete/failed). */
export class ResponsesStreamMeter extends SseStreamMeter {
  protected onEvent(data: string, event: string): boolean | string {
    const type = event || typeOfData(data);
    if (type !== undefined && RESPONSES_END.has(type)) {
      const response = field(parseObject(data), 'response');
      const u = readResponsesUsage(field(response, 'usage'));
      if (u) this.usage = u;
      this.noteModel(response as Record<string, unknown> | undefined);
      if (type === 'response.failed') this.noteError(field(response, 'error') ?? 'response failed');
      else this.done = true;
      return false;
    }
    if (type === 'error') {
      const obj = parseObject(data);
      this.noteError(field(obj, 'error') ?? obj);
      return false;
    }
    if (type !== undefined && !type.endsWith('.delta')) return false;
    return responsesDeltaText(data) ?? true;
  }

  protected textOf(obj: Record<string, unknown>, out: string[]): void {
    const d = obj.delta;
    if (typeof d === 'string') out.push(d);
  }
}

/**
 * A streamed Anthropic Messages answer: `message_start` reports the prompt side (input and cache tokens),
 * each `message_delta` the output so far (and, on newer APIs, the final prompt side); `message_stop` ends it.
 */
export class MessagesStreamMeter extends SseStreamMeter {
  private prompt: { input: number; read: number; write: number; cost: unknown } | null = null;

  protected onEvent(data: string, event: string): boolean | string {
    const type = event || typeOfData(data);
    switch (type) {
      case 'message_start': {
        const message = field(parseObject(data), 'message') as Record<string, unknown> | undefined;
        this.noteModel(message);
        this.notePrompt(field(message, 'usage'));
        return false;
      }
      case 'message_delta': {
        const usage = field(parseObject(data), 'usage');
        this.notePrompt(usage);
        const out = field(usage, 'output_tokens');
        if (isCount(out) && this.prompt) {
          const { input, read, write, cost } = this.prompt;
          this.usage = readAnthropicUsage({ input_tokens: input, cache_read_input_tokens: read, cache_creation_input_tokens: write, output_tokens: out, cost: field(usage, 'cost') ?? cost });
        }
        return false;
      }
      case 'message_stop':
        this.done = true;
        return false;
      case 'error':
        this.noteError(field(parseObject(data), 'error'));
        return false;
      case 'content_block_delta':
        return messagesDeltaText(data) ?? true;
      default:
        return false;
    }
  }

  private notePrompt(usage: unknown): void {
    if (!usage || typeof usage !== 'object') return;
    const u = usage as Record<string, unknown>;
    if (!isCount(u.input_tokens) && this.prompt) return; // a delta with output only
    const prev = this.prompt;
    this.prompt = {
      input: isCount(u.input_tokens) ? count(u.input_tokens) : (prev?.input ?? 0),
      read: isCount(u.cache_read_input_tokens) ? count(u.cache_read_input_tokens) : (prev?.read ?? 0),
      write: isCount(u.cache_creation_input_tokens) ? count(u.cache_creation_input_tokens) : (prev?.write ?? 0),
      cost: u.cost ?? prev?.cost,
    };
    const { input, read, write } = this.prompt;
    this.partial = { promptTokens: input + read + write, cacheReadTokens: read, cacheWriteTokens: write };
  }

  protected textOf(obj: Record<string, unknown>, out: string[]): void {
    const d = obj.delta;
    for (const k of ['text', 'thinking', 'partial_json'] as const) {
      const v = field(d, k);
      if (typeof v === 'string') out.push(v);
    }
  }
}

/** The `"type"` of an event's JSON when the event had no `event:` line (read without parsing). */
function typeOfData(data: string): string | undefined {
  const m = /"type"\s*:\s*"([a-z_.]+)"/.exec(data.slice(0, 200));
  return m ? m[1] : undefined;
}

export interface Charge {
  promptTokens: number;
  completionTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  reasoningTokens: number;
  /** prompt-equivalent tokens: every class weighed by its rate, summed and rounded up once */
  weightedTokens: number;
  upstreamCostMicros: number;
  estimated: boolean;
}

const NOTHING: Charge = { promptTokens: 0, completionTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0, weightedTokens: 0, upstreamCostMicros: 0, estimated: false };

/** Prompt-equivalent tokens of a usage under a rule. */
export function weighUsage(rule: MeteringRule, u: Omit<TokenUsage, 'costMicros'>): number {
  return weighTokenClasses(rule, {
    input: Math.max(0, u.promptTokens - u.cacheReadTokens - u.cacheWriteTokens),
    cacheRead: u.cacheReadTokens,
    cacheWrite: u.cacheWriteTokens,
    output: Math.max(0, u.completionTokens - u.reasoningTokens),
    reasoning: u.reasoningTokens,
  });
}

/**
 * What a request consumed, in prompt-equivalent tokens: from the upstream's usage when it sent one, else
 * counted locally — the prompt side the stream reported (`partial`) or the prompt estimate, plus the
 * tokens of the delivered text — and flagged estimated. `served: false` (the upstream failed before any
 * output) costs nothing.
 */
export function computeCharge(input: {
  rule: MeteringRule;
  usage: TokenUsage | null;
  partial?: PromptUsage | null;
  served: boolean;
  /** local estimate of the prompt tokens (used only without usage) */
  promptEstimate: number;
  /** local count of the delivered text's tokens (used only without usage) */
  completionEstimate: number;
}): Charge {
  if (input.usage) {
    const u = input.usage;
    return {
      promptTokens: u.promptTokens,
      completionTokens: u.completionTokens,
      cacheReadTokens: u.cacheReadTokens,
      cacheWriteTokens: u.cacheWriteTokens,
      reasoningTokens: u.reasoningTokens,
      weightedTokens: weighUsage(input.rule, u),
      upstreamCostMicros: u.costMicros,
      estimated: false,
    };
  }
  if (!input.served) return { ...NOTHING };
  const prompt: PromptUsage = input.partial ?? { promptTokens: input.promptEstimate, cacheReadTokens: 0, cacheWriteTokens: 0 };
  const u = { ...prompt, completionTokens: input.completionEstimate, reasoningTokens: 0 };
  return { ...u, weightedTokens: weighUsage(input.rule, u), upstreamCostMicros: 0, estimated: true };
}
