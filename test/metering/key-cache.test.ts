/**
 * KeyCache on its own: entries live `ttlMs` (never past the key's expiry), only active keys are kept,
 * the oldest goes first when full, and a TTL of 0 keeps nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyCache } from '../../src/metering/key-cache.js';
import type { MeteredKey } from '../../src/metering/store.js';

const key = (id: number, status: MeteredKey['status'] = 'active', expiresAt = '2099-01-01 00:00:00'): MeteredKey => ({
  id,
  telegramId: 1001,
  packageId: 1,
  model: 'openai/gpt-4',
  maskedKey: 'sk-arb-AbCd…wxyz',
  status,
  expiresAt,
  tokensTotal: 1000,
  tokensUsed: 0,
  tokensReserved: 0,
  pricePaidMicros: 1,
  createdAt: '2026-01-01 00:00:00',
  promptRate: 30_000_000,
  completionRate: 60_000_000,
  maxCompletionTokens: 4096,
  contextLength: 8191,
  cacheReadRate: null,
  cacheWriteRate: null,
});

test('KeyCache: a read lives ttlMs; revoked or expired reads are never kept; the oldest goes first when full; ttl 0 keeps nothing', () => {
  const cache = new KeyCache(1000, 2);
  cache.set('h1', key(1), 0);
  assert.equal(cache.get('h1', 999)?.id, 1);
  assert.equal(cache.get('h1', 1000), undefined, 'expired after ttlMs');
  assert.equal(cache.size, 0);

  cache.set('rev', key(2, 'revoked'), 0);
  cache.set('exp', key(3, 'expired'), 0);
  assert.equal(cache.size, 0);

  cache.set('a', key(4), 0);
  cache.set('b', key(5), 0);
  cache.set('c', key(6), 0);
  assert.equal(cache.size, 2);
  assert.equal(cache.get('a', 1), undefined, 'the oldest entry made room');
  assert.equal(cache.get('c', 1)?.id, 6);
  cache.delete('c');
  assert.equal(cache.get('c', 1), undefined);

  // never past the key's own expiry (an operator may extend it: the next request reads it again)
  const long = new KeyCache(5000);
  long.set('soon', key(8, 'active', '1970-01-01 00:00:02'), 0);
  assert.equal(long.get('soon', 1999)?.id, 8);
  assert.equal(long.get('soon', 2000), undefined);

  const off = new KeyCache(0);
  off.set('h', key(7));
  assert.equal(off.get('h'), undefined);
});
