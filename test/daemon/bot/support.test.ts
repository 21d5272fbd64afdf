/**
 * Support that reaches someone, and refunds: tickets are stored (user, text, payment charge id) before
 * anyone is told, delivered to every admin who can be reached, acknowledged truthfully; an admin's reply
 * reaches the customer and the customer's reply reaches the admins; tickets are listed, read and closed in
 * the admin menu; a Stars payment is refunded from the ticket exactly once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { auditLedger } from '../../../src/ledger/audit.js';
import { seedPackage } from '../../support/seed.js';
import { telegramErrors } from '../../support/fake-telegram.js';
import { ADMIN_ID, startBotHarness } from './harness.js';

const DAN = 5150;

test('/paysupport: a ticket with the payment, every admin gets it, the admin answers by reply, the customer replies back', async (t) => {
  const h = await startBotHarness(t, { env: { ADMIN_ID_LIST: `${ADMIN_ID},900002` } });
  const dan = h.fake.user(DAN, { first_name: 'Dan', username: 'dan_the_man' });
  const admin = h.fake.user(ADMIN_ID, { first_name: 'Ada' });
  const admin2 = h.fake.user(900002, { first_name: 'Bo', language_code: 'ru' });
  await h.fake.send(admin2, '/start');

  // a Stars payment first: /paysupport ties the ticket to it
  await h.fake.send(dan, '/start');
  await h.fake.press(dan, '💰 Balance');
  await h.fake.press(dan, '⭐ Top up with Stars');
  await h.fake.press(dan, '100 ⭐ → $1.30');
  await h.fake.pay(dan, 'stxPAY-1');

  // without text: the bot asks for the message; the reply is the ticket
  await h.fake.send(dan, '/paysupport');
  const prompt = h.fake.lastBotMessage(DAN);
  assert.match(prompt.text, /Payment support[\s\S]*reply to this message/);
  assert.equal(prompt.forceReply, true);
  await h.fake.reply(dan, 'I paid 100 stars <at> 14:05 & want them back');
  assert.match(h.fake.lastBotMessage(DAN).text, /We got your message — ticket #1\. The shop's operator will answer here\./);

  const [ticket] = await h.handle.db.selectFrom('support_tickets').selectAll().execute();
  assert.equal(ticket.text, 'I paid 100 stars <at> 14:05 & want them back');
  assert.equal(ticket.charge_id, 'stxPAY-1');
  assert.equal(ticket.status, 'open');
  assert.equal(ticket.admins_reached, 2);
  const user = await h.handle.db.selectFrom('users').select('id').where('telegram_id', '=', DAN).executeTakeFirstOrThrow();
  assert.equal(ticket.user_id, user.id);

  const toAdmin = h.fake.lastBotMessage(ADMIN_ID);
  assert.match(toAdmin.text, /^🎫 #1 · Support ticket from Dan @dan_the_man \(5150\)\nPayment: 100 ⭐ \(\$1\.30\) · stxPAY-1\n\nI paid 100 stars <at> 14:05 & want them back/);
  assert.deepEqual(h.fake.buttons(ADMIN_ID), ['↩️ Answer', '✅ Close ticket', '💸 Refund 100 ⭐']);
  assert.match(h.fake.lastBotMessage(900002).text, /^🎫 #1 · Обращение от Dan/, 'each admin in their language');

  // the admin answers by replying to the ticket message; it reaches the customer, who can reply back
  await h.fake.reply(admin, 'Refunding it now.', toAdmin);
  assert.match(h.fake.lastBotMessage(ADMIN_ID).text, /Sent to the customer \(ticket #1\)/);
  const answer = h.fake.lastBotMessage(DAN);
  assert.equal(answer.text, '💬 Support · ticket #1\n\nRefunding it now.');
  await h.fake.press(dan, '✉️ Reply');
  assert.match(h.fake.lastBotMessage(DAN).text, /^✉️ #1 · Reply to this message/);
  await h.fake.reply(dan, 'Thanks!');
  assert.match(h.fake.lastBotMessage(DAN).text, /Added to ticket #1/);
  assert.match(h.fake.lastBotMessage(ADMIN_ID).text, /^🎫 #1 · Dan @dan_the_man \(5150\) writes:\n\nThanks!/);
  const messages = await h.handle.db.selectFrom('support_messages').selectAll().orderBy('id').execute();
  assert.deepEqual(
    messages.map((m) => [m.author, m.text, m.delivered]),
    [
      ['admin', 'Refunding it now.', 1],
      ['customer', 'Thanks!', 1],
    ],
  );

  // an answer as long as Telegram allows still reaches the customer (within the message limit)
  await h.fake.reply(admin, 'x'.repeat(4096), toAdmin);
  assert.match(h.fake.lastBotMessage(ADMIN_ID).text, /Sent to the customer/);
  assert.ok(h.fake.lastBotMessage(DAN).text.length <= 4096);

  // ↩️ Answer asks the admin for a reply too
  await h.fake.press(admin, '↩️ Answer');
  assert.match(h.fake.lastBotMessage(ADMIN_ID).text, /^↩️ #1 · Write your answer/);
  await h.fake.reply(admin, 'Done.');
  assert.equal(h.fake.lastBotMessage(DAN).text, '💬 Support · ticket #1\n\nDone.');

  // a customer cannot answer as an admin by replying to a ticket message they never got
  const forged = h.fake.replyUpdate(dan, 'I am the admin now', toAdmin);
  await h.fake.deliver(forged);
  assert.match(h.fake.lastBotMessage(DAN).text, /only for the shop’s administrators/);
  assert.ok(h.logs().some((l) => l.security_event === true && l.event === 'admin_access_denied' && l.telegram_user_id === DAN));

  // one admin unreachable, the other not: the ticket reaches the one who can be reached, and says so
  h.fake.failNext('sendMessage', telegramErrors.badRequest('chat not found'), { match: (p) => Number(p.chat_id) === 900002 });
  await h.fake.send(dan, '/support the key says 402');
  assert.match(h.fake.lastBotMessage(DAN).text, /We got your message — ticket #2\./);
  assert.match(h.fake.lastBotMessage(ADMIN_ID).text, /^🎫 #2 · Support ticket from Dan[\s\S]*the key says 402/);
  assert.doesNotMatch(h.fake.lastBotMessage(900002).text, /#2/);
  const second = await h.handle.db.selectFrom('support_tickets').selectAll().where('id', '=', 2).executeTakeFirstOrThrow();
  assert.equal(second.admins_reached, 1);
});

test('no admin reachable: the ticket is stored and the customer told so, truthfully', async (t) => {
  const h = await startBotHarness(t);
  const eve = h.fake.user(6060, { first_name: 'Eve' });
  h.fake.failNext('sendMessage', telegramErrors.badRequest('chat not found'), { match: (p) => Number(p.chat_id) === ADMIN_ID });
  await h.fake.send(eve, '/support My key stopped working');
  assert.match(h.fake.lastBotMessage(6060).text, /saved as ticket #1, but no operator could be reached right now/);
  const [ticket] = await h.handle.db.selectFrom('support_tickets').selectAll().execute();
  assert.equal(ticket.text, 'My key stopped working');
  assert.equal(ticket.admins_reached, 0);
  assert.equal(ticket.charge_id, null);
  assert.ok(h.logs().some((l) => l.level === 'ERROR' && /no admin could be reached/.test(String(l.message))));

  // the ✉️ Support button (under Help) asks for the message the same way
  await h.fake.send(eve, '/help');
  await h.fake.press(eve, '✉️ Support');
  assert.match(h.fake.lastBotMessage(6060).text, /Write to support/);
  await h.fake.reply(eve, 'Still broken');
  assert.match(h.fake.lastBotMessage(6060).text, /We got your message — ticket #2/);

  // the admin menu lists the open tickets; read one, close it, the customer is told
  const admin = h.fake.user(ADMIN_ID);
  await h.fake.send(admin, '/admin');
  await h.fake.press(admin, '🎫 Support tickets (2)');
  assert.match(h.fake.lastBotMessage(ADMIN_ID).text, /Open support tickets \(2\)/);
  assert.deepEqual(h.fake.buttons(ADMIN_ID), ['#2 Eve: Still broken', '#1 Eve: My key stopped working', '⬅️ Back']);
  await h.fake.press(admin, '#1 Eve: My key stopped working');
  assert.match(h.fake.lastBotMessage(ADMIN_ID).text, /^🎫 #1 · Eve \(6060\) · open[\s\S]*👤 Customer · .*\nMy key stopped working/);
  await h.fake.press(admin, '✅ Close ticket');
  assert.equal(h.fake.callbackAnswers.at(-1)?.text, 'Ticket #1 closed.');
  assert.match(h.fake.lastBotMessage(6060).text, /Ticket #1 is closed/);
  assert.equal((await h.handle.db.selectFrom('support_tickets').select('status').where('id', '=', 1).executeTakeFirstOrThrow()).status, 'closed');
  assert.deepEqual(h.fake.buttons(ADMIN_ID), ['#2 Eve: Still broken', '⬅️ Back']);

  // /tickets is for admins only
  await h.fake.send(eve, '/tickets');
  assert.match(h.fake.lastBotMessage(6060).text, /only for the shop’s administrators/);

  // the case word for word: `/paysupport <text>` while the send to the admin fails with `chat not found`
  h.fake.failNext('sendMessage', telegramErrors.badRequest('chat not found'), { match: (p) => Number(p.chat_id) === ADMIN_ID });
  await h.fake.send(eve, '/paysupport I was charged twice');
  const ack = h.fake.lastBotMessage(6060).text;
  assert.match(ack, /saved as ticket #3, but no operator could be reached right now/);
  assert.doesNotMatch(ack, /Sent to the operator/);
  const third = await h.handle.db.selectFrom('support_tickets').selectAll().where('id', '=', 3).executeTakeFirstOrThrow();
  assert.deepEqual([third.text, third.admins_reached, third.status], ['I was charged twice', 0, 'open']);
});

test('💸 Refund from a ticket: confirm, Telegram refunds once, the credit is taken back; a spent credit asks before recording a loss', async (t) => {
  const h = await startBotHarness(t);
  const dan = h.fake.user(DAN, { first_name: 'Dan' });
  const admin = h.fake.user(ADMIN_ID);
  await h.fake.send(dan, '/start');
  await h.fake.press(dan, '💰 Balance');
  await h.fake.press(dan, '⭐ Top up with Stars');
  await h.fake.press(dan, '100 ⭐ → $1.30');
  await h.fake.pay(dan, 'stxREFUND-1');
  await h.fake.send(dan, '/paysupport please refund');

  await h.fake.press(admin, '💸 Refund 100 ⭐');
  assert.match(h.fake.lastBotMessage(ADMIN_ID).text, /Refund 100 ⭐ \(\$1\.30\) to Dan \(5150\)\?[\s\S]*\$1\.30 is taken from their balance \(now \$1\.30\)/);
  const confirm = h.fake.findButton(ADMIN_ID, '✅ Refund 100 ⭐')!;
  await h.fake.press(admin, '✅ Refund 100 ⭐');
  assert.match(h.fake.lastBotMessage(ADMIN_ID).text, /Refunded 100 ⭐\. \$1\.30 taken back from the balance\./);
  assert.match(h.fake.lastBotMessage(DAN).text, /Your payment of 100 ⭐ was refunded; \$1\.30 was taken from your balance/);
  assert.equal(h.fake.starPayments.get('stxREFUND-1')?.refunded, true);
  const balance = async () => Number((await h.handle.db.selectFrom('users').select('balance').where('telegram_id', '=', DAN).executeTakeFirstOrThrow()).balance);
  assert.equal(await balance(), 0);

  // a second tap on the same confirmation: nothing more
  await h.fake.deliver(h.fake.callbackUpdate(admin, (confirm.button as { callback_data: string }).callback_data, confirm.message));
  assert.match(h.fake.lastBotMessage(ADMIN_ID).text, /already refunded/);
  assert.equal(h.fake.calls.filter((c) => c.method === 'refundStarPayment').length, 1);
  assert.equal(await balance(), 0);

  // spent: the button says the loss before anything happens
  await seedPackage(h.handle); // $3.75
  await h.fake.press(dan, '💰 Balance');
  await h.fake.press(dan, '⭐ Top up with Stars');
  await h.fake.press(dan, '500 ⭐ → $6.50');
  await h.fake.pay(dan, 'stxREFUND-2');
  await h.fake.press(dan, '🤖 AI Tokens');
  await h.fake.press(dan, /· \$3\.75$/);
  await h.fake.press(dan, '🛒 Buy for $3.75');
  await h.fake.press(dan, '✅ Confirm purchase');
  await h.fake.send(dan, '/paysupport refund the 500 please');
  await h.fake.press(admin, '💸 Refund 500 ⭐');
  assert.match(h.fake.lastBotMessage(ADMIN_ID).text, /already spent \$3\.75 of it: refunding anyway records a loss of \$3\.75/);
  assert.deepEqual(h.fake.buttons(ADMIN_ID), ['⚠️ Refund anyway (loss $3.75)', '⬅️ Back']);
  await h.fake.press(admin, '⚠️ Refund anyway (loss $3.75)');
  assert.match(h.fake.lastBotMessage(ADMIN_ID).text, /Refunded 500 ⭐\. \$2\.75 taken back from the balance; loss recorded: \$3\.75\./);
  assert.equal(await balance(), 0);
  const refundLines = h.logs().filter((l) => l.transaction === true && l.type === 'refund');
  assert.deepEqual(
    refundLines.map((l) => l.amount),
    [-3.75],
  );
  assert.deepEqual((await auditLedger(h.handle)).problems, []);
});
