/** What a protocol adapter supplies to the simulator's engine (src/catalog/simulator/index.ts). */
import type { SimProtocol, SimTokens } from './types.js';

/** One planned answer. */
export interface Generation {
  id: string;
  created: number;
  /** the model that answers */
  model: string;
  provider: string;
  /** the prompt's classes */
  prompt: { input: number; cacheRead: number; cacheWrite: number };
  /** reasoning tokens to generate before the answer */
  reasoning: number;
  /** answer tokens to generate */
  text: number;
  /** the output cap cut the answer short */
  capped: boolean;
  webSearches: number;
  body: Record<string, unknown>;
}

export interface Usage {
  tokens: SimTokens;
  cost: { total: number; prompt: number; completion: number };
  webSearches: number;
}

export interface ParsedRequest {
  /** 400 message in the protocol's words */
  error?: string;
  /** prompt tokens by the protocol's counting rule */
  promptTokens: number;
  maxTokens: number | null;
  stream: boolean;
  /** this protocol has no output (embeddings) */
  noOutput?: boolean;
}

export interface StreamWriter {
  /** events before the first token (written with a chunk delay between them) */
  open(): string[];
  reasoning(i: number): string;
  text(i: number): string;
  /** closing events; usage null when it is not reported */
  close(usage: Usage | null): string[];
  /** a mid-stream failure after output */
  fail(message: string): string[];
  /** whether `close` reports usage (chat: only when asked) */
  readonly reportsUsage: boolean;
}

export interface ProtocolAdapter {
  readonly protocol: SimProtocol;
  parse(body: Record<string, unknown>): ParsedRequest;
  /** the whole (non-stream) response body; usage null when it is not reported */
  whole(gen: Generation, usage: Usage | null): unknown;
  stream(gen: Generation, reportUsage: boolean): StreamWriter;
  /** an error body in the protocol's shape */
  errorBody(status: number, message: string): unknown;
}

export const sse = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
export const dataLine = (data: unknown) => `data: ${JSON.stringify(data)}\n\n`;

/** OpenRouter's error shape: `{"error":{"code":<status>,"message":…}}`. */
export function openRouterError(status: number, message: string): unknown {
  return { error: { code: status, message, metadata: {} } };
}

/** A positive integer field, null when absent; a string when it is invalid. */
export function readCap(body: Record<string, unknown>, ...names: string[]): number | null | string {
  for (const name of names) {
    const v = body[name];
    if (v === undefined || v === null) continue;
    if (!Number.isInteger(v) || (v as number) < 1) return `${name} must be a positive integer`;
    return v as number;
  }
  return null;
}

/** OpenAI-style usage (Chat, Completions): cache and reasoning counted inside prompt and completion. */
export function openAiUsage(u: Usage): Record<string, unknown> {
  const t = u.tokens;
  const prompt = t.input + t.cacheRead + t.cacheWrite;
  const completion = t.output + t.reasoning;
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    cost: u.cost.total,
    is_byok: false,
    prompt_tokens_details: { cached_tokens: t.cacheRead, cache_write_tokens: t.cacheWrite, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: t.reasoning, image_tokens: 0 },
    cost_details: { upstream_inference_cost: null, upstream_inference_prompt_cost: u.cost.prompt, upstream_inference_completions_cost: u.cost.completion },
  };
}
