import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SseParser } from '../../src/metering/sse.js';
import { chatDeltaText, mayCarryUsageOrError, messagesDeltaText, MessagesStreamMeter, readUsage, responsesDeltaText, StreamMeter, type TokenUsage } from '../../src/metering/usage.js';

/** The meter's contract, computed the plain way: every event JSON-parsed as it arrives. */
function eagerMeter(bytes: Buffer): { usage: TokenUsage | null; error: string | null; done: boolean; text: string } {
  const out = { usage: null as TokenUsage | null, error: null as string | null, done: false, text: '' };
  const p = new SseParser();
  for (const ev of [...p.push(bytes), ...p.end()]) {
    if (ev.data === '[DONE]') {
      out.done = true;
      continue;
    }
    let obj: Record<string, unknown>;
    try {
      obj = JSON.parse(ev.data) as Record<string, unknown>;
    } catch {
      continue;
    }
    if (!obj || typeof obj !== 'object') continue;
    if (obj.usage !== undefined && obj.usage !== null) out.usage = readUsage(obj.usage) ?? out.usage;
    if (obj.error !== undefined && obj.error !== null) {
      const m = (obj.error as { message?: unknown }).message;
      out.error = typeof m === 'string' ? m : 'upstream error';
    }
    for (const c of Array.isArray(obj.choices) ? obj.choices : []) {
      const d = (c as { delta?: Record<string, unknown> } | null)?.delta;
      if (!d) continue;
      for (const k of ['content', 'reasoning', 'reasoning_content', 'refusal']) if (typeof d[k] === 'string') out.text += d[k];
      for (const call of Array.isArray(d.tool_calls) ? d.tool_calls : []) {
        const fn = (call as { function?: { name?: unknown; arguments?: unknown } }).function;
        if (typeof fn?.name === 'string') out.text += fn.name;
        if (typeof fn?.arguments === 'string') out.text += fn.arguments;
      }
    }
  }
  return out;
}

/** Deterministic pseudo-random numbers (the corpus is the same on every run). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const USAGE = '{"prompt_tokens":12,"completion_tokens":7,"cost":0.00042}';
/** Raw event data, including the shapes a cheap pre-check could get wrong. */
const EVENTS = [
  '{"choices":[{"index":0,"delta":{"content":"Hello"}}]}',
  '{"choices":[{"index":0,"delta":{"content":" world"}}],"usage":null}',
  '{"choices":[{"index":0,"delta":{"content":"x"}}], "usage" :\tnull }',
  '{"choices":[{"index":0,"delta":{"content":"usage"}}]}',
  '{"choices":[{"index":0,"delta":{"content":"\\"usage\\":{\\"prompt_tokens\\":1}"}}]}',
  '{"choices":[{"index":1,"delta":{"reasoning":"hm "}}]}',
  '{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"name":"f","arguments":"{\\"a\\":1}"}}]}}]}',
  '{"choices":[{"index":0,"delta":{"content":"🦊 é"}}]}',
  `{"choices":[{"index":0,"delta":{"content":""},"finish_reason":"stop"}],"usage":${USAGE}}`,
  `{"choices":[],"usage" : ${USAGE.replace('12', '13')}}`,
  `{"\\u0075sage":${USAGE.replace('12', '14')},"choices":[{"delta":{"content":"esc"}}]}`,
  `{"usage":${USAGE.replace('12', '15')},"usage":null}`,
  `{"usage":null,"usage":${USAGE.replace('12', '16')}}`,
  '{"error":{"message":"Provider disconnected"},"choices":[{"delta":{"content":""},"finish_reason":"error"}]}',
  '{"err\\u006fr":{"message":"escaped error"}}',
  '{"choices":[{"delta":{"content":"after"}}],"usage":nul}',
  'not json',
  '[DONE]',
  // layouts the meter reads without a parse, and near misses it must leave to the parse
  '{"id":"gen-1","provider":"X","choices":[{"index":0,"delta":{"role":"assistant","content":"The"},"finish_reason":null}]}',
  '{"choices":[{"index":0,"delta":{"role":"assistant"},"finish_reason":null}]}',
  '{"choices":[{"index":0,"delta":{"content":"q\\"} \\u00e9\\n\\\\"}}]}',
  '{"choices":[{"index":0,"delta":{"content":"a","refusal":"b"}}]}',
  '{"choices":[{"index":0,"delta":{"content":"one"}},{"index":1,"delta":{"content":"two"}}]}',
  '{"choices":[{"index":0,"logprobs":{"delta":{"content":"no"}}}]}',
  '{"choices":[{"index":0}],"x":{"delta":{"content":"not a choice"}}}',
  '{"choices":[{"index":0,"delta":{"content":"\\"choices\\":[{\\"delta\\":{"}}]}',
  '{"choices":[{"index":0,"delta":{"content":null}}]}',
];

test('mayCarryUsageOrError is false only when the event cannot set a usage or an error', () => {
  for (const data of EVENTS) {
    let obj: Record<string, unknown> | undefined;
    try {
      obj = JSON.parse(data) as Record<string, unknown>;
    } catch {
      obj = undefined;
    }
    const carries = !!obj && ((obj.usage !== undefined && obj.usage !== null) || (obj.error !== undefined && obj.error !== null));
    if (carries) assert.equal(mayCarryUsageOrError(data), true, data);
  }
  assert.equal(mayCarryUsageOrError(EVENTS[0]), false);
  assert.equal(mayCarryUsageOrError(EVENTS[1]), false, 'OpenAI-style "usage":null chunks need no parse');
  assert.equal(mayCarryUsageOrError(EVENTS[2]), false);
});

test('StreamMeter agrees with parsing every event, on a corpus of streams split at random byte positions', () => {
  const next = rng(42);
  for (let n = 0; n < 300; n++) {
    const parts: string[] = [': OPENROUTER PROCESSING\n\n'];
    const count = 1 + Math.floor(next() * 12);
    for (let i = 0; i < count; i++) {
      const data = EVENTS[Math.floor(next() * EVENTS.length)];
      parts.push(next() < 0.2 ? `data: ${data}\r\n\r\n` : `data: ${data}\n\n`);
    }
    const bytes = Buffer.from(parts.join(''), 'utf8');
    const want = eagerMeter(bytes);
    const m = new StreamMeter();
    for (let at = 0; at < bytes.length;) {
      const len = 1 + Math.floor(next() * 64);
      m.push(bytes.subarray(at, at + len));
      at += len;
    }
    m.end();
    assert.deepEqual({ usage: m.usage, error: m.error, done: m.done, text: m.deliveredText() }, want, `stream ${n}: ${parts.join('')}`);
  }
});

test('StreamMeter: a long stream without usage is counted in full (text extracted in bounded batches)', () => {
  const m = new StreamMeter();
  const chunk = (i: number) => `data: {"choices":[{"index":0,"delta":{"content":"w${i} "}}],"usage":null,"pad":"${'x'.repeat(200)}"}\n\n`;
  let expected = '';
  for (let i = 0; i < 5000; i++) {
    m.push(chunk(i));
    expected += `w${i} `;
  }
  m.end();
  assert.equal(m.usage, null);
  assert.equal(m.deliveredText(), expected);
  // asking twice gives the same text
  assert.equal(m.deliveredText(), expected);
});

test('the delta scans read what the parse reads, or leave the event to the parse', () => {
  const parsedChat = (d: string) => {
    try {
      const o = JSON.parse(d) as { choices?: Array<{ delta?: Record<string, unknown> }> };
      return (o.choices ?? []).map((c) => (typeof c?.delta?.content === 'string' ? c.delta.content : '')).join('');
    } catch {
      return undefined;
    }
  };
  for (const d of EVENTS) {
    // (of a malformed event the scan may read the content the client received; the parse reads nothing)
    const want = parsedChat(d);
    const fast = chatDeltaText(d);
    if (fast !== undefined && want !== undefined) assert.equal(fast, want, d);
  }
  assert.equal(chatDeltaText(EVENTS[0]), 'Hello');
  assert.equal(chatDeltaText(EVENTS.find((e) => e.includes('"role":"assistant","content":"The"'))!), 'The');
  assert.equal(chatDeltaText(EVENTS.find((e) => e.includes('q\\"'))!), 'q"} é\n\\');
  for (const near of EVENTS.filter((e) => e.includes('"refusal":"b"') || e.includes('"two"') || e.includes('logprobs') || e.includes('not a choice'))) {
    assert.equal(chatDeltaText(near), undefined, near);
  }

  const messages = [
    '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi \\"there\\""}}',
    '{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\\"a\\":"}}',
    '{"type":"content_block_delta","index":1,"delta":{"type":"thinking_delta","thinking":"hm"}}',
    '{"type":"content_block_delta","index":1,"delta":{"type":"signature_delta","signature":"abc"}}',
    '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a"},"x":1}',
  ];
  const wantMessages = ['Hi "there"', '{"a":', 'hm', undefined, undefined];
  messages.forEach((d, i) => assert.equal(messagesDeltaText(d), wantMessages[i], d));

  const responses = [
    '{"type":"response.output_text.delta","item_id":"m","output_index":0,"content_index":0,"delta":"Hi\\n","sequence_number":3}',
    '{"type":"response.function_call_arguments.delta","item_id":"fc","delta":"{\\"x\\"","obfuscation":"\\"delta\\":\\"no"}',
    '{"type":"response.output_text.delta","nested":{"delta":"no"}}',
    '{"type":"response.output_text.delta","nested":{"a":"}"},"delta":"yes"}',
  ];
  const wantResponses = ['Hi\n', '{"x"', undefined, 'yes'];
  responses.forEach((d, i) => assert.equal(responsesDeltaText(d), wantResponses[i], d));
});

test('a stream meter keeps the delivered text, not the events it came in', () => {
  const m = new MessagesStreamMeter();
  let expected = '';
  for (let i = 0; i < 2000; i++) {
    const t = i % 7 === 0 ? `\u00e9${i}` : ` w${i}`;
    m.push(`event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"${t}"}}\n\n`);
    expected += JSON.parse(`"${t}"`);
    // a signature now and then is parsed, in stream order
    if (i % 500 === 0) m.push('event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"s"}}\n\n');
  }
  m.end();
  assert.equal(m.deliveredText(), expected);
  assert.equal(m.deliveredText(), expected);
});
