/**
 * What OpenAI's two text protocols, Chat Completions and legacy Completions, share: the streaming and
 * sampling fields they forward as sent, the `stream` flag with its `stream_options`, and usage — forced on in
 * streams with `stream_options.include_usage` and read from the body's `usage`.
 */
import { readUsage, type TokenUsage } from '../../../src/metering/usage.js';
import { field, optionalBoolean, optionalObject } from './protocol.js';

/** The streaming, choice-count and sampling fields both protocols forward as the client sent them. */
export const OPENAI_SAMPLING_FIELDS = [
  'stream',
  'stream_options',
  'n',
  'temperature',
  'top_p',
  'top_k',
  'min_p',
  'top_a',
  'frequency_penalty',
  'presence_penalty',
  'repetition_penalty',
  'seed',
  'stop',
  'logit_bias',
] as const;

/** The `stream` flag; `stream_options`, when given, must be an object. */
export function parseStream(raw: Record<string, unknown>): boolean {
  const stream = optionalBoolean(raw, 'stream');
  optionalObject(raw, 'stream_options', '{"include_usage":true}');
  return stream;
}

/** The upstream body: the kept fields, the package's model, the granted cap, and usage forced on in a stream (the client's other stream options kept). */
export function upstreamBodyWithUsage(body: Record<string, unknown>, stream: boolean, model: string, maxTokens: number): string {
  const so = body.stream_options;
  return JSON.stringify({
    ...body,
    model,
    max_tokens: maxTokens,
    ...(stream ? { stream_options: { ...(so && typeof so === 'object' ? so : {}), include_usage: true } } : {}),
  });
}

/** The usage of a whole response body. */
export function usageOf(json: unknown): TokenUsage | null {
  return readUsage(field(json, 'usage'));
}
