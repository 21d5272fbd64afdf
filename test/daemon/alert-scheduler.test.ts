/**
 * Alerts to the admins (daemon/alert-scheduler.ts): the pure schedule sends a new rule at once, reminds
 * hourly, forgets a rule that stopped; the loop runs the rules on the leader only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSilentLogger } from '../../src/logger.js';
import { scheduleAlerts, startAlertLoop, REMIND_EVERY_MS, type AlertMemory } from '../../daemon/alert-scheduler.js';
import { until } from '../support/wait.js';

const logger = createSilentLogger();

test('alert schedule: a new rule is sent at once, reminded after an hour, forgotten when it stops firing', () => {
  const credit = { rule: 'openrouter_credit', message: 'OpenRouter credit $4.20 — below $10.00' };
  const errors = { rule: 'error_rate', message: 'error rate 7.5 % — above 5 %' };
  const t0 = 1_000_000;
  let mem: ReadonlyMap<string, AlertMemory> = new Map();
  let s = scheduleAlerts([credit], mem, t0);
  assert.deepEqual(s.messages, ['⚠️ OpenRouter credit $4.20 — below $10.00']);
  mem = s.memory;
  s = scheduleAlerts([credit, errors], mem, t0 + 5 * 60_000);
  assert.deepEqual(s.messages, ['⚠️ error rate 7.5 % — above 5 %'], 'only the new rule; the first is not repeated within the hour');
  mem = s.memory;
  s = scheduleAlerts([credit, errors], mem, t0 + REMIND_EVERY_MS);
  assert.deepEqual(s.messages, ['⚠️ Still firing after 60 min: OpenRouter credit $4.20 — below $10.00']);
  mem = s.memory;
  s = scheduleAlerts([errors], mem, t0 + REMIND_EVERY_MS + 60_000);
  assert.deepEqual(s.messages, []);
  assert.deepEqual([...s.memory.keys()], ['error_rate'], 'the rule that stopped firing is forgotten');
  mem = s.memory;
  s = scheduleAlerts([credit, errors], mem, t0 + REMIND_EVERY_MS + 2 * 60_000);
  assert.deepEqual(s.messages, ['⚠️ OpenRouter credit $4.20 — below $10.00'], 'firing again: sent at once');
  assert.deepEqual(scheduleAlerts([credit, credit], new Map(), t0).messages.length, 1, 'one message per rule');
});

test('alert loop: the leader runs the rules and sends what the schedule says; a follower sends nothing', async () => {
  const sent: string[] = [];
  let leader = false;
  let runs = 0;
  const loop = startAlertLoop({
    evaluate: async () => {
      runs++;
      return [{ rule: 'revenue', message: 'revenue today $12.00 — below $100.00' }];
    },
    notify: (text) => void sent.push(text),
    isLeader: () => leader,
    logger,
    intervalMs: 10,
  });
  try {
    await loop.runOnce();
    assert.equal(runs, 0, 'a follower does not even run the rules');
    leader = true;
    await until('the rule sent', () => sent.length === 1);
    await until('more runs of the rule', () => runs >= 4);
    assert.deepEqual(sent, ['⚠️ revenue today $12.00 — below $100.00'], 'sent once while it keeps firing');
  } finally {
    loop.stop();
  }
});
