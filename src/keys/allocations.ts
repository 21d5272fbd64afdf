/**
 * The key allocations customers bought (SPEC §6 `arb keys`): list (masked only), find by a prefix of the
 * masked form or of the full key, revoke. Selling a key is `purchasePackage` (src/ledger/ledger.ts); the
 * key text itself (generate, hash, mask) is ./api-key.ts.
 */
import { sql } from 'kysely';
import type { AllocationStatus } from '../db/database.js';
import type { DbHandle } from '../db/dialect.js';
import { InputError, NotFoundError } from '../errors.js';
import { hashApiKey, KEY_PREFIX, looksLikeApiKey } from './api-key.js';
import { logSecurityEvent, type Logger } from '../logger.js';
import { toDbTime } from '../time.js';

export interface KeyRow {
  id: number;
  telegramId: number;
  packageId: number;
  model: string;
  /** masked form, sk-arb-AbCd…wxyz */
  apiKey: string;
  tokensTotal: number;
  tokensUsed: number;
  tokensReserved: number;
  tokensRemaining: number;
  pricePaidMicros: number;
  /** stored status, except an 'active' key past its expiry shows as 'expired' */
  status: AllocationStatus;
  expiresAt: string;
  createdAt: string;
}

type Raw = {
  id: number;
  telegram_id: number;
  package_id: number;
  model: string;
  api_key: string;
  tokens_total: number;
  tokens_used: number;
  tokens_reserved: number;
  price_paid: number;
  status: AllocationStatus;
  expires_at: string;
  created_at: string;
};

function toRow(r: Raw, now: string): KeyRow {
  const tokensTotal = Number(r.tokens_total);
  const tokensUsed = Number(r.tokens_used);
  const tokensReserved = Number(r.tokens_reserved);
  return {
    id: Number(r.id),
    telegramId: Number(r.telegram_id),
    packageId: Number(r.package_id),
    model: r.model,
    apiKey: r.api_key,
    tokensTotal,
    tokensUsed,
    tokensReserved,
    tokensRemaining: tokensTotal - tokensUsed - tokensReserved,
    pricePaidMicros: Number(r.price_paid),
    status: r.status === 'active' && r.expires_at <= now ? 'expired' : r.status,
    expiresAt: r.expires_at,
    createdAt: r.created_at,
  };
}

function baseQuery(handle: DbHandle) {
  return handle.db
    .selectFrom('ai_token_allocations as a')
    .innerJoin('users as u', 'u.id', 'a.user_id')
    .select(['a.id', 'u.telegram_id', 'a.package_id', 'a.model', 'a.api_key', 'a.tokens_total', 'a.tokens_used', 'a.tokens_reserved', 'a.price_paid', 'a.status', 'a.expires_at', 'a.created_at']);
}

/** Keys, newest first; optionally one customer's. */
export async function listKeys(handle: DbHandle, options: { telegramId?: number; limit?: number; now?: Date } = {}): Promise<KeyRow[]> {
  let q = baseQuery(handle);
  if (options.telegramId !== undefined) q = q.where('u.telegram_id', '=', options.telegramId);
  const rows = (await q.orderBy('a.id', 'desc').limit(options.limit ?? 10_000).execute()) as Raw[];
  const now = toDbTime(options.now ?? new Date());
  return rows.map((r) => toRow(r, now));
}

/**
 * Keys matching what an operator typed: a full key (by its hash), a prefix of the masked form
 * (`sk-arb-AbCd…w`), or a prefix of the full key longer than the masked form shows (`sk-arb-AbCdEf12`).
 */
export async function findKeys(handle: DbHandle, text: string, options: { now?: Date } = {}): Promise<KeyRow[]> {
  const input = text.trim().replace(/\.\.\./g, '…');
  if (!input.startsWith(KEY_PREFIX) || input.length <= KEY_PREFIX.length) {
    throw new InputError(`key-prefix: "${text}" is not a key prefix; give the start of the key as shown by arb keys list, e.g. sk-arb-AbCd`, 'key-prefix');
  }
  const now = toDbTime(options.now ?? new Date());
  if (looksLikeApiKey(input)) {
    const exact = (await baseQuery(handle).where('a.api_key_hash', '=', hashApiKey(input)).execute()) as Raw[];
    if (exact.length > 0) return exact.map((r) => toRow(r, now));
  }
  // the masked form shows the first 4 characters after the prefix: narrow by them in SQL, then match
  const head = input.slice(0, KEY_PREFIX.length + 4).replace(/[\\%_]/g, (c) => `\\${c}`);
  const rows = (await baseQuery(handle).where(sql<boolean>`a.api_key like ${`${head}%`} escape '\\'`).orderBy('a.id').execute()) as Raw[];
  return rows
    .filter((r) => {
      const visible = r.api_key.split('…')[0];
      return r.api_key.startsWith(input) || (!input.includes('…') && input.startsWith(visible));
    })
    .map((r) => toRow(r, now));
}

/** The one key a prefix names; none → NotFoundError, several → InputError listing them. */
export async function findOneKey(handle: DbHandle, text: string): Promise<KeyRow> {
  const matches = await findKeys(handle, text);
  if (matches.length === 0) throw new NotFoundError(`key-prefix: no key matches "${text}"; see arb keys list`, 'key-prefix');
  if (matches.length > 1) {
    const listed = matches.slice(0, 10).map((k) => `${k.apiKey} (id ${k.id}, user ${k.telegramId}, ${k.model}, ${k.status})`);
    throw new InputError(
      `key-prefix: "${text}" matches ${matches.length} keys: ${listed.join('; ')}${matches.length > 10 ? '; …' : ''}; give more characters of the key (or the whole key)`,
      'key-prefix',
    );
  }
  return matches[0];
}

export interface RevokeResult {
  key: KeyRow;
  alreadyRevoked: boolean;
}

/** Revokes a key: status 'revoked', nothing else (no refund — see refundAllocation for that). */
export async function revokeKey(handle: DbHandle, text: string, options: { logger?: Logger; now?: Date } = {}): Promise<RevokeResult> {
  const key = await findOneKey(handle, text);
  const now = toDbTime(options.now ?? new Date());
  const r = await handle.db
    .updateTable('ai_token_allocations')
    .set({ status: 'revoked', updated_at: now })
    .where('id', '=', key.id)
    .where('status', '<>', 'revoked')
    .executeTakeFirst();
  const changed = Number(r.numUpdatedRows) > 0;
  if (changed && options.logger) {
    logSecurityEvent(options.logger, { event: 'key_revoked', reason: 'revoked by the operator (arb keys revoke)', allocation_id: key.id, user_id: key.telegramId, key_masked: key.apiKey });
  }
  return { key: { ...key, status: 'revoked' }, alreadyRevoked: !changed };
}
