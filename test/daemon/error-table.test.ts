/**
 * One error table (daemon/http/errors.ts): every `ARB_*` code the code base throws has a row, so its HTTP
 * status and error shape are decided there and nowhere else; every row renders in every protocol's error
 * shape with a type the protocol knows.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeFailure, ERROR_TABLE, ProxyError } from '../../daemon/http/errors.js';
import { protocols } from '../../daemon/http/protocols/index.js';
import { ArbError, InputError } from '../../src/errors.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return sources(p);
    return /\.tsx?$/.test(name) ? [p] : [];
  });
}

/** Codes given to errors: `code = 'ARB_…'` (ArbError subclasses) and `new ProxyError('ARB_…'` / `? 'ARB_…' : 'ARB_…'` in its first argument. */
function thrownCodes(): Map<string, string> {
  const found = new Map<string, string>();
  for (const file of ['src', 'daemon', 'commands'].flatMap((d) => sources(join(root, d)))) {
    const text = readFileSync(file, 'utf8');
    const patterns = [/\bcode(?::\s*string)?\s*=\s*'(ARB_[A-Z_]+)'/g, /new ProxyError\(\s*([^,]+),/g];
    for (const re of patterns) {
      for (const m of text.matchAll(re)) {
        for (const code of m[1].match(/ARB_[A-Z_]+/g) ?? []) if (!found.has(code)) found.set(code, file.slice(root.length));
      }
    }
  }
  return found;
}

test('every ARB_* code thrown in src/, daemon/ and commands/ has a row in the error table', () => {
  const codes = thrownCodes();
  assert.ok(codes.size >= 25, `the scan finds the codes (found ${codes.size})`);
  const missing = [...codes].filter(([code]) => !(code in ERROR_TABLE)).map(([code, file]) => `${code} (${file})`);
  assert.deepEqual(missing, [], 'add a row to ERROR_TABLE in daemon/http/errors.ts for each');
});

test('every row renders in every protocol: status from the table, a non-empty error type, the public code', () => {
  for (const [code, row] of Object.entries(ERROR_TABLE)) {
    const f = describeFailure(new ProxyError(code, `message for ${code}`));
    assert.equal(f.status, row.status, code);
    assert.equal(f.code, row.publicCode, code);
    for (const [name, protocol] of Object.entries(protocols)) {
      const body = JSON.stringify(protocol.errorBody(f.kind, f.message, f.code));
      const type = /"type":"([a-z_]+)"/.exec(body.replace(/"type":"error",/, ''))?.[1];
      assert.ok(type && type !== 'error', `${name} gives ${code} an error type: ${body}`);
      assert.ok(body.includes(`message for ${code}`), `${name} keeps the message of ${code}`);
    }
  }
});

test('an ArbError is answered by its code; an unknown one is internal and its message is not shown', () => {
  assert.equal(describeFailure(new InputError('model: required; name a model', 'model')).status, 400);
  assert.equal(describeFailure(new InputError('model: required; name a model', 'model')).param, 'model');
  const internal = describeFailure(new ArbError('secret detail'));
  assert.equal(internal.status, 500);
  assert.ok(!internal.message.includes('secret detail'));
  assert.equal(describeFailure(new Error('boom')).code, 'internal_error');
});
