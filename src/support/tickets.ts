/**
 * Support tickets: what a customer writes to the shop from the bot (/support, /paysupport, ✉️ Support) is
 * stored before anyone is told, with the customer, the text and the Stars payment it is about (if any), so
 * nothing is lost when no admin can be reached. Replies (an admin's answer, the customer's follow-up) are
 * kept on the ticket. Read by `arb support list|show|close` and the bot's admin menu.
 */
import { sql } from 'kysely';
import type { SupportMessagesTable, TicketStatus } from '../db/database.js';
import type { DbHandle } from '../db/dialect.js';
import { InputError, NotFoundError } from '../errors.js';
import { toDbTime } from '../time.js';

/** Longest ticket or reply text kept (Telegram's own message limit). */
export const MAX_TICKET_CHARS = 4096;

export interface Ticket {
  id: number;
  userId: number;
  telegramId: number;
  username: string | null;
  firstName: string | null;
  languageCode: string | null;
  text: string;
  chargeId: string | null;
  status: TicketStatus;
  adminsReached: number;
  createdAt: string;
  closedAt: string | null;
  closedBy: string | null;
  /** replies on the ticket */
  replies: number;
}

export interface TicketMessage {
  id: number;
  author: SupportMessagesTable['author'];
  authorTelegramId: number | null;
  text: string;
  delivered: boolean;
  createdAt: string;
}

function ticketQuery(handle: DbHandle) {
  return handle.db
    .selectFrom('support_tickets as s')
    .innerJoin('users as u', 'u.id', 's.user_id')
    .select([
      's.id',
      's.user_id',
      'u.telegram_id',
      'u.username',
      'u.first_name',
      'u.language_code',
      's.text',
      's.charge_id',
      's.status',
      's.admins_reached',
      's.created_at',
      's.closed_at',
      's.closed_by',
      sql<number>`(select count(*) from support_messages m where m.ticket_id = s.id)`.as('replies'),
    ]);
}

type TicketRow = Awaited<ReturnType<ReturnType<typeof ticketQuery>['executeTakeFirstOrThrow']>>;

function toTicket(r: TicketRow): Ticket {
  return {
    id: Number(r.id),
    userId: Number(r.user_id),
    telegramId: Number(r.telegram_id),
    username: r.username,
    firstName: r.first_name,
    languageCode: r.language_code,
    text: r.text,
    chargeId: r.charge_id,
    status: r.status,
    adminsReached: Number(r.admins_reached),
    createdAt: r.created_at,
    closedAt: r.closed_at,
    closedBy: r.closed_by,
    replies: Number(r.replies),
  };
}

function validateText(text: unknown, field = 'text'): string {
  const value = typeof text === 'string' ? text.trim() : '';
  if (!value) throw new InputError(`${field}: empty; write what the problem is`, field);
  return [...value].length > MAX_TICKET_CHARS ? [...value].slice(0, MAX_TICKET_CHARS).join('') : value;
}

export function parseTicketId(text: string, field = 'ticket'): number {
  const m = /^#?(\d{1,15})$/.exec(text.trim());
  if (!m || Number(m[1]) <= 0) throw new InputError(`${field}: "${text}" is not a ticket number; use the number from arb support list, e.g. 12`, field);
  return Number(m[1]);
}

/** Stores a new open ticket; the customer's row must exist (the bot creates it on first contact). */
export async function createTicket(handle: DbHandle, input: { userId: number; text: string; chargeId?: string | null; now?: Date }): Promise<Ticket> {
  const text = validateText(input.text);
  const row = await handle.db
    .insertInto('support_tickets')
    .values({ user_id: input.userId, text, charge_id: input.chargeId ?? null, status: 'open', admins_reached: 0, created_at: toDbTime(input.now ?? new Date()), closed_at: null, closed_by: null })
    .returning('id')
    .executeTakeFirstOrThrow();
  return getTicket(handle, Number(row.id));
}

/** Records how many admins a ticket reached when it was filed. */
export async function recordTicketDelivery(handle: DbHandle, ticketId: number, adminsReached: number): Promise<void> {
  await handle.db.updateTable('support_tickets').set({ admins_reached: adminsReached }).where('id', '=', ticketId).execute();
}

export async function findTicket(handle: DbHandle, ticketId: number): Promise<Ticket | undefined> {
  const row = await ticketQuery(handle).where('s.id', '=', ticketId).executeTakeFirst();
  return row ? toTicket(row) : undefined;
}

export async function getTicket(handle: DbHandle, ticketId: number): Promise<Ticket> {
  const ticket = await findTicket(handle, ticketId);
  if (!ticket) throw new NotFoundError(`ticket: no ticket #${ticketId}; see arb support list --all`, 'ticket');
  return ticket;
}

/** Tickets, newest first: open ones (default), closed ones, or all. */
export async function listTickets(handle: DbHandle, options: { status?: TicketStatus | 'all'; limit?: number; offset?: number } = {}): Promise<{ rows: Ticket[]; total: number }> {
  const status = options.status ?? 'open';
  let q = ticketQuery(handle);
  let count = handle.db.selectFrom('support_tickets').select((eb) => eb.fn.countAll<number>().as('n'));
  if (status !== 'all') {
    q = q.where('s.status', '=', status);
    count = count.where('status', '=', status);
  }
  const rows = await q
    .orderBy('s.id', 'desc')
    .limit(options.limit ?? 1000)
    .offset(options.offset ?? 0)
    .execute();
  const { n } = await count.executeTakeFirstOrThrow();
  return { rows: rows.map(toTicket), total: Number(n) };
}

export async function ticketMessages(handle: DbHandle, ticketId: number): Promise<TicketMessage[]> {
  const rows = await handle.db.selectFrom('support_messages').selectAll().where('ticket_id', '=', ticketId).orderBy('id').execute();
  return rows.map((r) => ({
    id: Number(r.id),
    author: r.author,
    authorTelegramId: r.author_telegram_id === null ? null : Number(r.author_telegram_id),
    text: r.text,
    delivered: r.delivered === 1,
    createdAt: r.created_at,
  }));
}

/** Adds a reply to a ticket (reopening a closed one when the customer writes again). */
export async function addTicketMessage(
  handle: DbHandle,
  ticketId: number,
  input: { author: SupportMessagesTable['author']; authorTelegramId?: number | null; text: string; delivered?: boolean; now?: Date },
): Promise<TicketMessage> {
  const text = validateText(input.text);
  await getTicket(handle, ticketId);
  const at = toDbTime(input.now ?? new Date());
  const row = await handle.db
    .insertInto('support_messages')
    .values({ ticket_id: ticketId, author: input.author, author_telegram_id: input.authorTelegramId ?? null, text, delivered: input.delivered ? 1 : 0, created_at: at })
    .returning('id')
    .executeTakeFirstOrThrow();
  if (input.author === 'customer') {
    await handle.db.updateTable('support_tickets').set({ status: 'open', closed_at: null, closed_by: null }).where('id', '=', ticketId).where('status', '=', 'closed').execute();
  }
  return { id: Number(row.id), author: input.author, authorTelegramId: input.authorTelegramId ?? null, text, delivered: Boolean(input.delivered), createdAt: at };
}

export async function markMessageDelivered(handle: DbHandle, messageId: number): Promise<void> {
  await handle.db.updateTable('support_messages').set({ delivered: 1 }).where('id', '=', messageId).execute();
}

/** Closes a ticket; closing a closed one changes nothing. */
export async function closeTicket(handle: DbHandle, ticketId: number, closedBy: string, now: Date = new Date()): Promise<{ ticket: Ticket; alreadyClosed: boolean }> {
  await getTicket(handle, ticketId);
  const r = await handle.db
    .updateTable('support_tickets')
    .set({ status: 'closed', closed_at: toDbTime(now), closed_by: closedBy })
    .where('id', '=', ticketId)
    .where('status', '=', 'open')
    .executeTakeFirst();
  return { ticket: await getTicket(handle, ticketId), alreadyClosed: Number(r.numUpdatedRows) === 0 };
}
