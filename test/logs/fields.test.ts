import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FieldReader, LineRead, NESTED } from '../../src/logs/fields.js';
import { createChunkSearch } from '../../src/logs/search.js';

const NAMES = ['timestamp', 'level', 'transaction', 'amount', 'amount_micros', 'request_id', 'err', 'key'];

/** What JSON.parse makes of the line, in the reader's terms. */
function viaJsonParse(line: string): { ok: boolean; values?: unknown[] } {
  try {
    const o: unknown = JSON.parse(line);
    if (o === null || typeof o !== 'object' || Array.isArray(o)) return { ok: false };
    const rec = o as Record<string, unknown>;
    return { ok: true, values: NAMES.map((n) => (Object.hasOwn(rec, n) ? (rec[n] !== null && typeof rec[n] === 'object' ? NESTED : rec[n]) : undefined)) };
  } catch {
    return { ok: false };
  }
}

test('FieldReader accepts exactly the object lines JSON.parse accepts and decodes the same values', () => {
  const lines = [
    '{"timestamp":"2024-01-15T10:30:00.000Z","level":"INFO","transaction":true,"amount":3.75,"amount_micros":3750000}',
    '{"level":"ERROR","err":{"type":"Error","message":"a \\"quoted\\" \\\\ path\\nline","stack":["x",1,null,{"deep":[[]]}]},"request_id":"r-1"}',
    ' { "level" : "WARN" , "amount" : -1.25e2 ,"key":"sk-arb-AbCd…wxyz" } ',
    '{"level":"\\u0045RROR","request_id":"\\ud83d\\ude00","amount":0,"amount_micros":-0}',
    '{}',
    '{"amount":12345678901234567890,"amount_micros":1.5,"transaction":false,"key":null}',
    '{"level":"INFO","level":"ERROR"}',
    '{"timestamp":"2024-01-15T10:30:00.000Z","level":"INFO","transaction":true,"amount":',
    '{"timestamp":"broken","transaction":true',
    'garbage line with "transaction":true in it',
    '{"a":01}',
    '{"a":1.}',
    '{"a":.5}',
    '{"a":-}',
    '{"a":tru}',
    '{"a":"tab\there"}',
    '{"a":"bad escape \\x"}',
    '{"a":"\\u12"}',
    '{"a":[1,]}',
    '{"a":{"b":1,}}',
    '{"a":1,}',
    '{"a" 1}',
    '{a:1}',
    '[1,2]',
    '"text"',
    '{"a":1} trailing',
    '{"a":1}}',
    '{"a":[}',
    '{"a":"unterminated}',
    '',
    '   ',
    '{"a":1e}',
    '{"a":1E+5,"b":-0.0e-3}',
    '{"a":"\\/ok"}',
  ];
  const reader = new FieldReader(NAMES);
  for (const line of lines) {
    const buf = Buffer.from(`xx${line}yy`);
    const r = reader.read(buf, 2, buf.length - 2);
    const expected = viaJsonParse(line);
    assert.equal(r === LineRead.Ok, expected.ok, `accepts ${JSON.stringify(line)}`);
    if (expected.ok) assert.deepEqual(NAMES.map((_, slot) => reader.get(slot)), expected.values, line);
  }
});

test('FieldReader: nesting deeper than it follows is left to JSON.parse, byte tests agree with decoding', () => {
  const reader = new FieldReader(['level', 'transaction']);
  const deep = `{"level":"ERROR","x":${'['.repeat(100)}${']'.repeat(100)}}`;
  assert.equal(reader.read(Buffer.from(deep), 0, deep.length), LineRead.TooDeep);
  const line = Buffer.from('{"level":"\\u0045RROR","transaction":true}');
  assert.equal(reader.read(line, 0, line.length), LineRead.Ok);
  assert.equal(reader.isString(0, Buffer.from('ERROR')), true, 'an escaped spelling is the same string');
  assert.equal(reader.isString(0, Buffer.from('ERRORS')), false);
  assert.equal(reader.isTrue(1), true);
  assert.equal(reader.isFalse(1), false);
});

test('chunk search (SIMD when available) finds every occurrence indexOf finds, at any offset', () => {
  const needles = ['"level":"ERROR"', '"transaction":true', 'x', 'sk-arb-AbCd…', '"request_id":"req-7"'].map((n) => Buffer.from(n));
  let seed = 3;
  const rnd = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
  const pieces = ['{"a":1}', '\n', '"level":"ERROR"', '"level":"ERRO', '"transaction":true', '"transaction":tru', 'x', 'sk-arb-AbCd…', '"request_id":"req-7"', 'zzzzzzzzzzzzzzzzzzz', '"'];
  let text = '';
  while (text.length < 300_000) text += pieces[Math.floor(rnd() * pieces.length)];
  const data = Buffer.from(text);
  const search = createChunkSearch(needles, 64);
  search.grow(data.length);
  data.copy(search.buffer);
  for (let n = 0; n < needles.length; n++) {
    for (const [from, to] of [[0, data.length], [5, data.length - 3], [1000, 1017], [0, needles[n].length - 1]]) {
      const found: number[] = [];
      search.find(n, from, to, found);
      const expected: number[] = [];
      for (let p = data.indexOf(needles[n], from); p >= 0 && p + needles[n].length <= to; p = data.indexOf(needles[n], p + 1)) expected.push(p);
      assert.deepEqual(found, expected, `${needles[n]} in [${from}, ${to})`);
    }
  }
  assert.equal(typeof search.simd, 'boolean');
});
