/** `arb support list|show|close`: thin views over src/support/tickets.ts. */
import { closeTicket, getTicket, listTickets, parseTicketId, ticketMessages, type Ticket, type TicketMessage } from '../../src/support/tickets.js';
import type { CommandContext } from '../context.js';
import { writeJson } from '../ui/json.js';
import { renderKeyValues, renderTable } from '../ui/table.js';

function customer(t: Ticket): string {
  return [t.firstName, t.username ? `@${t.username}` : ''].filter(Boolean).join(' ') || '—';
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

function ticketToJson(t: Ticket) {
  return {
    id: t.id,
    telegram_id: t.telegramId,
    username: t.username,
    first_name: t.firstName,
    status: t.status,
    text: t.text,
    charge_id: t.chargeId,
    admins_reached: t.adminsReached,
    replies: t.replies,
    created_at: t.createdAt,
    closed_at: t.closedAt,
    closed_by: t.closedBy,
  };
}

function messageToJson(m: TicketMessage) {
  return { id: m.id, author: m.author, author_telegram_id: m.authorTelegramId, text: m.text, delivered: m.delivered, created_at: m.createdAt };
}

export async function runSupportList(ctx: CommandContext, opts: { all?: boolean; json?: boolean }): Promise<number> {
  const { rows } = await listTickets(await ctx.db(), { status: opts.all ? 'all' : 'open' });
  if (opts.json) {
    writeJson(ctx.stdout, { tickets: rows.map(ticketToJson) });
    return 0;
  }
  if (rows.length === 0) {
    ctx.stdout.write(opts.all ? 'no support tickets yet\n' : 'no open support tickets (arb support list --all shows closed ones)\n');
    return 0;
  }
  ctx.stdout.write(
    `${renderTable(
      ['#', 'status', 'customer', 'telegram id', 'opened (UTC)', 'replies', 'payment', 'message'],
      rows.map((t) => [t.id, t.status, customer(t), t.telegramId, t.createdAt, t.replies, t.chargeId ?? '', oneLine(t.text, 48)]),
      { align: ['right', 'left', 'left', 'right', 'left', 'right', 'left', 'left'] },
    )}\n`,
  );
  if (rows.some((t) => t.status === 'open' && t.adminsReached === 0)) {
    ctx.stdout.write('some open tickets reached no admin in Telegram when they were filed: answer them from the admin menu (🎫) or by writing to the customer\n');
  }
  return 0;
}

export async function runSupportShow(ctx: CommandContext, ticketText: string, opts: { json?: boolean }): Promise<number> {
  const id = parseTicketId(ticketText);
  const handle = await ctx.db();
  const ticket = await getTicket(handle, id);
  const messages = await ticketMessages(handle, id);
  if (opts.json) {
    writeJson(ctx.stdout, { ticket: ticketToJson(ticket), messages: messages.map(messageToJson) });
    return 0;
  }
  ctx.stdout.write(
    `${renderKeyValues([
      ['ticket', `#${ticket.id}`],
      ['status', ticket.closedAt ? `${ticket.status} (${ticket.closedAt} UTC by ${ticket.closedBy})` : ticket.status],
      ['customer', `${customer(ticket)} (telegram id ${ticket.telegramId})`],
      ['opened', `${ticket.createdAt} UTC`],
      ['admins reached', ticket.adminsReached],
      ['payment', ticket.chargeId ? `${ticket.chargeId} (refund: arb user refund ${ticket.chargeId})` : '—'],
    ])}\n\n`,
  );
  ctx.stdout.write(`customer, ${ticket.createdAt} UTC:\n${ticket.text}\n`);
  for (const m of messages) {
    const who = m.author === 'customer' ? 'customer' : `${m.author}${m.authorTelegramId ? ` ${m.authorTelegramId}` : ''}`;
    ctx.stdout.write(`\n${who}, ${m.createdAt} UTC${m.delivered ? '' : ' (not delivered)'}:\n${m.text}\n`);
  }
  return 0;
}

export async function runSupportClose(ctx: CommandContext, ticketText: string, opts: { json?: boolean }): Promise<number> {
  const id = parseTicketId(ticketText);
  const { ticket, alreadyClosed } = await closeTicket(await ctx.db(), id, 'cli');
  if (!alreadyClosed) ctx.logger().info({ business_event: true, event_type: 'support_ticket_closed', user_id: ticket.telegramId, ticket_id: id, by: 'cli' }, 'support_ticket_closed');
  if (opts.json) writeJson(ctx.stdout, { closed: !alreadyClosed, already_closed: alreadyClosed, ticket: ticketToJson(ticket) });
  else ctx.stdout.write(alreadyClosed ? `ticket #${id} was already closed; nothing changed\n` : `closed ticket #${id} (${customer(ticket)}, telegram id ${ticket.telegramId})\n`);
  return 0;
}
