/**
 * OpenAI Embeddings (`POST /v1/embeddings`): the prompt is `input` (text, texts or token ids); there is no
 * output cap and no completion, so the hold is the prompt's alone; usage comes with every answer.
 */
import { InputError } from '../../../src/errors.js';
import type { PromptText } from '../../../src/metering/tokens.js';
import { readUsage, StreamMeter } from '../../../src/metering/usage.js';
import { allowList, field, MAX_BODY_BYTES, openAiError, openAiStreamError, pick, requireString, type Protocol } from './protocol.js';
import { addTokensOrText } from './completions.js';

const FIELDS = allowList(['model', 'input', 'encoding_format', 'dimensions', 'user', 'input_type']);

export const embeddings: Protocol = {
  name: 'embeddings',
  upstreamPath: '/embeddings',
  example: '{"model":"…","input":"The food was delicious"}',
  completion: false,
  maxBodyBytes: MAX_BODY_BYTES,
  keyHint: 'send the header "Authorization: Bearer sk-arb-…" with the key you bought',

  parse(raw) {
    const model = requireString(raw, 'model', 'use the model of your key (GET /v1/models lists it)');
    if (raw.input === undefined || raw.input === null || raw.input === '' || (Array.isArray(raw.input) && raw.input.length === 0)) {
      throw new InputError('input: required, a string or an array of strings to embed', 'input');
    }
    const prompt: PromptText = { overhead: 0, texts: [] };
    addTokensOrText(prompt, raw.input, 'input');
    const { body, dropped } = pick(raw, FIELDS);
    delete body.stream;
    return { model, stream: false, maxTokens: undefined, choices: 1, completion: false, prompt, body, dropped };
  },

  upstreamBody: (req, model) => JSON.stringify({ ...req.body, model }),
  upstreamHeaders: () => ({}),
  usageOf: (json) => readUsage(field(json, 'usage')),
  outputText: () => '',
  streamMeter: () => new StreamMeter(),
  errorBody: openAiError,
  streamError: openAiStreamError,
};
