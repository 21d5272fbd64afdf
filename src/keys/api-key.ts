/**
 * The text of a customer API key: `sk-arb-` + 192 random bits (base64url). Only the SHA-256 (lookup) and a
 * masked display form are ever stored; the full key is shown once, at purchase.
 */
import * as crypto from 'node:crypto';

export const KEY_PREFIX = 'sk-arb-';

export interface GeneratedKey {
  key: string;
  hash: string;
  masked: string;
}

export function generateApiKey(): GeneratedKey {
  const key = KEY_PREFIX + crypto.randomBytes(24).toString('base64url');
  return { key, hash: hashApiKey(key), masked: maskApiKey(key) };
}

// One call per metered request. crypto.hash (Node ≥ 20.12) makes no Hash object: each of those is a native
// handle the next young-generation collection must visit (bench/proxy.bench.ts, its paced p99).
const sha256Hex: (text: string) => string = typeof crypto.hash === 'function' ? (text) => crypto.hash('sha256', text, 'hex') : (text) => crypto.createHash('sha256').update(text).digest('hex');

export function hashApiKey(key: string): string {
  return sha256Hex(key);
}

/** sk-arb-AbCd…wxyz */
export function maskApiKey(key: string): string {
  const body = key.startsWith(KEY_PREFIX) ? key.slice(KEY_PREFIX.length) : key;
  return `${KEY_PREFIX}${body.slice(0, 4)}…${body.slice(-4)}`;
}

/** Cheap shape check before any database lookup. */
export function looksLikeApiKey(text: string): boolean {
  return /^sk-arb-[A-Za-z0-9_-]{22,64}$/.test(text);
}
