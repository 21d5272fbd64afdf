/**
 * OpenAI Responses (`POST /responses`) as OpenRouter serves it. Stream: a `: OPENROUTER PROCESSING`
 * comment, `response.created`, `response.in_progress`, a `reasoning` item when reasoning was asked for
 * (`response.reasoning_text.delta`…), a `message` item (`response.output_item.added`,
 * `response.content_part.added`, `response.output_text.delta`…, `.done` events), then
 * `response.completed` — or `response.incomplete` when `max_output_tokens` cut the answer — carrying the
 * usage (`input_tokens` includes `input_tokens_details.cached_tokens` and `.cache_write_tokens`,
 * `output_tokens` includes `output_tokens_details.reasoning_tokens`; OpenRouter's `cost`, `is_byok`,
 * `cost_details`). A mid-stream failure is `response.failed`. Every event carries `sequence_number`.
 */
import { countTextTokens, simulatedText, simulatedThinking, simulatedThought, simulatedToken } from '../tokens.js';
import { openRouterError, readCap, sse, type Generation, type ProtocolAdapter, type StreamWriter, type Usage } from '../protocol.js';

function responsesUsage(u: Usage): Record<string, unknown> {
  const t = u.tokens;
  const input = t.input + t.cacheRead + t.cacheWrite;
  const output = t.output + t.reasoning;
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: t.cacheRead, cache_write_tokens: t.cacheWrite },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: t.reasoning },
    total_tokens: input + output,
    cost: u.cost.total,
    is_byok: false,
    cost_details: { upstream_inference_cost: null, upstream_inference_input_cost: u.cost.prompt, upstream_inference_output_cost: u.cost.completion },
  };
}

const reasoningId = (gen: Generation) => `rs_${gen.id}`;
const messageId = (gen: Generation) => `msg_${gen.id}`;

function reasoningItem(gen: Generation, text: string, status: string) {
  return { type: 'reasoning', id: reasoningId(gen), status, summary: [], content: [{ type: 'reasoning_text', text }] };
}

function messageItem(gen: Generation, text: string, status: string) {
  return { type: 'message', id: messageId(gen), status, role: 'assistant', content: [{ type: 'output_text', text, annotations: [], logprobs: [] }] };
}

function responseObject(gen: Generation, status: string, output: unknown[], usage: Usage | null) {
  return {
    id: gen.id,
    object: 'response',
    created_at: gen.created,
    completed_at: status === 'in_progress' ? null : gen.created,
    status,
    model: gen.model,
    provider: gen.provider,
    output,
    error: null,
    incomplete_details: status === 'incomplete' ? { reason: 'max_output_tokens' } : null,
    instructions: gen.body.instructions ?? null,
    max_output_tokens: gen.body.max_output_tokens ?? null,
    metadata: gen.body.metadata ?? {},
    parallel_tool_calls: gen.body.parallel_tool_calls ?? true,
    temperature: gen.body.temperature ?? null,
    tool_choice: gen.body.tool_choice ?? 'auto',
    tools: gen.body.tools ?? [],
    top_p: gen.body.top_p ?? null,
    store: gen.body.store ?? false,
    usage: usage ? responsesUsage(usage) : null,
  };
}

const finalStatus = (gen: Generation) => (gen.capped ? 'incomplete' : 'completed');

export const responsesAdapter: ProtocolAdapter = {
  protocol: 'responses',
  parse(body) {
    const cap = readCap(body, 'max_output_tokens');
    const base = { promptTokens: 0, maxTokens: null, stream: body.stream === true };
    const input = body.input;
    const ok = (typeof input === 'string' && input !== '') || (Array.isArray(input) && input.length > 0);
    if (!ok) return { ...base, error: 'Input required: specify "input"' };
    if (typeof cap === 'string') return { ...base, error: cap };
    return { ...base, maxTokens: cap, promptTokens: 3 + countTextTokens(body.instructions) + countTextTokens(input) + countTextTokens(body.tools) };
  },
  whole(gen, usage) {
    const output: unknown[] = [];
    if (gen.reasoning > 0) output.push(reasoningItem(gen, simulatedThinking(gen.reasoning), 'completed'));
    output.push(messageItem(gen, simulatedText(gen.text), 'completed'));
    return responseObject(gen, finalStatus(gen), output, usage);
  },
  stream(gen, reportUsage): StreamWriter {
    let seq = 0;
    const ev = (type: string, data: Record<string, unknown>) => sse(type, { type, sequence_number: seq++, ...data });
    let thinking = '';
    let text = '';
    let open: 'reasoning' | 'message' | null = null;
    const output: unknown[] = [];
    const reasoningIndex = 0;
    const messageIndex = () => (gen.reasoning > 0 ? 1 : 0);
    const closeItem = () => {
      if (open === 'reasoning') {
        const item = reasoningItem(gen, thinking, 'completed');
        output.push(item);
        open = null;
        const at = { item_id: item.id, output_index: reasoningIndex, content_index: 0 };
        return (
          ev('response.reasoning_text.done', { ...at, text: thinking }) +
          ev('response.content_part.done', { ...at, part: { type: 'reasoning_text', text: thinking } }) +
          ev('response.output_item.done', { output_index: reasoningIndex, item })
        );
      }
      if (open === 'message') {
        const item = messageItem(gen, text, 'completed');
        output.push(item);
        open = null;
        const at = { item_id: item.id, output_index: messageIndex(), content_index: 0 };
        return (
          ev('response.output_text.done', { ...at, text, logprobs: [] }) +
          ev('response.content_part.done', { ...at, part: { type: 'output_text', text, annotations: [], logprobs: [] } }) +
          ev('response.output_item.done', { output_index: messageIndex(), item })
        );
      }
      return '';
    };
    const startMessage = () => {
      const prefix = closeItem();
      open = 'message';
      const item = messageItem(gen, '', 'in_progress');
      item.content = [];
      return (
        prefix +
        ev('response.output_item.added', { output_index: messageIndex(), item }) +
        ev('response.content_part.added', { item_id: item.id, output_index: messageIndex(), content_index: 0, part: { type: 'output_text', text: '', annotations: [], logprobs: [] } })
      );
    };
    const startReasoning = () => {
      open = 'reasoning';
      const item = { type: 'reasoning', id: reasoningId(gen), status: 'in_progress', summary: [], content: [] };
      return (
        ev('response.output_item.added', { output_index: reasoningIndex, item }) +
        ev('response.content_part.added', { item_id: item.id, output_index: reasoningIndex, content_index: 0, part: { type: 'reasoning_text', text: '' } })
      );
    };
    return {
      reportsUsage: reportUsage,
      open: () => [
        ': OPENROUTER PROCESSING\n\n',
        ev('response.created', { response: responseObject(gen, 'in_progress', [], null) }),
        ev('response.in_progress', { response: responseObject(gen, 'in_progress', [], null) }),
      ],
      reasoning(i) {
        const tok = simulatedThought(i);
        thinking += tok;
        return (open === 'reasoning' ? '' : startReasoning()) + ev('response.reasoning_text.delta', { item_id: reasoningId(gen), output_index: reasoningIndex, content_index: 0, delta: tok });
      },
      text(i) {
        const tok = simulatedToken(i);
        text += tok;
        return (open === 'message' ? '' : startMessage()) + ev('response.output_text.delta', { item_id: messageId(gen), output_index: messageIndex(), content_index: 0, delta: tok, logprobs: [] });
      },
      close(usage) {
        const out: string[] = [];
        if (open !== 'message' && text === '') out.push(startMessage());
        out.push(closeItem());
        const status = finalStatus(gen);
        out.push(ev(`response.${status}`, { response: responseObject(gen, status, output, usage) }));
        return out;
      },
      fail(message) {
        const failed = { ...responseObject(gen, 'failed', output, null), error: { code: 'server_error', message } };
        return [ev('response.failed', { response: failed })];
      },
    };
  },
  errorBody: openRouterError,
};
