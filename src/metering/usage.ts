/**
 * Reading what a response consumed (METERING.md §5): the usage is the LAST chunk with a non-null `usage`
 * (OpenRouter's usage chunk may still carry `choices`; chunks are never summed). When no usage came (cut,
 * disconnect, provider without usage), the charge is counted locally: the prompt estimate plus the tokens
 * of the text actually delivered, and the event is flagged `estimated`.
 */
import { meteringRule, weightedTokens, type MeteringRule } from '../pricing.js';
import { parseDecimalScaled } from '../money.js';
import { SseParser } from './sse.js';
import { countTextTokens } from './tokens.js';

export interface UpstreamUsage {
  promptTokens: number;
  completionTokens: number;
  /** µ$ from usage.cost (rounded up), 0 when absent */
  costMicros: number;
}

/** USD number (usage.cost) → µ$, rounded up; 0 for anything that is not a non-negative finite number. */
export function usdToMicros(usd: unknown): number {
  if (typeof usd !== 'number' || !Number.isFinite(usd) || usd <= 0) return 0;
  const plain = usd.toFixed(12);
  const v = parseDecimalScaled(plain, 6, 'ceil');
  return v === null ? 0 : Number(v);
}

/** Reads an OpenAI/OpenRouter `usage` object; null when it is missing or has no token counts. */
export function readUsage(usage: unknown): UpstreamUsage | null {
  if (!usage || typeof usage !== 'object') return null;
  const u = usage as Record<string, unknown>;
  const p = u.prompt_tokens;
  const c = u.completion_tokens;
  if (typeof p !== 'number' || typeof c !== 'number' || !Number.isFinite(p) || !Number.isFinite(c)) return null;
  return { promptTokens: Math.max(0, Math.round(p)), completionTokens: Math.max(0, Math.round(c)), costMicros: usdToMicros(u.cost) };
}

/** The metering rule of a key's model; every token counts 1 when the catalog has no fixed rates for it. */
export function ruleForRates(promptRate: number | null, completionRate: number | null): MeteringRule {
  try {
    return meteringRule(promptRate, completionRate);
  } catch {
    return { unitRate: 0, completionWeightNum: 1, completionWeightDen: 1 };
  }
}

/** Appends the text a choice/delta carries (content, reasoning, refusal, tool-call arguments). */
function collectText(part: unknown, out: string[]): void {
  if (!part || typeof part !== 'object') return;
  const d = part as Record<string, unknown>;
  for (const k of ['content', 'reasoning', 'reasoning_content', 'refusal'] as const) {
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

function parseObject(data: string): Record<string, unknown> | undefined {
  let obj: unknown;
  try {
    obj = JSON.parse(data);
  } catch {
    return undefined;
  }
  return obj && typeof obj === 'object' ? (obj as Record<string, unknown>) : undefined;
}

/**
 * Follows a streamed chat completion: usage, mid-stream error, [DONE] and the delivered text. The usage
 * and errors are read as the events arrive; the delivered text (needed only when no usage comes) is
 * extracted from the kept event data on demand, or whenever more than RETAIN_CHARS of it is waiting.
 */
export class StreamMeter {
  private readonly parser = new SseParser((data) => this.event(data));
  private readonly text: string[] = [];
  /** data of events not yet searched for delivered text */
  private pending: string[] = [];
  private pendingChars = 0;
  /** the last non-null usage seen */
  usage: UpstreamUsage | null = null;
  /** a mid-stream `error` event's message */
  error: string | null = null;
  done = false;

  /** Feeds bytes exactly as they are forwarded to the client. */
  push(bytes: Uint8Array | string): void {
    this.parser.push(bytes);
  }

  end(): void {
    this.parser.end();
  }

  private event(data: string): void {
    if (data === '[DONE]') {
      this.done = true;
      return;
    }
    if (mayCarryUsageOrError(data)) {
      const obj = parseObject(data);
      if (obj) {
        if (obj.usage !== undefined && obj.usage !== null) {
          const u = readUsage(obj.usage);
          if (u) this.usage = u;
        }
        if (obj.error !== undefined && obj.error !== null) {
          const e = obj.error as { message?: unknown };
          this.error = typeof e?.message === 'string' ? e.message : 'upstream error';
        }
      }
    }
    this.pending.push(data);
    this.pendingChars += data.length;
    if (this.pendingChars > RETAIN_CHARS) this.extractText();
  }

  /** Moves the text of the pending events (all choices) into `text`, in stream order. */
  private extractText(): void {
    for (const data of this.pending) {
      const choices = parseObject(data)?.choices;
      if (!Array.isArray(choices)) continue;
      for (const c of choices) {
        const delta = (c as { delta?: unknown } | null)?.delta;
        if (delta) collectText(delta, this.text);
      }
    }
    this.pending = [];
    this.pendingChars = 0;
  }

  /** The text delivered so far (all choices). */
  deliveredText(): string {
    if (this.pending.length > 0) this.extractText();
    return this.text.join('');
  }
}

/** Text of a non-streamed completion's choices (for counting when it had no usage). */
export function completionText(body: unknown): string {
  const out: string[] = [];
  const choices = (body as { choices?: unknown } | null)?.choices;
  if (Array.isArray(choices)) for (const c of choices) collectText((c as { message?: unknown } | null)?.message, out);
  return out.join('');
}

export interface Charge {
  promptTokens: number;
  completionTokens: number;
  weightedTokens: number;
  upstreamCostMicros: number;
  estimated: boolean;
}

/**
 * What a request consumed, in prompt-equivalent tokens: from the upstream's usage when it sent one, else
 * counted locally (prompt estimate + delivered text). `served: false` (the upstream failed before any
 * output) costs nothing.
 */
export function computeCharge(input: {
  rule: MeteringRule;
  usage: UpstreamUsage | null;
  served: boolean;
  promptEstimate: number;
  deliveredText: string;
}): Charge {
  if (input.usage) {
    const { promptTokens, completionTokens, costMicros } = input.usage;
    return { promptTokens, completionTokens, weightedTokens: weightedTokens(input.rule, promptTokens, completionTokens), upstreamCostMicros: costMicros, estimated: false };
  }
  if (!input.served) return { promptTokens: 0, completionTokens: 0, weightedTokens: 0, upstreamCostMicros: 0, estimated: false };
  const completionTokens = countTextTokens(input.deliveredText);
  const promptTokens = input.promptEstimate;
  return { promptTokens, completionTokens, weightedTokens: weightedTokens(input.rule, promptTokens, completionTokens), upstreamCostMicros: 0, estimated: true };
}
