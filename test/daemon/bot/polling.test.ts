/**
 * The polling module on its own (daemon/bot/polling.ts): polls from start() to stop(); with leadership it
 * polls only while leading, hands over on a change, and restarts polling that failed while leading.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { Bot } from 'grammy';
import { createLogger } from '../../../src/logger.js';
import { createBotPolling } from '../../../daemon/bot/polling.js';
import { startLeaderElection } from '../../../src/scale/leader.js';
import { newInstanceId } from '../../../src/metering/instances.js';
import { toDbTime } from '../../../src/time.js';
import { startFakeTelegram, type FakeTelegram } from '../../support/fake-telegram.js';
import { tempDb } from '../../support/db.js';
import { until } from '../../support/wait.js';

function setup(fake: FakeTelegram) {
  const bot = new Bot(fake.token, { client: { apiRoot: fake.apiRoot }, botInfo: fake.botInfo });
  const seen: string[] = [];
  bot.on('message:text', (ctx) => void seen.push(ctx.message.text));
  const logger = createLogger({ destination: new Writable({ write: (_c, _e, cb) => cb() }), level: 'debug' });
  return { bot, seen, logger };
}

test('without leadership: getUpdates from start() to stop(); updates are handled; stop is idempotent', async (t) => {
  const fake = await startFakeTelegram();
  t.after(() => fake.close());
  const { bot, seen, logger } = setup(fake);
  const polling = createBotPolling({ bot, logger, allowedUpdates: ['message'], timeoutSeconds: 1 });
  await polling.start();
  assert.equal(polling.running, true);
  await fake.send(fake.user(1), 'hello');
  assert.deepEqual(seen, ['hello']);
  assert.deepEqual(fake.callsOf('getUpdates')[0].allowed_updates, ['message']);
  await polling.stop();
  await polling.stop();
  assert.equal(polling.running, false);
});

test('with leadership (the real lease on a database): a standby polls once it leads, stops when it steps down, and restarts a failed poll while leading', async (t) => {
  const fake = await startFakeTelegram();
  t.after(() => fake.close());
  const { bot, seen, logger } = setup(fake);
  const handle = await tempDb(t);
  const lease = { name: 'bot-polling-test', ttlMs: 1_500, renewMs: 50 };
  const other = await startLeaderElection(handle, { ...lease, holder: newInstanceId().instanceId });
  t.after(() => other.stop());
  const leadership = await startLeaderElection(handle, { ...lease, holder: newInstanceId().instanceId });
  t.after(() => leadership.stop());
  assert.deepEqual([other.isLeader, leadership.isLeader], [true, false]);
  const polling = createBotPolling({ bot, logger, allowedUpdates: ['message'], timeoutSeconds: 1, leadership, retryMs: 50 });
  t.after(() => polling.stop());
  await polling.start();
  assert.equal(polling.running, false, 'a standby does not poll');
  assert.equal(fake.calls.filter((c) => c.method === 'getUpdates').length, 0);

  await other.stop(); // the leader hands the lease over
  await until('polling after taking the lead', () => polling.running);
  await fake.send(fake.user(2), 'first');
  assert.deepEqual(seen, ['first']);

  // Telegram ends the poll with 409 (another consumer during a hand-over): the leader polls again
  const before = fake.calls.filter((c) => c.method === 'getUpdates').length;
  fake.failNext('getUpdates', { error_code: 409, description: 'Conflict: terminated by other getUpdates request' });
  await until('the failed poll is retried', () => fake.calls.filter((c) => c.method === 'getUpdates' && !c.ok).length === 1);
  await fake.send(fake.user(2), 'second');
  assert.deepEqual(seen, ['first', 'second']);
  assert.ok(fake.calls.filter((c) => c.method === 'getUpdates').length > before + 1);

  // another replica (on another host) holds the lease now: this one steps down and stops polling
  await handle.db
    .updateTable('settings')
    .set({ value: 'elsewhere:4242:abcdef', updated_at: toDbTime(new Date()) })
    .where('key', '=', 'lease:bot-polling-test')
    .execute();
  await until('stepped down', () => !leadership.isLeader);
  await until('polling stopped after stepping down', () => !polling.running && fake.waitingPolls === 0);
  // that replica goes silent: past the TTL this one takes the lease and polls again
  await until('polling again after leading again', () => leadership.isLeader && polling.running);
  await fake.send(fake.user(2), 'third');
  assert.deepEqual(seen, ['first', 'second', 'third']);
  await polling.stop();
  assert.equal(polling.running, false);
});
