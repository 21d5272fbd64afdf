/**
 * OpenAI Chat Completions (`POST /v1/chat/completions`). The prompt is counted by OpenAI's chat rule
 * (Σ over messages of 3 + the message's tokens, + 3; tool calls, tool definitions and a response schema as
 * their JSON text); the output cap is `max_tokens` / `max_completion_tokens` (forwarded as `max_tokens`);
 * usage is forced on in streams with `stream_options.include_usage`.
 */
import { InputError } from '../../../src/errors.js';
import type { PromptText } from '../../../src/metering/tokens.js';
import { collectChatText, StreamMeter } from '../../../src/metering/usage.js';
import { OPENAI_SAMPLING_FIELDS, parseStream, upstreamBodyWithUsage, usageOf } from './openai.js';
import {
  addContent,
  addJson,
  allowList,
  budgetUnderCap,
  field,
  keepClientTools,
  MAX_BODY_BYTES,
  openAiError,
  openAiStreamError,
  optionalCount,
  optionalTokens,
  pick,
  requireString,
  type Protocol,
} from './protocol.js';

const FIELDS = allowList(
  [
    'model',
    'messages',
    'max_tokens',
    'max_completion_tokens',
    ...OPENAI_SAMPLING_FIELDS,
    'logprobs',
    'top_logprobs',
    'response_format',
    'structured_outputs',
    'tools',
    'tool_choice',
    'parallel_tool_calls',
    'functions',
    'function_call',
    'reasoning',
    'reasoning_effort',
    'include_reasoning',
    'verbosity',
    'prediction',
    'user',
    'metadata',
    'store',
    'service_tier',
    'prompt_cache_key',
    'safety_identifier',
    'modalities',
  ],
  {
    web_search_options: 'web search is billed per search, not per token',
    audio: 'audio output is billed at other rates than the package',
  },
);

/** The chat counting rule over messages (and tools, functions, response_format). */
export function chatPrompt(body: Record<string, unknown>): PromptText {
  const p: PromptText = { overhead: 3, texts: [] };
  const messages = body.messages;
  if (Array.isArray(messages)) {
    for (const m of messages) {
      p.overhead += 3;
      if (!m || typeof m !== 'object') continue;
      const msg = m as Record<string, unknown>;
      addContent(p, msg.content);
      addJson(p, msg.tool_calls);
      addJson(p, msg.function_call);
    }
  }
  addJson(p, body.tools);
  addJson(p, body.functions);
  addJson(p, body.response_format);
  return p;
}

export const chat: Protocol = {
  name: 'chat',
  upstreamPath: '/chat/completions',
  example: '{"model":"…","messages":[{"role":"user","content":"Hello"}]}',
  completion: true,
  maxBodyBytes: MAX_BODY_BYTES,
  keyHint: 'send the header "Authorization: Bearer sk-arb-…" with the key you bought',

  parse(raw) {
    const model = requireString(raw, 'model', 'use the model of your key (GET /v1/models lists it)');
    const messages = raw.messages;
    if (!Array.isArray(messages) || messages.length === 0) {
      throw new InputError('messages: required, a non-empty array like [{"role":"user","content":"Hello"}]', 'messages');
    }
    for (const [i, m] of messages.entries()) {
      if (!m || typeof m !== 'object' || Array.isArray(m) || typeof (m as { role?: unknown }).role !== 'string') {
        throw new InputError(`messages[${i}]: must be an object with a "role" (and "content")`, `messages[${i}]`);
      }
    }
    const stream = parseStream(raw);
    const caps = [optionalTokens(raw, 'max_tokens'), optionalTokens(raw, 'max_completion_tokens')].filter((v): v is number => v !== undefined);
    const choices = optionalCount(raw, 'n', 128) ?? 1;
    const modalities = raw.modalities;
    if (modalities !== undefined && modalities !== null && !(Array.isArray(modalities) && modalities.every((m) => m === 'text'))) {
      throw new InputError('modalities: only ["text"] is sold with this key (other outputs are billed at other rates)', 'modalities');
    }
    const tier = raw.service_tier;
    if (tier !== undefined && tier !== null && tier !== 'auto' && tier !== 'default' && tier !== 'flex') {
      throw new InputError(`service_tier: "${String(tier)}" is billed above the package's rates; use "auto" or leave it out`, 'service_tier');
    }
    const { body, dropped } = pick(raw, FIELDS);
    keepClientTools(body, dropped, (type) => type === undefined || type === 'function' || type === 'custom');
    return { model, stream, maxTokens: caps.length ? Math.min(...caps) : undefined, choices, completion: true, prompt: chatPrompt(raw), body, dropped };
  },

  upstreamBody(req, model, maxTokens) {
    const { max_completion_tokens: _, ...rest } = req.body;
    // OpenRouter's reasoning budget (`reasoning.max_tokens`, Anthropic's thinking budget) stays below the cap
    const reasoning = rest.reasoning;
    if (reasoning && typeof reasoning === 'object' && !Array.isArray(reasoning)) {
      const budget = budgetUnderCap((reasoning as { max_tokens?: unknown }).max_tokens, maxTokens);
      if (budget !== undefined) {
        const r: Record<string, unknown> = { ...reasoning };
        if (budget === null) delete r.max_tokens;
        else r.max_tokens = budget;
        rest.reasoning = r;
      }
    }
    return upstreamBodyWithUsage(rest, req.stream, model, maxTokens);
  },

  upstreamHeaders: () => ({}),
  usageOf,

  outputText(json) {
    const out: string[] = [];
    const choices = field(json, 'choices');
    if (Array.isArray(choices)) for (const c of choices) collectChatText(field(c, 'message'), out);
    return out.join('');
  },

  streamMeter: () => new StreamMeter(),
  errorBody: openAiError,
  streamError: openAiStreamError,
};
