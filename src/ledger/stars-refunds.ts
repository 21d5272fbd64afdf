/**
 * Refunding a Telegram Stars payment (`arb user refund <telegram_payment_charge_id>`, the admin's 💸 button):
 * Telegram gives the Stars back (refundStarPayment) and the ledger takes back what the payment credited —
 * exactly once per charge id.
 *
 * Order: a `star_refunds` row claims the charge (unique), then Telegram is asked, then one database
 * transaction writes the ledger rows and marks the claim done. A failed Telegram call drops the claim
 * (nothing changed); a crash after Telegram refunded leaves the claim pending and the next attempt resumes
 * it (Telegram then answers CHARGE_ALREADY_REFUNDED, which counts as done). The ledger rows carry unique
 * references, so they are written once whatever happens.
 *
 * Money: the payment credited C to the balance B. When B ≥ C, one adjustment row of −C takes it back (a
 * top-up was never revenue, so revenue does not move). When the customer already spent part of it, the
 * refund is refused unless forced; forced, the spent part S = C − B is the operator's loss: a `refund` row
 * of +S (a sale given back: revenue −S, logged as a negative transaction) and the adjustment of −C leave the
 * balance at 0 and `arb audit` clean.
 */
import { Api, GrammyError } from 'grammy';
import type { Insertable } from 'kysely';
import type { Config } from '../config.js';
import type { StarRefundsTable } from '../db/database.js';
import { transact, type DbHandle } from '../db/dialect.js';
import { ArbError, InputError, NotFoundError } from '../errors.js';
import { logBusinessEvent, logTransaction } from '../logger.js';
import { formatUsd, microsToUsd } from '../money.js';
import { toDbTime } from '../time.js';
import { isUniqueViolation } from '../db/errors.js';
import { applyBalanceChange, type LedgerDeps, type LedgerEntry } from './ledger.js';

/** The note of a Stars top-up row (written by the bot): `Telegram Stars: 100 XTR`. */
export const STARS_NOTE_PREFIX = 'Telegram Stars: ';

export function starsTopupNote(stars: number): string {
  return `${STARS_NOTE_PREFIX}${stars} XTR`;
}

/** Telegram refused or could not be asked; nothing was changed. */
export class StarRefundError extends ArbError {
  override readonly code = 'ARB_STARS_REFUND_FAILED';
}

/** Gives the Stars of a payment back (the Bot API's refundStarPayment). */
export type StarRefunder = (telegramUserId: number, chargeId: string) => Promise<unknown>;

/** refundStarPayment through the Bot API at TELEGRAM_API_ROOT (for the CLI; the bot passes its own api). */
export function botApiStarRefunder(config: Pick<Config, 'token' | 'telegramApiRoot'>): StarRefunder {
  if (!config.token) throw new InputError('TOKEN: not set; refunding a Stars payment asks Telegram with the bot token', 'TOKEN');
  const api = new Api(config.token, { apiRoot: config.telegramApiRoot });
  return (userId, chargeId) => api.refundStarPayment(userId, chargeId);
}

export interface StarsPayment {
  chargeId: string;
  transactionId: number;
  userId: number;
  telegramId: number;
  stars: number;
  creditedMicros: number;
  createdAt: string;
}

function starsPaymentQuery(handle: DbHandle) {
  return handle.db
    .selectFrom('transactions as t')
    .innerJoin('users as u', 'u.id', 't.user_id')
    .select(['t.id', 't.reference', 't.user_id', 'u.telegram_id', 't.amount', 't.note', 't.created_at'])
    .where('t.type', '=', 'topup')
    .where('t.note', 'like', `${STARS_NOTE_PREFIX}%`);
}

type PaymentRow = { id: number; reference: string | null; user_id: number; telegram_id: number; amount: number; note: string | null; created_at: string };

function toPayment(r: PaymentRow): StarsPayment {
  const stars = Number(/(\d+) XTR/.exec(r.note ?? '')?.[1] ?? 0);
  return { chargeId: r.reference ?? '', transactionId: Number(r.id), userId: Number(r.user_id), telegramId: Number(r.telegram_id), stars, creditedMicros: Number(r.amount), createdAt: r.created_at };
}

export async function findStarsPayment(handle: DbHandle, chargeId: string): Promise<StarsPayment | undefined> {
  const row = await starsPaymentQuery(handle).where('t.reference', '=', chargeId).executeTakeFirst();
  return row ? toPayment(row) : undefined;
}

export async function findStarsPaymentByTransaction(handle: DbHandle, transactionId: number): Promise<StarsPayment | undefined> {
  const row = await starsPaymentQuery(handle).where('t.id', '=', transactionId).executeTakeFirst();
  return row ? toPayment(row) : undefined;
}

/** A customer's newest Stars payments. */
export async function listStarsPayments(handle: DbHandle, telegramId: number, limit = 5): Promise<StarsPayment[]> {
  const rows = await starsPaymentQuery(handle).where('u.telegram_id', '=', telegramId).orderBy('t.id', 'desc').limit(limit).execute();
  return rows.map(toPayment);
}

export interface StarsRefundState {
  payment: StarsPayment;
  /** the customer's balance now */
  balanceMicros: number;
  /** what a refund now would cost beyond the balance (0 when the balance covers it) */
  shortfallMicros: number;
  /** set when the payment was refunded before */
  refunded: { takenBackMicros: number; lossMicros: number; completedAt: string | null; status: 'pending' | 'done' } | undefined;
}

/** What refunding a payment would do now (for a confirmation screen). */
export async function starsRefundState(handle: DbHandle, payment: StarsPayment): Promise<StarsRefundState> {
  const user = await handle.db.selectFrom('users').select('balance').where('id', '=', payment.userId).executeTakeFirstOrThrow();
  const claim = await handle.db.selectFrom('star_refunds').selectAll().where('charge_id', '=', payment.chargeId).executeTakeFirst();
  const balanceMicros = Number(user.balance);
  return {
    payment,
    balanceMicros,
    shortfallMicros: Math.max(0, payment.creditedMicros - balanceMicros),
    refunded: claim ? { takenBackMicros: Number(claim.taken_back), lossMicros: Number(claim.loss), completedAt: claim.completed_at, status: claim.status } : undefined,
  };
}

export interface StarsRefundInput {
  chargeId: string;
  /** refund even when the credit was already spent; the spent part is recorded as the operator's loss */
  force?: boolean;
  /** who asked: `cli` or `telegram:<admin id>` (stored on the claim and logged) */
  requestedBy: string;
}

export interface StarsRefundResult {
  payment: StarsPayment;
  /** true when this charge was refunded before; nothing changed now */
  alreadyRefunded: boolean;
  takenBackMicros: number;
  lossMicros: number;
  balanceAfterMicros: number;
  /** the adjustment row that took the credit back (null when already refunded) */
  transaction: LedgerEntry | null;
}

function validateChargeId(chargeId: unknown): string {
  if (typeof chargeId !== 'string' || chargeId.trim() === '' || chargeId.length > 256 || /\s/.test(chargeId)) {
    throw new InputError(
      "telegram_payment_charge_id: expected the charge id of a Stars payment (as in the customer's receipt, a support ticket, or arb logs), e.g. stxAbC123…",
      'telegram_payment_charge_id',
    );
  }
  return chargeId;
}

/** The `star_refunds` row that claims a payment's charge before Telegram is asked (and records it after). */
function pendingClaim(payment: StarsPayment, requestedBy: string, createdAt: string): Insertable<StarRefundsTable> {
  return {
    charge_id: payment.chargeId,
    user_id: payment.userId,
    stars: payment.stars,
    credited: payment.creditedMicros,
    taken_back: 0,
    loss: 0,
    status: 'pending',
    requested_by: requestedBy,
    created_at: createdAt,
    completed_at: null,
  };
}

/** Refunds a Stars payment exactly once; see the module comment. */
export async function refundStarsPayment(deps: LedgerDeps & { refund: StarRefunder }, input: StarsRefundInput): Promise<StarsRefundResult> {
  const chargeId = validateChargeId(input.chargeId);
  const { handle } = deps;
  const payment = await findStarsPayment(handle, chargeId);
  if (!payment) {
    throw new NotFoundError(
      `telegram_payment_charge_id: no Stars payment with charge id "${chargeId}" in the ledger; copy it from the support ticket (arb support show) or the balance_topup line in the log`,
      'telegram_payment_charge_id',
    );
  }
  const now = () => toDbTime(deps.now?.() ?? new Date());
  const done = async (): Promise<StarsRefundResult | undefined> => {
    const claim = await handle.db.selectFrom('star_refunds').selectAll().where('charge_id', '=', chargeId).executeTakeFirst();
    if (claim?.status !== 'done') return undefined;
    const user = await handle.db.selectFrom('users').select('balance').where('id', '=', payment.userId).executeTakeFirstOrThrow();
    return { payment, alreadyRefunded: true, takenBackMicros: Number(claim.taken_back), lossMicros: Number(claim.loss), balanceAfterMicros: Number(user.balance), transaction: null };
  };

  const before = await done();
  if (before) return before;
  const pending = await handle.db.selectFrom('star_refunds').select('id').where('charge_id', '=', chargeId).executeTakeFirst();
  if (!pending) {
    const state = await starsRefundState(handle, payment);
    if (state.shortfallMicros > 0 && !input.force) {
      throw new InputError(
        `telegram_payment_charge_id: the customer (${payment.telegramId}) already spent ${formatUsd(state.shortfallMicros)} of the ${formatUsd(payment.creditedMicros)} this payment credited ` +
          `(balance ${formatUsd(state.balanceMicros)}); refunding it would cost you ${formatUsd(state.shortfallMicros)}. Nothing was changed; re-run with --force to refund anyway and record the loss`,
        'telegram_payment_charge_id',
      );
    }
    try {
      await handle.db
        .insertInto('star_refunds')
        .values(pendingClaim(payment, input.requestedBy, now()))
        .execute();
    } catch (e) {
      if (!isUniqueViolation(e)) throw e;
      // someone else claimed it a moment ago: their refund (or this resumed one) finishes it
    }
  }

  try {
    await deps.refund(payment.telegramId, chargeId);
  } catch (e) {
    const description = e instanceof GrammyError ? e.description : (e as Error).message;
    if (!/CHARGE_ALREADY_REFUNDED/i.test(description)) {
      await handle.db.deleteFrom('star_refunds').where('charge_id', '=', chargeId).where('status', '=', 'pending').execute();
      throw new StarRefundError(`Telegram did not refund the payment ${chargeId}: ${description}; nothing was changed`, { cause: e });
    }
  }

  const result = await transact(handle, async (trx): Promise<StarsRefundResult | undefined> => {
    let claim = await trx.selectFrom('star_refunds').selectAll().where('charge_id', '=', chargeId).executeTakeFirst();
    if (claim?.status === 'done') return undefined;
    // Telegram has refunded: record it even if a concurrent attempt dropped the claim after its own failure
    claim ??= await trx
      .insertInto('star_refunds')
      .values(pendingClaim(payment, input.requestedBy, now()))
      .returningAll()
      .executeTakeFirstOrThrow();
    const user = await trx.selectFrom('users').selectAll().where('id', '=', payment.userId).executeTakeFirstOrThrow();
    const at = now();
    const credited = payment.creditedMicros;
    const taken = Math.min(Number(user.balance), credited);
    const loss = credited - taken;
    let current = user;
    if (loss > 0) {
      const { balance } = await applyBalanceChange(
        trx,
        current,
        { type: 'refund', amount: loss, reference: `stars-refund-loss:${chargeId}`, note: `spent credit of Stars payment ${chargeId}, refunded anyway` },
        at,
      );
      current = { ...current, balance };
    }
    const { transaction, balance } = await applyBalanceChange(
      trx,
      current,
      { type: 'adjustment', amount: -credited, reference: `stars-refund:${chargeId}`, note: `Telegram Stars refund: ${payment.stars} XTR` },
      at,
    );
    await trx.updateTable('star_refunds').set({ status: 'done', taken_back: taken, loss, completed_at: at }).where('id', '=', claim.id).execute();
    return { payment, alreadyRefunded: false, takenBackMicros: taken, lossMicros: loss, balanceAfterMicros: balance, transaction };
  });
  if (!result) return (await done())!;

  if (deps.logger) {
    logBusinessEvent(deps.logger, {
      event_type: 'stars_refunded',
      user_id: payment.telegramId,
      charge_id: chargeId,
      stars: payment.stars,
      amount: -microsToUsd(payment.creditedMicros),
      taken_back: microsToUsd(result.takenBackMicros),
      loss: microsToUsd(result.lossMicros),
      requested_by: input.requestedBy,
    });
    if (result.lossMicros > 0) {
      logTransaction(deps.logger, {
        type: 'refund',
        amount: -microsToUsd(result.lossMicros),
        amount_micros: -result.lossMicros,
        user_id: payment.telegramId,
        charge_id: chargeId,
        reason: 'Stars payment refunded after its credit was spent',
      });
      deps.logger.warn(
        { user_id: payment.telegramId, charge_id: chargeId, loss: microsToUsd(result.lossMicros) },
        `Stars refund with a loss of ${formatUsd(result.lossMicros)} (the credit was already spent)`,
      );
    }
  }
  return result;
}
