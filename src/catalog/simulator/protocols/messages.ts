/**
 * Anthropic Messages (`POST /messages`) as OpenRouter serves it. Stream: a `: OPENROUTER PROCESSING`
 * comment, `message_start` (usage with the input and cache classes, `output_tokens: 1`), `ping`, a
 * `thinking` block when reasoning was asked for (`thinking_delta`…, `signature_delta`), a `text` block
 * (`text_delta`…), `message_delta` with the stop reason and the cumulative usage (OpenRouter's `cost`,
 * `is_byok`, `cost_details` in it), `message_stop`.
 * A mid-stream failure is `event: error`. Usage reports cache tokens beside `input_tokens`; output includes
 * thinking. `provider` is a top-level field of the message. Errors use Anthropic's shape.
 */
import { countTextTokens, simulatedText, simulatedThinking, simulatedThought, simulatedToken } from '../tokens.js';
import { readCap, sse, type Generation, type ProtocolAdapter, type StreamWriter, type Usage } from '../protocol.js';

const SIGNATURE = 'c2ltdWxhdGVkLXNpZ25hdHVyZQ==';

function messagesUsage(u: Usage): Record<string, unknown> {
  const t = u.tokens;
  return {
    input_tokens: t.input,
    cache_creation_input_tokens: t.cacheWrite,
    cache_read_input_tokens: t.cacheRead,
    cache_creation: { ephemeral_5m_input_tokens: t.cacheWrite, ephemeral_1h_input_tokens: 0 },
    output_tokens: t.output + t.reasoning,
    server_tool_use: u.webSearches > 0 ? { web_search_requests: u.webSearches, web_fetch_requests: 0 } : null,
    service_tier: 'standard',
    cost: u.cost.total,
    is_byok: false,
    cost_details: { upstream_inference_cost: null, upstream_inference_input_cost: u.cost.prompt, upstream_inference_output_cost: u.cost.completion },
  };
}

export function anthropicErrorType(status: number): string {
  switch (status) {
    case 400:
      return 'invalid_request_error';
    case 401:
      return 'authentication_error';
    case 402:
      return 'billing_error';
    case 403:
      return 'permission_error';
    case 404:
      return 'not_found_error';
    case 413:
      return 'request_too_large';
    case 429:
      return 'rate_limit_error';
    case 503:
    case 529:
      return 'overloaded_error';
    default:
      return 'api_error';
  }
}

const stopReason = (gen: Generation) => (gen.capped ? 'max_tokens' : 'end_turn');

export const messagesAdapter: ProtocolAdapter = {
  protocol: 'messages',
  parse(body) {
    const cap = readCap(body, 'max_tokens');
    const base = { promptTokens: 0, maxTokens: null, stream: body.stream === true };
    if (!Array.isArray(body.messages) || body.messages.length === 0) return { ...base, error: 'messages: at least one message is required' };
    if (typeof cap === 'string') return { ...base, error: cap };
    return { ...base, maxTokens: cap, promptTokens: 3 + countTextTokens(body.system) + countTextTokens(body.messages) + countTextTokens(body.tools) };
  },
  whole(gen, usage) {
    const content: unknown[] = [];
    if (gen.reasoning > 0) content.push({ type: 'thinking', thinking: simulatedThinking(gen.reasoning), signature: SIGNATURE });
    content.push({ type: 'text', text: simulatedText(gen.text) });
    const payload: Record<string, unknown> = {
      id: gen.id,
      type: 'message',
      role: 'assistant',
      model: gen.model,
      provider: gen.provider,
      content,
      stop_reason: stopReason(gen),
      stop_sequence: null,
    };
    if (usage) payload.usage = messagesUsage(usage);
    return payload;
  },
  stream(gen, reportUsage): StreamWriter {
    let block = -1;
    let open: 'thinking' | 'text' | null = null;
    const closeBlock = () => {
      const out = open === 'thinking' ? sse('content_block_delta', { type: 'content_block_delta', index: block, delta: { type: 'signature_delta', signature: SIGNATURE } }) : '';
      open = null;
      return out + sse('content_block_stop', { type: 'content_block_stop', index: block });
    };
    const startBlock = (kind: 'thinking' | 'text') => {
      const prefix = open ? closeBlock() : '';
      block++;
      open = kind;
      const contentBlock = kind === 'thinking' ? { type: 'thinking', thinking: '', signature: '' } : { type: 'text', text: '' };
      return prefix + sse('content_block_start', { type: 'content_block_start', index: block, content_block: contentBlock });
    };
    const p = gen.prompt;
    const startUsage = reportUsage
      ? {
          usage: {
            input_tokens: p.input,
            cache_creation_input_tokens: p.cacheWrite,
            cache_read_input_tokens: p.cacheRead,
            cache_creation: { ephemeral_5m_input_tokens: p.cacheWrite, ephemeral_1h_input_tokens: 0 },
            output_tokens: 1,
            service_tier: 'standard',
          },
        }
      : {};
    return {
      reportsUsage: reportUsage,
      open: () => [
        ': OPENROUTER PROCESSING\n\n',
        sse('message_start', {
          type: 'message_start',
          message: { id: gen.id, type: 'message', role: 'assistant', model: gen.model, provider: gen.provider, content: [], stop_reason: null, stop_sequence: null, ...startUsage },
        }),
        sse('ping', { type: 'ping' }),
      ],
      reasoning: (i) =>
        (open === 'thinking' ? '' : startBlock('thinking')) +
        sse('content_block_delta', { type: 'content_block_delta', index: block, delta: { type: 'thinking_delta', thinking: simulatedThought(i) } }),
      text: (i) => (open === 'text' ? '' : startBlock('text')) + sse('content_block_delta', { type: 'content_block_delta', index: block, delta: { type: 'text_delta', text: simulatedToken(i) } }),
      close(usage) {
        const out: string[] = [];
        if (gen.text === 0 && open !== 'text') out.push(startBlock('text'));
        if (open) out.push(closeBlock());
        const delta: Record<string, unknown> = { type: 'message_delta', delta: { stop_reason: stopReason(gen), stop_sequence: null } };
        if (usage) delta.usage = messagesUsage(usage);
        out.push(sse('message_delta', delta), sse('message_stop', { type: 'message_stop' }));
        return out;
      },
      fail: (message) => [sse('error', { type: 'error', error: { type: 'api_error', message } })],
    };
  },
  errorBody(status, message) {
    return { type: 'error', error: { type: anthropicErrorType(status), message } };
  },
};
