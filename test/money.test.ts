import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatUsd, parseUsd, ceilToCent } from '../src/money.js';
import { InputError } from '../src/errors.js';

test('USD strings parse to exact µ$ without floats', () => {
  assert.equal(parseUsd('3.75'), 3_750_000);
  assert.equal(parseUsd('0.1'), 100_000);
  assert.equal(parseUsd('$10'), 10_000_000);
  assert.equal(parseUsd('-2.5'), -2_500_000);
  assert.equal(parseUsd('0.000001'), 1);
  assert.equal(parseUsd(0.3), 300_000);
  for (const bad of ['', 'abc', '1.2345678', '1,5', '1e3']) {
    assert.throws(
      () => parseUsd(bad, 'price'),
      (e: unknown) => e instanceof InputError && e.field === 'price' && /price:/.test(e.message),
    );
  }
});

test('formatting happens at the edge', () => {
  assert.equal(formatUsd(3_750_000), '$3.75');
  assert.equal(formatUsd(1_234_567_890_000), '$1,234,567.89');
  assert.equal(formatUsd(-500_000), '-$0.50');
  assert.equal(formatUsd(1_005_000), '$1.01');
  assert.equal(formatUsd(1_230_001, { precise: true }), '$1.230001');
  assert.equal(ceilToCent(1n), 10_000n);
  assert.equal(ceilToCent(10_000n), 10_000n);
});
