/**
 * The money statements on their own, on SQLite and PostgreSQL: the hold is atomic under concurrency,
 * settle happens once and never breaks the quota, holds of gone instances are released.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createConfig } from '../../src/config.js';
import { createMeteringStore, type SettleInput } from '../../src/metering/store.js';
import { newInstanceId, recoverOrphanedHolds, registerInstance, heartbeatInstance } from '../../src/metering/instances.js';
import { purchasePackage } from '../../src/ledger/ledger.js';
import { auditLedger } from '../../src/ledger/audit.js';
import { hashApiKey } from '../../src/keys/api-key.js';
import { toDbTime } from '../../src/time.js';
import { transact, type DbHandle } from '../../src/db/dialect.js';
import { tempDb, testDialects } from '../support/db.js';
import { seedPackage } from '../support/seed.js';

let nextUser = 500;

async function keyWith(handle: DbHandle, tokens: number) {
  const config = createConfig({});
  const pkg = await seedPackage(handle, { config, tokens });
  const r = await purchasePackage({ handle, config }, { telegramId: nextUser++, packageId: pkg.id, free: true });
  return { key: r.apiKey!, allocationId: r.allocation.id };
}

/** The daemon instances the tests' holds belong to, alive (the audit reports holds of gone instances). */
async function liveInstances(handle: DbHandle, ...ids: string[]) {
  for (const instanceId of ids) await registerInstance(handle, { instanceId, pid: process.pid, hostname: newInstanceId().hostname });
}

async function counters(handle: DbHandle, id: number) {
  return handle.db.selectFrom('ai_token_allocations').select(['tokens_total', 'tokens_used', 'tokens_reserved']).where('id', '=', id).executeTakeFirstOrThrow();
}

function settleInput(requestId: string, allocationId: number, weightedTokens: number): SettleInput {
  return {
    requestId,
    allocationId,
    model: 'openai/gpt-4',
    promptTokens: weightedTokens,
    completionTokens: 0,
    weightedTokens,
    upstreamCostMicros: 0,
    latencyMs: 1,
    statusCode: 200,
    outcome: 'ok',
    estimated: false,
    stream: false,
  };
}

for (const dialect of testDialects()) {
  test(`reserve: concurrent holds never exceed the quota (${dialect})`, async (t) => {
    const handle = await tempDb(t, dialect);
    const store = createMeteringStore(handle);
    await liveInstances(handle, 'i1');
    const { key, allocationId } = await keyWith(handle, 250);
    const found = await store.findKeyByHash(hashApiKey(key));
    assert.equal(found?.id, allocationId);
    assert.equal(found?.promptRate, 30_000_000);
    assert.equal(found?.completionRate, 60_000_000);
    assert.equal(found?.maxCompletionTokens, 4096);

    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => store.reserve({ allocationId, requestId: `r${i}`, instanceId: 'i1', tokens: 10 })));
    assert.equal(results.filter(Boolean).length, 25);
    const c = await counters(handle, allocationId);
    assert.equal(c.tokens_reserved, 250);
    const rows = await handle.db.selectFrom('reservations').selectAll().execute();
    assert.equal(rows.length, 25);
    assert.ok(rows.every((r) => r.instance_id === 'i1' && r.tokens === 10));
    assert.equal((await auditLedger(handle)).ok, true);
  });

  test(`settle: once per request id, the charge never breaks the quota, excess recorded as loss (${dialect})`, async (t) => {
    const handle = await tempDb(t, dialect);
    const store = createMeteringStore(handle);
    const { allocationId } = await keyWith(handle, 100);
    assert.equal(await store.reserve({ allocationId, requestId: 'a', instanceId: 'i1', tokens: 30 }), true);
    assert.equal(await store.reserve({ allocationId, requestId: 'b', instanceId: 'i1', tokens: 50 }), true);
    assert.equal(await store.reserve({ allocationId, requestId: 'c', instanceId: 'i1', tokens: 21 }), false);

    const first = await store.settle(settleInput('a', allocationId, 25));
    assert.deepEqual(first, { charged: 25, lossTokens: 0, released: 30, duplicate: false });
    const again = await store.settle(settleInput('a', allocationId, 25));
    assert.equal(again.duplicate, true);
    assert.deepEqual(await counters(handle, allocationId), { tokens_total: 100, tokens_used: 25, tokens_reserved: 50 });

    // b held 50 but used 90: room is 100 − 25 − 0 = 75 → 75 charged, 15 loss
    const over = await store.settle(settleInput('b', allocationId, 90));
    assert.deepEqual(over, { charged: 75, lossTokens: 15, released: 50, duplicate: false });
    assert.deepEqual(await counters(handle, allocationId), { tokens_total: 100, tokens_used: 100, tokens_reserved: 0 });
    const ev = await handle.db.selectFrom('usage_events').selectAll().where('request_id', '=', 'b').executeTakeFirstOrThrow();
    assert.equal(ev.weighted_tokens, 75);
    assert.equal(ev.loss_tokens, 15);
    assert.equal(await store.reserve({ allocationId, requestId: 'd', instanceId: 'i1', tokens: 1 }), false);

    const concurrentDup = await Promise.all([store.settle(settleInput('x', allocationId, 0)), store.settle(settleInput('x', allocationId, 0))]);
    assert.equal(concurrentDup.filter((r) => r.duplicate).length, 1);
    assert.deepEqual((await auditLedger(handle)).problems, []);
  });

  test(`reserve: minRemaining is decided with the hold; settle: counters a hold row does not match are never driven negative (${dialect})`, async (t) => {
    const handle = await tempDb(t, dialect);
    const store = createMeteringStore(handle);
    const { allocationId } = await keyWith(handle, 100);
    // a 10-token hold that needs 200 left before it is refused, and changes nothing
    assert.equal(await store.reserve({ allocationId, requestId: 'wide', instanceId: 'i1', tokens: 10, minRemaining: 200 }), false);
    assert.equal(await store.reserve({ allocationId, requestId: 'fits', instanceId: 'i1', tokens: 10, minRemaining: 100 }), true);
    assert.deepEqual(await counters(handle, allocationId), { tokens_total: 100, tokens_used: 0, tokens_reserved: 10 });
    assert.deepEqual(await store.settle(settleInput('fits', allocationId, 10)), { charged: 10, lossTokens: 0, released: 10, duplicate: false });

    // the counters were edited by hand under an open hold of 60: only what tokens_reserved still shows is released
    assert.equal(await store.reserve({ allocationId, requestId: 'edited', instanceId: 'i1', tokens: 60 }), true);
    await handle.db.updateTable('ai_token_allocations').set({ tokens_reserved: 25 }).where('id', '=', allocationId).execute();
    assert.deepEqual(await store.settle(settleInput('edited', allocationId, 30)), { charged: 30, lossTokens: 0, released: 25, duplicate: false });
    assert.deepEqual(await counters(handle, allocationId), { tokens_total: 100, tokens_used: 40, tokens_reserved: 0 });
  });

  test(`holds: expired or revoked keys take no hold; a hold released by recovery is not released twice (${dialect})`, async (t) => {
    const handle = await tempDb(t, dialect);
    const store = createMeteringStore(handle);
    await liveInstances(handle, 'i1', 'alive');
    const { allocationId } = await keyWith(handle, 100);
    assert.equal(await store.reserve({ allocationId, requestId: 'late', instanceId: 'i1', tokens: 10, now: '2999-01-01 00:00:00' }), false);
    await handle.db.updateTable('ai_token_allocations').set({ status: 'revoked' }).where('id', '=', allocationId).execute();
    assert.equal(await store.reserve({ allocationId, requestId: 'rev', instanceId: 'i1', tokens: 10 }), false);
    await handle.db.updateTable('ai_token_allocations').set({ status: 'active' }).where('id', '=', allocationId).execute();

    assert.equal(await store.reserve({ allocationId, requestId: 'h1', instanceId: 'dead', tokens: 40 }), true);
    assert.equal(await store.reserve({ allocationId, requestId: 'h2', instanceId: 'alive', tokens: 30 }), true);
    const released = await store.releaseHolds(['dead']);
    assert.deepEqual(released, { reservations: 1, tokens: 40 });
    assert.equal((await counters(handle, allocationId)).tokens_reserved, 30);
    // the "dead" instance settles after all: the charge fits the room, nothing is released twice
    const late = await store.settle(settleInput('h1', allocationId, 20));
    assert.deepEqual(late, { charged: 20, lossTokens: 0, released: 0, duplicate: false });
    assert.deepEqual(await counters(handle, allocationId), { tokens_total: 100, tokens_used: 20, tokens_reserved: 30 });
    assert.deepEqual((await auditLedger(handle)).problems, []);
  });

  test(`recovery: holds of dead or stale instances and orphaned holds are released, live ones kept (${dialect})`, async (t) => {
    const handle = await tempDb(t, dialect);
    const store = createMeteringStore(handle);
    const { allocationId } = await keyWith(handle, 1000);
    const self = newInstanceId();
    const deadHere = { instanceId: 'here-dead', pid: 999_999, hostname: self.hostname };
    const stale = { instanceId: 'elsewhere-stale', pid: 1, hostname: 'other-host' };
    const fresh = { instanceId: 'elsewhere-fresh', pid: 1, hostname: 'other-host' };
    for (const i of [self, deadHere, stale, fresh]) await registerInstance(handle, i);
    await handle.db
      .updateTable('instances')
      .set({ heartbeat_at: toDbTime(new Date(Date.now() - 5 * 60_000)) })
      .where('instance_id', '=', stale.instanceId)
      .execute();
    await heartbeatInstance(handle, fresh);
    let n = 0;
    for (const owner of [self.instanceId, deadHere.instanceId, stale.instanceId, fresh.instanceId, 'never-registered']) {
      assert.equal(await store.reserve({ allocationId, requestId: `q${n++}`, instanceId: owner, tokens: 100 }), true);
    }
    const r = await recoverOrphanedHolds(handle, { self, isAlive: (pid) => pid !== 999_999 });
    assert.deepEqual(r.goneInstances.sort(), ['elsewhere-stale', 'here-dead', 'never-registered']);
    assert.equal(r.reservations, 3);
    assert.equal(r.tokens, 300);
    assert.equal((await counters(handle, allocationId)).tokens_reserved, 200);
    const owners = (await handle.db.selectFrom('reservations').select('instance_id').execute()).map((x) => x.instance_id).sort();
    assert.deepEqual(owners, [fresh.instanceId, self.instanceId].sort());
    const instances = (await handle.db.selectFrom('instances').select('instance_id').execute()).map((x) => x.instance_id).sort();
    assert.deepEqual(instances, [fresh.instanceId, self.instanceId].sort());
    assert.deepEqual((await auditLedger(handle)).problems, []);
  });

  test(`one batch: a failing operation changes nothing of its own and nothing of the others submitted with it (${dialect})`, async (t) => {
    const handle = await tempDb(t, dialect);
    const store = createMeteringStore(handle);
    await liveInstances(handle, 'i1');
    const { allocationId } = await keyWith(handle, 1000);
    assert.equal(await store.reserve({ allocationId, requestId: 'done', instanceId: 'i1', tokens: 10 }), true);
    await store.settle(settleInput('done', allocationId, 7));
    // submitted in one turn of the event loop (one group commit on SQLite): a duplicate settle, whose charge
    // update runs before its usage-event insert fails, between operations that succeed
    assert.equal(await store.reserve({ allocationId, requestId: 'p', instanceId: 'i1', tokens: 40 }), true);
    const [a, dup, b, late] = await Promise.all([
      store.reserve({ allocationId, requestId: 'q', instanceId: 'i1', tokens: 50 }),
      store.settle(settleInput('done', allocationId, 500)),
      store.settle(settleInput('p', allocationId, 30)),
      store.reserve({ allocationId, requestId: 'q2', instanceId: 'i1', tokens: 5 }),
    ]);
    assert.equal(a, true);
    assert.equal(dup.duplicate, true);
    assert.deepEqual(b, { charged: 30, lossTokens: 0, released: 40, duplicate: false });
    assert.equal(late, true);
    // used: 7 + 30 (the duplicate's 500 left no trace); reserved: q 50 + q2 5
    assert.deepEqual(await counters(handle, allocationId), { tokens_total: 1000, tokens_used: 37, tokens_reserved: 55 });
    const events = await handle.db.selectFrom('usage_events').select(['request_id', 'weighted_tokens']).orderBy('request_id').execute();
    assert.deepEqual(
      events.map((e) => [e.request_id, Number(e.weighted_tokens)]),
      [
        ['done', 7],
        ['p', 30],
      ],
    );
    const holds = (await handle.db.selectFrom('reservations').select('request_id').orderBy('request_id').execute()).map((r) => r.request_id);
    assert.deepEqual(holds, ['q', 'q2']);
    assert.deepEqual((await auditLedger(handle)).problems, []);
  });
}

test('SQLite: a hold taken while an async transaction is open on the same connection waits for it, and its rollback does not undo the hold', async (t) => {
  const handle = await tempDb(t, 'sqlite');
  const store = createMeteringStore(handle);
  await liveInstances(handle, 'i1');
  const { allocationId } = await keyWith(handle, 1000);
  let holdSettled = false;
  let hold: Promise<boolean> | undefined;
  await assert.rejects(
    transact(handle, async (trx) => {
      await trx.updateTable('ai_token_allocations').set({ tokens_total: 5 }).where('id', '=', allocationId).execute();
      // the transaction is open and awaits: the hold is submitted now and must not run inside it
      hold = store.reserve({ allocationId, requestId: 'during', instanceId: 'i1', tokens: 100 });
      void hold.then(() => (holdSettled = true));
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(holdSettled, false, 'the hold waited for the open transaction');
      throw new Error('roll back');
    }),
    /roll back/,
  );
  // decided against the committed state (1,000 tokens), not the rolled-back 5, and kept after the rollback
  assert.equal(await hold, true);
  assert.deepEqual(await counters(handle, allocationId), { tokens_total: 1000, tokens_used: 0, tokens_reserved: 100 });
  // with no transaction open, a hold runs at once
  assert.equal(await store.reserve({ allocationId, requestId: 'after', instanceId: 'i1', tokens: 10 }), true);
  assert.equal((await counters(handle, allocationId)).tokens_reserved, 110);
});
