/**
 * One settle property test, run on every database (SQLite always, PostgreSQL with TEST_DATABASE_URL):
 * random sequences of reserve, covered and uncovered settles, over-usage, duplicate settles, settles of
 * holds released by recovery, and concurrent batches, checked after every step against a model of the
 * counters and against METERING.md's invariants:
 *   tokens_used ≤ tokens_total and used + reserved ≤ total; tokens_used = Σ usage events; tokens_reserved =
 *   Σ open holds; one usage event per request id, charged + loss = what the request consumed; a duplicate
 *   changes nothing; the audit is clean.
 * ARB_PROPERTY_SEED=n replays a run (the seed is in every failure message).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createConfig } from '../../src/config.js';
import { createMeteringStore, type MeteringStore, type SettleInput, type SettleResult } from '../../src/metering/store.js';
import { purchasePackage } from '../../src/ledger/ledger.js';
import { auditLedger } from '../../src/ledger/audit.js';
import { registerInstance } from '../../src/metering/instances.js';
import { hostname } from 'node:os';
import type { DbHandle } from '../../src/db/dialect.js';
import { tempDb, testDialects } from '../support/db.js';
import { seedPackage } from '../support/seed.js';

/** mulberry32: a small seeded PRNG, so a failing sequence can be replayed. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)), pick: <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)] };
}

interface Hold {
  requestId: string;
  allocationId: number;
  tokens: number;
  instanceId: string;
}

interface Alloc {
  id: number;
  total: number;
  used: number;
  reserved: number;
}

/** What the store must have done, derived from the operations and their answers. */
class Model {
  readonly allocs = new Map<number, Alloc>();
  readonly holds = new Map<string, Hold>();
  /** request ids whose hold recovery released (their settle releases nothing) */
  readonly released = new Set<string>();
  /** request id → (allocation, tokens the request consumed, charged, loss) */
  readonly settled = new Map<string, { allocationId: number; weighted: number; charged: number; loss: number }>();

  room(a: Alloc) {
    return a.total - a.used - a.reserved;
  }

  /** The store's answer for a settle applied alone, now. */
  expectSettle(input: SettleInput): SettleResult {
    if (this.settled.has(input.requestId)) return { charged: 0, lossTokens: 0, released: 0, duplicate: true };
    const a = this.allocs.get(input.allocationId)!;
    const hold = this.holds.get(input.requestId);
    const released = hold ? hold.tokens : 0;
    const room = a.total - a.used - (a.reserved - released);
    const charged = Math.max(0, Math.min(input.weightedTokens, room));
    return { charged, lossTokens: input.weightedTokens - charged, released, duplicate: false };
  }

  applySettle(input: SettleInput, r: SettleResult) {
    if (r.duplicate) return;
    const a = this.allocs.get(input.allocationId)!;
    const hold = this.holds.get(input.requestId);
    a.reserved -= r.released;
    a.used += r.charged;
    this.holds.delete(input.requestId);
    this.settled.set(input.requestId, { allocationId: input.allocationId, weighted: input.weightedTokens, charged: r.charged, loss: r.lossTokens });
    assert.equal(r.released, hold ? hold.tokens : 0, `${input.requestId}: released the whole hold`);
  }
}

function settleInput(requestId: string, allocationId: number, weightedTokens: number, i: number): SettleInput {
  return {
    requestId,
    allocationId,
    model: 'openai/gpt-4',
    promptTokens: weightedTokens,
    completionTokens: 0,
    weightedTokens,
    upstreamCostMicros: i,
    latencyMs: 1,
    statusCode: 200,
    outcome: 'ok',
    estimated: i % 2 === 0,
    stream: i % 3 === 0,
  };
}

async function checkInvariants(handle: DbHandle, model: Model, where: string) {
  const rows = await handle.db.selectFrom('ai_token_allocations').select(['id', 'tokens_total', 'tokens_used', 'tokens_reserved']).execute();
  const events = await handle.db.selectFrom('usage_events').select(['request_id', 'allocation_id', 'weighted_tokens', 'loss_tokens']).execute();
  const holds = await handle.db.selectFrom('reservations').select(['request_id', 'allocation_id', 'tokens']).execute();
  for (const r of rows) {
    const m = model.allocs.get(r.id)!;
    assert.ok(r.tokens_used <= r.tokens_total, `${where}: allocation ${r.id} used ${r.tokens_used} > total ${r.tokens_total}`);
    assert.ok(r.tokens_used + r.tokens_reserved <= r.tokens_total, `${where}: allocation ${r.id} used + reserved over its total`);
    assert.ok(r.tokens_used >= 0 && r.tokens_reserved >= 0, `${where}: negative counters`);
    const used = events.filter((e) => e.allocation_id === r.id).reduce((n, e) => n + Number(e.weighted_tokens), 0);
    const held = holds.filter((h) => h.allocation_id === r.id).reduce((n, h) => n + Number(h.tokens), 0);
    assert.equal(r.tokens_used, used, `${where}: allocation ${r.id} tokens_used = Σ usage events`);
    assert.equal(r.tokens_reserved, held, `${where}: allocation ${r.id} tokens_reserved = Σ open holds`);
    assert.deepEqual([r.tokens_used, r.tokens_reserved], [m.used, m.reserved], `${where}: allocation ${r.id} counters = model`);
  }
  assert.equal(events.length, model.settled.size, `${where}: one usage event per settled request`);
  for (const e of events) {
    const s = model.settled.get(e.request_id);
    assert.ok(s, `${where}: usage event ${e.request_id} of no settle`);
    assert.equal(Number(e.weighted_tokens) + Number(e.loss_tokens), s.weighted, `${where}: ${e.request_id} charged + loss = consumed`);
    assert.deepEqual([Number(e.weighted_tokens), Number(e.loss_tokens)], [s.charged, s.loss], `${where}: ${e.request_id} event = answer`);
  }
  assert.deepEqual(holds.map((h) => h.request_id).sort(), [...model.holds.keys()].sort(), `${where}: open holds = model`);
}

async function runSequence(store: MeteringStore, handle: DbHandle, model: Model, seed: number, steps: number) {
  const rnd = prng(seed);
  let n = 0;
  const allocIds = [...model.allocs.keys()];
  const openHolds = () => [...model.holds.values()];
  const doneIds = () => [...model.settled.keys()];
  const instances = ['live', 'live', 'live', 'dead'];
  const recoveredAlloc = new Map<string, number>();

  const reserve = async (where: string) => {
    const a = model.allocs.get(rnd.pick(allocIds))!;
    const tokens = rnd.int(1, Math.max(1, Math.floor(a.total / 3)));
    const minRemaining = rnd.next() < 0.2 ? tokens + rnd.int(0, 50) : undefined;
    const requestId = `r${n++}`;
    const instanceId = rnd.pick(instances);
    const expected = model.room(a) >= Math.max(tokens, minRemaining ?? 0);
    const ok = await store.reserve({ allocationId: a.id, requestId, instanceId, tokens, minRemaining });
    assert.equal(ok, expected, `${where}: reserve ${tokens} (min ${minRemaining}) with room ${model.room(a)}`);
    if (ok) {
      a.reserved += tokens;
      model.holds.set(requestId, { requestId, allocationId: a.id, tokens, instanceId });
    }
  };

  const settle = async (where: string, kind: 'covered' | 'over' | 'nohold' | 'duplicate') => {
    let input: SettleInput;
    if (kind === 'duplicate') {
      const done = doneIds();
      if (done.length === 0) return;
      const id = rnd.pick(done);
      input = settleInput(id, model.settled.get(id)!.allocationId, rnd.int(0, 500), n++);
    } else if (kind === 'nohold') {
      // a request whose hold recovery released (or one that never held: a refused-then-served race)
      const gone = [...model.released].filter((id) => !model.settled.has(id));
      const id = gone.length > 0 && rnd.next() < 0.7 ? rnd.pick(gone) : `lost${n}`;
      const allocationId = recoveredAlloc.get(id) ?? rnd.pick(allocIds);
      input = settleInput(id, allocationId, rnd.int(0, 80), n++);
    } else {
      const open = openHolds();
      if (open.length === 0) return reserve(where);
      const h = rnd.pick(open);
      const weighted = kind === 'covered' ? rnd.int(0, h.tokens) : h.tokens + rnd.int(1, 120);
      input = settleInput(h.requestId, h.allocationId, weighted, n++);
    }
    const expected = model.expectSettle(input);
    const r = await store.settle(input);
    assert.deepEqual(r, expected, `${where}: ${kind} settle of ${input.requestId} (${input.weightedTokens} tokens)`);
    model.applySettle(input, r);
  };

  const recover = async (where: string) => {
    const dead = openHolds().filter((h) => h.instanceId === 'dead');
    const r = await store.releaseHolds(['dead']);
    assert.deepEqual(r, { reservations: dead.length, tokens: dead.reduce((s, h) => s + h.tokens, 0) }, `${where}: recovery`);
    for (const h of dead) {
      model.allocs.get(h.allocationId)!.reserved -= h.tokens;
      model.holds.delete(h.requestId);
      model.released.add(h.requestId);
      recoveredAlloc.set(h.requestId, h.allocationId);
    }
  };

  // Concurrent batch: holds racing for one key, settles (covered and over), and a request settled twice at
  // once. Order inside the batch is the database's to choose; the answers must add up.
  const concurrent = async (where: string) => {
    const a = model.allocs.get(rnd.pick(allocIds))!;
    const reserves = Array.from({ length: rnd.int(2, 12) }, () => ({ requestId: `r${n++}`, allocationId: a.id, instanceId: 'live', tokens: rnd.int(1, Math.max(1, Math.floor(a.total / 4))) }));
    const toSettle = openHolds()
      .filter(() => rnd.next() < 0.5)
      .map((h) => settleInput(h.requestId, h.allocationId, rnd.next() < 0.6 ? rnd.int(0, h.tokens) : h.tokens + rnd.int(1, 60), n++));
    const twice = toSettle.length > 0 ? toSettle[0] : undefined;
    const settles = twice ? [...toSettle, { ...twice }] : toSettle;
    const [reserved, results] = await Promise.all([Promise.all(reserves.map((r) => store.reserve(r))), Promise.all(settles.map((s) => store.settle(s)))]);
    // the settles touch other keys' holds too; reserves raced only among themselves and those settles
    for (const [i, s] of settles.entries()) {
      const r = results[i];
      if (r.duplicate) {
        assert.ok(model.settled.has(s.requestId) || settles.some((x, j) => j !== i && x.requestId === s.requestId && !results[j].duplicate), `${where}: duplicate of a request settled once`);
        continue;
      }
      assert.ok(!model.settled.has(s.requestId), `${where}: ${s.requestId} settled twice`);
      assert.equal(r.charged + r.lossTokens, s.weightedTokens, `${where}: ${s.requestId} charged + loss = consumed`);
      model.applySettle(s, r);
    }
    if (twice) assert.equal(results.filter((r, i) => settles[i].requestId === twice.requestId && !r.duplicate).length, 1, `${where}: the same request settled at once twice: exactly one counts`);
    for (const [i, r] of reserves.entries()) {
      if (!reserved[i]) continue;
      a.reserved += r.tokens;
      model.holds.set(r.requestId, { ...r });
    }
    // with no settle of this key in the batch, its room only shrank: a refused hold is larger than what is
    // left free after the batch
    if (!settles.some((x) => x.allocationId === a.id)) {
      for (const [i, r] of reserves.entries()) {
        if (!reserved[i]) assert.ok(r.tokens > model.room(a), `${where}: hold of ${r.tokens} refused while ${model.room(a)} stayed free`);
      }
    }
  };

  for (let step = 0; step < steps; step++) {
    const where = `seed ${seed} step ${step}`;
    const x = rnd.next();
    if (x < 0.3) await reserve(where);
    else if (x < 0.5) await settle(where, 'covered');
    else if (x < 0.62) await settle(where, 'over');
    else if (x < 0.7) await settle(where, 'duplicate');
    else if (x < 0.76) await settle(where, 'nohold');
    else if (x < 0.8) await recover(where);
    else await concurrent(where);
    await checkInvariants(handle, model, where);
  }
}

for (const dialect of testDialects()) {
  test(`settle property: random reserve/settle sequences keep the metering invariants (${dialect})`, async (t) => {
    const handle = await tempDb(t, dialect);
    const store = createMeteringStore(handle);
    const config = createConfig({});
    const model = new Model();
    for (const [i, tokens] of [200, 600, 1500].entries()) {
      const pkg = await seedPackage(handle, { config, tokens });
      const r = await purchasePackage({ handle, config }, { telegramId: 900 + i, packageId: pkg.id, free: true });
      model.allocs.set(r.allocation.id, { id: r.allocation.id, total: tokens, used: 0, reserved: 0 });
    }
    const seed = Number(process.env.ARB_PROPERTY_SEED ?? Math.floor(Math.random() * 2 ** 31));
    t.diagnostic(`seed ${seed} (replay: ARB_PROPERTY_SEED=${seed})`);
    await runSequence(store, handle, model, seed, dialect === 'postgres' ? 120 : 250);
    // the holds still open belong to instance 'live' (running) and 'dead' (gone: the audit names them)
    await registerInstance(handle, { instanceId: 'live', pid: process.pid, hostname: hostname() });
    const deadHolds = [...model.holds.values()].filter((h) => h.instanceId === 'dead').length;
    assert.equal((await auditLedger(handle)).checked.orphaned_holds, deadHolds, `seed ${seed}: holds of the gone instance reported`);
    await store.releaseHolds(['dead']);
    assert.deepEqual((await auditLedger(handle)).problems, [], `seed ${seed}: audit`);
    // the run exercised every kind of settle
    const events = [...model.settled.values()];
    assert.ok(
      events.some((e) => e.loss > 0),
      `seed ${seed}: some over-usage was capped`,
    );
    assert.ok(
      events.some((e) => e.loss === 0 && e.charged > 0),
      `seed ${seed}: some covered charges`,
    );
  });
}
