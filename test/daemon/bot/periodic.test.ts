/**
 * The bot's loops (customer alerts, pruning) run through createPeriodic: one run at a time, on a timer
 * between start() and stop(), stop() waits for a run in flight.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPeriodic } from '../../../daemon/bot/periodic.js';

test('runs on its timer, never twice at once, and stop() waits for the run in flight', async (t) => {
  // the timer under test control: a tick happens exactly when the test says, so "nothing started" is a fact
  t.mock.timers.enable({ apis: ['setInterval'] });
  let runs = 0;
  let active = 0;
  let maxActive = 0;
  let release: () => void = () => {};
  const errors: unknown[] = [];
  const p = createPeriodic(
    5,
    async () => {
      runs += 1;
      active += 1;
      maxActive = Math.max(maxActive, active);
      await new Promise<void>((r) => (release = r));
      active -= 1;
      return runs;
    },
    (e) => errors.push(e),
  );
  const settle = () => new Promise((r) => setImmediate(r));
  const joined = [p.run(), p.run()];
  assert.equal(runs, 1, 'a run asked for during a run joins it');
  p.start();
  t.mock.timers.tick(30); // six ticks while the first run is held
  await settle();
  assert.equal(runs, 1, 'ticks during a run join it instead of starting another');
  release();
  assert.deepEqual(await Promise.all(joined), [1, 1]);

  t.mock.timers.tick(5); // the next tick, nothing in flight: the timer starts a run
  await settle();
  assert.equal(runs, 2, 'the timer runs the task');
  const stopped = p.stop();
  let done = false;
  void stopped.then(() => (done = true));
  await settle();
  assert.equal(done, false, 'stop() waits for the run in flight');
  release();
  await stopped;
  t.mock.timers.tick(50); // ten more intervals: the timer is gone
  await settle();
  assert.equal(runs, 2, 'no run after stop()');
  assert.equal(maxActive, 1);

  const after = p.run();
  release();
  assert.equal(await after, 3, 'run() still works after stop');
  assert.deepEqual(errors, []);
});

test('errors go to onError and the timer keeps going', async () => {
  let runs = 0;
  const errors: unknown[] = [];
  const p = createPeriodic(
    5,
    async () => {
      runs += 1;
      throw new Error(`boom ${runs}`);
    },
    (e) => errors.push(e),
  );
  p.start();
  const deadline = Date.now() + 2000;
  while (errors.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  await p.stop();
  assert.ok(errors.length >= 2, 'kept running after a failure');
});
