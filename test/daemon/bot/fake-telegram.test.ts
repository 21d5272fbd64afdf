/**
 * The fake Bot API is only useful if it is as strict as Telegram where the bot could go wrong: these check
 * its HTML parsing, nesting rules and limits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Api, GrammyError, InlineKeyboard, InputFile } from 'grammy';
import { parseTelegramHtml, startFakeTelegram } from '../../support/fake-telegram.js';

test('HTML is parsed into text and entities like Telegram does, and bad markup is refused', () => {
  const { text, entities } = parseTelegramHtml('<b>Price</b>: &lt;$3.75&gt; &amp; <tg-spoiler>sk-arb-x</tg-spoiler> <a href="https://x.y/?a=1&amp;b=2">link</a> &quot;q&quot;');
  assert.equal(text, 'Price: <$3.75> & sk-arb-x link "q"');
  assert.deepEqual(
    entities.map((e) => [e.type, text.slice(e.offset, e.offset + e.length)]),
    [
      ['bold', 'Price'],
      ['spoiler', 'sk-arb-x'],
      ['text_link', 'link'],
    ],
  );
  assert.equal((entities[2] as { url?: string }).url, 'https://x.y/?a=1&b=2');
  for (const bad of ['a < b', 'Tom & Jerry', '<script>x</script>', '<b>open', '<b><i>x</b></i>', '<tg-spoiler><code>k</code></tg-spoiler>', '<code><b>x</b></code>', 'x > y']) {
    assert.throws(() => parseTelegramHtml(bad), /can't parse entities/, bad);
  }
  assert.doesNotThrow(() => parseTelegramHtml('<pre><code class="language-sh">curl</code></pre>'));
  assert.equal(parseTelegramHtml('😀 &#128512;').text, '😀 😀');
});

test('the fake enforces limits and records calls', async (t) => {
  const fake = await startFakeTelegram();
  t.after(() => fake.close());
  const call = async (method: string, body: unknown) => {
    const res = await fetch(`${fake.apiRoot}/bot${fake.token}/${method}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return (await res.json()) as { ok: boolean; description?: string; error_code?: number };
  };
  assert.equal((await call('sendMessage', { chat_id: 1, text: 'x'.repeat(4096) })).ok, true);
  assert.equal((await call('sendMessage', { chat_id: 1, text: 'x'.repeat(4097) })).description, 'Bad Request: message is too long');
  assert.equal((await call('sendMessage', { chat_id: 1, text: `<b>${'x'.repeat(4096)}</b>`, parse_mode: 'HTML' })).ok, true, 'the limit counts rendered text');
  const kb = (data: string) => ({ inline_keyboard: [[{ text: 'b', callback_data: data }]] });
  assert.equal((await call('sendMessage', { chat_id: 1, text: 'k', reply_markup: kb('é'.repeat(32)) })).ok, true);
  assert.equal((await call('sendMessage', { chat_id: 1, text: 'k', reply_markup: kb('é'.repeat(33)) })).description, 'Bad Request: BUTTON_DATA_INVALID');
  assert.equal((await call('sendInvoice', { chat_id: 1, title: 't', description: 'd', payload: 'p', currency: 'XTR', prices: [{ label: 'a', amount: 1 }], provider_token: 'tok' })).ok, false);
  assert.equal(
    (
      await call('sendInvoice', {
        chat_id: 1,
        title: 't',
        description: 'd',
        payload: 'p',
        currency: 'XTR',
        prices: [
          { label: 'a', amount: 1 },
          { label: 'b', amount: 1 },
        ],
      })
    ).ok,
    false,
  );
  assert.equal((await call('sendInvoice', { chat_id: 1, title: 't', description: 'd', payload: 'p', currency: 'XTR', prices: [{ label: 'a', amount: 1 }] })).ok, true);
  const res = await fetch(`${fake.apiRoot}/botWRONG/getMe`);
  assert.equal(res.status, 401);
  assert.equal(fake.callsOf('sendMessage').length, 3);
  assert.equal(fake.botMessages(1).length, 4);
});

test('copy_text buttons, photo uploads (multipart), command lists per scope and language, Stars refunds', async (t) => {
  const fake = await startFakeTelegram();
  t.after(() => fake.close());
  const api = new Api(fake.token, { apiRoot: fake.apiRoot });
  const err = (p: Promise<unknown>) =>
    p.then(
      () => 'ok',
      (e: GrammyError) => e.description,
    );

  // copy_text: 1-256 characters, and a button has exactly one action
  await api.sendMessage(7, 'key', { reply_markup: new InlineKeyboard().copyText('📋 Copy', 'sk-arb-secret') });
  assert.deepEqual((fake.lastBotMessage(7).inline_keyboard![0][0] as { copy_text?: { text: string } }).copy_text, { text: 'sk-arb-secret' });
  assert.match(await err(api.sendMessage(7, 'x', { reply_markup: new InlineKeyboard().copyText('c', 'x'.repeat(257)) })), /BUTTON_COPY_TEXT_INVALID/);
  assert.match(await err(api.sendMessage(7, 'x', { reply_markup: { inline_keyboard: [[{ text: 'two', callback_data: 'a', url: 'https://x.y' } as never]] } })), /BUTTON_TYPE_INVALID/);

  // sendPhoto through grammY's multipart upload, with an HTML caption and a keyboard
  const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 0x0d, 0x0a, 4]);
  await api.sendPhoto(7, new InputFile(png, 'chart.png'), { caption: '<b>Revenue</b> &amp; profit', parse_mode: 'HTML', reply_markup: new InlineKeyboard().text('⬅️ Back', 'a') });
  const photo = fake.lastBotMessage(7);
  assert.deepEqual(photo.photo, png, 'the bytes arrive intact');
  assert.equal(photo.text, 'Revenue & profit');
  assert.deepEqual(
    photo.inline_keyboard?.[0].map((b) => b.text),
    ['⬅️ Back'],
  );
  assert.match(await err(api.sendPhoto(7, new InputFile(png), { caption: 'x'.repeat(1025) })), /caption is too long/);

  // command lists: one per scope and language
  await api.setMyCommands([{ command: 'start', description: 'Main menu' }]);
  await api.setMyCommands([{ command: 'start', description: 'Главное меню' }], { language_code: 'ru' });
  await api.setMyCommands([{ command: 'admin', description: 'Admin' }], { scope: { type: 'chat', chat_id: 7 } });
  assert.equal(fake.commandsFor()?.[0].description, 'Main menu');
  assert.equal(fake.commandsFor(undefined, 'ru')?.[0].description, 'Главное меню');
  assert.equal(fake.commandsFor({ type: 'chat', chat_id: 7 })?.[0].command, 'admin');
  assert.deepEqual(await api.getMyCommands({ scope: { type: 'chat', chat_id: 7 } }), [{ command: 'admin', description: 'Admin' }]);
  assert.match(await err(api.setMyCommands([{ command: 'Bad-Name', description: 'x' }])), /BOT_COMMAND_INVALID/);

  // Stars refunds: once, to the payer only
  fake.successfulPaymentUpdate(fake.user(7), { payload: 'p', total_amount: 50, charge_id: 'charge-7' });
  assert.match(await err(api.refundStarPayment(8, 'charge-7')), /USER_ID_INVALID/);
  assert.match(await err(api.refundStarPayment(7, 'nope')), /CHARGE_NOT_FOUND/);
  assert.equal(await api.refundStarPayment(7, 'charge-7'), true);
  assert.match(await err(api.refundStarPayment(7, 'charge-7')), /CHARGE_ALREADY_REFUNDED/);
  assert.equal(fake.starPayments.get('charge-7')?.refunded, true);
});

test('a user can answer a message that asked for a reply (force_reply), with reply_to_message', async (t) => {
  const fake = await startFakeTelegram();
  t.after(() => fake.close());
  const api = new Api(fake.token, { apiRoot: fake.apiRoot });
  await api.sendMessage(9, 'What is your question?', { reply_markup: { force_reply: true } });
  const update = fake.replyUpdate(fake.user(9), 'my question', fake.lastBotMessage(9));
  assert.equal(update.message?.reply_to_message?.text, 'What is your question?');
  assert.equal(fake.messages(9).at(-1)?.replyTo, fake.botMessages(9)[0].message_id);
});
