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
  /** confirmed: take a package off sale */
  adminDisable: (packageId: number, page: number) => data('a', 'd', packageId, page),
  adminCreate: () => data('a', 'n'),
  adminCleanup: () => data('a', 'c'),
  /** 🗂 Categories: list, one, new (under a parent; 0 = top level), rename, delete (ask / confirmed) */
  adminCategories: () => data('a', 'g'),
  adminCategory: (id: number) => data('a', 'gv', id),
  adminCategoryNew: (parentId: number) => data('a', 'gn', parentId),
  adminCategoryRename: (id: number) => data('a', 'gr', id),
  adminCategoryDelete: (id: number) => data('a', 'gd', id),
  adminCategoryDeleteDo: (id: number) => data('a', 'gy', id),
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
  /** ➕ Create Package conversation: a model (ai_models id), a category (0 = none), create, set a price, cancel */
  createModel: (modelRowId: number) => data('c', 'm', modelRowId),
  createCategory: (categoryId: number) => data('c', 'c', categoryId),
  createConfirm: () => data('c', 'ok'),
  createSetPrice: () => data('c', 'p'),
  createCancel: () => data('c', 'x'),
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
  adminDisable: /^a:d:(\d+):(\d+)$/,
  adminCreate: /^a:n$/,
  adminCleanup: /^a:c$/,
  adminCategories: /^a:g$/,
  adminCategory: /^a:gv:(\d+)$/,
  adminCategoryNew: /^a:gn:(\d+)$/,
  adminCategoryRename: /^a:gr:(\d+)$/,
  adminCategoryDelete: /^a:gd:(\d+)$/,
  adminCategoryDeleteDo: /^a:gy:(\d+)$/,
  support: /^u$/,
  supportFollowUp: /^u:r:(\d+)$/,
  adminTickets: /^a:tk:(\d+)$/,
  adminTicket: /^a:tv:(\d+)$/,
  adminTicketReply: /^a:tr:(\d+)$/,
  adminTicketClose: /^a:tc:(\d+)$/,
  adminRefund: /^a:rf:(\d+)$/,
  adminRefundDo: /^a:ry:(\d+)$/,
  adminRefundForce: /^a:rl:(\d+)$/,
  createAny: /^c:/,
  createModel: /^c:m:(\d+)$/,
  createCategory: /^c:c:(\d+)$/,
  createConfirm: /^c:ok$/,
  createSetPrice: /^c:p$/,
  createCancel: /^c:x$/,
  noop: /^x$/,
};

export function parseCategory(text: string): CategoryRef {
  return text === 'a' ? 'a' : Number(text);
}

/** A fresh purchase nonce: 72 random bits, base64url (12 chars). A confirm button carries one; it becomes the purchase reference. */
export function newNonce(): string {
  return randomBytes(9).toString('base64url');
}
