/**
 * A key's stored form: the SHA-256 of its text in hex. Keys sold months ago are looked up by it, so the
 * digest must never change whichever way it is computed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { generateApiKey, hashApiKey, maskApiKey } from '../../src/keys/api-key.js';

test('hashApiKey is the SHA-256 of the key in hex, as stored for every key sold', () => {
  assert.equal(hashApiKey('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  for (let i = 0; i < 20; i++) {
    const { key, hash, masked } = generateApiKey();
    assert.match(key, /^sk-arb-[A-Za-z0-9_-]{32}$/);
    assert.equal(hash, createHash('sha256').update(key).digest('hex'));
    assert.equal(hash, hashApiKey(key));
    assert.equal(masked, maskApiKey(key));
    assert.ok(!masked.includes(key.slice(7, 30)), 'the masked form does not show the key');
  }
  // a key with characters outside ASCII (never generated, but a client may send anything) hashes as UTF-8
  assert.equal(hashApiKey('sk-arb-é'), createHash('sha256').update('sk-arb-é', 'utf8').digest('hex'));
});
