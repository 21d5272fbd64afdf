/**
 * The cost-field cut on JSON text (daemon/http/scrub.ts): members removed wherever they are (first, last,
 * middle, nested, several in a row), whatever their values, the JSON still valid and otherwise the same;
 * look-alikes inside strings untouched; a stream cut per complete event however its bytes are split.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createStreamScrubber, scrubJson } from '../../daemon/http/scrub.js';

/** The object without the cost keys, the way a parse-delete-serialise would give it. */
function expected(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(expected);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([k]) => !['provider', 'cost', 'cost_details'].includes(k))
        .map(([k, v]) => [k, expected(v)]),
    );
  }
  return value;
}

const BODIES: unknown[] = [
  { provider: 'OpenAI', id: 'x', usage: { prompt_tokens: 1, cost: 0.0001, cost_details: { upstream_inference_cost: null, a: [1, { b: 2 }] } } },
  { id: 'x', usage: { cost: 1e-7 } },
  { cost: 3, provider: 'a', cost_details: {}, keep: true },
  { keep: 1, cost: 2, provider: 'p' },
  { a: 'the "cost": 5 and "provider":"x" as text', nested: [{ provider: { name: 'deep' } }, { c: 'cost' }], cost: -1.5e-3 },
  { message: { provider: null, content: 'say "cost_details":{}' }, usage: { cost: 0, is_byok: false } },
  { '\\"cost': 1, x: 'esc \\ "backslash" cost' },
  [],
  { nothing: 'to cut', cost_basis: 2, provider_name: 'kept' },
];

test('scrubJson removes the cost members anywhere and leaves valid, otherwise identical JSON', () => {
  for (const body of BODIES) {
    for (const text of [JSON.stringify(body), JSON.stringify(body, null, 2)]) {
      const out = scrubJson(text);
      assert.deepEqual(JSON.parse(out), expected(body), out);
    }
  }
  const none = JSON.stringify({ plain: 'body' });
  assert.equal(scrubJson(none), none, 'the same string when there is nothing to cut');
});

test('a stream is cut per complete event, however its text is split', () => {
  const events = [
    ': OPENROUTER PROCESSING\n\n',
    ...BODIES.filter((b) => !Array.isArray(b)).map((b) => `data: ${JSON.stringify(b)}\n\n`),
    'event: message_delta\r\ndata: {"type":"message_delta","usage":{"output_tokens":3,"cost":0.2}}\r\n\r\n',
    'data: [DONE]\n\n',
  ];
  const whole = events.join('');
  let seed = 5;
  const rnd = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  for (let n = 0; n < 200; n++) {
    const s = createStreamScrubber();
    let out = '';
    for (let at = 0; at < whole.length;) {
      const len = 1 + Math.floor(rnd() * 80);
      out += s.push(whole.slice(at, at + len));
      at += len;
    }
    out += s.end();
    assert.ok(!/(?<!\\)"(cost|cost_details|provider)"\s*:/.test(out), out);
    const data = out.split(/\r?\n\r?\n/).filter((e) => e.includes('data: {'));
    assert.equal(data.length, events.length - 2);
    for (const e of data) JSON.parse(e.slice(e.indexOf('data: ') + 6));
    assert.ok(out.startsWith(': OPENROUTER PROCESSING\n\n') && out.endsWith('data: [DONE]\n\n'));
  }
});
