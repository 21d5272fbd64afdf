/**
 * Legacy OpenAI Completions (`POST /v1/completions`): the prompt is `prompt` (a string, strings, or token
 * arrays counted as their length); the output cap is `max_tokens`; `n` and `best_of` completions are
 * generated and billed, so the hold covers the larger; usage is forced on in streams as for chat.
 */
import { InputError } from '../../../src/errors.js';
import type { PromptText } from '../../../src/metering/tokens.js';
import { StreamMeter } from '../../../src/metering/usage.js';
import { OPENAI_SAMPLING_FIELDS, parseStream, upstreamBodyWithUsage, usageOf } from './openai.js';
import { allowList, field, MAX_BODY_BYTES, openAiError, openAiStreamError, optionalCount, optionalTokens, pick, requireString, type Protocol } from './protocol.js';

const FIELDS = allowList(['model', 'prompt', 'suffix', 'max_tokens', ...OPENAI_SAMPLING_FIELDS, 'best_of', 'echo', 'logprobs', 'user']);

/** Adds a prompt given as text, texts, token ids or lists of token ids. */
export function addTokensOrText(p: PromptText, input: unknown, name: string): void {
  const bad = () => new InputError(`${name}: must be a string, an array of strings, or token ids`, name);
  if (typeof input === 'string') p.texts.push(input);
  else if (Array.isArray(input)) {
    for (const item of input) {
      if (typeof item === 'string') p.texts.push(item);
      else if (typeof item === 'number') p.overhead += 1;
      else if (Array.isArray(item) && item.every((t) => typeof t === 'number')) p.overhead += item.length;
      else throw bad();
    }
  } else throw bad();
}

export const completions: Protocol = {
  name: 'completions',
  upstreamPath: '/completions',
  example: '{"model":"…","prompt":"Once upon a time","max_tokens":64}',
  completion: true,
  maxBodyBytes: MAX_BODY_BYTES,
  keyHint: 'send the header "Authorization: Bearer sk-arb-…" with the key you bought',

  parse(raw) {
    const model = requireString(raw, 'model', 'use the model of your key (GET /v1/models lists it)');
    if (raw.prompt === undefined || raw.prompt === null || (Array.isArray(raw.prompt) && raw.prompt.length === 0)) {
      throw new InputError('prompt: required, a string like "Once upon a time"', 'prompt');
    }
    const prompt: PromptText = { overhead: 0, texts: [] };
    addTokensOrText(prompt, raw.prompt, 'prompt');
    if (typeof raw.suffix === 'string') prompt.texts.push(raw.suffix);
    const stream = parseStream(raw);
    const n = optionalCount(raw, 'n', 128) ?? 1;
    const bestOf = optionalCount(raw, 'best_of', 20) ?? 1;
    const { body, dropped } = pick(raw, FIELDS);
    return { model, stream, maxTokens: optionalTokens(raw, 'max_tokens'), choices: Math.max(n, bestOf), completion: true, prompt, body, dropped };
  },

  upstreamBody(req, model, maxTokens) {
    return upstreamBodyWithUsage(req.body, req.stream, model, maxTokens);
  },

  upstreamHeaders: () => ({}),
  usageOf,

  outputText(json) {
    const choices = field(json, 'choices');
    if (!Array.isArray(choices)) return '';
    return choices
      .map((c) => field(c, 'text'))
      .filter((t): t is string => typeof t === 'string')
      .join('');
  },

  streamMeter: () => new StreamMeter(true),
  errorBody: openAiError,
  streamError: openAiStreamError,
};
