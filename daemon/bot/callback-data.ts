/**
 * Callback data of every inline button, in one place, so the 64-byte limit is checked once.
 * Layout: a short feature prefix, then `:`-separated integer/base64url fields.
 */
import { randomBytes } from 'node:crypto';
import { MAX_CALLBACK_BYTES } from './format.js';

function data(...parts: (string | number)[]): string {
  const value = parts.join(':');
  if (Buffer.byteLength(value) > MAX_CALLBACK_BYTES) {
    throw new RangeError(`callback_data "${value}" is ${Buffer.byteLength(value)} bytes; Telegram allows ${MAX_CALLBACK_BYTES}`);
  }
  return value;
}

/** A category in the shop: a category id, `0` for packages without one, `a` for all. */
export type CategoryRef = number | 'a';

export const cb = {
  menu: () => data('m'),
  help: () => data('h'),
  shop: () => data('s'),
  category: (cat: CategoryRef, page: number) => data('s', 'c', cat, page),
  package: (packageId: number, cat: CategoryRef, page: number) => data('s', 'p', packageId, cat, page),
  buy: (packageId: number) => data('s', 'b', packageId),
  confirm: (packageId: number, nonce: string) => data('s', 'y', packageId, nonce),
  balance: () => data('b'),
  keys: () => data('k'),
  topup: () => data('t'),
  topupAmount: (stars: number) => data('t', stars),
  admin: () => data('a'),
  adminStats: () => data('a', 's'),
  adminPackages: (page: number) => data('a', 'p', page),
  adminToggle: (packageId: number, page: number) => data('a', 't', packageId, page),
  adminCreate: () => data('a', 'n'),
  adminCleanup: () => data('a', 'c'),
  noop: () => data('x'),
};

/** Patterns matching the data above (for `composer.callbackQuery`). */
export const cbPattern = {
  menu: /^m$/,
  help: /^h$/,
  shop: /^s$/,
  category: /^s:c:(\d+|a):(\d+)$/,
  package: /^s:p:(\d+):(\d+|a):(\d+)$/,
  buy: /^s:b:(\d+)$/,
  confirm: /^s:y:(\d+):([A-Za-z0-9_-]{8,32})$/,
  balance: /^b$/,
  keys: /^k$/,
  topup: /^t$/,
  topupAmount: /^t:(\d+)$/,
  admin: /^a(?::|$)/,
  adminMenu: /^a$/,
  adminStats: /^a:s$/,
  adminPackages: /^a:p:(\d+)$/,
  adminToggle: /^a:t:(\d+):(\d+)$/,
  adminCreate: /^a:n$/,
  adminCleanup: /^a:c$/,
  noop: /^x$/,
};

export function parseCategory(text: string): CategoryRef {
  return text === 'a' ? 'a' : Number(text);
}

/** A fresh purchase nonce: 72 random bits, base64url (12 chars). A confirm button carries one; it becomes the purchase reference. */
export function newNonce(): string {
  return randomBytes(9).toString('base64url');
}
