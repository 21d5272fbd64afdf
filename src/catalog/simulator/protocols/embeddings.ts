/**
 * Embeddings (`POST /embeddings`) as OpenRouter serves them: `{object:"list", data:[{object:"embedding",
 * index, embedding}], model, usage:{prompt_tokens, total_tokens, cost}}`, the vectors as float arrays or, with
 * `encoding_format: "base64"` (what the openai SDK asks for by default), base64 of little-endian float32.
 * Vectors are deterministic (from a hash of each input), `dimensions` long (default 8). Never streamed.
 */
import { createHash } from 'node:crypto';
import { countTextTokens } from '../tokens.js';
import { openRouterError, type ProtocolAdapter } from '../protocol.js';

const DEFAULT_DIMENSIONS = 8;

function inputsOf(input: unknown): unknown[] {
  if (typeof input === 'string') return [input];
  if (Array.isArray(input)) {
    if (input.length > 0 && input.every((v) => typeof v === 'number')) return [input];
    return input;
  }
  return [];
}

function vectorOf(input: unknown, dimensions: number): number[] {
  const out: number[] = [];
  let block = Buffer.alloc(0);
  for (let i = 0; out.length < dimensions; i++) {
    if (block.length === 0)
      block = createHash('sha256')
        .update(`${i}:${JSON.stringify(input)}`)
        .digest();
    out.push(Math.fround(block.readUInt16LE(0) / 65535 - 0.5));
    block = block.subarray(2);
  }
  return out;
}

export const embeddingsAdapter: ProtocolAdapter = {
  protocol: 'embeddings',
  parse(body) {
    const base = { promptTokens: 0, maxTokens: null, stream: false, noOutput: true };
    const inputs = inputsOf(body.input);
    if (inputs.length === 0 || inputs.some((v) => v === '' || (typeof v !== 'string' && !Array.isArray(v)))) {
      return { ...base, error: 'Input required: "input" must be a non-empty string, array of strings or array of token ids' };
    }
    const dims = body.dimensions;
    if (dims !== undefined && dims !== null && (!Number.isInteger(dims) || (dims as number) < 1 || (dims as number) > 4096)) {
      return { ...base, error: 'dimensions must be an integer between 1 and 4096' };
    }
    const format = body.encoding_format;
    if (format !== undefined && format !== null && format !== 'float' && format !== 'base64') {
      return { ...base, error: 'encoding_format must be "float" or "base64"' };
    }
    return { ...base, promptTokens: inputs.reduce<number>((n, v) => n + countTextTokens(v), 0) };
  },
  whole(gen, usage) {
    const dimensions = Number.isInteger(gen.body.dimensions) ? (gen.body.dimensions as number) : DEFAULT_DIMENSIONS;
    const base64 = gen.body.encoding_format === 'base64';
    const data = inputsOf(gen.body.input).map((input, index) => {
      const vector = vectorOf(input, dimensions);
      const embedding = base64 ? Buffer.from(new Float32Array(vector).buffer).toString('base64') : vector;
      return { object: 'embedding', index, embedding };
    });
    const payload: Record<string, unknown> = { id: gen.id, object: 'list', data, model: gen.model, provider: gen.provider };
    if (usage) {
      const prompt = usage.tokens.input + usage.tokens.cacheRead + usage.tokens.cacheWrite;
      payload.usage = { prompt_tokens: prompt, total_tokens: prompt, cost: usage.cost.total, is_byok: false };
    }
    return payload;
  },
  stream() {
    throw new Error('embeddings are never streamed');
  },
  errorBody: openRouterError,
};
