import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SseParser } from '../../src/metering/sse.js';
import { StreamMeter } from '../../src/metering/usage.js';

test('SSE: comments, multi-line data, event names, [DONE]', () => {
  const p = new SseParser();
  const events = p.push(': OPENROUTER PROCESSING\n\nevent: ping\ndata: a\ndata: b\n\ndata: [DONE]\n\n');
  assert.deepEqual(events, [
    { event: 'ping', data: 'a\nb' },
    { event: '', data: '[DONE]' },
  ]);
  assert.equal(p.comments, 1);
});

test('SSE: events split across reads at every byte, CRLF and lone CR line ends, UTF-8 split inside a character', () => {
  const text = 'data: {"x":"héllo 🦊"}\r\n\r\ndata: one\rdata: two\r\r: c\n\ndata:nospace\n\n';
  const bytes = Buffer.from(text, 'utf8');
  const whole = new SseParser().push(bytes);
  assert.deepEqual(
    whole.map((e) => e.data),
    ['{"x":"héllo 🦊"}', 'one\ntwo', 'nospace'],
  );
  for (let cut = 1; cut < bytes.length; cut++) {
    const p = new SseParser();
    const got = [...p.push(bytes.subarray(0, cut)), ...p.push(bytes.subarray(cut)), ...p.end()];
    assert.deepEqual(got, whole, `split at byte ${cut}`);
  }
  // one byte at a time
  const p = new SseParser();
  const got = [];
  for (const b of bytes) got.push(...p.push(Uint8Array.of(b)));
  assert.deepEqual(got, whole);
});

test('SSE: an event without its closing blank line is discarded at end of stream', () => {
  const p = new SseParser();
  assert.deepEqual(p.push('data: complete\n\ndata: partial'), [{ event: '', data: 'complete' }]);
  assert.deepEqual(p.end(), []);
});

test('StreamMeter: usage is the LAST chunk with non-null usage (never summed), even when it carries choices', () => {
  const m = new StreamMeter();
  const chunk = (obj: unknown) => `data: ${JSON.stringify(obj)}\n\n`;
  m.push(': OPENROUTER PROCESSING\n\n');
  m.push(chunk({ choices: [{ index: 0, delta: { role: 'assistant', content: 'Hello' } }] }));
  m.push(chunk({ choices: [{ index: 0, delta: { content: ' world' } }], usage: { prompt_tokens: 5, completion_tokens: 1, cost: 0.1 } }));
  m.push(chunk({ choices: [{ index: 0, delta: { content: '' }, finish_reason: 'stop' }], usage: null }));
  m.push(chunk({ choices: [{ index: 0, delta: { content: '' } }], usage: { prompt_tokens: 10, completion_tokens: 2, cost: 0.00042 } }));
  m.push('data: [DONE]\n\n');
  m.end();
  assert.deepEqual(m.usage, { promptTokens: 10, completionTokens: 2, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0, costMicros: 420 });
  assert.equal(m.done, true);
  assert.equal(m.error, null);
  assert.equal(m.deliveredText(), 'Hello world');
});

test('StreamMeter: mid-stream error event, tool-call arguments and reasoning count as delivered text', () => {
  const m = new StreamMeter();
  m.push('data: {"choices":[{"delta":{"reasoning":"think "}}]}\n\n');
  m.push('data: {"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"name":"f","arguments":"{\\"a\\":1}"}}]}}]}\n\n');
  m.push('data: {"error":{"code":"server_error","message":"Provider disconnected"},"choices":[{"delta":{"content":""},"finish_reason":"error"}]}\n\n');
  m.end();
  assert.equal(m.error, 'Provider disconnected');
  assert.equal(m.usage, null);
  assert.equal(m.done, false);
  assert.equal(m.deliveredText(), 'think f{"a":1}');
});

test('SSE: a UTF-8 byte order mark is skipped, also when split across reads', () => {
  const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('data: x\n\n')]);
  assert.deepEqual(new SseParser().push(bytes), [{ event: '', data: 'x' }]);
  const p = new SseParser();
  const got = [...p.push(bytes.subarray(0, 1)), ...p.push(bytes.subarray(1, 2)), ...p.push(bytes.subarray(2))];
  assert.deepEqual(got, [{ event: '', data: 'x' }]);
});
