import { test } from 'node:test';
import assert from 'node:assert/strict';
import { meteringRule } from '../../src/pricing.js';
import { planHold, promptHold } from '../../src/metering/plan.js';
import { computeCharge, usdToMicros } from '../../src/metering/usage.js';
import { countPromptTokens } from '../../src/metering/tokens.js';
import { countTextTokens } from '../../src/metering/token-count.js';
import { chatPrompt } from '../../daemon/http/protocols/chat.js';
import { countPromptTokens as simPromptTokens, simulatedText } from '../../src/catalog/simulator.js';

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

test('local prompt estimate follows the chat counting rule (same as the simulator for text)', async () => {
  const messages = [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: [{ type: 'text', text: 'Hello there, how are you?' }] },
  ];
  assert.equal(await countPromptTokens(chatPrompt({ messages })), simPromptTokens(messages));
  assert.equal(countTextTokens(simulatedText(37)), 37);
});

test('charge: upstream usage when present; local count flagged estimated otherwise; nothing when never served', () => {
  const classes = (promptTokens: number, completionTokens: number) => ({ promptTokens, completionTokens, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 });
  const usage = (promptTokens: number, completionTokens: number, costMicros = 0) => ({ ...classes(promptTokens, completionTokens), costMicros });
  const withUsage = computeCharge({ rule: gpt4, usage: usage(10, 7, 720), served: true, promptEstimate: 99, completionEstimate: 1 });
  assert.deepEqual(withUsage, { ...classes(10, 7), weightedTokens: 24, upstreamCostMicros: 720, estimated: false });
  const local = computeCharge({ rule: gpt4, usage: null, served: true, promptEstimate: 12, completionEstimate: countTextTokens(simulatedText(5)) });
  assert.deepEqual(local, { ...classes(12, 5), weightedTokens: 22, upstreamCostMicros: 0, estimated: true });
  const none = computeCharge({ rule: gpt4, usage: null, served: false, promptEstimate: 12, completionEstimate: 3 });
  assert.equal(none.weightedTokens, 0);
  // a fractional weight rounds up per request
  const r = meteringRule(3, 4);
  assert.equal(computeCharge({ rule: r, usage: usage(1, 1), served: true, promptEstimate: 0, completionEstimate: 0 }).weightedTokens, 3);
});

test('usage.cost USD → µ$ rounded up, junk → 0', () => {
  assert.equal(usdToMicros(0.00042), 420);
  assert.equal(usdToMicros(1.5e-7), 1);
  assert.equal(usdToMicros(3), 3_000_000);
  assert.equal(usdToMicros(-1), 0);
  assert.equal(usdToMicros('0.1'), 0);
  assert.equal(usdToMicros(Number.NaN), 0);
});

test('planHoldFast: a prompt upper bound gives the exact plan’s max_tokens and a hold never smaller, without the tokenizer when nothing is limited', async () => {
  const { fastHoldHeadroom, fastHoldPlan } = await import('../../src/metering/plan.js');
  // what the proxy does (there, the headroom is checked by the hold's UPDATE): the fast plan when the key
  // has its headroom, else the exact estimate decides
  const planHoldFast = (input: Omit<Parameters<typeof planHold>[0], 'promptEstimate'>, promptBound: number, promptEstimate: () => number) => {
    const fast = fastHoldPlan(input, promptBound);
    if (fast && fastHoldHeadroom(fast) <= input.available) return fast;
    return planHold({ ...input, promptEstimate: promptEstimate() });
  };
  let calls = 0;
  const exact = (n: number) => () => {
    calls++;
    return n;
  };
  const base = { rule: gpt4, requestedMaxTokens: 50, modelMaxCompletionTokens: 4096, available: 100_000 };
  // plenty of quota: the bound plan forwards max_tokens 50 like the exact one; the tokenizer never runs
  const fast = planHoldFast(base, 400, exact(100));
  const want = planHold({ ...base, promptEstimate: 100 })!;
  assert.equal(calls, 0);
  assert.equal(fast!.maxTokens, want.maxTokens);
  assert.ok(fast!.hold >= want.hold);
  // a key with room for fewer than FAST_HOLD_HEADROOM such holds: the exact estimate decides (concurrent
  // requests near the end of a quota see the same holds as without the bound)
  calls = 0;
  const few = { ...base, available: 20_000 };
  assert.deepEqual(planHoldFast(few, 400, exact(100)), planHold({ ...few, promptEstimate: 100 }));
  assert.equal(calls, 1);
  calls = 0;
  // near the end of the quota the bound would shorten the completion: the exact estimate decides
  const tight = { ...base, available: 550 };
  assert.deepEqual(planHoldFast(tight, 400, exact(100)), planHold({ ...tight, promptEstimate: 100 }));
  assert.equal(calls, 1);
  // the bound would refuse, the exact estimate fits
  const tiny = { ...base, requestedMaxTokens: 1, available: 140 };
  assert.equal(planHold({ ...tiny, promptEstimate: 400 }), null);
  assert.deepEqual(planHoldFast(tiny, 400, exact(100)), planHold({ ...tiny, promptEstimate: 100 }));
  // no client or model cap: the context length bounds max_tokens by the prompt, so the exact estimate decides
  const ctx = { rule: gpt4, requestedMaxTokens: undefined, modelMaxCompletionTokens: null, contextLength: 8192, available: 1_000_000 };
  calls = 0;
  assert.deepEqual(planHoldFast(ctx, 400, exact(100)), planHold({ ...ctx, promptEstimate: 100 }));
  assert.equal(calls, 1);
  // over a grid of quotas, caps and choices: same max_tokens and refusals as the exact plan, hold ≥
  for (const available of [0, 50, 135, 300, 700, 1000, 5000, 100_000]) {
    for (const requestedMaxTokens of [undefined, 1, 16, 300]) {
      for (const modelMaxCompletionTokens of [null, 64, 4096]) {
        for (const choices of [1, 3]) {
          const input = { rule: gpt4, requestedMaxTokens, modelMaxCompletionTokens, contextLength: 8192, choices, available };
          const a = planHoldFast(input, 180, () => 100);
          const b = planHold({ ...input, promptEstimate: 100 });
          assert.equal(a?.maxTokens, b?.maxTokens, JSON.stringify(input));
          if (a && b) assert.ok(a.hold >= b.hold);
        }
      }
    }
  }
});
