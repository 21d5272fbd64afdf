/**
 * OpenAI Chat Completions as OpenRouter serves it: `: OPENROUTER PROCESSING` comments, one token per chunk,
 * a finish chunk, a usage chunk that still carries `choices` (only when `stream_options.include_usage`),
 * `[DONE]`; a mid-stream failure is a chunk with `error` and `finish_reason: "error"`. Reasoning streams
 * as `delta.reasoning` and is returned as `message.reasoning`.
 */
import { countPromptTokens, simulatedText, simulatedThinking, simulatedThought, simulatedToken } from '../tokens.js';
import { dataLine, openAiUsage, openRouterError, readCap, type ProtocolAdapter, type StreamWriter, type Usage } from '../protocol.js';

export const chatAdapter: ProtocolAdapter = {
  protocol: 'chat',
  parse(body) {
    const cap = readCap(body, 'max_tokens', 'max_completion_tokens');
    const base = { promptTokens: 0, maxTokens: null, stream: body.stream === true };
    if (!Array.isArray(body.messages) || body.messages.length === 0) return { ...base, error: 'Input required: specify "prompt" or "messages"' };
    if (typeof cap === 'string') return { ...base, error: 'max_tokens must be a positive integer' };
    return { ...base, maxTokens: cap, promptTokens: countPromptTokens(body.messages) };
  },
  whole(gen, usage) {
    const finish = gen.capped ? 'length' : 'stop';
    const payload: Record<string, unknown> = {
      id: gen.id,
      provider: gen.provider,
      model: gen.model,
      object: 'chat.completion',
      created: gen.created,
      choices: [
        {
          index: 0,
          logprobs: null,
          finish_reason: finish,
          native_finish_reason: finish,
          message: { role: 'assistant', content: simulatedText(gen.text), refusal: null, reasoning: gen.reasoning > 0 ? simulatedThinking(gen.reasoning) : null },
        },
      ],
    };
    if (usage) payload.usage = openAiUsage(usage);
    return payload;
  },
  stream(gen, reportUsage): StreamWriter {
    const streamOptions = gen.body.stream_options as { include_usage?: unknown } | undefined;
    const chunk = (delta: Record<string, unknown>, finish: string | null, extra: Record<string, unknown> = {}) =>
      dataLine({
        id: gen.id,
        provider: gen.provider,
        model: gen.model,
        object: 'chat.completion.chunk',
        created: gen.created,
        choices: [{ index: 0, delta, finish_reason: finish, native_finish_reason: finish, logprobs: null }],
        ...extra,
      });
    let first = true;
    const role = () => {
      if (!first) return {};
      first = false;
      return { role: 'assistant' };
    };
    return {
      reportsUsage: reportUsage && streamOptions?.include_usage === true,
      open: () => [': OPENROUTER PROCESSING\n\n', ': OPENROUTER PROCESSING\n\n'],
      reasoning: (i) => chunk({ ...role(), content: '', reasoning: simulatedThought(i) }, null),
      text: (i) => chunk({ ...role(), content: simulatedToken(i) }, null),
      close(usage: Usage | null) {
        const out = [chunk({ content: '' }, gen.capped ? 'length' : 'stop')];
        // OpenRouter's usage chunk still carries a `choices` array
        if (usage && this.reportsUsage) out.push(chunk({ content: '' }, null, { usage: openAiUsage(usage) }));
        out.push('data: [DONE]\n\n');
        return out;
      },
      fail: (message) => [
        dataLine({
          id: gen.id,
          provider: gen.provider,
          model: gen.model,
          object: 'chat.completion.chunk',
          created: gen.created,
          error: { code: 'server_error', message },
          choices: [{ index: 0, delta: { content: '' }, finish_reason: 'error', native_finish_reason: 'error' }],
        }),
      ],
    };
  },
  errorBody: openRouterError,
};
