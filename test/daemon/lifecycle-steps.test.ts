/**
 * The daemon's start/stop machinery (daemon/lifecycle.ts): steps stop in reverse order, each bounded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSilentLogger } from '../../src/logger.js';
import { createLifecycle } from '../../daemon/lifecycle.js';

const logger = createSilentLogger();

test('lifecycle: steps stop last-first, a started value stops itself, a stuck or failing stop does not hold the rest; stopAll is idempotent', async () => {
  const order: string[] = [];
  const life = createLifecycle({ logger, stepTimeoutMs: 50 });
  await life.step(
    'a',
    () => 1,
    () => order.push('a'),
  );
  await life.step('b', () => ({ stop: () => order.push('b') }));
  await life.step(
    'stuck',
    () => null,
    () => new Promise(() => {}),
  );
  await life.step(
    'failing',
    async () => 'x',
    () => {
      throw new Error('boom');
    },
  );
  await life.step('no stop', () => 42);
  const slow = await life.step(
    'slow but allowed',
    () => 'v',
    () => new Promise((r) => setTimeout(() => r(order.push('slow')), 120)),
    { stopTimeoutMs: 1_000 },
  );
  assert.equal(slow, 'v');
  const first = life.stopAll();
  assert.equal(life.stopAll(), first);
  await first;
  assert.deepEqual(order, ['slow', 'b', 'a']);
  await assert.rejects(
    life.step('late', () => 1),
    /after shutdown began/,
  );
});

test('SIGTERM: the message states the real drain timeout; a second signal aborts what still runs', async () => {
  const { installSignalHandlers } = await import('../../daemon/main.js');
  const printed: string[] = [];
  let aborted = 0;
  let finish: () => void = () => {};
  const stopping = new Promise<void>((r) => (finish = r));
  const stopped = new Promise<void>((resolve) => {
    installSignalHandlers({ drainTimeoutMs: 2_500, stop: () => stopping, abortInFlight: () => void aborted++ }, resolve, (l) => printed.push(l));
  });
  process.emit('SIGTERM', 'SIGTERM');
  process.emit('SIGINT', 'SIGINT');
  finish();
  await stopped;
  assert.deepEqual(printed, ['SIGTERM: draining in-flight requests (up to 2.5 s), then stopping', 'SIGINT again: aborting the requests still running']);
  assert.equal(aborted, 1);
  assert.equal(process.listenerCount('SIGTERM'), 0, 'handlers removed once stopped');
});
