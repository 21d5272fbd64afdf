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
  /** pay what is missing in Stars and buy the package once the payment arrives */
  payAndBuy: (packageId: number) => data('s', 'pb', packageId),
  balance: () => data('b'),
  /** 🎁 Redeem a code (asks for it) */
  redeem: () => data('r'),
  keys: () => data('k'),
  keyReplace: (allocationId: number) => data('k', 'r', allocationId),
  /** carries the start of the key's hash: a second tap finds the key already replaced */
  keyReplaceDo: (allocationId: number, hashPrefix: string) => data('k', 'ry', allocationId, hashPrefix),
  topup: () => data('t'),
  /** the top-up amounts, remembering the package the customer came from */
  topupFor: (packageId: number) => data('t', 'f', packageId),
  topupAmount: (stars: number, packageId?: number) => (packageId === undefined ? data('t', stars) : data('t', stars, packageId)),
  admin: () => data('a'),
  adminStats: () => data('a', 's'),
  adminPackages: (page: number) => data('a', 'p', page),
  adminToggle: (packageId: number, page: number) => data('a', 't', packageId, page),
  adminCreate: () => data('a', 'n'),
  adminCleanup: () => data('a', 'c'),
  /** customer: ✉️ Support (asks for the message) */
  support: () => data('u'),
  /** customer: ✉️ Reply on an answer to ticket `id` */
  supportFollowUp: (ticketId: number) => data('u', 'r', ticketId),
  adminTickets: (page: number) => data('a', 'tk', page),
  adminTicket: (ticketId: number) => data('a', 'tv', ticketId),
  adminTicketReply: (ticketId: number) => data('a', 'tr', ticketId),
  adminTicketClose: (ticketId: number) => data('a', 'tc', ticketId),
  /** the Stars payment (its top-up ledger row id) to refund: ask, refund, refund recording a loss */
  adminRefund: (transactionId: number) => data('a', 'rf', transactionId),
  adminRefundDo: (transactionId: number) => data('a', 'ry', transactionId),
  adminRefundForce: (transactionId: number) => data('a', 'rl', transactionId),
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
  payAndBuy: /^s:pb:(\d+)$/,
  balance: /^b$/,
  redeem: /^r$/,
  keys: /^k$/,
  keyReplace: /^k:r:(\d+)$/,
  keyReplaceDo: /^k:ry:(\d+):([0-9a-f]{8,16})$/,
  topup: /^t$/,
  topupFor: /^t:f:(\d+)$/,
  topupAmount: /^t:(\d+)(?::(\d+))?$/,
  admin: /^a(?::|$)/,
  adminMenu: /^a$/,
  adminStats: /^a:s$/,
  adminPackages: /^a:p:(\d+)$/,
  adminToggle: /^a:t:(\d+):(\d+)$/,
  adminCreate: /^a:n$/,
  adminCleanup: /^a:c$/,
  support: /^u$/,
  supportFollowUp: /^u:r:(\d+)$/,
  adminTickets: /^a:tk:(\d+)$/,
  adminTicket: /^a:tv:(\d+)$/,
  adminTicketReply: /^a:tr:(\d+)$/,
  adminTicketClose: /^a:tc:(\d+)$/,
  adminRefund: /^a:rf:(\d+)$/,
  adminRefundDo: /^a:ry:(\d+)$/,
  adminRefundForce: /^a:rl:(\d+)$/,
  noop: /^x$/,
};

export function parseCategory(text: string): CategoryRef {
  return text === 'a' ? 'a' : Number(text);
}

/** A fresh purchase nonce: 72 random bits, base64url (12 chars). A confirm button carries one; it becomes the purchase reference. */
export function newNonce(): string {
  return randomBytes(9).toString('base64url');
}
