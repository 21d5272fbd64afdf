/**
 * Sizing a hold (METERING.md §1): hold = estimated prompt tokens × safety factor + capped max_tokens ×
 * completion weight, where max_tokens is first capped to what the remaining quota can pay for (and to the
 * model's max completion tokens). Pure integer arithmetic; the atomic reservation lives in store.ts.
 */
import { completionTokensAffordable, weightedTokens, type MeteringRule } from '../pricing.js';

/** The local tokenizer is not the provider's: prompt holds are padded by this factor (num/den) plus a constant. */
export const PROMPT_SAFETY_NUM = 5;
export const PROMPT_SAFETY_DEN = 4;
export const PROMPT_SAFETY_EXTRA = 8;

/** Prompt-equivalent tokens held for a prompt estimate. */
export function promptHold(promptEstimate: number): number {
  return Math.ceil((promptEstimate * PROMPT_SAFETY_NUM) / PROMPT_SAFETY_DEN) + PROMPT_SAFETY_EXTRA;
}

export interface HoldInput {
  rule: MeteringRule;
  /** local estimate of the prompt tokens (before the safety factor) */
  promptEstimate: number;
  /** what the client asked for (max_tokens / max_completion_tokens); undefined = as much as allowed */
  requestedMaxTokens: number | undefined;
  /** the model's max completion tokens, when known */
  modelMaxCompletionTokens: number | null | undefined;
  /** the model's context length, when known (bounds an unrequested max_tokens) */
  contextLength?: number | null;
  /** completions per request (`n`), default 1 */
  choices?: number;
  /** false when the request produces no completion tokens (embeddings): the hold is the prompt's alone */
  completion?: boolean;
  /** prompt-equivalent tokens the key can still spend (total − used − reserved) */
  available: number;
}

export interface HoldPlan {
  /** the max_tokens sent upstream (0 when the request produces no completion) */
  maxTokens: number;
  /** prompt-equivalent tokens to reserve */
  hold: number;
  promptHold: number;
}

/**
 * The max_tokens to forward and the hold to take, or null when the remaining quota cannot pay for the
 * prompt and at least one completion token (→ 402).
 */
export function planHold(input: HoldInput): HoldPlan | null {
  const choices = Math.max(1, input.choices ?? 1);
  const pHold = promptHold(input.promptEstimate);
  if (input.completion === false) return pHold <= input.available ? { maxTokens: 0, hold: pHold, promptHold: pHold } : null;
  const budget = input.available - pHold;
  if (budget <= 0) return null;
  let maxTokens = Math.floor(completionTokensAffordable(input.rule, budget) / choices);
  if (input.requestedMaxTokens !== undefined) maxTokens = Math.min(maxTokens, input.requestedMaxTokens);
  if (input.modelMaxCompletionTokens) maxTokens = Math.min(maxTokens, input.modelMaxCompletionTokens);
  else if (input.requestedMaxTokens === undefined && input.contextLength) {
    maxTokens = Math.min(maxTokens, Math.max(1, input.contextLength - input.promptEstimate));
  }
  if (maxTokens < 1) return null;
  const hold = weightedTokens(input.rule, pHold, maxTokens * choices);
  return { maxTokens, hold, promptHold: pHold };
}

/** The fast plan is used only while the key could still pay for this many more such holds. */
export const FAST_HOLD_HEADROOM = 64;

/**
 * The plan for a cheap upper bound of the prompt tokens, when it is the plan the exact estimate would give
 * (METERING.md §1 with a hold that may be larger, never smaller), else null: when the request's max_tokens
 * is capped by the client or the model (not by the context length) and the plan for `promptBound` still
 * forwards that cap, the exact estimate would forward the same max_tokens with a hold no larger (hold and
 * affordability are monotonic in the prompt). It may be taken only while the key has room for
 * `fastHoldHeadroom(plan)` tokens, so the larger hold cannot crowd out concurrent requests near the end
 * of a quota; the proxy puts that condition in the hold's own atomic UPDATE. A request without completion
 * (embeddings) forwards no cap: its fast plan is simply the plan for the bound.
 */
export function fastHoldPlan(input: Omit<HoldInput, 'promptEstimate'>, promptBound: number): HoldPlan | null {
  if (input.completion === false) return planHold({ ...input, promptEstimate: promptBound });
  const requested = input.requestedMaxTokens;
  const modelMax = input.modelMaxCompletionTokens || undefined;
  if (requested === undefined && modelMax === undefined) return null;
  const cap = Math.min(requested ?? Infinity, modelMax ?? Infinity);
  const fast = planHold({ ...input, promptEstimate: promptBound });
  return fast && fast.maxTokens === cap ? fast : null;
}

/** What the key must have left for a fast plan to be taken: FAST_HOLD_HEADROOM more such holds, and this one. */
export function fastHoldHeadroom(plan: HoldPlan): number {
  return plan.hold * (FAST_HOLD_HEADROOM + 1);
}
