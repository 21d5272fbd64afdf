/**
 * Gift codes (src/codes/gift-codes.ts) on both databases: only hashes stored; a code credits or grants
 * exactly once, also when two customers race for it or a redemption was interrupted; wrong, used and
 * expired codes are refused with the reason; the ledger stays clean.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tempDb, testDialects, PG_SKIP_REASON } from '../support/db.js';
import { seedPackage } from '../support/seed.js';
import { auditLedger } from '../../src/ledger/audit.js';
import { createCodes, GiftCodeRefused, hashCode, listCodes, normalizeCode, parseExpiry, redeemCode } from '../../src/codes/gift-codes.js';
import { InputError } from '../../src/errors.js';

if (!process.env.TEST_DATABASE_URL) test('gift codes on PostgreSQL', { skip: PG_SKIP_REASON }, () => {});

const refused = (reason: string) => (e: unknown) => e instanceof GiftCodeRefused && e.reason === reason;

for (const dialect of testDialects()) {
  test(`[${dialect}] gift codes: hashes only, exactly once, clear refusals`, async (t) => {
    const handle = await tempDb(t, dialect);
    const now = new Date('2026-12-06T12:00:00Z');
    const clock = { now: () => now };
    const usd = await createCodes({ handle }, { count: 3, usd: '5', now });
    assert.equal(usd.codes.length, 3);
    for (const c of usd.codes) assert.match(c, /^ARB-[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$/);
    const stored = JSON.stringify(await handle.db.selectFrom('gift_codes').selectAll().execute());
    for (const c of usd.codes) {
      assert.ok(!stored.includes(c) && !stored.includes(normalizeCode(c)!), 'a code is never stored');
      assert.ok(stored.includes(hashCode(normalizeCode(c)!)));
    }

    // typed loosely: lower case, spaces, O for 0 and l for 1
    const [a, b, c] = usd.codes;
    const loose = a.toLowerCase().replace(/-/g, ' ').replace(/0/g, 'o').replace(/1/g, 'l');
    const first = await redeemCode({ handle, ...clock }, { telegramId: 501, code: loose });
    assert.equal(first.kind, 'credited');
    assert.equal(first.kind === 'credited' && first.balanceMicros, 5_000_000);
    await assert.rejects(redeemCode({ handle, ...clock }, { telegramId: 501, code: a }), refused('used_by_you'));
    await assert.rejects(redeemCode({ handle, ...clock }, { telegramId: 502, code: a }), refused('used'));
    await assert.rejects(redeemCode({ handle, ...clock }, { telegramId: 502, code: 'ARB-0000-0000-0000-0000' }), refused('invalid'));
    await assert.rejects(redeemCode({ handle, ...clock }, { telegramId: 502, code: 'hello' }), refused('invalid'));

    // two customers at once: one gets it
    const race = await Promise.allSettled([redeemCode({ handle, ...clock }, { telegramId: 601, code: b }), redeemCode({ handle, ...clock }, { telegramId: 602, code: b })]);
    assert.equal(race.filter((r) => r.status === 'fulfilled').length, 1);
    assert.ok(race.some((r) => r.status === 'rejected' && refused('used')(r.reason)));

    // interrupted after the claim (no ledger row yet): the same customer's retry completes it, once
    const u = await handle.db
      .insertInto('users')
      .values({ telegram_id: 701, username: null, first_name: null, language_code: null, balance: 0, created_at: '2026-12-06 11:00:00', updated_at: '2026-12-06 11:00:00' })
      .returning('id')
      .executeTakeFirstOrThrow();
    await handle.db
      .updateTable('gift_codes')
      .set({ redeemed_at: '2026-12-06 11:59:00', redeemed_by: u.id })
      .where('code_hash', '=', hashCode(normalizeCode(c)!))
      .execute();
    await assert.rejects(redeemCode({ handle, ...clock }, { telegramId: 702, code: c }), refused('used'));
    const resumed = await redeemCode({ handle, ...clock }, { telegramId: 701, code: c });
    assert.equal(resumed.kind, 'credited');
    await assert.rejects(redeemCode({ handle, ...clock }, { telegramId: 701, code: c }), refused('used_by_you'));
    const credits = await handle.db.selectFrom('transactions').select(['reference', 'amount', 'type']).orderBy('id').execute();
    assert.deepEqual(
      credits.map((r) => r.type),
      ['topup', 'topup', 'topup'],
    );
    assert.equal(new Set(credits.map((r) => r.reference)).size, 3, 'one ledger row per code');

    // a package code: a free grant with a key; expiry
    const pkg = await seedPackage(handle);
    const pack = await createCodes({ handle }, { count: 1, packageId: pkg.id, expiresAt: parseExpiry('1d', now), now });
    const granted = await redeemCode({ handle, ...clock }, { telegramId: 801, code: pack.codes[0] });
    assert.equal(granted.kind, 'granted');
    assert.ok(granted.kind === 'granted' && granted.apiKey?.startsWith('sk-arb-'));
    const late = await createCodes({ handle }, { count: 1, usd: '1', expiresAt: parseExpiry('12h', now), now });
    const later = { now: () => new Date(now.getTime() + 13 * 3_600_000) };
    await assert.rejects(
      redeemCode({ handle, ...later }, { telegramId: 802, code: late.codes[0] }),
      (e: unknown) => refused('expired')(e) && /expired 2026-12-07 00:00:00 UTC/.test((e as Error).message),
    );

    const listed = await listCodes(handle, { now: later.now() });
    assert.deepEqual(
      listed.map((r) => r.state),
      ['expired', 'used', 'used', 'used', 'used'],
    );
    assert.ok(!JSON.stringify(listed).includes(a));

    // bad input names the option
    await assert.rejects(createCodes({ handle }, { count: 0, usd: '5' }), /count: "0" is not a number of codes between 1 and 10,000/);
    await assert.rejects(createCodes({ handle }, { count: 1 }), /give exactly one: --usd 10/);
    await assert.rejects(createCodes({ handle }, { count: 1, usd: '5', packageId: pkg.id }), /give exactly one/);
    await assert.rejects(createCodes({ handle }, { count: 1, packageId: 999 }), /--package: no package 999/);
    await assert.rejects(createCodes({ handle }, { count: 1, usd: 'five' }), /--usd: "five" is not a USD amount/);
    assert.throws(
      () => parseExpiry('soon', now),
      (e: unknown) => e instanceof InputError && /--expires: "soon" is not a lifetime; use e\.g\. 30d/.test((e as Error).message),
    );
    assert.deepEqual((await auditLedger(handle)).problems, []);
  });
}
