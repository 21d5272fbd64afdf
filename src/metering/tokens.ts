/**
 * Local token counting with gpt-tokenizer (o200k_base). Used for the prompt part of a hold, and for the
 * charge when the upstream sent no usage (cut, disconnect): prompt estimate + the text actually delivered.
 *
 * The prompt rule is OpenAI's chat counting rule (and the simulator's): Σ over messages (3 + tokens of the
 * message's text) + 3. Tool definitions and non-text parts are counted as their JSON text, which
 * over-estimates rather than under-estimates.
 */
import { countTokens } from 'gpt-tokenizer';

/** Texts longer than this are counted on a prefix and extrapolated (keeps the event loop responsive). */
const EXACT_LIMIT = 256 * 1024;

/** Tokens of a text. */
export function countTextTokens(text: string): number {
  if (text.length === 0) return 0;
  if (text.length <= EXACT_LIMIT) return countTokens(text);
  const sample = countTokens(text.slice(0, EXACT_LIMIT));
  return Math.ceil((sample * text.length) / EXACT_LIMIT);
}

function contentTokens(content: unknown): number {
  if (typeof content === 'string') return countTextTokens(content);
  if (Array.isArray(content)) {
    let n = 0;
    for (const part of content) {
      if (part && typeof part === 'object') {
        const text = (part as { text?: unknown }).text;
        if (typeof text === 'string') n += countTextTokens(text);
        else n += countTextTokens(JSON.stringify(part));
      }
    }
    return n;
  }
  if (content === null || content === undefined) return 0;
  return countTextTokens(JSON.stringify(content));
}

/**
 * Estimated prompt tokens of a chat completions body: messages by the chat rule, plus tool calls inside
 * messages, tool/function definitions and a response_format schema as JSON text.
 */
export function estimatePromptTokens(body: Record<string, unknown>): number {
  const messages = body.messages;
  let total = 3;
  if (Array.isArray(messages)) {
    for (const m of messages) {
      total += 3;
      if (!m || typeof m !== 'object') continue;
      const msg = m as Record<string, unknown>;
      total += contentTokens(msg.content);
      if (msg.tool_calls !== undefined) total += countTextTokens(JSON.stringify(msg.tool_calls));
      if (msg.function_call !== undefined) total += countTextTokens(JSON.stringify(msg.function_call));
    }
  }
  for (const field of ['tools', 'functions', 'response_format'] as const) {
    const v = body[field];
    if (v !== undefined && v !== null) total += countTextTokens(JSON.stringify(v));
  }
  return total;
}
