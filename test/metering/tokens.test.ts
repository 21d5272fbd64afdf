import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countTextTokens, estimatePromptTokens, promptTokensUpperBound, textTokensUpperBound } from '../../src/metering/tokens.js';

const TEXTS = [
  '',
  'Hello',
  'Say hello in five words.',
  'a'.repeat(1000), // one token per many bytes
  ' '.repeat(257),
  '0123456789'.repeat(40),
  '🦊🦊🦊 emoji 👩‍👩‍👧‍👦 family',
  '東京は日本の首都です。中文文本，한국어 텍스트',
  'Ελληνικά και русский текст, עברית, العربية',
  'code: for (let i = 0; i < n; i++) { sum += a[i] * b[i]; }\n\tindented\r\nCRLF',
  'special-token text is plain text: <|endoftext|> <|im_start|>user<|im_end|>',
  '\u0000\u0001\u0002 control characters \u007f',
  'lone surrogate \ud800 here',
  'Ümläüte & ß, café, naïve — “quotes” … ellipsis',
];

test('textTokensUpperBound is never below the tokenizer count', () => {
  for (const t of TEXTS) assert.ok(textTokensUpperBound(t) >= countTextTokens(t), JSON.stringify(t.slice(0, 40)));
});

test('textTokensUpperBound also bounds the extrapolated count of texts past the exact limit', () => {
  // a multi-byte prefix (counted exactly) followed by ASCII: the extrapolation scales the prefix's density
  // (short pieces: the tokenizer is quadratic in the length of a run without spaces)
  const long = '東京の '.repeat(70_000) + 'ascii text '.repeat(10_000);
  assert.ok(long.length > 256 * 1024);
  assert.ok(textTokensUpperBound(long) >= countTextTokens(long));
});

test('promptTokensUpperBound ≥ estimatePromptTokens on a corpus of chat bodies', () => {
  const bodies: Record<string, unknown>[] = [
    { messages: [{ role: 'user', content: 'Say hello in five words.' }] },
    { messages: TEXTS.map((content, i) => ({ role: i % 2 ? 'assistant' : 'user', content })) },
    {
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: [{ type: 'text', text: 'Describe this image' }, { type: 'image_url', image_url: { url: 'https://example.com/a.png' } }] },
        { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'lookup', arguments: '{"q":"東京"}' } }] },
        { role: 'tool', tool_call_id: 'c1', content: '{"result":"ok"}' },
        { role: 'assistant', content: null, function_call: { name: 'f', arguments: '{}' } },
        { role: 'user', content: { unusual: 'shape' } },
      ],
      tools: [{ type: 'function', function: { name: 'lookup', description: 'Look things up', parameters: { type: 'object', properties: { q: { type: 'string' } } } } }],
      functions: [{ name: 'f', parameters: {} }],
      response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object' } } },
    },
    { messages: [{ role: 'user', content: 'x' }, 'not an object', null] },
    { messages: [{ role: 'user', content: 'lorem ipsum dolor '.repeat(3_000) + ' the end' }] },
  ];
  for (const [i, body] of bodies.entries()) {
    const exact = estimatePromptTokens(body);
    const bound = promptTokensUpperBound(body);
    assert.ok(bound >= exact, `body ${i}: bound ${bound} < estimate ${exact}`);
  }
});

test('special-token strings in a prompt are counted as text, not refused', () => {
  const n = estimatePromptTokens({ messages: [{ role: 'user', content: 'what is <|endoftext|>?' }] });
  assert.ok(n > 6);
});
