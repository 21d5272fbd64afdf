/**
 * The instance heartbeat (daemon/heartbeat.ts): refreshes this instance and releases a gone one's holds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSilentLogger } from '../../src/logger.js';
import { createConfig } from '../../src/config.js';
import { startHeartbeat } from '../../daemon/heartbeat.js';
import { newInstanceId, registerInstance } from '../../src/metering/instances.js';
import { createMeteringStore } from '../../src/metering/store.js';
import { purchasePackage } from '../../src/ledger/ledger.js';
import { toDbTime } from '../../src/time.js';
import { tempDb } from '../support/db.js';
import { seedPackage } from '../support/seed.js';
import { until } from '../support/wait.js';

const logger = createSilentLogger();

test('heartbeat: refreshes this instance (re-registering it if removed) and releases the holds of a gone one', async (t) => {
  const handle = await tempDb(t);
  const config = createConfig({});
  const pkg = await seedPackage(handle, { config, tokens: 1000 });
  const { allocation } = await purchasePackage({ handle, config }, { telegramId: 77, packageId: pkg.id, free: true });
  const self = newInstanceId();
  const gone = { instanceId: 'gone', pid: 1, hostname: 'elsewhere' };
  await registerInstance(handle, self);
  await registerInstance(handle, gone);
  const old = toDbTime(new Date(Date.now() - 10 * 60_000));
  await handle.db.updateTable('instances').set({ heartbeat_at: old }).execute();
  const store = createMeteringStore(handle);
  assert.equal(await store.reserve({ allocationId: allocation.id, requestId: 'h', instanceId: 'gone', tokens: 100 }), true);

  const hb = startHeartbeat({ handle, instance: self, logger, intervalMs: 10 });
  t.after(() => hb.stop());
  // a beat releases the holds, then removes the gone instance's row (two statements): wait for both
  await until(
    'the gone instance released and removed',
    async () =>
      (await handle.db.selectFrom('reservations').selectAll().execute()).length === 0 &&
      !(await handle.db.selectFrom('instances').select('instance_id').execute()).some((r) => r.instance_id === 'gone'),
  );
  const rows = await handle.db.selectFrom('instances').select(['instance_id', 'heartbeat_at']).execute();
  assert.deepEqual(
    rows.map((r) => r.instance_id),
    [self.instanceId],
  );
  assert.ok(rows[0].heartbeat_at > old, 'own heartbeat refreshed');
  const a = await handle.db.selectFrom('ai_token_allocations').select('tokens_reserved').where('id', '=', allocation.id).executeTakeFirstOrThrow();
  assert.equal(a.tokens_reserved, 0);

  await handle.db.deleteFrom('instances').execute();
  await until('re-registered', async () => (await handle.db.selectFrom('instances').select('instance_id').execute()).some((r) => r.instance_id === self.instanceId));
});
