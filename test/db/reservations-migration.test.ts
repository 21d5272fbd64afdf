import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Migrator, sql } from 'kysely';
import { tempDir } from '../support/db.js';
import { openDb } from '../../src/db/dialect.js';
import { migrationProvider } from '../../src/db/migrations/index.js';
import { createMeteringStore, releaseHolds } from '../../src/metering/store.js';

const BEFORE = '20261206_150000_stats_rollups';
const MIGRATION = '20261207_110000_reservations_by_request';

/** The shape of SQLite's reservations table: its B-trees (table and indexes) and whether it has rowids. */
function shape(handle: ReturnType<typeof openDb>) {
  const s = handle.sqlite!;
  const table = s.prepare(`select sql from sqlite_master where type = 'table' and name = 'reservations'`).pluck().get() as string;
  const indexes = (s.prepare(`select name from sqlite_master where type = 'index' and tbl_name = 'reservations'`).pluck().all() as string[]).sort();
  return { withoutRowid: /without rowid/i.test(table), indexes };
}

test('[sqlite] the holds in flight survive the move of reservations to one B-tree keyed by request_id, and back', async (t) => {
  const handle = openDb({ dbName: join(tempDir(t), 'arbitrage.db') });
  t.after(() => handle.close());
  const migrator = new Migrator({ db: handle.db, provider: migrationProvider('sqlite') });
  assert.equal((await migrator.migrateTo(BEFORE)).error, undefined);
  const s = handle.sqlite!;
  s.exec(`insert into users (telegram_id, balance) values (7, 0)`);
  s.exec(`insert into ai_token_packages (model, tokens, description, cost, price, validity_days) values ('openai/gpt-4', 1000, 'p', 1, 2, 30)`);
  s.exec(`insert into ai_token_allocations (user_id, package_id, model, api_key, api_key_hash, tokens_total, tokens_used, tokens_reserved, status, expires_at, price_paid)
          values (1, 1, 'openai/gpt-4', 'sk-arb-…x', 'h1', 1000, 0, 30, 'active', '2099-01-01 00:00:00', 0)`);
  s.exec(`insert into reservations (request_id, allocation_id, tokens, instance_id, created_at) values
          ('req_b', 1, 20, 'gone', '2026-12-07 10:00:01'), ('req_a', 1, 10, 'gone', '2026-12-07 10:00:00')`);
  const before = shape(handle);
  assert.deepEqual(before, { withoutRowid: false, indexes: ['idx_reservations_instance', 'sqlite_autoindex_reservations_1'] });

  assert.equal((await migrator.migrateTo(MIGRATION)).error, undefined);
  // one B-tree: no rowid table beside the request_id index, no instance_id index
  assert.deepEqual(shape(handle), { withoutRowid: true, indexes: [] });
  const rows = () => s.prepare(`select request_id, allocation_id, tokens, instance_id, created_at from reservations order by request_id`).all();
  const held = [
    { request_id: 'req_a', allocation_id: 1, tokens: 10, instance_id: 'gone', created_at: '2026-12-07 10:00:00' },
    { request_id: 'req_b', allocation_id: 1, tokens: 20, instance_id: 'gone', created_at: '2026-12-07 10:00:01' },
  ];
  assert.deepEqual(rows(), held);
  // the table still refuses what it refused: a second hold of one request, a hold of no key
  assert.throws(() => s.exec(`insert into reservations (request_id, allocation_id, tokens, instance_id) values ('req_a', 1, 1, 'x')`), /UNIQUE|PRIMARY KEY/);
  assert.throws(() => s.exec(`insert into reservations (request_id, allocation_id, tokens, instance_id) values ('req_c', 99, 1, 'x')`), /FOREIGN KEY/);

  // the metering store holds, settles and releases on the new table
  const store = createMeteringStore(handle);
  assert.equal(await store.reserve({ allocationId: 1, requestId: 'req_c', instanceId: 'here', tokens: 5 }), true);
  const settled = await store.settle({
    requestId: 'req_c',
    allocationId: 1,
    model: 'openai/gpt-4',
    promptTokens: 2,
    completionTokens: 1,
    weightedTokens: 4,
    upstreamCostMicros: 1,
    latencyMs: 1,
    statusCode: 200,
    outcome: 'ok',
    estimated: false,
    stream: false,
  });
  assert.deepEqual(settled, { charged: 4, lossTokens: 0, released: 5, duplicate: false });
  assert.deepEqual(rows(), held);
  assert.deepEqual(await releaseHolds(handle, ['gone']), { reservations: 2, tokens: 30 });
  assert.deepEqual(rows(), []);
  assert.deepEqual(s.prepare(`select tokens_used, tokens_reserved from ai_token_allocations where id = 1`).get(), { tokens_used: 4, tokens_reserved: 0 });

  // and back down, with a hold in flight kept
  s.exec(`insert into reservations (request_id, allocation_id, tokens, instance_id, created_at) values ('req_d', 1, 3, 'here', '2026-12-07 11:00:00')`);
  assert.equal((await migrator.migrateTo(BEFORE)).error, undefined);
  assert.deepEqual(shape(handle), before);
  assert.deepEqual(s.prepare(`select request_id, tokens from reservations`).all(), [{ request_id: 'req_d', tokens: 3 }]);
  assert.deepEqual((await sql<{ n: number }>`select count(*) as n from reservations where instance_id = 'here'`.execute(handle.db)).rows[0].n, 1);
});
