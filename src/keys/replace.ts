/**
 * Replacing a key (🔁 Replace key in the bot, `arb keys replace`): the allocation gets a new key and the old
 * one stops working at once — tokens, expiry and usage stay with the allocation, so nothing is lost or
 * granted. Both halves are logged as security events (the old key revoked, the new one issued).
 */
import type { DbHandle } from '../db/dialect.js';
import { InputError, NotFoundError } from '../errors.js';
import { allocationFromRow, type KeyAllocation } from './allocations.js';
import { generateApiKey } from './api-key.js';
import { logSecurityEvent, type Logger } from '../logger.js';
import { toDbTime } from '../time.js';

/** The key is no longer the one the caller saw (replaced in the meantime): nothing changed. */
export class KeyAlreadyReplacedError extends InputError {}

export interface ReplaceKeyResult {
  allocation: KeyAllocation;
  /** the new full key, shown once */
  apiKey: string;
  /** masked form of the key that stopped working */
  oldMasked: string;
}

export interface ReplaceKeyOptions {
  logger?: Logger;
  now?: Date;
  /** who asked, for the log: `customer`, `cli`, … */
  by: string;
  /**
   * replace only while the key is still this one (a prefix of its stored hash): a second tap on the same
   * confirmation finds the key already replaced and changes nothing
   */
  expectHashPrefix?: string;
}

/** Replaces the key of an active, unexpired allocation. */
export async function replaceKey(handle: DbHandle, allocationId: number, options: ReplaceKeyOptions): Promise<ReplaceKeyResult> {
  const now = options.now ?? new Date();
  const nowText = toDbTime(now);
  const before = await handle.db
    .selectFrom('ai_token_allocations as a')
    .innerJoin('users as u', 'u.id', 'a.user_id')
    .selectAll('a')
    .select('u.telegram_id')
    .where('a.id', '=', allocationId)
    .executeTakeFirst();
  if (!before) throw new NotFoundError(`key: no key allocation ${allocationId}; see arb keys list`, 'key');
  if (before.status !== 'active' || before.expires_at <= nowText) {
    throw new InputError(`key: ${before.api_key} is ${before.status === 'active' ? 'expired' : before.status}; only an active key can be replaced`, 'key');
  }
  if (options.expectHashPrefix !== undefined && !before.api_key_hash.startsWith(options.expectHashPrefix)) {
    throw new KeyAlreadyReplacedError(`key: ${before.api_key} was replaced already`, 'key');
  }
  const key = generateApiKey();
  const updated = await handle.db
    .updateTable('ai_token_allocations')
    .set({ api_key: key.masked, api_key_hash: key.hash, updated_at: nowText })
    .where('id', '=', allocationId)
    .where('api_key_hash', '=', before.api_key_hash)
    .where('status', '=', 'active')
    .returningAll()
    .executeTakeFirst();
  if (!updated) throw new KeyAlreadyReplacedError(`key: ${before.api_key} changed while it was being replaced; look it up again`, 'key');
  if (options.logger) {
    const common = { allocation_id: allocationId, user_id: Number(before.telegram_id), telegram_user_id: Number(before.telegram_id), by: options.by };
    logSecurityEvent(options.logger, { event: 'key_revoked', reason: 'replaced by a new key for the same allocation', key_masked: before.api_key, ...common });
    logSecurityEvent(options.logger, { event: 'key_issued', reason: `replacement for ${before.api_key}`, key_masked: key.masked, ...common });
  }
  return { allocation: allocationFromRow(updated, before.telegram_id), apiKey: key.key, oldMasked: before.api_key };
}
