/**
 * The fake Bot API is only useful if it is as strict as Telegram where the bot could go wrong: these check
 * its HTML parsing, nesting rules and limits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
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
  assert.equal((await call('sendInvoice', { chat_id: 1, title: 't', description: 'd', payload: 'p', currency: 'XTR', prices: [{ label: 'a', amount: 1 }, { label: 'b', amount: 1 }] })).ok, false);
  assert.equal((await call('sendInvoice', { chat_id: 1, title: 't', description: 'd', payload: 'p', currency: 'XTR', prices: [{ label: 'a', amount: 1 }] })).ok, true);
  const res = await fetch(`${fake.apiRoot}/botWRONG/getMe`);
  assert.equal(res.status, 401);
  assert.equal(fake.callsOf('sendMessage').length, 3);
  assert.equal(fake.botMessages(1).length, 4);
});
