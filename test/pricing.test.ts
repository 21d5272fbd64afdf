import { test } from 'node:test';
import assert from 'node:assert/strict';
import { completionTokensAffordable, describeRule, meteringRule, parseOpenRouterRate, priceForPackage, weightedTokens, weighTokenClasses } from '../src/pricing.js';
import { createConfig } from '../src/config.js';
import { InputError } from '../src/errors.js';

const config = createConfig({});
const GPT4 = { promptRate: 30_000_000, completionRate: 60_000_000 };

test('the worked example: openai/gpt-4, 100,000 tokens → cost $3.00, price $3.75, profit $0.75, margin 25.0 %', () => {
  const p = priceForPackage({ tokens: 100_000, ...GPT4 }, config);
  assert.equal(p.costMicros, 3_000_000);
  assert.equal(p.priceMicros, 3_750_000);
  assert.equal(p.profitMicros, 750_000);
  assert.equal(p.marginPercent, 25.0);
  assert.equal(p.bulkDiscountApplied, false);
  assert.equal(parseOpenRouterRate('0.00003'), 30_000_000);
  assert.equal(parseOpenRouterRate('0.00006'), 60_000_000);
});

test('bulk discount applies at exactly the threshold, not one token below', () => {
  const below = priceForPackage({ tokens: 999_999, ...GPT4 }, config);
  const at = priceForPackage({ tokens: 1_000_000, ...GPT4 }, config);
  assert.equal(below.bulkDiscountApplied, false);
  assert.equal(at.bulkDiscountApplied, true);
  // 1M tokens at $30/Mtok: cost $30, × 1.25 × 0.95 = $35.625 → $35.63
  assert.equal(at.costMicros, 30_000_000);
  assert.equal(at.priceMicros, 35_630_000);
  // 999,999: cost $29.99997, × 1.25 = 37.4999625 → $37.50
  assert.equal(below.priceMicros, 37_500_000);
});

test('the margin floor raises a discounted price, exactly at its boundary', () => {
  // markup 10 %, bulk 5 % → 1.045 < floor 1.10: the floor wins
  const c = createConfig({ TOKEN_MARKUP_PERCENTAGE: '10', BULK_DISCOUNT_PERCENTAGE: '5', MIN_PROFIT_MARGIN: '0.10' });
  const p = priceForPackage({ tokens: 1_000_000, ...GPT4 }, c);
  assert.equal(p.priceMicros, 33_000_000);
  assert.equal(p.marginPercent, 10.0);
  // markup exactly at the floor: price = floor
  const edge = createConfig({ TOKEN_MARKUP_PERCENTAGE: '10', MIN_PROFIT_MARGIN: '0.10' });
  assert.equal(priceForPackage({ tokens: 100_000, ...GPT4 }, edge).priceMicros, 3_300_000);
});

test('an explicit price below the floor is refused with the floor in the message; at the floor it is accepted', () => {
  assert.throws(
    () => priceForPackage({ tokens: 100_000, ...GPT4, explicitPriceMicros: 3_299_999 }, config),
    (e: unknown) => e instanceof InputError && e.field === 'price' && /margin floor \$3\.30/.test(e.message) && /--price 3\.30/.test(e.message),
  );
  const ok = priceForPackage({ tokens: 100_000, ...GPT4, explicitPriceMicros: 3_300_000 }, config);
  assert.equal(ok.priceMicros, 3_300_000);
  assert.equal(ok.explicit, true);
});

test('bad sizes and unknown prices are refused with the field named', () => {
  for (const tokens of [0, -5, 1.5, Number.NaN]) {
    assert.throws(
      () => priceForPackage({ tokens, ...GPT4 }, config),
      (e: unknown) => e instanceof InputError && e.field === 'tokens',
    );
  }
  assert.throws(
    () => priceForPackage({ tokens: 10, promptRate: null, completionRate: null }, config),
    (e: unknown) => e instanceof InputError && e.field === 'model',
  );
});

test('property: thousands of random rates and sizes give whole cents, ≥ floor, never < cost, no float drift', () => {
  let seed = 7;
  const rand = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
  const configs = [config, createConfig({ TOKEN_MARKUP_PERCENTAGE: '3.5', MIN_PROFIT_MARGIN: '0.2', BULK_DISCOUNT_PERCENTAGE: '12.5', BULK_DISCOUNT_THRESHOLD: '5000' })];
  for (let i = 0; i < 5000; i++) {
    const c = configs[i % 2];
    const promptRate = rand() < 0.1 ? 0 : Math.floor(rand() ** 3 * 200_000_000);
    const completionRate = Math.floor(rand() ** 3 * 400_000_000);
    const tokens = 1 + Math.floor(rand() ** 2 * 50_000_000);
    const p = priceForPackage({ tokens, promptRate, completionRate }, c);
    assert.ok(Number.isSafeInteger(p.priceMicros) && Number.isSafeInteger(p.costMicros));
    assert.equal(p.priceMicros % 10_000, 0, 'whole cents');
    assert.ok(p.priceMicros >= p.floorMicros, 'at least the floor');
    assert.ok(p.priceMicros >= p.costMicros, 'never below cost');
    const unit = promptRate === 0 ? completionRate : promptRate;
    // exact cost check in BigInt: cost = ceil(tokens × unit / 1e6)
    const exact = BigInt(tokens) * BigInt(unit);
    assert.equal(BigInt(p.costMicros), (exact + 999_999n) / 1_000_000n);
    // price ≥ cost × (1 + min margin) exactly
    assert.ok(BigInt(p.priceMicros) * 1_000_000n * 10_000n >= exact * BigInt(10_000 + c.minProfitMarginBp));
    assert.equal(p.profitMicros, p.priceMicros - p.costMicros);
  }
});

test('metering: gpt-4 completion ×2, rounding up per request', () => {
  const rule = meteringRule(GPT4.promptRate, GPT4.completionRate);
  assert.equal(rule.unitRate, 30_000_000);
  assert.equal(weightedTokens(rule, 100, 50), 200);
  assert.equal(describeRule(rule), 'a prompt token counts 1, a completion token counts 2');
  assert.equal(completionTokensAffordable(rule, 201), 100);
  // non-integer weight rounds up per request: 0.15 → 0.6 is ×4; 1.5 → ×… (claude-ish 3 / 15)
  const r2 = meteringRule(3_000_000, 15_000_000); // ×5
  assert.equal(weightedTokens(r2, 1, 1), 6);
  const r3 = meteringRule(2_000_000, 3_000_000); // ×1.5
  assert.equal(weightedTokens(r3, 10, 3), 10 + 5); // 4.5 → 5
  assert.equal(weightedTokens(r3, 10, 4), 16);
  assert.equal(completionTokensAffordable(r3, 5), 3);
});

test('metering: a :free model and a zero prompt rate count every token 1', () => {
  const free = meteringRule(0, 0);
  assert.equal(free.unitRate, 0);
  assert.equal(weightedTokens(free, 10, 7), 17);
  assert.equal(describeRule(free), 'every prompt and completion token counts 1');
  const zeroPrompt = meteringRule(0, 8_000_000);
  assert.equal(zeroPrompt.unitRate, 8_000_000);
  assert.equal(weightedTokens(zeroPrompt, 10, 7), 17);
  const p = priceForPackage({ tokens: 100_000, promptRate: 0, completionRate: 8_000_000 }, config);
  assert.equal(p.costMicros, 800_000);
  assert.equal(p.priceMicros, 1_000_000);
  const f = priceForPackage({ tokens: 100_000, promptRate: 0, completionRate: 0 }, config);
  assert.equal(f.costMicros, 0);
  assert.equal(f.priceMicros, 0);
});

test('OpenRouter price strings: long decimals, exponents, router "-1", missing', () => {
  assert.equal(parseOpenRouterRate('0.0000001234567'), 123_457); // 123456.7 rounded up
  assert.equal(parseOpenRouterRate('0'), 0);
  assert.equal(parseOpenRouterRate('1e-6'), 1_000_000);
  assert.equal(parseOpenRouterRate('-1'), null);
  assert.equal(parseOpenRouterRate(undefined), null);
  assert.equal(parseOpenRouterRate('abc'), null);
});

test('token classes: each weighs its catalog rate over the prompt rate, summed exactly and rounded up once; the rule states the weights', () => {
  // Claude Sonnet: $3 prompt, $15 completion, $0.30 cache read, $3.75 cache write per Mtok
  const sonnet = meteringRule(3_000_000, 15_000_000, { cacheReadRate: 300_000, cacheWriteRate: 3_750_000 });
  // 100 input + 7 × 0.1 + 3 × 1.25 + (10 + 2) × 5 = 100 + 0.7 + 3.75 + 60 = 164.45 → 165 (per class rounding would give 166)
  assert.equal(weighTokenClasses(sonnet, { input: 100, cacheRead: 7, cacheWrite: 3, output: 10, reasoning: 2 }), 165);
  assert.equal(weighTokenClasses(sonnet, { input: 0, cacheRead: 10, output: 0 }), 1);
  assert.equal(weighTokenClasses(sonnet, { input: 5, output: 3 }), weightedTokens(sonnet, 5, 3));
  assert.equal(describeRule(sonnet), 'a prompt token counts 1, a completion token counts 5 (reasoning included), a cache read counts 0.1 and a cache write counts 1.25');
  // no cache rates listed: cached tokens count as prompt tokens, and the sentence stays as before
  const gpt4 = meteringRule(30_000_000, 60_000_000, { cacheReadRate: null });
  assert.equal(weighTokenClasses(gpt4, { input: 10, cacheRead: 10, output: 1 }), 22);
  assert.equal(describeRule(gpt4), 'a prompt token counts 1, a completion token counts 2');
  // a free model: every token of every class counts 1
  assert.equal(weighTokenClasses(meteringRule(0, 0, { cacheReadRate: 0 }), { input: 1, cacheRead: 2, cacheWrite: 3, output: 4, reasoning: 5 }), 15);
  // an embedding model: no completion weight
  assert.equal(weighTokenClasses(meteringRule(20_000, 0), { input: 12, output: 0 }), 12);
});

test('property: weighted tokens and affordable completions are exact whatever the sizes (double fast path and BigInt agree)', () => {
  let seed = 99;
  const rnd = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  for (let i = 0; i < 20_000; i++) {
    const prompt = Math.floor(rnd() * 1e9);
    const completion = Math.floor(rnd() * 10 ** Math.floor(rnd() * 10));
    const rule = meteringRule(1 + Math.floor(rnd() * 1e8), Math.floor(rnd() * 1e9));
    const want = BigInt(prompt) + (BigInt(completion) * BigInt(rule.completionWeightNum) + BigInt(rule.completionWeightDen) - 1n) / BigInt(rule.completionWeightDen);
    assert.equal(BigInt(weightedTokens(rule, prompt, completion)), want, `${prompt} + ${completion} × ${rule.completionWeightNum}/${rule.completionWeightDen}`);
    if (rule.completionWeightNum > 0) {
      const affordable = (BigInt(prompt) * BigInt(rule.completionWeightDen)) / BigInt(rule.completionWeightNum);
      assert.equal(BigInt(completionTokensAffordable(rule, prompt)), affordable);
    }
  }
});
