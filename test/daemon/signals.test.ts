/**
 * installSignalHandlers given the daemon's start: a signal caught while it starts is kept and stops the
 * daemon once it is up, and one listener stays in place throughout; a failed start removes the handlers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { installSignalHandlers, type Daemon } from '../../daemon/main.js';

type Stoppable = Pick<Daemon, 'stop' | 'abortInFlight' | 'drainTimeoutMs'>;

test('a SIGTERM caught while the daemon starts stops it as soon as it is up; the listener stays in place in between', async () => {
  const before = process.listenerCount('SIGTERM');
  const printed: string[] = [];
  let stops = 0;
  let up: (d: Stoppable) => void = () => {};
  const starting = new Promise<Stoppable>((r) => (up = r));
  const stopped = new Promise<void>((resolve) => installSignalHandlers(starting, resolve, (l) => printed.push(l)));
  process.emit('SIGTERM', 'SIGTERM');
  process.emit('SIGINT', 'SIGINT');
  assert.deepEqual(printed, [], 'nothing to stop yet');
  assert.equal(process.listenerCount('SIGTERM'), before + 1);
  up({ drainTimeoutMs: 30_000, stop: async () => void stops++, abortInFlight: () => assert.fail('nothing is aborted') });
  await stopped;
  assert.deepEqual(printed, ['SIGTERM: draining in-flight requests (up to 30 s), then stopping']);
  assert.equal(stops, 1);
  assert.equal(process.listenerCount('SIGTERM'), before, 'handlers removed once stopped');
});

test('a start that fails removes the handlers', async () => {
  const before = [process.listenerCount('SIGTERM'), process.listenerCount('SIGINT')];
  const starting = Promise.reject(new Error('EADDRINUSE'));
  installSignalHandlers(starting, () => assert.fail('not stopped'));
  await assert.rejects(starting, /EADDRINUSE/);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual([process.listenerCount('SIGTERM'), process.listenerCount('SIGINT')], before);
});
