/**
 * Anthropic Messages (`POST /v1/messages`; Claude Code and `@anthropic-ai/sdk`): the prompt is `system`,
 * `messages` (text, tool uses and results, thinking, images) and `tools`; the output cap is `max_tokens`
 * (Claude Code always asks 32,000: it is capped to what the key can pay for, and an extended-thinking
 * budget is kept below the cap); usage arrives in `message_start` / `message_delta`, with cache reads and
 * writes beside `input_tokens`. Errors take Anthropic's shape. `anthropic-version` and `anthropic-beta`
 * pass upstream as the client sent them.
 */
import type { IncomingMessage } from 'node:http';
import { InputError } from '../../../src/errors.js';
import type { PromptText } from '../../../src/metering/tokens.js';
import { MessagesStreamMeter, readAnthropicUsage } from '../../../src/metering/usage.js';
import type { ErrorKind } from '../errors.js';
import { addContent, addJson, AGENT_BODY_BYTES, allowList, budgetUnderCap, field, keepClientTools, optionalBoolean, optionalTokens, pick, requireString, type Protocol } from './protocol.js';

const FIELDS = allowList(
  [
    'model',
    'messages',
    'system',
    'max_tokens',
    'stream',
    'metadata',
    'stop_sequences',
    'temperature',
    'top_p',
    'top_k',
    'tools',
    'tool_choice',
    'thinking',
    'context_management',
    'output_config',
    'service_tier',
  ],
  {
    mcp_servers: 'remote MCP servers are called and billed by the provider',
    fallbacks: 'OpenRouter routing and billing options are set by the operator, not per request',
    speed: 'fast mode is billed at premium rates',
  },
);

/** Anthropic's client-side tools (the client runs them; custom tools have no type); other typed tools run at the provider. */
const CLIENT_TOOL = /^(bash|text_editor|computer|memory)_/;

/** Adds Anthropic content blocks (text, tool_use input, tool_result content, thinking, images). */
function addBlocks(p: PromptText, content: unknown): void {
  if (!Array.isArray(content)) return addContent(p, content);
  for (const block of content) {
    const b = block as Record<string, unknown> | null;
    if (!b || typeof b !== 'object') continue;
    if (b.type === 'tool_use') p.texts.push(JSON.stringify(b));
    else if (b.type === 'tool_result') {
      if (typeof b.tool_use_id === 'string') p.texts.push(b.tool_use_id);
      p.overhead += 2;
      addBlocks(p, b.content);
    } else if (b.type === 'thinking' && typeof b.thinking === 'string') p.texts.push(b.thinking);
    else if (b.type === 'redacted_thinking' && typeof b.data === 'string') p.texts.push(b.data);
    else addContent(p, [b], 2);
  }
}

/** The prompt of a Messages body: 3 per message plus its blocks, the system prompt, tools as JSON. */
export function messagesPrompt(body: Record<string, unknown>): PromptText {
  const p: PromptText = { overhead: 3, texts: [] };
  addBlocks(p, body.system);
  const messages = body.messages;
  if (Array.isArray(messages)) {
    for (const m of messages) {
      p.overhead += 3;
      addBlocks(p, field(m, 'content'));
    }
  }
  addJson(p, body.tools);
  return p;
}

const ANTHROPIC_TYPES: Record<ErrorKind, string> = {
  invalid_request: 'invalid_request_error',
  too_large: 'request_too_large',
  authentication: 'authentication_error',
  permission: 'permission_error',
  not_found: 'not_found_error',
  quota: 'billing_error',
  rate_limit: 'rate_limit_error',
  upstream: 'api_error',
  timeout: 'timeout_error',
  unavailable: 'overloaded_error',
  server: 'api_error',
};

/** Anthropic's error shape `{"type":"error","error":{"type","message"}}` (arb's code as `error.code`). */
function errorBody(kind: ErrorKind, message: string, code: string): unknown {
  return { type: 'error', error: { type: ANTHROPIC_TYPES[kind], message, code } };
}

function outputText(json: unknown): string {
  const content = field(json, 'content');
  if (!Array.isArray(content)) return '';
  const out: string[] = [];
  for (const b of content) {
    const text = field(b, 'text') ?? field(b, 'thinking');
    if (typeof text === 'string') out.push(text);
    if (field(b, 'type') === 'tool_use') out.push(String(field(b, 'name') ?? ''), JSON.stringify(field(b, 'input') ?? {}));
  }
  return out.join('');
}

export const messages: Protocol = {
  name: 'messages',
  upstreamPath: '/messages',
  example: '{"model":"…","max_tokens":1024,"messages":[{"role":"user","content":"Hello"}]}',
  completion: true,
  maxBodyBytes: AGENT_BODY_BYTES,
  keyHint: 'send the header "x-api-key: sk-arb-…" (or "Authorization: Bearer sk-arb-…") with the key you bought',

  parse(raw) {
    const model = requireString(raw, 'model', 'use the model of your key (GET /v1/models lists it)');
    const msgs = raw.messages;
    if (!Array.isArray(msgs) || msgs.length === 0) {
      throw new InputError('messages: required, a non-empty array like [{"role":"user","content":"Hello"}]', 'messages');
    }
    for (const [i, m] of msgs.entries()) {
      if (!m || typeof m !== 'object' || Array.isArray(m) || typeof (m as { role?: unknown }).role !== 'string') {
        throw new InputError(`messages.${i}: must be an object with a "role" and "content"`, `messages.${i}`);
      }
    }
    const stream = optionalBoolean(raw, 'stream');
    const thinking = raw.thinking;
    if (thinking !== undefined && thinking !== null && (typeof thinking !== 'object' || Array.isArray(thinking))) {
      throw new InputError('thinking: must be an object like {"type":"enabled","budget_tokens":2048}', 'thinking');
    }
    const { body, dropped } = pick(raw, FIELDS);
    keepClientTools(body, dropped, (type) => type === undefined || type === 'custom' || CLIENT_TOOL.test(type));
    const tier = raw.service_tier;
    if (tier !== undefined && tier !== null && tier !== 'auto' && tier !== 'standard_only') {
      throw new InputError(`service_tier: "${String(tier)}" is billed above the package's rates; use "auto" or leave it out`, 'service_tier');
    }
    return { model, stream, maxTokens: optionalTokens(raw, 'max_tokens'), choices: 1, completion: true, prompt: messagesPrompt(raw), body, dropped };
  },

  upstreamBody(req, model, maxTokens) {
    const body: Record<string, unknown> = { ...req.body, model, max_tokens: maxTokens };
    // an extended-thinking budget must stay below max_tokens: lowered with the cap, left out below the minimum
    const thinking = body.thinking as { type?: unknown; budget_tokens?: unknown } | undefined;
    const budget = thinking?.type === 'enabled' ? budgetUnderCap(thinking.budget_tokens, maxTokens) : undefined;
    if (budget === null) delete body.thinking;
    else if (budget !== undefined) body.thinking = { ...thinking, budget_tokens: budget };
    return JSON.stringify(body);
  },

  upstreamHeaders(req: IncomingMessage) {
    const headers: Record<string, string> = {};
    const version = req.headers['anthropic-version'];
    headers['anthropic-version'] = typeof version === 'string' && version ? version : '2023-06-01';
    const beta = req.headers['anthropic-beta'];
    if (typeof beta === 'string' && beta) headers['anthropic-beta'] = beta;
    return headers;
  },

  usageOf: (json) => readAnthropicUsage(field(json, 'usage')),
  outputText,
  streamMeter: () => new MessagesStreamMeter(),
  errorBody,
  streamError(kind, message, code) {
    return `event: error\ndata: ${JSON.stringify(errorBody(kind, message, code))}\n\n`;
  },
};
