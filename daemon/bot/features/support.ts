/**
 * Support that reaches someone: /support, /paysupport (Telegram asks Stars sellers to offer it) and the
 * ✉️ Support button. A message is stored as a ticket (customer, text, the Stars payment it is about) before
 * anyone is told, then sent to every admin; the customer is told the truth — "ticket #12, the operator will
 * answer" or that it is saved but no admin could be reached.
 *
 * Conversations without server-side state (so they work across daemon replicas and restarts): the bot asks
 * with a message the user replies to (force_reply); a reply to a bot message starting with a marker
 * (`✉️`, `✉️ ⭐`, `✉️ #12` for the customer; `🎫 #12`, `↩️ #12` for admins) says what it is for. An admin
 * answers a ticket by replying to the ticket message (or ↩️ Answer); the answer reaches the customer, who
 * can reply to it in turn. Admins list, read and close tickets under 🎫 in the admin menu (or /tickets).
 */
import { Composer, InlineKeyboard } from 'grammy';
import type { InlineKeyboardMarkup, Message } from 'grammy/types';
import { logBusinessEvent } from '../../../src/logger.js';
import { listStarsPayments, starsRefundState, type StarsPayment } from '../../../src/ledger/stars-refunds.js';
import { addTicketMessage, closeTicket, createTicket, findTicket, listTickets, markMessageDelivered, recordTicketDelivery, ticketMessages, type Ticket } from '../../../src/support/tickets.js';
import { isUnreachableUser } from '../api-errors.js';
import { cb, cbPattern } from '../callback-data.js';
import type { ShopContext } from '../context.js';
import { clip, fitBlocks, MAX_MESSAGE_CHARS, renderedLength } from '../format.js';
import type { Locale } from '../locales/index.js';
import { adminOnly } from '../middlewares/admin-gate.js';
import { paging, say, show } from '../screens.js';

export const TICKETS_PAGE_SIZE = 8;

const FORCE_REPLY = { force_reply: true as const, input_field_placeholder: '…' };

/** What a reply to one of the bot's messages is for, read from the marker at its start. */
export type ReplyTarget = { kind: 'new-ticket'; payment: boolean } | { kind: 'follow-up'; ticketId: number } | { kind: 'admin-answer'; ticketId: number };

export function replyTarget(text: string | undefined): ReplyTarget | undefined {
  if (!text) return undefined;
  const admin = /^(?:🎫|↩️) #(\d+)\b/u.exec(text);
  if (admin) return { kind: 'admin-answer', ticketId: Number(admin[1]) };
  const followUp = /^✉️ #(\d+)\b/u.exec(text);
  if (followUp) return { kind: 'follow-up', ticketId: Number(followUp[1]) };
  if (text.startsWith('✉️ ⭐')) return { kind: 'new-ticket', payment: true };
  if (text.startsWith('✉️')) return { kind: 'new-ticket', payment: false };
  return undefined;
}

function displayName(p: { firstName: string | null; username: string | null; telegramId: number }): string {
  return [p.firstName, p.username ? `@${p.username}` : ''].filter(Boolean).join(' ') || String(p.telegramId);
}

function ticketName(ticket: Ticket): string {
  return displayName(ticket);
}

/** The Stars payment a ticket is about: one named in the text, else (payment support) the newest one. */
async function paymentFor(ctx: ShopContext, text: string, payment: boolean): Promise<StarsPayment | undefined> {
  const payments = await listStarsPayments(ctx.shop.handle, ctx.from!.id, 20);
  return payments.find((p) => p.chargeId && text.includes(p.chargeId)) ?? (payment ? payments[0] : undefined);
}

function adminTicketKeyboard(t: Locale, ticketId: number, payment: StarsPayment | undefined): InlineKeyboardMarkup {
  const kb = new InlineKeyboard().text(t.btn.answerTicket, cb.adminTicketReply(ticketId)).text(t.btn.closeTicket, cb.adminTicketClose(ticketId));
  if (payment) kb.row().text(t.btn.refundStars(payment.stars), cb.adminRefund(payment.transactionId));
  return kb;
}

async function fileTicket(ctx: ShopContext, text: string, payment: boolean): Promise<void> {
  const customer = ctx.customer;
  if (!customer) return;
  const found = await paymentFor(ctx, text, payment);
  const ticket = await createTicket(ctx.shop.handle, { userId: customer.id, text, chargeId: found?.chargeId ?? null, now: ctx.shop.now() });
  const name = displayName({ firstName: ctx.from?.first_name ?? null, username: ctx.from?.username ?? null, telegramId: ctx.from!.id });
  const delivery = await ctx.shop.messageAdmins(
    (t) =>
      t.support.adminTicket({
        id: ticket.id,
        name,
        telegramId: ctx.from!.id,
        text: ticket.text,
        payment: found ? { stars: found.stars, amount: found.creditedMicros, chargeId: found.chargeId } : null,
      }),
    (t) => adminTicketKeyboard(t, ticket.id, found),
  );
  await recordTicketDelivery(ctx.shop.handle, ticket.id, delivery.delivered.length);
  logBusinessEvent(ctx.shop.logger, { event_type: 'support_ticket_opened', user_id: ctx.from!.id, ticket_id: ticket.id, admins_reached: delivery.delivered.length, charge_id: found?.chargeId });
  if (delivery.delivered.length === 0) {
    ctx.shop.logger.error({ user_id: ctx.from!.id, ticket_id: ticket.id, admins: delivery.failed.length }, 'support ticket stored but no admin could be reached; see arb support list');
    return say(ctx, ctx.t.support.savedNoAdmin(ticket.id));
  }
  await say(ctx, ctx.t.support.received(ticket.id));
}

async function followUp(ctx: ShopContext, ticketId: number, text: string): Promise<void> {
  const customer = ctx.customer;
  if (!customer) return;
  const ticket = await findTicket(ctx.shop.handle, ticketId);
  if (!ticket || ticket.userId !== customer.id) {
    await say(ctx, ctx.t.support.notYours);
    return fileTicket(ctx, text, false);
  }
  const message = await addTicketMessage(ctx.shop.handle, ticketId, { author: 'customer', authorTelegramId: ctx.from!.id, text, now: ctx.shop.now() });
  const payment = ticket.chargeId ? await paymentByCharge(ctx, ticket) : undefined;
  const delivery = await ctx.shop.messageAdmins(
    (t) => t.support.adminFollowUp({ id: ticketId, name: ticketName(ticket), telegramId: ticket.telegramId, text: message.text }),
    (t) => adminTicketKeyboard(t, ticketId, payment),
  );
  if (delivery.delivered.length > 0) await markMessageDelivered(ctx.shop.handle, message.id);
  await say(ctx, delivery.delivered.length > 0 ? ctx.t.support.followUpReceived(ticketId) : ctx.t.support.savedNoAdmin(ticketId));
}

async function paymentByCharge(ctx: ShopContext, ticket: Ticket): Promise<StarsPayment | undefined> {
  const payments = await listStarsPayments(ctx.shop.handle, ticket.telegramId, 50);
  return payments.find((p) => p.chargeId === ticket.chargeId);
}

/** An admin's answer: stored on the ticket, sent to the customer, and the admin told whether it arrived. */
async function answerTicket(ctx: ShopContext, ticketId: number, text: string): Promise<void> {
  const ticket = await findTicket(ctx.shop.handle, ticketId);
  if (!ticket) return say(ctx, ctx.t.support.gone);
  const message = await addTicketMessage(ctx.shop.handle, ticketId, { author: 'admin', authorTelegramId: ctx.from!.id, text, now: ctx.shop.now() });
  const t = ctx.shop.locales.pick(ticket.languageCode);
  try {
    await ctx.api.sendMessage(ticket.telegramId, t.support.answer({ id: ticketId, text: message.text }), {
      parse_mode: 'HTML',
      reply_markup: new InlineKeyboard().text(t.btn.replyToSupport, cb.supportFollowUp(ticketId)),
    });
  } catch (err) {
    if (!isUnreachableUser(err)) throw err;
    ctx.shop.logger.info({ user_id: ticket.telegramId, ticket_id: ticketId }, 'support answer not delivered: the customer cannot be reached');
    return say(ctx, ctx.t.support.replyNotDelivered(ticketId));
  }
  await markMessageDelivered(ctx.shop.handle, message.id);
  logBusinessEvent(ctx.shop.logger, { event_type: 'support_ticket_answered', user_id: ticket.telegramId, ticket_id: ticketId, admin_id: ctx.from!.id });
  await say(ctx, ctx.t.support.replySent(ticketId), new InlineKeyboard().text(ctx.t.btn.closeTicket, cb.adminTicketClose(ticketId)));
}

async function askForMessage(ctx: ShopContext, payment: boolean): Promise<void> {
  await ctx.reply(payment ? ctx.t.support.paymentPrompt : ctx.t.support.prompt, { parse_mode: 'HTML', reply_markup: FORCE_REPLY });
}

function commandText(ctx: ShopContext): string {
  return (typeof ctx.match === 'string' ? ctx.match : '').trim();
}

// ------------------------------------------------------------------------------------------ admin screens

async function showTickets(ctx: ShopContext, requestedPage: number): Promise<void> {
  const { handle } = ctx.shop;
  let { rows, total } = await listTickets(handle, { status: 'open', limit: TICKETS_PAGE_SIZE, offset: requestedPage * TICKETS_PAGE_SIZE });
  const { page, pages, offset } = paging(total, TICKETS_PAGE_SIZE, requestedPage);
  if (offset !== requestedPage * TICKETS_PAGE_SIZE) ({ rows, total } = await listTickets(handle, { status: 'open', limit: TICKETS_PAGE_SIZE, offset }));
  const kb = new InlineKeyboard();
  for (const ticket of rows) kb.text(ctx.t.btn.ticket(ticket.id, ticketName(ticket), ticket.text), cb.adminTicket(ticket.id)).row();
  if (pages > 1) {
    if (page > 0) kb.text(ctx.t.btn.prev, cb.adminTickets(page - 1));
    if (page < pages - 1) kb.text(ctx.t.btn.next, cb.adminTickets(page + 1));
    kb.row();
  }
  kb.text(ctx.t.btn.back, cb.admin());
  await show(ctx, total === 0 ? ctx.t.support.none : ctx.t.support.list({ open: total, page: page + 1, pages }), kb);
}

async function showTicket(ctx: ShopContext, ticketId: number): Promise<void> {
  const { handle } = ctx.shop;
  const ticket = await findTicket(handle, ticketId);
  if (!ticket) return show(ctx, ctx.t.support.gone, new InlineKeyboard().text(ctx.t.btn.back, cb.adminTickets(0)));
  const payment = ticket.chargeId ? await paymentByCharge(ctx, ticket) : undefined;
  const refunded = payment ? (await starsRefundState(handle, payment)).refunded?.status === 'done' : false;
  const head = ctx.t.support.view({
    id: ticket.id,
    name: ticketName(ticket),
    telegramId: ticket.telegramId,
    status: ticket.status,
    createdAt: ticket.createdAt,
    payment: payment ? { stars: payment.stars, amount: payment.creditedMicros, chargeId: payment.chargeId, refunded } : null,
  });
  const messages = [{ who: 'customer' as const, at: ticket.createdAt, text: ticket.text }, ...(await ticketMessages(handle, ticketId)).map((m) => ({ who: m.author, at: m.createdAt, text: m.text }))];
  const blocks = messages.map((m) => ctx.t.support.message({ ...m, text: clip(m.text, 1500) }));
  const body = fitBlocks(blocks, '\n\n', (n) => ctx.t.support.more(n), MAX_MESSAGE_CHARS - renderedLength(head) - 4);
  const kb = new InlineKeyboard().text(ctx.t.btn.answerTicket, cb.adminTicketReply(ticketId));
  if (ticket.status === 'open') kb.text(ctx.t.btn.closeTicket, cb.adminTicketClose(ticketId));
  if (payment && !refunded) kb.row().text(ctx.t.btn.refundStars(payment.stars), cb.adminRefund(payment.transactionId));
  kb.row().text(ctx.t.btn.back, cb.adminTickets(0));
  await show(ctx, `${head}\n\n${body}`, kb);
}

async function closeFromAdmin(ctx: ShopContext, ticketId: number): Promise<void> {
  const { handle } = ctx.shop;
  if (!(await findTicket(handle, ticketId))) return show(ctx, ctx.t.support.gone, new InlineKeyboard().text(ctx.t.btn.back, cb.adminTickets(0)));
  const { ticket, alreadyClosed } = await closeTicket(handle, ticketId, `telegram:${ctx.from!.id}`, ctx.shop.now());
  await ctx.answerCallbackQuery({ text: alreadyClosed ? ctx.t.support.alreadyClosed(ticketId) : ctx.t.support.closedByAdmin(ticketId) });
  if (!alreadyClosed) {
    logBusinessEvent(ctx.shop.logger, { event_type: 'support_ticket_closed', user_id: ticket.telegramId, ticket_id: ticketId, admin_id: ctx.from!.id });
    const t = ctx.shop.locales.pick(ticket.languageCode);
    try {
      await ctx.api.sendMessage(ticket.telegramId, t.support.closed(ticketId), { parse_mode: 'HTML' });
    } catch (err) {
      if (!isUnreachableUser(err)) throw err;
    }
  }
  await showTickets(ctx, 0);
}

async function promptAdminAnswer(ctx: ShopContext, ticketId: number): Promise<void> {
  if (!(await findTicket(ctx.shop.handle, ticketId))) return show(ctx, ctx.t.support.gone);
  await ctx.reply(ctx.t.support.replyPrompt(ticketId), { parse_mode: 'HTML', reply_markup: FORCE_REPLY });
}

// ------------------------------------------------------------------------------------------ wiring

function repliedToBot(ctx: ShopContext): Message | undefined {
  const replied = ctx.message?.reply_to_message;
  return replied && replied.from?.id === ctx.me.id ? replied : undefined;
}

export function supportFeature(): Composer<ShopContext> {
  const composer = new Composer<ShopContext>();

  // replies to the bot's prompts and ticket messages
  composer.on('message:text').filter(
    (ctx) => replyTarget(repliedToBot(ctx)?.text) !== undefined,
    async (ctx, next) => {
      const target = replyTarget(repliedToBot(ctx)!.text)!;
      const text = ctx.message.text;
      if (target.kind === 'admin-answer') return adminOnly(ctx, () => answerTicket(ctx, target.ticketId, text));
      if (target.kind === 'follow-up') return followUp(ctx, target.ticketId, text);
      if (target.kind === 'new-ticket') return fileTicket(ctx, text, target.payment);
      return next();
    },
  );

  composer.command('support', (ctx) => (commandText(ctx) ? fileTicket(ctx, commandText(ctx), false) : askForMessage(ctx, false)));
  composer.command('paysupport', (ctx) => (commandText(ctx) ? fileTicket(ctx, commandText(ctx), true) : askForMessage(ctx, true)));
  composer.callbackQuery(cbPattern.support, (ctx) => askForMessage(ctx, false));
  composer.callbackQuery(cbPattern.supportFollowUp, (ctx) => ctx.reply(ctx.t.support.followUpPrompt(Number(ctx.match[1])), { parse_mode: 'HTML', reply_markup: FORCE_REPLY }));

  const admin = composer.filter((ctx) => cbPattern.admin.test(ctx.callbackQuery?.data ?? '') || ctx.hasCommand('tickets'));
  admin.use(adminOnly);
  admin.command('tickets', (ctx) => showTickets(ctx, 0));
  admin.callbackQuery(cbPattern.adminTickets, (ctx) => showTickets(ctx, Number(ctx.match[1])));
  admin.callbackQuery(cbPattern.adminTicket, (ctx) => showTicket(ctx, Number(ctx.match[1])));
  admin.callbackQuery(cbPattern.adminTicketReply, (ctx) => promptAdminAnswer(ctx, Number(ctx.match[1])));
  admin.callbackQuery(cbPattern.adminTicketClose, (ctx) => closeFromAdmin(ctx, Number(ctx.match[1])));
  return composer;
}
