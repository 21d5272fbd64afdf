/**
 * The bot's loops (customer alerts, pruning) run through createPeriodic: one run at a time, on a timer
 * between start() and stop(), stop() waits for a run in flight.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPeriodic } from '../../../daemon/bot/periodic.js';

test('runs on its timer, never twice at once, and stop() waits for the run in flight', async () => {
  let runs = 0;
  let active = 0;
  let maxActive = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const errors: unknown[] = [];
  const p = createPeriodic(
    5,
    async () => {
      runs += 1;
      active += 1;
      maxActive = Math.max(maxActive, active);
      await gate;
      active -= 1;
      return runs;
    },
    (e) => errors.push(e),
  );
  const joined = [p.run(), p.run()];
  p.start();
  const deadline = Date.now() + 2000;
  while (Date.now() < deadline && runs === 0) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 30)); // several ticks pass while the first run is held
  const stopped = p.stop();
  let done = false;
  void stopped.then(() => (done = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(done, false, 'stop() waits for the run in flight');
  release();
  await stopped;
  assert.deepEqual(await Promise.all(joined), [1, 1], 'a run asked for during a run joins it');
  assert.equal(maxActive, 1);
  assert.equal(runs, 1, 'ticks during a run join it instead of starting another');
  const after = await p.run();
  assert.equal(after, 2, 'run() still works after stop');
  assert.deepEqual(errors, []);
});

test('errors go to onError and the timer keeps going', async () => {
  let runs = 0;
  const errors: unknown[] = [];
  const p = createPeriodic(5, async () => {
    runs += 1;
    throw new Error(`boom ${runs}`);
  }, (e) => errors.push(e));
  p.start();
  const deadline = Date.now() + 2000;
  while (errors.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  await p.stop();
  assert.ok(errors.length >= 2, 'kept running after a failure');
});
