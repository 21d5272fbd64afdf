/**
 * The key allocations customers bought (SPEC §6 `arb keys`): list (masked only), find by a prefix of the
 * masked form or of the full key, revoke. Selling a key is `purchasePackage` (src/ledger/ledger.ts); the
 * key text itself (generate, hash, mask) is ./api-key.ts.
 */
import { sql } from 'kysely';
import type { AllocationRow, AllocationStatus } from '../db/database.js';
import type { DbHandle } from '../db/dialect.js';
import { InputError, NotFoundError } from '../errors.js';
import { hashApiKey, KEY_PREFIX, looksLikeApiKey } from './api-key.js';
import { logSecurityEvent, type Logger } from '../logger.js';
import { toDbTime } from '../time.js';

/**
 * A key allocation: what a customer bought — one model's tokens behind one API key, until an expiry. The
 * one shape of an allocation outside the database (the metering view adds its model's rates:
 * MeteredKey in src/metering/store.ts); the row itself is AllocationRow.
 */
export interface KeyAllocation {
  id: number;
  /** the customer's Telegram user id */
  telegramId: number;
  packageId: number;
  model: string;
  /** masked display form sk-arb-AbCd…wxyz (only the hash of the full key is stored) */
  maskedKey: string;
  /** the stored status; listKeys/findKeys show an 'active' key past its expiry as 'expired' */
  status: AllocationStatus;
  /** UTC `YYYY-MM-DD HH:MM:SS` */
  expiresAt: string;
  tokensTotal: number;
  tokensUsed: number;
  tokensReserved: number;
  /** µ$ paid (0 for a free grant) */
  pricePaidMicros: number;
  /** UTC `YYYY-MM-DD HH:MM:SS` */
  createdAt: string;
}

/** The columns of an allocation row KeyAllocation is made of. */
type AllocationColumns = Pick<AllocationRow, 'id' | 'package_id' | 'model' | 'api_key' | 'tokens_total' | 'tokens_used' | 'tokens_reserved' | 'price_paid' | 'status' | 'expires_at' | 'created_at'>;

/** The allocation of a database row (numbers as numbers: PostgreSQL returns bigints as text). */
export function allocationFromRow(r: AllocationColumns, telegramId: number): KeyAllocation {
  return {
    id: Number(r.id),
    telegramId: Number(telegramId),
    packageId: Number(r.package_id),
    model: r.model,
    maskedKey: r.api_key,
    status: r.status,
    expiresAt: r.expires_at,
    tokensTotal: Number(r.tokens_total),
    tokensUsed: Number(r.tokens_used),
    tokensReserved: Number(r.tokens_reserved),
    pricePaidMicros: Number(r.price_paid),
    createdAt: r.created_at,
  };
}

type Listed = AllocationColumns & { telegram_id: number };

/** A listed allocation: an 'active' key past its expiry shows as 'expired'. */
function listed(r: Listed, now: string): KeyAllocation {
  const a = allocationFromRow(r, r.telegram_id);
  return a.status === 'active' && a.expiresAt <= now ? { ...a, status: 'expired' } : a;
}

function baseQuery(handle: DbHandle) {
  return handle.db
    .selectFrom('ai_token_allocations as a')
    .innerJoin('users as u', 'u.id', 'a.user_id')
    .select(['a.id', 'u.telegram_id', 'a.package_id', 'a.model', 'a.api_key', 'a.tokens_total', 'a.tokens_used', 'a.tokens_reserved', 'a.price_paid', 'a.status', 'a.expires_at', 'a.created_at']);
}

/** Keys, newest first; optionally one customer's. */
export async function listKeys(handle: DbHandle, options: { telegramId?: number; limit?: number; now?: Date } = {}): Promise<KeyAllocation[]> {
  let q = baseQuery(handle);
  if (options.telegramId !== undefined) q = q.where('u.telegram_id', '=', options.telegramId);
  const rows = (await q
    .orderBy('a.id', 'desc')
    .limit(options.limit ?? 10_000)
    .execute()) as Listed[];
  const now = toDbTime(options.now ?? new Date());
  return rows.map((r) => listed(r, now));
}

/**
 * Keys matching what an operator typed: a full key (by its hash), a prefix of the masked form
 * (`sk-arb-AbCd…w`), or a prefix of the full key longer than the masked form shows (`sk-arb-AbCdEf12`).
 */
export async function findKeys(handle: DbHandle, text: string, options: { now?: Date } = {}): Promise<KeyAllocation[]> {
  const input = text.trim().replace(/\.\.\./g, '…');
  if (!input.startsWith(KEY_PREFIX) || input.length <= KEY_PREFIX.length) {
    throw new InputError(`key-prefix: "${text}" is not a key prefix; give the start of the key as shown by arb keys list, e.g. sk-arb-AbCd`, 'key-prefix');
  }
  const now = toDbTime(options.now ?? new Date());
  if (looksLikeApiKey(input)) {
    const exact = (await baseQuery(handle).where('a.api_key_hash', '=', hashApiKey(input)).execute()) as Listed[];
    if (exact.length > 0) return exact.map((r) => listed(r, now));
  }
  // the masked form shows the first 4 characters after the prefix: narrow by them in SQL, then match
  const head = input.slice(0, KEY_PREFIX.length + 4).replace(/[\\%_]/g, (c) => `\\${c}`);
  const rows = (await baseQuery(handle)
    .where(sql<boolean>`a.api_key like ${`${head}%`} escape '\\'`)
    .orderBy('a.id')
    .execute()) as Listed[];
  return rows
    .filter((r) => {
      const visible = r.api_key.split('…')[0];
      return r.api_key.startsWith(input) || (!input.includes('…') && input.startsWith(visible));
    })
    .map((r) => listed(r, now));
}

/** The one key a prefix names; none → NotFoundError, several → InputError listing them. */
export async function findOneKey(handle: DbHandle, text: string): Promise<KeyAllocation> {
  const matches = await findKeys(handle, text);
  if (matches.length === 0) throw new NotFoundError(`key-prefix: no key matches "${text}"; see arb keys list`, 'key-prefix');
  if (matches.length > 1) {
    const listed = matches.slice(0, 10).map((k) => `${k.maskedKey} (id ${k.id}, user ${k.telegramId}, ${k.model}, ${k.status})`);
    throw new InputError(
      `key-prefix: "${text}" matches ${matches.length} keys: ${listed.join('; ')}${matches.length > 10 ? '; …' : ''}; give more characters of the key (or the whole key)`,
      'key-prefix',
    );
  }
  return matches[0];
}

export interface RevokeResult {
  key: KeyAllocation;
  alreadyRevoked: boolean;
}

/** Revokes a key: status 'revoked', nothing else (no refund — see refundAllocation for that). */
export async function revokeKey(handle: DbHandle, text: string, options: { logger?: Logger; now?: Date } = {}): Promise<RevokeResult> {
  const key = await findOneKey(handle, text);
  const now = toDbTime(options.now ?? new Date());
  const r = await handle.db.updateTable('ai_token_allocations').set({ status: 'revoked', updated_at: now }).where('id', '=', key.id).where('status', '<>', 'revoked').executeTakeFirst();
  const changed = Number(r.numUpdatedRows) > 0;
  if (changed && options.logger) {
    logSecurityEvent(options.logger, { event: 'key_revoked', reason: 'revoked by the operator (arb keys revoke)', allocation_id: key.id, user_id: key.telegramId, key_masked: key.maskedKey });
  }
  return { key: { ...key, status: 'revoked' }, alreadyRevoked: !changed };
}
