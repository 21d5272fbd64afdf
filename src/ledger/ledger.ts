/**
 * The ledger: every balance change is one append-only `transactions` row written in the same database
 * transaction as the balance update. Balances never go negative: debits are conditional updates.
 */
import type { Kysely } from 'kysely';
import type { Config } from '../config.js';
import type { Database, TransactionRow, TransactionType, UserRow } from '../db/database.js';
import { transact, type DbHandle } from '../db/dialect.js';
import { isUniqueViolation } from '../db/errors.js';
import { InputError, InsufficientBalanceError, NotFoundError } from '../errors.js';
import { logArbitrage, logBusinessEvent, logTransaction, type Logger } from '../logger.js';
import { microsToUsd } from '../money.js';
import { addDays, nowDb, toDbTime } from '../time.js';
import { allocationFromRow, type KeyAllocation } from '../keys/allocations.js';
import { generateApiKey } from '../keys/api-key.js';

export interface LedgerDeps {
  handle: DbHandle;
  logger?: Logger;
  /**
   * PACKAGE_VALIDITY_DAYS fallback when a package has none; with MIN_PROFIT_MARGIN a sale is refused when
   * the stored price is below the floor over the stored cost (settings changed, prices not yet updated)
   */
  config?: Pick<Config, 'packageValidityDays'> & Partial<Pick<Config, 'minProfitMarginBp'>>;
  /** Test seam: called at named points inside money transactions; throwing there must roll everything back. */
  faultPoint?: (stage: string) => void;
  now?: () => Date;
}

export interface UserProfile {
  telegramId: number;
  username?: string | null;
  firstName?: string | null;
  languageCode?: string | null;
}

function validateTelegramId(id: unknown): number {
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0) {
    throw new InputError(`telegram_id: "${id}" is not a Telegram user id; use the numeric id, e.g. 123456789`, 'telegram_id');
  }
  return id;
}

/** A customer: a Telegram user with a balance. */
export interface User {
  /** users.id (the ledger's and allocations' user_id) */
  id: number;
  telegramId: number;
  username: string | null;
  firstName: string | null;
  languageCode: string | null;
  balanceMicros: number;
  /** UTC `YYYY-MM-DD HH:MM:SS` */
  createdAt: string;
  updatedAt: string;
}

/** The user of a `users` row (numbers as numbers: PostgreSQL returns bigints as text). */
function userFromRow(r: UserRow): User {
  return {
    id: Number(r.id),
    telegramId: Number(r.telegram_id),
    username: r.username,
    firstName: r.first_name,
    languageCode: r.language_code,
    balanceMicros: Number(r.balance),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export async function upsertUser(db: Kysely<Database>, profile: UserProfile, now: string): Promise<User> {
  const telegramId = validateTelegramId(profile.telegramId);
  const updates: Record<string, string | null> = {};
  if (profile.username !== undefined) updates.username = profile.username;
  if (profile.firstName !== undefined) updates.first_name = profile.firstName;
  if (profile.languageCode !== undefined) updates.language_code = profile.languageCode;
  const existing = await db.selectFrom('users').selectAll().where('telegram_id', '=', telegramId).executeTakeFirst();
  if (existing) {
    const changed = Object.entries(updates).some(([k, v]) => (existing as Record<string, unknown>)[k] !== v);
    if (!changed) return userFromRow(existing);
    const row = await db
      .updateTable('users')
      .set({ ...updates, updated_at: now })
      .where('id', '=', existing.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    return userFromRow(row);
  }
  const row = await db
    .insertInto('users')
    .values({
      telegram_id: telegramId,
      username: profile.username ?? null,
      first_name: profile.firstName ?? null,
      language_code: profile.languageCode ?? null,
      balance: 0,
      created_at: now,
      updated_at: now,
    })
    .onConflict((oc) => oc.column('telegram_id').doUpdateSet({ updated_at: now }))
    .returningAll()
    .executeTakeFirstOrThrow();
  return userFromRow(row);
}

/** Creates the user on first contact; refreshes name/language when they change. */
export async function ensureUser(handle: DbHandle, profile: UserProfile): Promise<User> {
  return transact(handle, (trx) => upsertUser(trx, profile, nowDb()));
}

export async function findUserByTelegramId(handle: DbHandle, telegramId: number): Promise<User | undefined> {
  const row = await handle.db.selectFrom('users').selectAll().where('telegram_id', '=', telegramId).executeTakeFirst();
  return row && userFromRow(row);
}

/** One ledger row: a signed change of a user's balance and the balance after it. */
export interface LedgerEntry {
  id: number;
  /** users.id */
  userId: number;
  type: TransactionType;
  /** signed µ$ */
  amountMicros: number;
  balanceAfterMicros: number;
  /** unique where external (telegram_payment_charge_id, purchase request id, …) */
  reference: string | null;
  packageId: number | null;
  allocationId: number | null;
  note: string | null;
  /** UTC `YYYY-MM-DD HH:MM:SS` */
  createdAt: string;
}

/** The ledger entry of a `transactions` row (numbers as numbers: PostgreSQL returns bigints as text). */
function ledgerEntryFromRow(r: TransactionRow): LedgerEntry {
  return {
    id: Number(r.id),
    userId: Number(r.user_id),
    type: r.type,
    amountMicros: Number(r.amount),
    balanceAfterMicros: Number(r.balance_after),
    reference: r.reference,
    packageId: r.package_id === null ? null : Number(r.package_id),
    allocationId: r.allocation_id === null ? null : Number(r.allocation_id),
    note: r.note,
    createdAt: r.created_at,
  };
}

/** A user's latest ledger entries, newest first. */
export async function listTransactions(handle: DbHandle, userId: number, limit = 10): Promise<LedgerEntry[]> {
  const rows = await handle.db.selectFrom('transactions').selectAll().where('user_id', '=', userId).orderBy('id', 'desc').limit(limit).execute();
  return rows.map(ledgerEntryFromRow);
}

/**
 * Applies a signed amount to a user's balance and writes its ledger row, inside `trx`.
 * Refuses (InsufficientBalanceError) when the balance would go negative.
 */
export async function applyBalanceChange(
  trx: Kysely<Database>,
  user: Pick<User | UserRow, 'id'>,
  entry: { type: TransactionType; amount: number; reference?: string | null; packageId?: number | null; allocationId?: number | null; note?: string | null },
  now: string,
): Promise<{ transaction: LedgerEntry; balance: number }> {
  const updated = await trx
    .updateTable('users')
    .set((eb) => ({ balance: eb('balance', '+', entry.amount), updated_at: now }))
    .where('id', '=', user.id)
    .where((eb) => eb(eb('balance', '+', entry.amount), '>=', 0))
    .returning('balance')
    .executeTakeFirst();
  if (!updated) {
    const current = await trx.selectFrom('users').select('balance').where('id', '=', user.id).executeTakeFirstOrThrow();
    throw new InsufficientBalanceError(current.balance, -entry.amount);
  }
  const row = await trx
    .insertInto('transactions')
    .values({
      user_id: user.id,
      type: entry.type,
      amount: entry.amount,
      balance_after: updated.balance,
      reference: entry.reference ?? null,
      package_id: entry.packageId ?? null,
      allocation_id: entry.allocationId ?? null,
      note: entry.note ?? null,
      created_at: now,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return { transaction: ledgerEntryFromRow(row), balance: updated.balance };
}

async function findByReference(handle: DbHandle, reference: string): Promise<TransactionRow | undefined> {
  return handle.db.selectFrom('transactions').selectAll().where('reference', '=', reference).executeTakeFirst();
}

export interface CreditInput {
  telegramId: number;
  amountMicros: number;
  type: 'topup' | 'adjustment';
  /** external id (telegram_payment_charge_id, …): a repeated reference credits nothing */
  reference?: string;
  note?: string;
  /** where the money came from, logged with the event: 'telegram_stars', 'admin', 'cli', … */
  source?: string;
  profile?: Omit<UserProfile, 'telegramId'>;
}

export interface CreditResult {
  user: User;
  transaction: LedgerEntry;
  duplicate: boolean;
}

/**
 * Credits (or, for a negative adjustment, debits) a balance. Idempotent on `reference`. Logged as a
 * `balance_topup` / `balance_adjustment` business event: a balance change is not revenue.
 */
export async function creditUser(deps: LedgerDeps, input: CreditInput): Promise<CreditResult> {
  validateTelegramId(input.telegramId);
  if (!Number.isSafeInteger(input.amountMicros) || input.amountMicros === 0) {
    throw new InputError('amount: must be a non-zero amount in USD, e.g. 10 or 2.50', 'amount');
  }
  if (input.type === 'topup' && input.amountMicros < 0) {
    throw new InputError('amount: a top-up must be positive; use an adjustment to correct a balance downwards', 'amount');
  }
  if (Math.abs(input.amountMicros) > 1_000_000 * 1_000_000) {
    throw new InputError('amount: more than $1,000,000 in one credit; split it or check the number', 'amount');
  }
  const run = async (): Promise<CreditResult> =>
    transact(deps.handle, async (trx) => {
      const now = toDbTime(deps.now?.() ?? new Date());
      if (input.reference) {
        const dup = await trx.selectFrom('transactions').selectAll().where('reference', '=', input.reference).executeTakeFirst();
        if (dup) {
          const user = await trx.selectFrom('users').selectAll().where('id', '=', dup.user_id).executeTakeFirstOrThrow();
          return { user: userFromRow(user), transaction: ledgerEntryFromRow(dup), duplicate: true };
        }
      }
      const user = await upsertUser(trx, { telegramId: input.telegramId, ...input.profile }, now);
      deps.faultPoint?.('credit:before-update');
      const { transaction, balance } = await applyBalanceChange(trx, user, { type: input.type, amount: input.amountMicros, reference: input.reference, note: input.note }, now);
      deps.faultPoint?.('credit:after-insert');
      return { user: { ...user, balanceMicros: balance }, transaction, duplicate: false };
    });
  let result: CreditResult;
  try {
    result = await run();
  } catch (e) {
    // Two concurrent deliveries of the same external reference: the loser sees the winner's row.
    if (input.reference && isUniqueViolation(e)) {
      const dup = await findByReference(deps.handle, input.reference);
      if (dup) {
        const user = await deps.handle.db.selectFrom('users').selectAll().where('id', '=', dup.user_id).executeTakeFirstOrThrow();
        return { user: userFromRow(user), transaction: ledgerEntryFromRow(dup), duplicate: true };
      }
    }
    throw e;
  }
  if (!result.duplicate && deps.logger) {
    // money in, not revenue: a business event, never a `"transaction":true` line (SPEC §8)
    logBusinessEvent(deps.logger, {
      event_type: input.type === 'topup' ? 'balance_topup' : 'balance_adjustment',
      user_id: result.user.telegramId,
      amount: microsToUsd(input.amountMicros),
      amount_micros: input.amountMicros,
      transaction_id: result.transaction.id,
      balance_after: microsToUsd(result.transaction.balanceAfterMicros),
      ...(input.source ? { source: input.source } : {}),
    });
  }
  return result;
}

export interface PurchaseInput {
  telegramId: number;
  packageId: number;
  /** idempotency key (the bot's confirm-button nonce, …): a repeated reference buys nothing */
  reference?: string;
  /** grant without payment (recorded as a zero-amount adjustment; no revenue) */
  free?: boolean;
  profile?: Omit<UserProfile, 'telegramId'>;
}

export interface PurchaseResult {
  allocation: KeyAllocation;
  /** the full key, shown once; null for a duplicate */
  apiKey: string | null;
  transaction: LedgerEntry;
  duplicate: boolean;
}

/** Debit + allocation + key in one transaction. Insufficient balance throws and moves nothing. */
export async function purchasePackage(deps: LedgerDeps, input: PurchaseInput): Promise<PurchaseResult> {
  validateTelegramId(input.telegramId);
  if (!Number.isSafeInteger(input.packageId) || input.packageId <= 0) {
    throw new InputError(`package_id: "${input.packageId}" is not a package id; see \`arb package list\``, 'package_id');
  }
  const duplicateOf = async (db: Kysely<Database>, tx: TransactionRow): Promise<PurchaseResult> => {
    const row = await db.selectFrom('ai_token_allocations').selectAll().where('id', '=', tx.allocation_id!).executeTakeFirstOrThrow();
    return { allocation: allocationFromRow(row, input.telegramId), apiKey: null, transaction: ledgerEntryFromRow(tx), duplicate: true };
  };
  const key = generateApiKey();
  let pkgForLog: { cost: number; price: number; model: string; tokens: number } | undefined;
  const run = () =>
    transact(deps.handle, async (trx): Promise<PurchaseResult> => {
      const nowDate = deps.now?.() ?? new Date();
      const now = toDbTime(nowDate);
      if (input.reference) {
        const dup = await trx.selectFrom('transactions').selectAll().where('reference', '=', input.reference).executeTakeFirst();
        if (dup?.allocation_id) return duplicateOf(trx, dup);
      }
      const pkg = await trx.selectFrom('ai_token_packages').selectAll().where('id', '=', input.packageId).executeTakeFirst();
      if (!pkg) throw new NotFoundError(`package_id: no package ${input.packageId}; see \`arb package list --all\``, 'package_id');
      if (!pkg.is_available && !input.free) {
        throw new NotFoundError(
          `package_id: package ${input.packageId} is not available for sale${pkg.hold_reason ? ` (on hold: ${pkg.hold_reason})` : ''}; enable it first with \`arb package enable ${pkg.id}\``,
          'package_id',
        );
      }
      const minMarginBp = deps.config?.minProfitMarginBp;
      // the stored cost is rounded up to a µ$: compare with the least exact cost it can stand for (no false refusals)
      if (!input.free && minMarginBp !== undefined && BigInt(pkg.price) * 10_000n < BigInt(Math.max(0, pkg.cost - 1)) * BigInt(10_000 + minMarginBp)) {
        throw new NotFoundError(
          `package_id: package ${pkg.id} is priced ${microsToUsd(pkg.price)} USD, below the margin floor over its cost at the current MIN_PROFIT_MARGIN; it is not sold until repriced: run \`arb package reprice --all\` (the daemon does it at start)`,
          'package_id',
        );
      }
      pkgForLog = pkg;
      const user = await upsertUser(trx, { telegramId: input.telegramId, ...input.profile }, now);
      const price = input.free ? 0 : pkg.price;
      if (user.balanceMicros < price) throw new InsufficientBalanceError(user.balanceMicros, price);
      const validity = pkg.validity_days || deps.config?.packageValidityDays || 30;
      const row = await trx
        .insertInto('ai_token_allocations')
        .values({
          user_id: user.id,
          package_id: pkg.id,
          api_key: key.masked,
          api_key_hash: key.hash,
          model: pkg.model,
          tokens_total: pkg.tokens,
          tokens_reserved: 0,
          tokens_used: 0,
          price_paid: price,
          cost_basis: pkg.cost,
          expires_at: toDbTime(addDays(nowDate, validity)),
          status: 'active',
          alerted_usage_at: null,
          alerted_expiry_at: null,
          created_at: now,
          updated_at: now,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      const allocation = allocationFromRow(row, input.telegramId);
      deps.faultPoint?.('purchase:after-allocation');
      let transaction: LedgerEntry;
      if (input.free) {
        const row = await trx
          .insertInto('transactions')
          .values({
            user_id: user.id,
            type: 'adjustment',
            amount: 0,
            balance_after: user.balanceMicros,
            reference: input.reference ?? null,
            package_id: pkg.id,
            allocation_id: allocation.id,
            note: `free grant of package ${pkg.id}`,
            created_at: now,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        transaction = ledgerEntryFromRow(row);
      } else {
        ({ transaction } = await applyBalanceChange(
          trx,
          user,
          { type: 'purchase', amount: -price, reference: input.reference ?? null, packageId: pkg.id, allocationId: allocation.id, note: pkg.description },
          now,
        ));
      }
      deps.faultPoint?.('purchase:after-debit');
      return { allocation, apiKey: key.key, transaction, duplicate: false };
    });
  let result: PurchaseResult;
  try {
    result = await run();
  } catch (e) {
    if (input.reference && isUniqueViolation(e)) {
      const dup = await findByReference(deps.handle, input.reference);
      if (dup?.allocation_id) return duplicateOf(deps.handle.db, dup);
    }
    throw e;
  }
  if (!result.duplicate && deps.logger && pkgForLog) logSale(deps.logger, input, result, pkgForLog);
  return result;
}

/**
 * The log lines of a sale (SPEC §8): the business event, the revenue `"transaction":true` line and the
 * `"arbitrage":true` `package_sale` line; a free grant is a business event only (no revenue).
 */
function logSale(logger: Logger, input: PurchaseInput, result: PurchaseResult, pkg: { cost: number; model: string; tokens: number }): void {
  const price = result.allocation.pricePaidMicros;
  const profit = input.free ? 0 : price - pkg.cost;
  logBusinessEvent(logger, {
    event_type: input.free ? 'token_package_granted' : 'token_package_sold',
    package_id: input.packageId,
    user_id: input.telegramId,
    model: pkg.model,
    tokens: pkg.tokens,
    revenue: microsToUsd(price),
    profit: microsToUsd(profit),
    allocation_id: result.allocation.id,
  });
  if (input.free) return;
  logTransaction(logger, {
    type: 'token_package_purchase',
    amount: microsToUsd(price),
    amount_micros: price,
    user_id: input.telegramId,
    package_id: input.packageId,
    transaction_id: result.transaction.id,
  });
  logArbitrage(logger, {
    operation: 'package_sale',
    model: pkg.model,
    tokens: pkg.tokens,
    cost: microsToUsd(pkg.cost),
    sell_price: microsToUsd(price),
    profit: microsToUsd(profit),
    margin_percent: pkg.cost === 0 ? 0 : Math.round((profit / pkg.cost) * 1000) / 10,
    package_id: input.packageId,
    user_id: input.telegramId,
    allocation_id: result.allocation.id,
  });
}

export interface RefundResult {
  allocation: KeyAllocation;
  transaction: LedgerEntry | null;
  refundedMicros: number;
}

/**
 * Refunds an allocation's price to the balance — the unused share (price × unused / total, rounded down;
 * the default) or all of it (`share: 'full'`) — and revokes the key. Refused while requests are in flight
 * on it. Idempotent: a refunded allocation refunds nothing.
 */
export async function refundAllocation(deps: LedgerDeps, input: { allocationId: number; note?: string; share?: 'unused' | 'full' }): Promise<RefundResult> {
  const reference = `refund:allocation:${input.allocationId}`;
  const result = await transact(deps.handle, async (trx) => {
    const now = toDbTime(deps.now?.() ?? new Date());
    const allocation = await trx.selectFrom('ai_token_allocations').selectAll().where('id', '=', input.allocationId).executeTakeFirst();
    if (!allocation) throw new NotFoundError(`allocation: no key allocation ${input.allocationId}`, 'allocation');
    const dup = await trx.selectFrom('transactions').selectAll().where('reference', '=', reference).executeTakeFirst();
    const user = await trx.selectFrom('users').selectAll().where('id', '=', allocation.user_id).executeTakeFirstOrThrow();
    if (dup) return { allocation: allocationFromRow(allocation, user.telegram_id), transaction: ledgerEntryFromRow(dup), refundedMicros: 0 };
    if (allocation.tokens_reserved > 0) {
      throw new InputError(`allocation ${allocation.id} has requests in flight; retry in a few seconds`, 'allocation');
    }
    const unused = allocation.tokens_total - allocation.tokens_used;
    const refund = input.share === 'full' ? allocation.price_paid : Number((BigInt(allocation.price_paid) * BigInt(unused)) / BigInt(allocation.tokens_total));
    const revoked = await trx.updateTable('ai_token_allocations').set({ status: 'revoked', updated_at: now }).where('id', '=', allocation.id).returningAll().executeTakeFirstOrThrow();
    if (refund <= 0) return { allocation: allocationFromRow(revoked, user.telegram_id), transaction: null, refundedMicros: 0 };
    const { transaction } = await applyBalanceChange(
      trx,
      user,
      { type: 'refund', amount: refund, reference, packageId: allocation.package_id, allocationId: allocation.id, note: input.note ?? null },
      now,
    );
    return { allocation: allocationFromRow(revoked, user.telegram_id), transaction, refundedMicros: refund };
  });
  if (result.refundedMicros > 0 && deps.logger) {
    logTransaction(deps.logger, {
      type: 'refund',
      amount: -microsToUsd(result.refundedMicros),
      amount_micros: -result.refundedMicros,
      user_id: result.allocation.telegramId,
      package_id: result.allocation.packageId,
      allocation_id: result.allocation.id,
    });
  }
  return result;
}
