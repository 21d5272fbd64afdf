/**
 * Legacy Completions (`POST /completions`, `prompt`) as OpenRouter serves it: the chat stream's framing with
 * `text_completion` objects and `choices[].text`. Usage as in Chat (the stream's usage chunk only with
 * `stream_options.include_usage`). Reasoning tokens, when a marker asks for them, are billed inside
 * `completion_tokens` but not shown (there is no place for them in this protocol).
 */
import { countTextTokens, simulatedText, simulatedToken } from '../tokens.js';
import { dataLine, openAiUsage, openRouterError, readCap, type ProtocolAdapter, type StreamWriter, type Usage } from '../protocol.js';

export const completionsAdapter: ProtocolAdapter = {
  protocol: 'completions',
  parse(body) {
    const cap = readCap(body, 'max_tokens');
    const base = { promptTokens: 0, maxTokens: null, stream: body.stream === true };
    const prompt = body.prompt;
    const ok = (typeof prompt === 'string' && prompt !== '') || (Array.isArray(prompt) && prompt.length > 0);
    if (!ok) return { ...base, error: 'Input required: specify "prompt"' };
    if (typeof cap === 'string') return { ...base, error: cap };
    return { ...base, maxTokens: cap, promptTokens: countTextTokens(prompt) };
  },
  whole(gen, usage) {
    const finish = gen.capped ? 'length' : 'stop';
    const payload: Record<string, unknown> = {
      id: gen.id,
      provider: gen.provider,
      model: gen.model,
      object: 'text_completion',
      created: gen.created,
      choices: [{ index: 0, text: simulatedText(gen.text), finish_reason: finish, native_finish_reason: finish, logprobs: null }],
    };
    if (usage) payload.usage = openAiUsage(usage);
    return payload;
  },
  stream(gen, reportUsage): StreamWriter {
    const streamOptions = gen.body.stream_options as { include_usage?: unknown } | undefined;
    const chunk = (text: string, finish: string | null, extra: Record<string, unknown> = {}) =>
      dataLine({
        id: gen.id,
        provider: gen.provider,
        model: gen.model,
        object: 'text_completion',
        created: gen.created,
        choices: [{ index: 0, text, finish_reason: finish, native_finish_reason: finish, logprobs: null }],
        ...extra,
      });
    return {
      reportsUsage: reportUsage && streamOptions?.include_usage === true,
      open: () => [': OPENROUTER PROCESSING\n\n'],
      // hidden reasoning: the stream shows nothing for it but a keep-alive comment
      reasoning: () => ': OPENROUTER PROCESSING\n\n',
      text: (i) => chunk(simulatedToken(i), null),
      close(usage: Usage | null) {
        const out = [chunk('', gen.capped ? 'length' : 'stop')];
        if (usage && this.reportsUsage) out.push(chunk('', null, { usage: openAiUsage(usage) }));
        out.push('data: [DONE]\n\n');
        return out;
      },
      fail: (message) => [
        dataLine({
          id: gen.id,
          provider: gen.provider,
          model: gen.model,
          object: 'text_completion',
          created: gen.created,
          error: { code: 'server_error', message },
          choices: [{ index: 0, text: '', finish_reason: 'error', native_finish_reason: 'error' }],
        }),
      ],
    };
  },
  errorBody: openRouterError,
};
