/**
 * OpenAI Responses (`POST /v1/responses`; Codex CLI and the Agents SDK): the prompt is `instructions` and
 * `input` (a string or items: messages with any role, tool calls and their outputs, reasoning); the output
 * cap is `max_output_tokens` — Codex sends none, so the hold is sized for what the key and the model allow
 * and that cap is forwarded; usage arrives in `response.completed`. `background` responses are refused
 * (their usage would arrive after the request ends), so is state kept upstream (`previous_response_id`,
 * `conversation`, stored `prompt`s: tokens no hold covers, on the operator's account, not tied to the key);
 * tools the provider bills per use are left out.
 */
import { InputError } from '../../../src/errors.js';
import type { PromptText } from '../../../src/metering/tokens.js';
import { readResponsesUsage, ResponsesStreamMeter } from '../../../src/metering/usage.js';
import type { ErrorKind } from '../errors.js';
import { addContent, addJson, AGENT_BODY_BYTES, allowList, field, keepClientTools, openAiError, optionalBoolean, optionalTokens, pick, requireString, type Protocol } from './protocol.js';

const FIELDS = allowList(
  [
    'model',
    'input',
    'instructions',
    'max_output_tokens',
    'stream',
    'stream_options',
    'store',
    'include',
    'tools',
    'tool_choice',
    'parallel_tool_calls',
    'max_tool_calls',
    'reasoning',
    'text',
    'temperature',
    'top_p',
    'top_logprobs',
    'truncation',
    'user',
    'metadata',
    'prompt_cache_key',
    'safety_identifier',
    'service_tier',
  ],
  {
    background: 'a background response reports its usage after the request ends, so it cannot be metered; send it in the foreground',
    // state kept upstream is the operator's account's: its tokens are not in the request, so no hold covers them, and an id is not tied to the key that made it
    previous_response_id: 'arb relays every request on its own; send the conversation in input (with store: false, as Codex does)',
    conversation: 'arb relays every request on its own; send the conversation in input',
    prompt: "stored prompts belong to the operator's upstream account; send the instructions and input themselves",
  },
);

/** Tools the client runs itself; the rest (web_search, file_search, code_interpreter, image_generation, mcp) the provider bills per use. */
const CLIENT_TOOLS = new Set(['function', 'custom', 'namespace', 'local_shell', 'shell', 'apply_patch', 'computer_use_preview']);

/** The prompt of a Responses body: 3 per input item plus its text, tools and a text format as JSON. */
export function responsesPrompt(body: Record<string, unknown>): PromptText {
  const p: PromptText = { overhead: 3, texts: [] };
  if (typeof body.instructions === 'string') p.texts.push(body.instructions);
  const input = body.input;
  if (typeof input === 'string') p.texts.push(input);
  else if (Array.isArray(input)) {
    for (const item of input) {
      p.overhead += 3;
      if (!item || typeof item !== 'object') continue;
      const it = item as Record<string, unknown>;
      if (it.content !== undefined) addContent(p, it.content, 2);
      else if (typeof it.arguments === 'string') p.texts.push(JSON.stringify(it));
      else if (it.output !== undefined) {
        addContent(p, it.output, 2);
        if (typeof it.call_id === 'string') p.texts.push(it.call_id);
      } else if (typeof it.input === 'string') p.texts.push(it.input);
      else {
        addJson(p, it.summary);
        if (typeof it.encrypted_content === 'string') p.texts.push(it.encrypted_content);
        else if (it.summary === undefined) p.texts.push(JSON.stringify(it));
      }
    }
  }
  addJson(p, body.tools);
  addJson(p, field(body.text, 'format'));
  return p;
}

/** The text of a whole Responses body's output items. */
function outputText(json: unknown): string {
  const out: string[] = [];
  const items = field(json, 'output');
  if (!Array.isArray(items)) return '';
  for (const item of items) {
    const content = field(item, 'content');
    if (Array.isArray(content)) for (const c of content) pushString(out, field(c, 'text') ?? field(c, 'refusal'));
    const summary = field(item, 'summary');
    if (Array.isArray(summary)) for (const s of summary) pushString(out, field(s, 'text'));
    pushString(out, field(item, 'name'));
    pushString(out, field(item, 'arguments'));
    pushString(out, field(item, 'input'));
  }
  return out.join('');
}

function pushString(out: string[], v: unknown): void {
  if (typeof v === 'string' && v) out.push(v);
}

export const responses: Protocol = {
  name: 'responses',
  upstreamPath: '/responses',
  example: '{"model":"…","input":"Hello"}',
  completion: true,
  maxBodyBytes: AGENT_BODY_BYTES,
  keyHint: 'send the header "Authorization: Bearer sk-arb-…" with the key you bought',

  parse(raw) {
    const model = requireString(raw, 'model', 'use the model of your key (GET /v1/models lists it)');
    const input = raw.input;
    if (!(typeof input === 'string' && input !== '') && !(Array.isArray(input) && input.length > 0)) {
      throw new InputError('input: required, a string or a non-empty array of input items like [{"role":"user","content":"Hello"}]', 'input');
    }
    if (Array.isArray(input)) {
      for (const [i, it] of input.entries()) {
        if (!it || typeof it !== 'object' || Array.isArray(it)) throw new InputError(`input[${i}]: must be an object (a message or another input item)`, `input[${i}]`);
      }
    }
    if (raw.instructions !== undefined && raw.instructions !== null && typeof raw.instructions !== 'string') {
      throw new InputError('instructions: must be a string', 'instructions');
    }
    const stream = optionalBoolean(raw, 'stream');
    const { body, dropped } = pick(raw, FIELDS);
    keepClientTools(body, dropped, (type) => type !== undefined && CLIENT_TOOLS.has(type));
    const tier = raw.service_tier;
    if (tier !== undefined && tier !== null && tier !== 'auto' && tier !== 'default' && tier !== 'flex') {
      throw new InputError(`service_tier: "${String(tier)}" is billed above the package's rates; use "auto" or leave it out`, 'service_tier');
    }
    return { model, stream, maxTokens: optionalTokens(raw, 'max_output_tokens'), choices: 1, completion: true, prompt: responsesPrompt(raw), body, dropped };
  },

  upstreamBody: (req, model, maxTokens) => JSON.stringify({ ...req.body, model, max_output_tokens: maxTokens }),
  upstreamHeaders: () => ({}),
  usageOf: (json) => readResponsesUsage(field(json, 'usage')),
  outputText,
  streamMeter: () => new ResponsesStreamMeter(),
  errorBody: openAiError,
  // the Responses error event (type, code, message, param) with OpenAI's `error` object too: the openai
  // SDK raises a stream event carrying one as an APIError
  streamError(kind: ErrorKind, message: string, code: string) {
    return `event: error\ndata: ${JSON.stringify({ type: 'error', code, message, param: null, ...(openAiError(kind, message, code) as object) })}\n\n`;
  },
};
