import { test } from 'node:test';
import assert from 'node:assert/strict';
import { meteringRule } from '../../src/pricing.js';
import { planHold, promptHold } from '../../src/metering/plan.js';
import { computeCharge, usdToMicros } from '../../src/metering/usage.js';
import { countTextTokens, estimatePromptTokens } from '../../src/metering/tokens.js';
import { countPromptTokens, simulatedText } from '../../src/catalog/simulator.js';

const gpt4 = meteringRule(30_000_000, 60_000_000); // completion weight 2

test('hold = prompt estimate × safety + capped max_tokens × completion weight', () => {
  const plan = planHold({ rule: gpt4, promptEstimate: 100, requestedMaxTokens: 50, modelMaxCompletionTokens: 4096, available: 100_000 });
  assert.deepEqual(plan, { maxTokens: 50, hold: promptHold(100) + 100, promptHold: promptHold(100) });
  assert.equal(promptHold(100), 133); // ceil(100 × 5/4) + 8
});

test('max_tokens is capped by what the remaining quota can pay for, and by the model limit', () => {
  // 1,000 left, prompt hold 133 → 867 prompt-equivalent → 433 completion tokens at weight 2
  const capped = planHold({ rule: gpt4, promptEstimate: 100, requestedMaxTokens: 4000, modelMaxCompletionTokens: 4096, available: 1000 });
  assert.equal(capped?.maxTokens, 433);
  assert.ok(capped!.hold <= 1000);
  const byModel = planHold({ rule: gpt4, promptEstimate: 100, requestedMaxTokens: undefined, modelMaxCompletionTokens: 4096, available: 1_000_000 });
  assert.equal(byModel?.maxTokens, 4096);
  // n = 3 choices share the budget
  const n3 = planHold({ rule: gpt4, promptEstimate: 100, requestedMaxTokens: undefined, modelMaxCompletionTokens: 4096, available: 1000, choices: 3 });
  assert.equal(n3?.maxTokens, 144);
  assert.ok(n3!.hold <= 1000);
});

test('no hold when the quota cannot pay the prompt plus one completion token (→ 402)', () => {
  assert.equal(planHold({ rule: gpt4, promptEstimate: 100, requestedMaxTokens: 10, modelMaxCompletionTokens: null, available: 134 }), null);
  assert.equal(planHold({ rule: gpt4, promptEstimate: 100, requestedMaxTokens: 10, modelMaxCompletionTokens: null, available: 135 })?.maxTokens, 1);
  assert.equal(planHold({ rule: gpt4, promptEstimate: 100, requestedMaxTokens: 10, modelMaxCompletionTokens: null, available: 0 }), null);
});

test('local prompt estimate follows the chat counting rule (same as the simulator for text)', () => {
  const messages = [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: [{ type: 'text', text: 'Hello there, how are you?' }] },
  ];
  assert.equal(estimatePromptTokens({ messages }), countPromptTokens(messages));
  assert.equal(countTextTokens(simulatedText(37)), 37);
});

test('charge: upstream usage when present; local count flagged estimated otherwise; nothing when never served', () => {
  const withUsage = computeCharge({ rule: gpt4, usage: { promptTokens: 10, completionTokens: 7, costMicros: 720 }, served: true, promptEstimate: 99, deliveredText: 'x' });
  assert.deepEqual(withUsage, { promptTokens: 10, completionTokens: 7, weightedTokens: 24, upstreamCostMicros: 720, estimated: false });
  const local = computeCharge({ rule: gpt4, usage: null, served: true, promptEstimate: 12, deliveredText: simulatedText(5) });
  assert.deepEqual(local, { promptTokens: 12, completionTokens: 5, weightedTokens: 22, upstreamCostMicros: 0, estimated: true });
  const none = computeCharge({ rule: gpt4, usage: null, served: false, promptEstimate: 12, deliveredText: '' });
  assert.equal(none.weightedTokens, 0);
  // a fractional weight rounds up per request
  const r = meteringRule(3, 4);
  assert.equal(computeCharge({ rule: r, usage: { promptTokens: 1, completionTokens: 1, costMicros: 0 }, served: true, promptEstimate: 0, deliveredText: '' }).weightedTokens, 3);
});

test('usage.cost USD → µ$ rounded up, junk → 0', () => {
  assert.equal(usdToMicros(0.00042), 420);
  assert.equal(usdToMicros(1.5e-7), 1);
  assert.equal(usdToMicros(3), 3_000_000);
  assert.equal(usdToMicros(-1), 0);
  assert.equal(usdToMicros('0.1'), 0);
  assert.equal(usdToMicros(Number.NaN), 0);
});
