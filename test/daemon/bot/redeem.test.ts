/**
 * 🎁 Gift codes in the bot: /redeem CODE and the button credit or grant exactly once; wrong, used and
 * expired codes get a clear answer; repeated wrong guesses are limited and logged as security events.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCodes, parseExpiry } from '../../../src/codes/gift-codes.js';
import { seedPackage } from '../../support/seed.js';
import { startBotHarness } from './harness.js';

const GIL = 9191;

test('/redeem credits once; the button asks for the code; a package code hands over a key; used and expired codes are explained', async (t) => {
  const h = await startBotHarness(t);
  const gil = h.fake.user(GIL, { first_name: 'Gil' });
  const { codes } = await createCodes({ handle: h.handle }, { count: 2, usd: '7.50' });
  await h.fake.send(gil, `/redeem ${codes[0].toLowerCase()}`);
  assert.match(h.fake.lastBotMessage(GIL).text, /Code redeemed: \+\$7\.50 added to your balance\.\n💰 Balance: \$7\.50/);
  await h.fake.send(gil, `/redeem ${codes[0]}`);
  assert.match(h.fake.lastBotMessage(GIL).text, /You already redeemed this code/);
  const other = h.fake.user(9192);
  await h.fake.send(other, `/redeem ${codes[0]}`);
  assert.match(h.fake.lastBotMessage(9192).text, /already been used/);

  // under 💰 Balance: the button asks, the reply redeems
  await h.fake.press(gil, '💰 Balance');
  await h.fake.press(gil, '🎁 Redeem a code');
  assert.match(h.fake.lastBotMessage(GIL).text, /Reply to this message with your code/);
  await h.fake.reply(gil, codes[1]);
  assert.match(h.fake.lastBotMessage(GIL).text, /\+\$7\.50 added[\s\S]*Balance: \$15\.00/);
  const rows = await h.handle.db.selectFrom('transactions').select(['type', 'amount', 'reference']).execute();
  assert.deepEqual(
    rows.map((r) => [r.type, r.amount]),
    [
      ['topup', 7_500_000],
      ['topup', 7_500_000],
    ],
  );

  // a package code: the key in a message of its own
  const pkg = await seedPackage(h.handle, { description: 'GPT-4 gift' });
  const gift = await createCodes({ handle: h.handle }, { count: 1, packageId: pkg.id });
  await h.fake.send(gil, `/redeem ${gift.codes[0]}`);
  assert.ok(h.fake.findBotMessage(GIL, /Code redeemed: GPT-4 gift is yours/));
  assert.equal(h.fake.copyTexts(GIL).length, 1);
  assert.match(h.fake.lastBotMessage(GIL).text, /Your API key · GPT-4 gift/);

  // expired
  const old = await createCodes({ handle: h.handle }, { count: 1, usd: '1', expiresAt: parseExpiry('1h', new Date(Date.now() - 2 * 3_600_000)), now: new Date(Date.now() - 2 * 3_600_000) });
  await h.fake.send(gil, `/redeem ${old.codes[0]}`);
  assert.match(h.fake.lastBotMessage(GIL).text, /This gift code expired on \d{4}-\d\d-\d\d \d\d:\d\d UTC/);
  assert.equal(h.logs().filter((l) => l.security_event === true).length, 1, "only the other customer's try at a used code counts as a guess");
});

test('wrong guesses: each logged as a security event, then refused unchecked for a while — even a valid code', async (t) => {
  const h = await startBotHarness(t, { deps: { redeem: { wrongGuesses: 3, windowSeconds: 600 } } });
  const gil = h.fake.user(GIL);
  const { codes } = await createCodes({ handle: h.handle }, { count: 1, usd: '5' });
  for (let i = 0; i < 3; i++) {
    await h.fake.send(gil, `/redeem ARB-AAAA-BBBB-CCCC-DDD${i}`);
    assert.match(h.fake.lastBotMessage(GIL).text, /not a valid gift code/);
  }
  await h.fake.send(gil, `/redeem ${codes[0]}`);
  assert.match(h.fake.lastBotMessage(GIL).text, /Too many wrong codes\. Please try again in 10 min\./);
  assert.equal((await h.handle.db.selectFrom('transactions').selectAll().execute()).length, 0);
  const events = h.logs().filter((l) => l.security_event === true);
  assert.deepEqual(
    events.map((l) => [l.event, l.attempts ?? null]),
    [
      ['gift_code_rejected', 1],
      ['gift_code_rejected', 2],
      ['gift_code_rejected', 3],
      ['gift_code_rate_limited', null],
    ],
  );
  assert.ok(!h.logText().includes('ARB-AAAA') && !h.logText().includes(codes[0]), 'typed codes never reach the log');
  // another customer is not affected
  const kit = h.fake.user(9193);
  await h.fake.send(kit, `/redeem ${codes[0]}`);
  assert.match(h.fake.lastBotMessage(9193).text, /\+\$5\.00 added/);
});
