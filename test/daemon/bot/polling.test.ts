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
import { startFakeTelegram, type FakeTelegram } from '../../support/fake-telegram.js';

async function until(what: string, check: () => boolean, deadlineMs = 5_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function setup(fake: FakeTelegram) {
  const bot = new Bot(fake.token, { client: { apiRoot: fake.apiRoot }, botInfo: fake.botInfo });
  const seen: string[] = [];
  bot.on('message:text', (ctx) => void seen.push(ctx.message.text));
  const logger = createLogger({ destination: new Writable({ write: (_c, _e, cb) => cb() }), level: 'debug' });
  return { bot, seen, logger };
}

function fakeLeadership(initial: boolean) {
  const listeners = new Set<(leader: boolean) => unknown>();
  const l = {
    isLeader: initial,
    onChange(fn: (leader: boolean) => unknown) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    set(leader: boolean) {
      l.isLeader = leader;
      for (const fn of listeners) void fn(leader);
    },
  };
  return l;
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

test('with leadership: a standby polls once it leads, stops when it steps down, and restarts a failed poll while leading', async (t) => {
  const fake = await startFakeTelegram();
  t.after(() => fake.close());
  const { bot, seen, logger } = setup(fake);
  const leadership = fakeLeadership(false);
  const polling = createBotPolling({ bot, logger, allowedUpdates: ['message'], timeoutSeconds: 1, leadership, retryMs: 50 });
  t.after(() => polling.stop());
  await polling.start();
  assert.equal(polling.running, false, 'a standby does not poll');

  leadership.set(true);
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

  leadership.set(false);
  await until('polling stopped after stepping down', () => !polling.running);
  leadership.set(true);
  await until('polling again after leading again', () => polling.running);
  await polling.stop();
  assert.equal(polling.running, false);
});
