/**
 * The text of a customer API key: `sk-arb-` + 192 random bits (base64url). Only the SHA-256 (lookup) and a
 * masked display form are ever stored; the full key is shown once, at purchase.
 */
import { createHash, randomBytes } from 'node:crypto';

export const KEY_PREFIX = 'sk-arb-';

export interface GeneratedKey {
  key: string;
  hash: string;
  masked: string;
}

export function generateApiKey(): GeneratedKey {
  const key = KEY_PREFIX + randomBytes(24).toString('base64url');
  return { key, hash: hashApiKey(key), masked: maskApiKey(key) };
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
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
