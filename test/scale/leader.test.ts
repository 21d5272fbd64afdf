/**
 * The leader lease (src/scale/leader.ts) on SQLite and PostgreSQL: one holder at a time, renewals, a
 * hand-over on release, a take-over when the holder stops renewing (TTL) or its pid is dead on this
 * host, and only one winner among standbys racing for a free lease.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { openAndMigrate } from '../../src/db/dialect.js';
import { createLease, startLeaderElection, type Leadership } from '../../src/scale/leader.js';
import { newInstanceId } from '../../src/metering/instances.js';
import { tempDb, testDialects } from '../support/db.js';
import { until } from '../support/wait.js';

const id = () => newInstanceId().instanceId;

function waitFor(leadership: Leadership, value: boolean, timeoutMs = 10_000): Promise<void> {
  if (leadership.isLeader === value) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`leadership did not become ${value} within ${timeoutMs} ms`)), timeoutMs);
    const off = leadership.onChange((leader) => {
      if (leader === value) {
        clearTimeout(timer);
        off();
        resolve();
      }
    });
  });
}

for (const dialect of testDialects()) {
  test(`lease: one holder; renewals keep it; release hands it over; an expired lease is taken (${dialect})`, async (t) => {
    const handle = await tempDb(t, dialect);
    let clock = new Date('2026-11-25T12:00:00Z');
    const now = () => clock;
    const a = createLease(handle, { name: 'daemon-leader', holder: id(), ttlMs: 15_000, now });
    const b = createLease(handle, { name: 'daemon-leader', holder: id(), ttlMs: 15_000, now });
    assert.equal(await a.acquire(), true);
    assert.equal(await b.acquire(), false);
    assert.equal(await a.holder(), (await handle.db.selectFrom('settings').select('value').where('key', '=', 'lease:daemon-leader').executeTakeFirstOrThrow()).value);

    clock = new Date(clock.getTime() + 10_000);
    assert.equal(await a.acquire(), true, 'renewed');
    clock = new Date(clock.getTime() + 10_000);
    assert.equal(await b.acquire(), false, 'renewed 10 s ago: still held');

    clock = new Date(clock.getTime() + 16_000);
    assert.equal(await b.acquire(), true, 'not renewed for longer than the TTL: taken over');
    assert.equal(await a.acquire(), false, 'the old holder learns it lost the lease');

    await a.release(); // not the holder: changes nothing
    assert.equal(await b.acquire(), true);
    await b.release();
    assert.equal(await b.holder(), undefined);
    assert.equal(await a.acquire(), true, 'a released lease is free at once');
  });

  test(`lease: a holder on this host whose pid is dead loses it at once; racing standbys, one winner (${dialect})`, async (t) => {
    const handle = await tempDb(t, dialect);
    const dead = `${hostname()}:99999999:deadbeef`;
    const ghost = createLease(handle, { name: 'x', holder: dead, isAlive: () => true });
    assert.equal(await ghost.acquire(), true);
    const standbys = Array.from({ length: 5 }, () => createLease(handle, { name: 'x', holder: id(), isAlive: (pid) => pid !== 99999999 }));
    const won = await Promise.all(standbys.map((s) => s.acquire()));
    assert.equal(won.filter(Boolean).length, 1, `exactly one standby took the dead holder's lease: ${won.join(', ')}`);

    // a lease on another host is not judged by pid: only its TTL frees it
    const remote = createLease(handle, { name: 'y', holder: 'other-host:1:abcd' });
    assert.equal(await remote.acquire(), true);
    assert.equal(await createLease(handle, { name: 'y', holder: id(), isAlive: () => false }).acquire(), false);

    // a free lease raced by many: one winner
    const racers = Array.from({ length: 5 }, () => createLease(handle, { name: 'z', holder: id() }));
    const first = await Promise.all(racers.map((r) => r.acquire()));
    assert.equal(first.filter(Boolean).length, 1);
  });
}

test('election: the first daemon leads at once; a stopped leader hands over to a standby; listeners see every change', async (t) => {
  const handle = await tempDb(t);
  // a second connection, as a second daemon would have (on SQLite only one handle writes per process, but
  // these statements are single autocommit writes that never hold a transaction across an await)
  const other = handle.dialect === 'postgres' ? await openAndMigrate({ databaseUrl: handle.url!, poolSize: 2 }) : handle;
  if (other !== handle) t.after(() => other.close());
  const holderA = id();
  const a = await startLeaderElection(handle, { name: 'daemon-leader', holder: holderA, ttlMs: 1_500, renewMs: 100 });
  t.after(() => a.stop());
  const b = await startLeaderElection(other, { name: 'daemon-leader', holder: id(), ttlMs: 1_500, renewMs: 100 });
  t.after(() => b.stop());
  assert.equal(a.isLeader, true);
  assert.equal(b.isLeader, false);
  const seenA: boolean[] = [];
  const seenB: boolean[] = [];
  a.onChange((l) => void seenA.push(l));
  b.onChange((l) => void seenB.push(l));
  // the leader renews for longer than the TTL (the lease row's stamp, in whole seconds, moves on at least
  // twice): nothing changes hands and no listener hears anything
  const started = Date.now();
  const stamps = new Set<string>();
  await until(
    'renewals of the lease for longer than its TTL',
    async () => {
      const row = await handle.db.selectFrom('settings').select(['value', 'updated_at']).where('key', '=', 'lease:daemon-leader').executeTakeFirstOrThrow();
      assert.equal(row.value, holderA, 'the lease stays with the leader');
      stamps.add(String(row.updated_at));
      return stamps.size >= 3 && Date.now() - started > 1_500;
    },
    10_000,
    50,
  );
  assert.deepEqual([seenA, seenB], [[], []]);
  assert.deepEqual([a.isLeader, b.isLeader], [true, false]);

  await a.stop();
  assert.equal(a.isLeader, false);
  await waitFor(b, true);
  assert.deepEqual(seenA, [false]);
  assert.deepEqual(seenB, [true]);
  await a.stop(); // idempotent
});

test('election: a leader whose database stops answering steps down by itself', async (t) => {
  const handle = await tempDb(t);
  const lonely = handle.dialect === 'postgres' ? await openAndMigrate({ databaseUrl: handle.url!, poolSize: 1 }) : await openAndMigrate({ dbName: handle.file! });
  const a = await startLeaderElection(lonely, { name: 'daemon-leader', holder: id(), ttlMs: 900, renewMs: 100 });
  t.after(() => a.stop());
  assert.equal(a.isLeader, true);
  await lonely.close(); // every renewal now fails
  await waitFor(a, false);
  // meanwhile nobody else could have taken it before it expired; afterwards another replica can
  const b = await startLeaderElection(handle, { name: 'daemon-leader', holder: id(), ttlMs: 900, renewMs: 100 });
  t.after(() => b.stop());
  await waitFor(b, true);
});
