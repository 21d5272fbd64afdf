/**
 * Reading a key and taking its hold — the one place that decides how many tokens a request holds and
 * whether it may go upstream (METERING.md §1). Every protocol goes through here; the proxy calls
 * `readKey` then `take` and knows nothing of the shortcuts below.
 *
 * The shortcuts, and why they are safe:
 * 1. Key-read reuse (KeyCache): a request may size its hold on a read of its key made up to
 *    KEY_CACHE_TTL_MS earlier. The read never decides anything: the quota, the status and the expiry are
 *    re-checked by the hold's own atomic UPDATE (store.reserve), and a refusal, a revocation or an expiry
 *    is always decided on a fresh read.
 * 2. The fast plan: the hold is sized on an upper bound of the prompt (its UTF-8 bytes, microseconds)
 *    when that forwards the same output cap the exact count would (fastHoldPlan: same max_tokens, a hold
 *    never smaller) and only while the key has FAST_HOLD_HEADROOM more such holds left — a condition the
 *    same UPDATE checks (`minRemaining`), so the larger hold cannot crowd out other requests near the end
 *    of a quota, even on a kept read.
 * 3. An empty key costs nothing: before its body is even read, a key that cannot pay the smallest hold is
 *    refused (on a fresh read). The exact count (the tokenizer) runs only when the fast plan does not
 *    apply, and only after a fresh read shows the key can pay the prompt's fixed overhead. It is sliced and
 *    bounded per request (tokens.ts), so it never stalls other requests.
 * 4. A hold the database refuses is planned once more on a fresh read with the smaller remainder (max_tokens
 *    is capped to what is left) before the request is refused with 402.
 * Quota is never cached and no path skips the UPDATE. `npm run bench proxy` shows what 1 and 2 save.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ArbError, QuotaExceededError } from '../errors.js';
import { fromDbTime, nowDb } from '../time.js';
import { weightedTokens, type MeteringRule } from '../pricing.js';
import { KeyCache } from './key-cache.js';
import { fastHoldHeadroom, fastHoldPlan, planHold, promptHold, type HoldInput, type HoldPlan } from './plan.js';
import type { MeteredKey, MeteringStore } from './store.js';
import { countPromptTokens, promptUpperBound, type PromptText } from './tokens.js';
import { ruleForRates } from './usage.js';

/** Why a key cannot be used: missing from the database, revoked or expired. */
export class KeyRefusedError extends ArbError {
  override readonly code = 'ARB_KEY_REFUSED';
  constructor(
    message: string,
    /** what the log says: 'unknown key' | 'revoked key' | 'expired key' */
    readonly reason: string,
    /** the code the customer sees: invalid_api_key | key_revoked | key_expired */
    readonly publicCode: 'invalid_api_key' | 'key_revoked' | 'key_expired',
  ) {
    super(message);
  }
}

/** What a request asks of its key. */
export interface HoldDemand {
  requestId: string;
  prompt: PromptText;
  /** the client's output cap, undefined = as much as the key and the model allow */
  requestedMaxTokens: number | undefined;
  /** completions generated per request (`n`, `best_of`) */
  choices: number;
  /** false when the request produces no completion tokens (embeddings) */
  completion: boolean;
}

export interface KeyRead {
  key: MeteredKey;
  /** the SHA-256 of the key it was read by */
  hash: string;
  /** a read kept from an earlier request (see KeyCache) */
  reused: boolean;
}

export interface Hold {
  plan: HoldPlan;
  rule: MeteringRule;
  /** the latest read of the key */
  key: MeteredKey;
  /** the key's tokens left (total − used − reserved) when the hold was planned, before it */
  available: number;
  promptBound: number;
  /** the tokenizer's count of the prompt, when the plan needed it */
  promptExact: number | undefined;
}

export interface Holds {
  /** The key for a key hash; with `reuse`, a read from the last KEY_CACHE_TTL_MS may stand in. Throws KeyRefusedError. */
  readKey(hash: string, reuse: boolean): Promise<KeyRead>;
  /**
   * Refuses (QuotaExceededError) a key that cannot pay even the smallest hold — decided on a fresh read —
   * before its request is read or parsed: an empty key costs nothing.
   */
  checkNotEmpty(read: KeyRead, completion: boolean): Promise<void>;
  /**
   * Takes the hold for a request, atomically. Throws QuotaExceededError (402), KeyRefusedError (revoked or
   * expired since the read) or the store's errors (DatabaseUnavailableError: 503).
   */
  take(read: KeyRead, demand: HoldDemand): Promise<Hold>;
  /** The prompt's tokens for an estimated charge: the count the hold made, else counted now. */
  promptTokens(hold: Hold, demand: HoldDemand): Promise<number>;
}

const rules = new WeakMap<MeteredKey, MeteringRule>();

/** The metering rule of a key's model (every class weighed by its catalog rate), once per key read. */
export function ruleForKey(key: MeteredKey): MeteringRule {
  let rule = rules.get(key);
  if (!rule) rules.set(key, (rule = ruleForRates(key.promptRate, key.completionRate, key.cacheReadRate, key.cacheWriteRate)));
  return rule;
}

/** The smallest hold a request can take: an empty prompt and, with a completion, one completion token. */
function smallestHold(key: MeteredKey, completion: boolean): number {
  return completion ? weightedTokens(ruleForKey(key), promptHold(0), 1) : promptHold(0);
}

/**
 * How long a request refused only for what requests in flight hold waits for them, attempt by attempt,
 * before it is refused (375 ms in all).
 */
const IN_FLIGHT_WAITS_MS = [25, 50, 100, 200];

/** The key's tokens left for new holds. */
export function tokensLeft(key: MeteredKey): number {
  return Math.max(0, key.tokensTotal - key.tokensUsed - key.tokensReserved);
}

/** Why a key read from the database cannot be used (missing, revoked, expired), or null. */
export function keyRefusal(key: MeteredKey | undefined): KeyRefusedError | null {
  if (!key) return new KeyRefusedError('invalid API key: no such key (it may have been mistyped)', 'unknown key', 'invalid_api_key');
  if (key.status === 'revoked') return new KeyRefusedError(`API key ${key.maskedKey} has been revoked; buy a new package in the shop bot`, 'revoked key', 'key_revoked');
  if (key.status === 'expired' || key.expiresAt <= nowDb()) {
    return new KeyRefusedError(`API key ${key.maskedKey} expired at ${key.expiresAt} UTC; buy a new package in the shop bot`, 'expired key', 'key_expired');
  }
  return null;
}

export function createHolds(deps: { store: MeteringStore; instanceId: string; keyCacheTtlMs?: number }): Holds {
  const { store } = deps;
  const cache = new KeyCache(deps.keyCacheTtlMs);

  async function readKey(hash: string, reuse: boolean): Promise<KeyRead> {
    const kept = reuse ? cache.get(hash) : undefined;
    if (kept) return { key: kept, hash, reused: true };
    const key = await store.findKeyByHash(hash);
    const refusal = keyRefusal(key);
    if (refusal) {
      cache.delete(hash);
      throw refusal;
    }
    if (reuse) cache.set(hash, key!);
    return { key: key!, hash, reused: false };
  }

  async function take(read: KeyRead, demand: HoldDemand): Promise<Hold> {
    const rule = ruleForKey(read.key);
    const promptBound = promptUpperBound(demand.prompt);
    let promptExact: number | undefined;
    const input = (k: MeteredKey): Omit<HoldInput, 'promptEstimate'> => ({
      rule,
      requestedMaxTokens: demand.requestedMaxTokens,
      modelMaxCompletionTokens: k.maxCompletionTokens,
      contextLength: k.contextLength,
      choices: demand.choices,
      completion: demand.completion,
      available: tokensLeft(k),
    });
    // would the request fit if every hold in flight on the key were given back?
    const fitsWithoutHolds = (k: MeteredKey) =>
      k.tokensReserved > 0 && planHold({ ...input(k), available: Math.max(0, k.tokensTotal - k.tokensUsed), promptEstimate: promptExact ?? demand.prompt.overhead }) !== null;
    const reserve = (plan: HoldPlan, minRemaining?: number) => store.reserve({ allocationId: read.key.id, requestId: demand.requestId, instanceId: deps.instanceId, tokens: plan.hold, minRemaining });

    let plan: HoldPlan | null = fastHoldPlan(input(read.key), promptBound);
    if (plan && (await reserve(plan, fastHoldHeadroom(plan)))) {
      return { plan, rule, key: read.key, available: tokensLeft(read.key), promptBound, promptExact };
    }
    // The exact plan, on a fresh read (the first attempt may use the read just made, unless the fast plan
    // was already refused on it), retried once with the smaller remainder; then, while what stands in the
    // way is only what requests in flight hold, after a few short waits for them to settle (most do within
    // milliseconds and give back what they did not use: parallel requests at the end of a quota use it up
    // instead of being refused for tokens that come back a moment later).
    let fresh: MeteredKey | undefined = plan || read.reused ? undefined : read.key;
    for (let attempt = 0; attempt < 2 + IN_FLIGHT_WAITS_MS.length; attempt++) {
      if (attempt >= 2) {
        if (!fresh || !fitsWithoutHolds(fresh)) break;
        await sleep(IN_FLIGHT_WAITS_MS[attempt - 2]);
      }
      if (attempt > 0 || !fresh) fresh = await store.getKey(read.key.id);
      if (!fresh || keyRefusal(fresh)) break;
      // a key that cannot pay even the prompt's fixed overhead is not worth counting for
      if (!planHold({ ...input(fresh), promptEstimate: demand.prompt.overhead })) continue;
      if (promptExact === undefined) {
        promptExact = await countPromptTokens(demand.prompt);
        // the count waited for the token counter's thread: requests in flight may have settled meanwhile
        // and given back what they held, so the plan is made on a read taken after it
        fresh = await store.getKey(read.key.id);
        if (!fresh || keyRefusal(fresh)) break;
      }
      const available = tokensLeft(fresh);
      plan = planHold({ ...input(fresh), promptEstimate: promptExact });
      if (plan && (await reserve(plan))) return { plan, rule, key: fresh, available, promptBound, promptExact };
    }
    cache.delete(read.hash);
    // revoked or expired since the key was read: the answer a fresh authentication gives
    const refusal = keyRefusal(fresh);
    if (refusal) throw refusal;
    const left = fresh ? tokensLeft(fresh) : 0;
    throw new QuotaExceededError(
      `insufficient quota: ${left.toLocaleString('en-US')} of ${read.key.tokensTotal.toLocaleString('en-US')} tokens left (some may be held by requests in flight), not enough for this request; shorten the prompt${demand.completion ? ' or lower the output limit' : ''}, or buy a new package`,
    );
  }

  async function checkNotEmpty(read: KeyRead, completion: boolean): Promise<void> {
    if (tokensLeft(read.key) >= smallestHold(read.key, completion)) return;
    const fresh = read.reused ? await store.getKey(read.key.id) : read.key;
    const refusal = keyRefusal(fresh);
    if (refusal) {
      cache.delete(read.hash);
      throw refusal;
    }
    if (tokensLeft(fresh!) >= smallestHold(fresh!, completion)) return;
    cache.delete(read.hash);
    throw new QuotaExceededError(`insufficient quota: all ${read.key.tokensTotal.toLocaleString('en-US')} tokens of this key are used or held by requests in flight; buy a new package`);
  }

  return {
    readKey,
    checkNotEmpty,
    take,
    async promptTokens(hold, demand) {
      return hold.promptExact ?? (hold.promptExact = await countPromptTokens(demand.prompt));
    },
  };
}

/** When a key expires, for headers and /v1/key (ISO 8601). */
export function expiryIso(key: MeteredKey): string {
  return fromDbTime(key.expiresAt).toISOString();
}
