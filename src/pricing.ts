/**
 * Pricing and metering arithmetic (SPEC §3), in integers only.
 *
 * Rates are integer µ$ per million tokens. A package of N tokens covers N prompt-equivalent tokens:
 * a prompt token counts 1, a completion token counts completion_rate / prompt_rate (rounded up per
 * request). The unit rate is the prompt rate; when it is zero the unit rate is the completion rate and
 * every token counts 1. Every other token class weighs its catalog rate over the unit rate: reasoning tokens
 * as completion tokens, cache reads `input_cache_read / prompt`, cache writes `input_cache_write / prompt`
 * (the prompt weight when the catalog lists no such rate); the classes are summed and rounded up once.
 */
import { InputError } from './errors.js';
import { ceilDiv, ceilToCent, formatUsd } from './money.js';

export interface PricingConfig {
  markupBp: number;
  minProfitMarginBp: number;
  bulkDiscountThreshold: number;
  bulkDiscountBp: number;
}

export interface MeteringRule {
  /** µ$ per million prompt-equivalent tokens */
  unitRate: number;
  /** completion weight as an exact fraction num/den (1/1 when every token counts 1) */
  completionWeightNum: number;
  completionWeightDen: number;
  /** cache-read weight (input_cache_read / prompt), 1/1 when the catalog lists no cache-read rate */
  cacheReadWeightNum: number;
  cacheReadWeightDen: number;
  /** cache-write weight (input_cache_write / prompt), 1/1 when the catalog lists no cache-write rate */
  cacheWriteWeightNum: number;
  cacheWriteWeightDen: number;
}

/** A model's cache rates (µ$/Mtok), null when the catalog lists none. */
export interface CacheRates {
  cacheReadRate?: number | null;
  cacheWriteRate?: number | null;
}

/** The tokens of one request by class; the classes are disjoint (a cache read is not also a prompt token). */
export interface TokenClasses {
  /** prompt tokens billed at the prompt rate (neither read from nor written to a cache) */
  input: number;
  cacheRead?: number;
  cacheWrite?: number;
  /** completion tokens other than reasoning */
  output: number;
  reasoning?: number;
}

/** The weighting rule for a model's rates. Throws when a rate is unknown (router/variable pricing). */
export function meteringRule(promptRate: number | null, completionRate: number | null, cache: CacheRates = {}): MeteringRule {
  if (promptRate === null || completionRate === null || promptRate < 0 || completionRate < 0) {
    throw new InputError('model has no fixed per-token price upstream (router or variable pricing); pick a model with fixed prices', 'model');
  }
  if (promptRate === 0) {
    return { unitRate: completionRate, completionWeightNum: 1, completionWeightDen: 1, cacheReadWeightNum: 1, cacheReadWeightDen: 1, cacheWriteWeightNum: 1, cacheWriteWeightDen: 1 };
  }
  const [cn, cd] = over(completionRate, promptRate);
  const [rn, rd] = over(cache.cacheReadRate, promptRate);
  const [wn, wd] = over(cache.cacheWriteRate, promptRate);
  return { unitRate: promptRate, completionWeightNum: cn, completionWeightDen: cd, cacheReadWeightNum: rn, cacheReadWeightDen: rd, cacheWriteWeightNum: wn, cacheWriteWeightDen: wd };
}

/** rate / promptRate in lowest terms; 1/1 for a rate the catalog does not list. */
function over(rate: number | null | undefined, promptRate: number): [number, number] {
  if (rate === null || rate === undefined || rate < 0) return [1, 1];
  if (rate === 0) return [0, 1];
  const g = gcd(rate, promptRate);
  return [rate / g, promptRate / g];
}

/** Completion weight as a number, for display only (2 for openai/gpt-4). */
export function completionWeight(rule: MeteringRule): number {
  return rule.completionWeightNum / rule.completionWeightDen;
}

/** Prompt-equivalent tokens for one request: prompt + ceil(completion × weight). */
export function weightedTokens(rule: MeteringRule, promptTokens: number, completionTokens: number): number {
  return promptTokens + ceilTimes(completionTokens, rule.completionWeightNum, rule.completionWeightDen);
}

/** ceil(n × num / den), exact: in doubles while they are exact (every real request), in BigInt past that. */
function ceilTimes(n: number, num: number, den: number): number {
  const product = n * num;
  if (Number.isSafeInteger(product + den)) {
    // floor of the rounded quotient is never below the true floor; one check makes it the ceiling
    const q = Math.floor(product / den);
    return q * den < product ? q + 1 : q;
  }
  return Number(ceilDiv(BigInt(n) * BigInt(num), BigInt(den)));
}

/**
 * Prompt-equivalent tokens for one request's token classes: Σ tokens × weight, summed exactly and rounded
 * up once (not per class).
 */
export function weighTokenClasses(rule: MeteringRule, t: TokenClasses): number {
  const out = t.output + (t.reasoning ?? 0);
  const read = t.cacheRead ?? 0;
  const write = t.cacheWrite ?? 0;
  if (read === 0 && write === 0) return weightedTokens(rule, t.input, out);
  const terms: Array<[number, number, number]> = [
    [out, rule.completionWeightNum, rule.completionWeightDen],
    [read, rule.cacheReadWeightNum, rule.cacheReadWeightDen],
    [write, rule.cacheWriteWeightNum, rule.cacheWriteWeightDen],
  ];
  let den = 1n;
  for (const [n, , d] of terms) if (n > 0) den = lcm(den, BigInt(d));
  let num = 0n;
  for (const [n, wn, wd] of terms) if (n > 0) num += BigInt(n) * BigInt(wn) * (den / BigInt(wd));
  return t.input + Number(ceilDiv(num, den));
}

/** How many completion tokens `available` prompt-equivalent tokens can pay for (floor). */
export function completionTokensAffordable(rule: MeteringRule, available: number): number {
  if (available <= 0) return 0;
  if (rule.completionWeightNum === 0) return Number.MAX_SAFE_INTEGER;
  const product = available * rule.completionWeightDen;
  if (Number.isSafeInteger(product + rule.completionWeightNum)) {
    // the rounded quotient's floor is never below the true floor; one check corrects it from above
    const q = Math.floor(product / rule.completionWeightNum);
    return q * rule.completionWeightNum > product ? q - 1 : q;
  }
  return Number((BigInt(available) * BigInt(rule.completionWeightDen)) / BigInt(rule.completionWeightNum));
}

/** The weight of each token class as a number, for display (`/v1/key`). */
export function classWeights(rule: MeteringRule): { prompt: number; completion: number; reasoning: number; cache_read: number; cache_write: number } {
  const completion = completionWeight(rule);
  return {
    prompt: 1,
    completion,
    reasoning: completion,
    cache_read: rule.cacheReadWeightNum / rule.cacheReadWeightDen,
    cache_write: rule.cacheWriteWeightNum / rule.cacheWriteWeightDen,
  };
}

/** Human sentence stating the rule, used by the bot and /v1/key. */
export function describeRule(rule: MeteringRule): string {
  const w = classWeights(rule);
  const shown = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(3).replace(/0+$/, ''));
  const cache = [...(w.cache_read !== 1 ? [`a cache read counts ${shown(w.cache_read)}`] : []), ...(w.cache_write !== 1 ? [`a cache write counts ${shown(w.cache_write)}`] : [])];
  if (w.completion === 1 && cache.length === 0) return 'every prompt and completion token counts 1';
  const parts = [`a prompt token counts 1`, `a completion token counts ${shown(w.completion)}${cache.length ? ' (reasoning included)' : ''}`, ...cache];
  return parts.length === 2 ? parts.join(', ') : `${parts.slice(0, -1).join(', ')} and ${parts.at(-1)}`;
}

export interface PackagePrice {
  tokens: number;
  unitRate: number;
  /** µ$, rounded up */
  costMicros: number;
  /** µ$, whole cents */
  priceMicros: number;
  profitMicros: number;
  /** (price − cost)/cost × 100, one decimal; 0 when cost is 0 */
  marginPercent: number;
  /** lowest acceptable price, µ$ rounded up to a cent */
  floorMicros: number;
  bulkDiscountApplied: boolean;
  explicit: boolean;
}

const BP = 10_000n;
const MTOK = 1_000_000n;

/**
 * Cost basis, price, profit and margin for N tokens of a model. An explicit price below the margin
 * floor is refused with the floor in the message.
 */
export function priceForPackage(input: { tokens: number; promptRate: number | null; completionRate: number | null; explicitPriceMicros?: number }, config: PricingConfig): PackagePrice {
  const { tokens } = input;
  if (!Number.isSafeInteger(tokens) || tokens <= 0) {
    throw new InputError(`tokens: ${tokens} is not a positive whole number of tokens; use e.g. 100000`, 'tokens');
  }
  const rule = meteringRule(input.promptRate, input.completionRate);
  const n = BigInt(tokens);
  // exact cost in µ$ × 1e6 (i.e. N × rate, where rate is µ$/Mtok)
  const costExactScaled = n * BigInt(rule.unitRate);
  const costMicros = ceilDiv(costExactScaled, MTOK);

  // price_exact = cost_exact × (1+markup) × (1−bulk), as a fraction over MTOK × BP × BP
  const bulk = tokens >= config.bulkDiscountThreshold;
  const markupNum = BP + BigInt(config.markupBp);
  const bulkNum = bulk ? BP - BigInt(config.bulkDiscountBp) : BP;
  const priceNumer = costExactScaled * markupNum * bulkNum; // over MTOK × BP × BP
  const floorNumer = costExactScaled * (BP + BigInt(config.minProfitMarginBp)) * BP; // same denominator
  const denom = MTOK * BP * BP;
  const exactNumer = priceNumer > floorNumer ? priceNumer : floorNumer;
  const floorMicros = ceilToCent(ceilDiv(floorNumer, denom));

  let priceMicros: bigint;
  const explicit = input.explicitPriceMicros !== undefined;
  if (explicit) {
    const p = BigInt(input.explicitPriceMicros!);
    if (p < 0n) throw new InputError('price: must not be negative', 'price');
    // compare exactly: p ≥ floor_exact  ⇔  p × denom ≥ floorNumer
    if (p * denom < floorNumer) {
      throw new InputError(
        `price: ${formatUsd(Number(p), { precise: true })} is below the margin floor ${formatUsd(Number(floorMicros))} for ${tokens.toLocaleString('en-US')} tokens; use --price ${(Number(floorMicros) / 1e6).toFixed(2)} or more, or omit --price`,
        'price',
      );
    }
    priceMicros = p;
  } else {
    priceMicros = ceilToCent(ceilDiv(exactNumer, denom));
  }
  const profit = priceMicros - costMicros;
  const marginPercent = costMicros === 0n ? 0 : Math.round((Number(profit) / Number(costMicros)) * 1000) / 10;
  return {
    tokens,
    unitRate: rule.unitRate,
    costMicros: Number(costMicros),
    priceMicros: Number(priceMicros),
    profitMicros: Number(profit),
    marginPercent,
    floorMicros: Number(floorMicros),
    bulkDiscountApplied: bulk,
    explicit,
  };
}

/** Parses an OpenRouter per-token USD price string into µ$ per million tokens (rounded up); null when unknown/variable. */
export function parseOpenRouterRate(value: unknown): number | null {
  if (value === undefined || value === null) return null;
  const text = String(value).trim();
  if (text === '' || text.startsWith('-')) return null; // "-1" = router / variable pricing
  // USD/token × 1e12 = µ$/Mtok
  const m = /^(\d+)(?:\.(\d+))?(?:[eE]([-+]?\d+))?$/.exec(text);
  if (!m) return null;
  let digits = m[1] + (m[2] ?? '');
  const exp = 12 - (m[2] ?? '').length + Number(m[3] ?? 0);
  digits = digits.replace(/^0+(?=\d)/, '');
  let v: bigint;
  if (exp >= 0) v = BigInt(digits) * 10n ** BigInt(exp);
  else v = ceilDiv(BigInt(digits), 10n ** BigInt(-exp));
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) return null;
  return Number(v);
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a || 1;
}

function lcm(a: bigint, b: bigint): bigint {
  let x = a;
  let y = b;
  while (y) [x, y] = [y, x % y];
  return (a / x) * b;
}
