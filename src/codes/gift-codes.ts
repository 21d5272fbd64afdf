/**
 * Gift codes, for sales outside Telegram (marketplaces, bank transfer): `arb codes create` makes codes worth
 * an amount or a package, prints them once and stores only their SHA-256; a customer redeems one in the bot
 * (`/redeem CODE`) exactly once — the code is claimed for the customer with a conditional update, then the
 * ledger moves the money with reference `gift:<code id>` (a balance credit, or a free grant of the
 * package), so a retry or a race never credits twice.
 *
 * Codes are `ARB-XXXX-XXXX-XXXX`: 16 characters of Crockford's base32 (80 random bits), read back
 * case-insensitively with spaces and dashes ignored and the look-alikes O→0, I/L→1 folded.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Insertable } from 'kysely';
import type { GiftCodesTable } from '../db/database.js';
import type { KeyAllocation } from '../keys/allocations.js';
import { transact, type DbHandle } from '../db/dialect.js';
import { InputError, NotFoundError } from '../errors.js';
import { logBusinessEvent } from '../logger.js';
import { creditUser, ensureUser, purchasePackage, type LedgerDeps, type LedgerEntry } from '../ledger/ledger.js';
import { microsToUsd, parseUsd } from '../money.js';
import { addDays, toDbTime } from '../time.js';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const CODE_CHARS = 16;
export const MAX_CODES_PER_BATCH = 10_000;
/** Largest amount one code may carry. */
export const MAX_CODE_MICROS = 10_000 * 1_000_000;

/** A fresh code, e.g. ARB-7QK2-M9XD-4HTN-B0PZ. */
export function generateCode(): string {
  const bytes = randomBytes(CODE_CHARS);
  let body = '';
  for (const b of bytes) body += ALPHABET[b & 31];
  return `ARB-${body.match(/.{4}/g)!.join('-')}`;
}

/** The canonical form of what a customer typed, or null when it cannot be a code. */
export function normalizeCode(text: string): string | null {
  let body = text.toUpperCase().replace(/[\s-]/g, '');
  if (body.startsWith('ARB')) body = body.slice(3);
  body = body.replace(/O/g, '0').replace(/[IL]/g, '1');
  if (body.length !== CODE_CHARS || [...body].some((c) => !ALPHABET.includes(c))) return null;
  return body;
}

export function hashCode(normalized: string): string {
  return createHash('sha256').update(`arb-gift:${normalized}`).digest('hex');
}

/** `30d`, `12h` or a date (`2026-12-31`) → the expiry instant. */
export function parseExpiry(text: string, now: Date = new Date()): Date {
  const t = text.trim();
  const rel = /^(\d{1,4})([hd])$/.exec(t);
  if (rel && Number(rel[1]) > 0) return rel[2] === 'd' ? addDays(now, Number(rel[1])) : new Date(now.getTime() + Number(rel[1]) * 3_600_000);
  if (/^\d{4}-\d{2}-\d{2}$/.test(t)) {
    const d = new Date(`${t}T23:59:59Z`);
    if (!Number.isNaN(d.getTime()) && d.getTime() > now.getTime()) return d;
  }
  throw new InputError(`--expires: "${text}" is not a lifetime; use e.g. 30d, 12h or a future date like 2026-12-31`, 'expires');
}

export interface CreateCodesInput {
  count: number;
  /** USD amount as typed (`10`, `2.50`) — or packageId */
  usd?: string;
  packageId?: number;
  expiresAt?: Date | null;
  now?: Date;
}

export interface CreatedCodes {
  batch: string;
  codes: string[];
  amountMicros: number | null;
  packageId: number | null;
  expiresAt: string | null;
}

/** Makes `count` codes; returns them (the only time they exist in clear). */
export async function createCodes(deps: Pick<LedgerDeps, 'handle' | 'logger'>, input: CreateCodesInput): Promise<CreatedCodes> {
  const { handle } = deps;
  if (!Number.isSafeInteger(input.count) || input.count < 1 || input.count > MAX_CODES_PER_BATCH) {
    throw new InputError(`count: "${input.count}" is not a number of codes between 1 and ${MAX_CODES_PER_BATCH.toLocaleString('en-US')}; e.g. arb codes create 10 --usd 5`, 'count');
  }
  if ((input.usd === undefined) === (input.packageId === undefined)) {
    throw new InputError('--usd/--package: give exactly one: --usd 10 (credits the balance) or --package 3 (grants that package)', 'usd');
  }
  let amountMicros: number | null = null;
  if (input.usd !== undefined) {
    amountMicros = parseUsd(input.usd, '--usd');
    if (amountMicros <= 0 || amountMicros > MAX_CODE_MICROS) throw new InputError(`--usd: ${input.usd} must be more than $0 and at most $${MAX_CODE_MICROS / 1e6}`, 'usd');
  }
  const packageId = input.packageId ?? null;
  if (packageId !== null) {
    const pkg = await handle.db.selectFrom('ai_token_packages').select('id').where('id', '=', packageId).executeTakeFirst();
    if (!pkg) throw new NotFoundError(`--package: no package ${packageId}; see arb package list --all`, 'package');
  }
  const now = input.now ?? new Date();
  const createdAt = toDbTime(now);
  const expiresAt = input.expiresAt ? toDbTime(input.expiresAt) : null;
  const batch = `${createdAt.slice(0, 10).replace(/-/g, '')}-${randomBytes(3).toString('hex')}`;
  const codes: string[] = [];
  const rows: Insertable<GiftCodesTable>[] = [];
  const seen = new Set<string>();
  while (codes.length < input.count) {
    const code = generateCode();
    const hash = hashCode(normalizeCode(code)!);
    if (seen.has(hash)) continue;
    seen.add(hash);
    codes.push(code);
    rows.push({ code_hash: hash, batch, amount: amountMicros, package_id: packageId, expires_at: expiresAt, created_at: createdAt, redeemed_at: null, redeemed_by: null, transaction_id: null });
  }
  await transact(handle, async (trx) => {
    for (let i = 0; i < rows.length; i += 500)
      await trx
        .insertInto('gift_codes')
        .values(rows.slice(i, i + 500))
        .execute();
  });
  if (deps.logger) {
    logBusinessEvent(deps.logger, {
      event_type: 'gift_codes_created',
      batch,
      count: codes.length,
      ...(amountMicros !== null ? { amount: microsToUsd(amountMicros) } : { package_id: packageId! }),
      expires_at: expiresAt,
    });
  }
  return { batch, codes, amountMicros, packageId, expiresAt };
}

export type CodeState = 'unused' | 'used' | 'expired';

export interface CodeRow {
  id: number;
  batch: string;
  amountMicros: number | null;
  packageId: number | null;
  createdAt: string;
  expiresAt: string | null;
  state: CodeState;
  redeemedAt: string | null;
  redeemedByTelegramId: number | null;
}

/** Every code (never the code itself), newest first; optionally one batch. */
export async function listCodes(handle: DbHandle, options: { batch?: string; now?: Date } = {}): Promise<CodeRow[]> {
  let q = handle.db
    .selectFrom('gift_codes as g')
    .leftJoin('users as u', 'u.id', 'g.redeemed_by')
    .select(['g.id', 'g.batch', 'g.amount', 'g.package_id', 'g.created_at', 'g.expires_at', 'g.redeemed_at', 'u.telegram_id']);
  if (options.batch) q = q.where('g.batch', '=', options.batch);
  const now = toDbTime(options.now ?? new Date());
  const rows = await q.orderBy('g.id', 'desc').execute();
  return rows.map((r) => ({
    id: Number(r.id),
    batch: r.batch,
    amountMicros: r.amount === null ? null : Number(r.amount),
    packageId: r.package_id === null ? null : Number(r.package_id),
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    state: r.redeemed_at ? 'used' : r.expires_at !== null && r.expires_at <= now ? 'expired' : 'unused',
    redeemedAt: r.redeemed_at,
    redeemedByTelegramId: r.telegram_id === null ? null : Number(r.telegram_id),
  }));
}

export type RedeemRefusal = 'invalid' | 'used' | 'used_by_you' | 'expired';

/** A code that cannot be redeemed; `reason` says why (the bot words it). */
export class GiftCodeRefused extends InputError {
  constructor(
    readonly reason: RedeemRefusal,
    readonly expiresAt: string | null = null,
  ) {
    super(`code: ${reason === 'invalid' ? 'not a valid gift code' : reason === 'expired' ? `expired ${expiresAt} UTC` : 'already used'}`, 'code');
  }
}

export type RedeemResult =
  | { kind: 'credited'; codeId: number; amountMicros: number; balanceMicros: number; transaction: LedgerEntry }
  | { kind: 'granted'; codeId: number; packageId: number; allocation: KeyAllocation; apiKey: string | null };

/** Redeems a code for a customer exactly once; refusals throw GiftCodeRefused. */
export async function redeemCode(
  deps: LedgerDeps,
  input: { telegramId: number; code: string; profile?: { username?: string | null; firstName?: string | null; languageCode?: string | null } },
): Promise<RedeemResult> {
  const { handle } = deps;
  const normalized = normalizeCode(input.code);
  if (!normalized) throw new GiftCodeRefused('invalid');
  const code = await handle.db.selectFrom('gift_codes').selectAll().where('code_hash', '=', hashCode(normalized)).executeTakeFirst();
  if (!code) throw new GiftCodeRefused('invalid');
  const nowDate = deps.now?.() ?? new Date();
  const now = toDbTime(nowDate);
  const user = await ensureUser(handle, { telegramId: input.telegramId, ...input.profile });

  if (code.redeemed_by === null) {
    if (code.expires_at !== null && code.expires_at <= now) throw new GiftCodeRefused('expired', code.expires_at);
    const claimed = await handle.db
      .updateTable('gift_codes')
      .set({ redeemed_at: now, redeemed_by: user.id })
      .where('id', '=', code.id)
      .where('redeemed_by', 'is', null)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
      .executeTakeFirst();
    if (Number(claimed.numUpdatedRows) === 0) {
      const again = await handle.db.selectFrom('gift_codes').selectAll().where('id', '=', code.id).executeTakeFirstOrThrow();
      if (Number(again.redeemed_by) !== Number(user.id)) throw new GiftCodeRefused(again.redeemed_by === null ? 'expired' : 'used', again.expires_at);
    }
  } else if (Number(code.redeemed_by) !== Number(user.id)) {
    throw new GiftCodeRefused('used');
  } else if (code.transaction_id !== null) {
    throw new GiftCodeRefused('used_by_you');
  }
  // the code is this customer's now: move the money (idempotent on the reference; resumes an interrupted redemption)
  const reference = `gift:${code.id}`;
  let result: RedeemResult;
  if (code.amount !== null) {
    const credit = await creditUser(deps, { telegramId: input.telegramId, amountMicros: Number(code.amount), type: 'topup', reference, note: `gift code #${code.id}`, source: 'gift_code' });
    result = { kind: 'credited', codeId: Number(code.id), amountMicros: Number(code.amount), balanceMicros: Number(credit.user.balanceMicros), transaction: credit.transaction };
    await handle.db.updateTable('gift_codes').set({ transaction_id: credit.transaction.id }).where('id', '=', code.id).execute();
  } else {
    const grant = await purchasePackage(deps, { telegramId: input.telegramId, packageId: Number(code.package_id), reference, free: true });
    result = { kind: 'granted', codeId: Number(code.id), packageId: Number(code.package_id), allocation: grant.allocation, apiKey: grant.apiKey };
    await handle.db.updateTable('gift_codes').set({ transaction_id: grant.transaction.id }).where('id', '=', code.id).execute();
  }
  if (deps.logger) {
    logBusinessEvent(deps.logger, {
      event_type: 'gift_code_redeemed',
      user_id: input.telegramId,
      code_id: Number(code.id),
      batch: code.batch,
      ...(code.amount !== null ? { amount: microsToUsd(Number(code.amount)) } : { package_id: Number(code.package_id) }),
    });
  }
  return result;
}
