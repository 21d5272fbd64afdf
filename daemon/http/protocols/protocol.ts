/**
 * A protocol adapter: what one client API (Chat Completions, Responses, legacy Completions, Embeddings,
 * Anthropic Messages) does differently; the proxy's stages do everything else the same way for all.
 * An adapter says how to validate a body and which fields it may forward (an allow-list: OpenRouter's
 * routing and billing fields are refused with a 400 naming them, anything unknown is dropped), where the
 * model, the output cap and the prompt are, how usage is forced on and read (whole and streamed), and how
 * errors look.
 */
import type { IncomingMessage } from 'node:http';
import { InputError } from '../../../src/errors.js';
import type { PromptText } from '../../../src/metering/tokens.js';
import type { SseStreamMeter, TokenUsage } from '../../../src/metering/usage.js';
import { ProxyError, type ErrorKind } from '../errors.js';
import { MAX_BODY_BYTES } from '../body.js';

export { MAX_BODY_BYTES };
/**
 * The body limit of the agent protocols (Messages, Responses): a coding agent resends its whole session
 * with every call — Claude Code's bodies start at 75–95 KB and pass 1 MiB after some turns; a session on a
 * 1M-token context with pasted screenshots reaches several MiB. 8 MiB serves them (Anthropic's own limit is
 * 32 MB) and stays bounded: the key, its rate limit and an empty quota are checked before the body is read,
 * the body is parsed in a turn of the event loop of its own (tens of ms at 8 MiB), the hold's prompt bound
 * is its byte count and the exact count is sliced and bounded (tokens.ts). The tokens are metered anyway.
 * Chat, completions and embeddings keep SPEC's 1 MiB.
 */
export const AGENT_BODY_BYTES = 8 * 1024 * 1024;

export type ProtocolName = 'chat' | 'responses' | 'completions' | 'embeddings' | 'messages';

/** A validated request, ready to be held and forwarded. */
export interface ParsedRequest {
  /** the model as the client named it */
  model: string;
  stream: boolean;
  /** the client's output cap; undefined = none given */
  maxTokens: number | undefined;
  /** completions generated (`n`, `best_of`) */
  choices: number;
  /** false when the request produces no completion tokens (embeddings) */
  completion: boolean;
  prompt: PromptText;
  /** the allow-listed fields (the model and the cap are set when forwarding) */
  body: Record<string, unknown>;
  /** fields (and tools) left out by the allow-list, for the log */
  dropped: string[];
}

export interface Protocol {
  readonly name: ProtocolName;
  /** the upstream path under OPENROUTER_BASE_URL, e.g. /chat/completions */
  readonly upstreamPath: string;
  /** a body of the right shape, shown in errors */
  readonly example: string;
  /** how this protocol's clients send the key, for the missing-key error */
  readonly keyHint: string;
  /** whether its requests produce completion tokens (false: embeddings) */
  readonly completion: boolean;
  /** the largest request body it accepts */
  readonly maxBodyBytes: number;
  /** Validates the body and keeps what may be forwarded; throws InputError / ProxyError naming the field. */
  parse(body: Record<string, unknown>): ParsedRequest;
  /** The body sent upstream: the kept fields, the package's model, the granted output cap, usage on. */
  upstreamBody(req: ParsedRequest, model: string, maxTokens: number): string;
  /** Request headers passed upstream (Anthropic's version and beta flags). */
  upstreamHeaders(req: IncomingMessage): Record<string, string>;
  /** The usage of a whole response body. */
  usageOf(json: unknown): TokenUsage | null;
  /** The text of a whole response body, counted when it had no usage. */
  outputText(json: unknown): string;
  /** A meter following a streamed response. */
  streamMeter(): SseStreamMeter;
  /** An error body in this protocol's shape. */
  errorBody(kind: ErrorKind, message: string, code: string, param?: string): unknown;
  /** The SSE event that tells a client its stream was cut short. */
  streamError(kind: ErrorKind, message: string, code: string): string;
}

/** OpenRouter's routing and billing fields: they pick providers, fallback models and paid plugins. */
export const ROUTING_FIELDS = ['models', 'route', 'provider', 'plugins', 'transforms', 'preset'] as const;

/** Every field one protocol may forward, and those it refuses with a reason. */
export interface AllowList {
  allowed: ReadonlySet<string>;
  /** field → why it is refused (400) */
  refused: ReadonlyMap<string, string>;
}

export function allowList(allowed: readonly string[], refused: Record<string, string> = {}): AllowList {
  const r = new Map<string, string>(ROUTING_FIELDS.map((f) => [f, 'OpenRouter routing and billing options are set by the operator, not per request']));
  for (const [k, v] of Object.entries(refused)) r.set(k, v);
  return { allowed: new Set(allowed), refused: r };
}

/** The body's allow-listed fields; a refused field throws a 400 naming it; the rest are listed as dropped. */
export function pick(body: Record<string, unknown>, list: AllowList): { body: Record<string, unknown>; dropped: string[] } {
  const kept: Record<string, unknown> = {};
  const dropped: string[] = [];
  for (const k in body) {
    const v = body[k];
    if (list.allowed.has(k)) {
      if (v !== undefined) kept[k] = v;
      continue;
    }
    const why = list.refused.get(k);
    if (why !== undefined && v !== undefined && v !== null && v !== false) {
      throw new ProxyError('ARB_FIELD_NOT_ALLOWED', `${k}: not allowed here (${why}); remove it from the request`, { param: k });
    }
    dropped.push(k);
  }
  return { body: kept, dropped };
}

/**
 * Keeps the tools the client runs itself (`keep` says which types: functions, custom tools, the client-side
 * tools of the protocol) and leaves out the ones the provider runs and bills per use (web search, web fetch,
 * code execution, file search, remote MCP, image generation, OpenRouter's own tools): Codex sends a
 * web_search tool with every request and Claude Code's WebSearch call sends a web_search server tool, so
 * refusing them would break those clients; the model answers without them. A `tool_choice` naming one
 * tool goes too when a tool was left out, and any `tool_choice` when no tool is left.
 */
export function keepClientTools(body: Record<string, unknown>, dropped: string[], keep: (type: string | undefined) => boolean): void {
  const tools = body.tools;
  if (!Array.isArray(tools)) return;
  const kept = tools.filter((t, i) => {
    const type = (t as { type?: unknown } | null)?.type;
    const ok = keep(typeof type === 'string' ? type : undefined);
    if (!ok) dropped.push(`tools[${i}]:${String(type)}`);
    return ok;
  });
  if (kept.length === tools.length) return;
  if (kept.length === 0) delete body.tools;
  else body.tools = kept;
  if (body.tool_choice !== undefined && (kept.length === 0 || (typeof body.tool_choice === 'object' && body.tool_choice !== null))) {
    delete body.tool_choice;
    dropped.push('tool_choice');
  }
}

/**
 * Anthropic's one-hour prompt cache writes at 2× the input price, where the catalog's cache-write rate (the
 * package's weight for a cache write) is the five-minute price, 1.25×; OpenRouter's OpenAI-style usage does
 * not even say which writes were which. So a `cache_control.ttl` other than "5m" is left out wherever it is
 * in the body (system, messages, content parts, tool results, tools): the cache lives five minutes, the
 * answer is the same, and every cache write costs the operator what the package charges for it. The
 * caller walks only bodies whose bytes hold `"ttl"`.
 */
export function shortenCacheTtl(body: Record<string, unknown>, dropped: string[]): void {
  let cut = false;
  const stack: unknown[] = [body];
  while (stack.length > 0) {
    const v = stack.pop();
    if (Array.isArray(v)) {
      for (const x of v) if (x !== null && typeof x === 'object') stack.push(x);
      continue;
    }
    const o = v as Record<string, unknown>;
    const cc = o.cache_control;
    if (cc !== null && typeof cc === 'object' && (cc as { ttl?: unknown }).ttl !== undefined && (cc as { ttl?: unknown }).ttl !== '5m') {
      // the parsed body is ours: changed in place
      delete (cc as { ttl?: unknown }).ttl;
      cut = true;
    }
    for (const k in o) {
      const x = o[k];
      if (x !== null && typeof x === 'object') stack.push(x);
    }
  }
  if (cut) dropped.push('cache_control.ttl');
}

/** The smallest extended-thinking budget Anthropic accepts (a chat `reasoning.max_tokens` becomes that budget upstream). */
export const MIN_THINKING_BUDGET = 1024;

/**
 * A reasoning budget kept below the granted output cap: the cap bounds what is generated and held for, and
 * a budget at or above it would have the provider refuse the request or raise its own cap to fit it.
 * Returns the lowered budget (cap − 1), null to leave the budget out (cap − 1 is below the minimum), or
 * undefined when the budget fits as sent.
 */
export function budgetUnderCap(budget: unknown, maxTokens: number): number | null | undefined {
  if (typeof budget !== 'number' || budget < maxTokens) return undefined;
  return maxTokens - 1 >= MIN_THINKING_BUDGET ? maxTokens - 1 : null;
}

export function requireString(body: Record<string, unknown>, field: string, fix: string): string {
  const v = body[field];
  if (typeof v !== 'string' || v.trim() === '') throw new InputError(`${field}: required; ${fix}`, field);
  return v;
}

export function optionalBoolean(body: Record<string, unknown>, field: string): boolean {
  const v = body[field];
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw new InputError(`${field}: must be true or false`, field);
  return v;
}

export function optionalObject(body: Record<string, unknown>, field: string, example: string): void {
  const v = body[field];
  if (v !== undefined && v !== null && (typeof v !== 'object' || Array.isArray(v))) throw new InputError(`${field}: must be an object like ${example}`, field);
}

/** A positive whole number of tokens, or undefined when absent. */
export function optionalTokens(body: Record<string, unknown>, field: string): number | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new InputError(`${field}: must be a positive whole number of tokens, like 256`, field);
  return v;
}

export function optionalCount(body: Record<string, unknown>, field: string, max: number): number | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) throw new InputError(`${field}: must be a whole number from 1 to ${max}`, field);
  return v;
}

/** Tokens an image counts for in a hold (providers bill one image at a few hundred to ~2,500 tokens). */
export const IMAGE_TOKENS = 2500;

const IMAGE_PART = new Set(['image_url', 'input_image', 'image']);

/**
 * Adds a message content (a string, or an array of parts) to a prompt: text as text (plus `perPart`
 * tokens for the part's own fields), images at IMAGE_TOKENS, other parts as their JSON.
 */
export function addContent(p: PromptText, content: unknown, perPart = 0): void {
  if (typeof content === 'string') p.texts.push(content);
  else if (Array.isArray(content)) {
    for (const part of content) {
      if (!part || typeof part !== 'object') continue;
      const x = part as Record<string, unknown>;
      if (typeof x.text === 'string') {
        p.texts.push(x.text);
        p.overhead += perPart;
      } else if (typeof x.type === 'string' && IMAGE_PART.has(x.type)) p.overhead += IMAGE_TOKENS;
      else p.texts.push(JSON.stringify(part));
    }
  } else if (content !== null && content !== undefined) p.texts.push(JSON.stringify(content));
}

/** Adds the JSON text of a field (tools, schemas) to a prompt, when present. */
export function addJson(p: PromptText, value: unknown): void {
  if (value !== undefined && value !== null) p.texts.push(JSON.stringify(value));
}

const OPENAI_TYPES: Record<ErrorKind, string> = {
  invalid_request: 'invalid_request_error',
  too_large: 'invalid_request_error',
  authentication: 'authentication_error',
  permission: 'permission_error',
  not_found: 'invalid_request_error',
  quota: 'insufficient_quota',
  rate_limit: 'rate_limit_error',
  upstream: 'upstream_error',
  timeout: 'upstream_error',
  unavailable: 'server_error',
  server: 'server_error',
};

/** OpenAI's error shape `{"error":{"message","type","code","param"?}}`. */
export function openAiError(kind: ErrorKind, message: string, code: string, param?: string): unknown {
  return { error: { message, type: OPENAI_TYPES[kind], code, ...(param ? { param } : {}) } };
}

/** The error event ending an OpenAI-style stream (the SDKs raise it as an APIError). */
export function openAiStreamError(kind: ErrorKind, message: string, code: string): string {
  return `data: ${JSON.stringify(openAiError(kind, message, code))}\n\n`;
}

export function field(obj: unknown, key: string): unknown {
  return obj && typeof obj === 'object' ? (obj as Record<string, unknown>)[key] : undefined;
}
