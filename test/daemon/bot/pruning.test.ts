/** Pruning of processed update ids (daemon/bot/pruning.ts): ids older than keepDays go, newer ones stay. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../../../src/logger.js';
import { createUpdatePruning } from '../../../daemon/bot/pruning.js';
import { tempDb } from '../../support/db.js';

test('forgets update ids older than keepDays and keeps the rest', async (t) => {
  const handle = await tempDb(t);
  await handle.db
    .insertInto('processed_updates')
    .values([
      { update_id: 1, processed_at: '2026-01-01 00:00:00' },
      { update_id: 2, processed_at: '2026-01-09 00:00:00' },
      { update_id: 3, processed_at: '2026-01-10 11:00:00' },
    ])
    .execute();
  const logger = createLogger({ destination: new Writable({ write: (_c, _e, cb) => cb() }) });
  const pruning = createUpdatePruning({ handle, logger, now: () => new Date('2026-01-10T12:00:00Z'), intervalMs: 0, keepDays: 7 });
  assert.equal(await pruning.run(), 1);
  const left = await handle.db.selectFrom('processed_updates').select('update_id').orderBy('update_id').execute();
  assert.deepEqual(
    left.map((r) => Number(r.update_id)),
    [2, 3],
  );
});
