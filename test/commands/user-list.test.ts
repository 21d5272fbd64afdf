import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openAndMigrate } from '../../src/db/dialect.js';
import { refundAllocation } from '../../src/ledger/ledger.js';
import { tempDir } from '../support/db.js';
import { arbEnvDb, runArb, seedShop } from './support.js';

test('arb user list: balances, keys and money in/out per customer', async (t) => {
  const env = await arbEnvDb(t, tempDir(t));
  const empty = await runArb(['user', 'list'], env);
  assert.equal(empty.code, 0, empty.stderr);
  assert.equal(empty.stdout, 'no customers yet\n');

  const handle = await openAndMigrate(env.db);
  const shop = await seedShop(handle);
  await refundAllocation({ handle }, { allocationId: shop.allocations[2] });
  await handle.close();
  const r = await runArb(['user', 'list', '--json'], env);
  assert.equal(r.code, 0, r.stderr);
  const users = JSON.parse(r.stdout).users;
  assert.deepEqual(
    users.map((u: Record<string, unknown>) => [u.telegram_id, u.balance_micros, u.keys, u.active_keys, u.spent_micros, u.topped_up_micros]),
    [
      [1001, 20_000_000 - 3_750_000 - 320_000, 2, 2, 4_070_000, 20_000_000],
      [1002, 5_000_000, 1, 0, 0, 5_000_000],
      [1003, 0, 1, 1, 0, 0],
    ],
  );
  assert.equal(users[0].balance_usd, 15.93);
  const table = await runArb(['user', 'list'], env);
  assert.match(table.stdout, /^ +1001 +\$15\.93 +2 \(2\) +\$4\.07 +\$20\.00 /m);
});
