/**
 * The OpenAI-compatible metering proxy (SPEC §4): authenticate (SHA-256 of the key; chat completions may
 * reuse a read of the key from the last second, see KeyCache — never the quota) → rate limit → validate →
 * reserve (one atomic conditional UPDATE, which re-checks status, expiry and quota) → forward → settle in
 * `finally`, exactly once. Streams are relayed byte for byte as they arrive while a copy is parsed for the
 * usage and the delivered text.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../../src/logger.js';
import { logApiCall, logSecurityEvent, redactText } from '../../src/logger.js';
import { UpstreamError, UpstreamTimeoutError } from '../../src/errors.js';
import type { UsageOutcome } from '../../src/db/database.js';
import { completionWeight, describeRule } from '../../src/pricing.js';
import { hashApiKey, looksLikeApiKey } from '../../src/ledger/keys.js';
import { fromDbTime, nowDb } from '../../src/time.js';
import type { KeyRecord, MeteringStore, SettleResult } from '../../src/metering/store.js';
import { fastHoldHeadroom, fastHoldPlan, planHold, type HoldInput, type HoldPlan } from '../../src/metering/plan.js';
import { KeyCache } from '../../src/metering/key-cache.js';
import { estimatePromptTokens, promptTokensUpperBound } from '../../src/metering/tokens.js';
import { completionText, computeCharge, readUsage, ruleForRates, StreamMeter, type UpstreamUsage } from '../../src/metering/usage.js';
import type { ChatUpstream, UpstreamResponse } from './upstream.js';
import { AbortFlag, describeError, isTimeoutError } from './upstream.js';
import type { ProxyLimits } from './limits.js';
import type { ProxyMetrics } from './metrics.js';
import { apiError, sendApiError, sendJson, type ApiErrorType } from './respond.js';

export const MAX_BODY_BYTES = 1024 * 1024;

export interface ProxyDeps {
  store: MeteringStore;
  upstream: ChatUpstream;
  limits: ProxyLimits;
  metrics: ProxyMetrics;
  logger: Logger;
  instanceId: string;
  rateLimitRpm: number;
  maxBodyBytes?: number;
  /** how long chat completions may reuse a read of their key (see KeyCache; 0 = read it every request) */
  keyCacheTtlMs?: number;
}

export interface RequestContext {
  requestId: string;
  /** performance.now() when the request arrived */
  startedAt: number;
  ip: string;
  /** the public path, e.g. /v1/chat/completions */
  endpoint: string;
}

export interface Proxy {
  chatCompletions(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void>;
  listModels(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void>;
  keyInfo(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void>;
  /** chat completions in flight */
  readonly inFlight: number;
  /** resolves when no chat completion is in flight */
  idle(): Promise<void>;
  /** aborts every request in flight (they settle with outcome `shutdown`) */
  abortAll(): void;
}

interface Flight {
  signal: AbortFlag;
  reason: 'client' | 'shutdown' | null;
  clientGone: boolean;
}

type Aborted = { aborted: true };

export function createProxy(deps: ProxyDeps): Proxy {
  const { store, upstream, limits, metrics, logger } = deps;
  const maxBody = deps.maxBodyBytes ?? MAX_BODY_BYTES;
  const keyCache = new KeyCache(deps.keyCacheTtlMs);
  const flights = new Set<Flight>();
  let idleWaiters: Array<() => void> = [];

  const overheadHeader = (ctx: RequestContext, upstreamMs = 0) => Math.max(0, performance.now() - ctx.startedAt - upstreamMs).toFixed(3);

  /** A refusal before anything was forwarded: OpenAI error body, an api_call line, a metric. */
  function refuse(
    res: ServerResponse,
    ctx: RequestContext,
    status: number,
    message: string,
    type: ApiErrorType,
    code: string,
    extra: { headers?: Record<string, string | number>; model?: string; param?: string; allocationId?: number } = {},
  ): void {
    sendApiError(res, status, message, type, code, { 'x-request-id': ctx.requestId, 'x-arb-overhead-ms': overheadHeader(ctx), ...extra.headers }, extra.param);
    metrics.rejection(code);
    logApiCall(logger, {
      service: 'proxy',
      endpoint: ctx.endpoint,
      status,
      success: false,
      latency_ms: Math.round(performance.now() - ctx.startedAt),
      model: extra.model,
      request_id: ctx.requestId,
      reason: code,
      allocation_id: extra.allocationId,
    });
  }

  /** A 401 for a failed authentication: counted against the address, logged as a security event. */
  async function refuseAuth(res: ServerResponse, ctx: RequestContext, refusal: AuthRefusal): Promise<null> {
    await limits.authFailed(ctx.ip);
    logSecurityEvent(logger, { event: 'auth_failed', reason: refusal.reason, ip: ctx.ip, request_id: ctx.requestId, endpoint: ctx.endpoint });
    refuse(res, ctx, 401, refusal.message, 'authentication_error', refusal.code);
    return null;
  }

  /**
   * Bearer key → allocation and the id its rate limit is counted under (a prefix of the key's hash: unique
   * across databases sharing one Redis, and not the key), or null with a 401/429 already sent. With
   * `cached`, a read of the key from the last KEY_CACHE_TTL_MS may stand in for a fresh one (chat
   * completions, where the hold re-checks the key atomically).
   */
  async function authenticate(
    req: IncomingMessage,
    res: ServerResponse,
    ctx: RequestContext,
    cached = false,
  ): Promise<{ key: KeyRecord; limiterId: string; hash: string; cached: boolean } | null> {
    const blocked = await limits.authBlocked(ctx.ip);
    if (!blocked.ok) {
      logSecurityEvent(logger, { event: 'auth_throttled', reason: 'too many failed authentications', ip: ctx.ip, request_id: ctx.requestId });
      refuse(res, ctx, 429, `too many failed authentications from your address; retry in ${blocked.retryAfterSec} s`, 'rate_limit_error', 'auth_rate_limited', {
        headers: { 'retry-after': blocked.retryAfterSec },
      });
      return null;
    }
    const header = req.headers.authorization;
    const m = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!m) {
      return refuseAuth(res, ctx, { reason: 'missing key', message: 'missing API key: send the header "Authorization: Bearer sk-arb-…" with the key you bought', code: 'missing_api_key' });
    }
    const token = m[1];
    if (!looksLikeApiKey(token)) {
      return refuseAuth(res, ctx, { reason: 'malformed key', message: 'invalid API key: arb keys look like sk-arb-… (check for a copy-paste error)', code: 'invalid_api_key' });
    }
    const hash = hashApiKey(token);
    let key = cached ? keyCache.get(hash) : undefined;
    const fromCache = key !== undefined;
    key ??= await store.findKeyByHash(hash);
    const refusal = keyRefusal(key);
    if (refusal) {
      keyCache.delete(hash);
      return refuseAuth(res, ctx, refusal);
    }
    if (cached && !fromCache) keyCache.set(hash, key as KeyRecord);
    return { key: key as KeyRecord, limiterId: `k${hash.slice(0, 24)}`, hash, cached: fromCache };
  }

  function remaining(key: KeyRecord): number {
    return Math.max(0, key.tokensTotal - key.tokensUsed - key.tokensReserved);
  }

  function track(res: ServerResponse): Flight {
    const flight: Flight = { signal: new AbortFlag(), reason: null, clientGone: false };
    res.on('close', () => {
      if (!res.writableEnded) {
        flight.clientGone = true;
        if (!flight.signal.aborted) {
          flight.reason ??= 'client';
          flight.signal.abort();
        }
      }
    });
    if (res.destroyed || res.socket?.destroyed) {
      flight.clientGone = true;
      flight.reason = 'client';
      flight.signal.abort();
    }
    flights.add(flight);
    metrics.inFlight(1);
    return flight;
  }

  function untrack(flight: Flight): void {
    if (!flights.delete(flight)) return;
    metrics.inFlight(-1);
    if (flights.size === 0) {
      const w = idleWaiters;
      idleWaiters = [];
      for (const fn of w) fn();
    }
  }

  async function settleWithRetry(input: Parameters<MeteringStore['settle']>[0]): Promise<SettleResult | null> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await store.settle(input);
      } catch (e) {
        if (attempt >= 3) {
          logger.critical({ err: e, request_id: input.requestId, allocation_id: input.allocationId }, 'settle failed: the hold stays until this daemon stops or restarts');
          return null;
        }
        await new Promise((r) => setTimeout(r, attempt * 50));
      }
    }
  }

  /** Every chat completion is tracked from arrival, so a shutdown drains (or aborts) it whatever its stage. */
  async function chatCompletions(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> {
    const flight = track(res);
    try {
      await meteredCompletion(req, res, ctx, flight);
    } finally {
      untrack(flight);
    }
  }

  async function meteredCompletion(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, flight: Flight): Promise<void> {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBody) {
      return refuse(res, ctx, 413, `request body is ${declared} bytes; the limit is ${maxBody} bytes (1 MiB)`, 'invalid_request_error', 'request_too_large', {
        headers: { connection: 'close' },
      });
    }
    const auth = await authenticate(req, res, ctx, true);
    if (!auth) return;
    const { key } = auth;
    const limited = await limits.consumeKey(auth.limiterId);
    if (!limited.ok) {
      return refuse(res, ctx, 429, `rate limit: ${deps.rateLimitRpm} requests per minute per key; retry in ${limited.retryAfterSec} s`, 'rate_limit_error', 'rate_limit_exceeded', {
        headers: { 'retry-after': limited.retryAfterSec },
        allocationId: key.allocationId,
      });
    }
    const raw = await readBody(req, maxBody);
    if (raw === 'too_large') {
      return refuse(res, ctx, 413, `request body is larger than ${maxBody} bytes (1 MiB)`, 'invalid_request_error', 'request_too_large', {
        headers: { connection: 'close' },
        allocationId: key.allocationId,
      });
    }
    if (raw === 'aborted') return;
    const parsed = parseChatBody(raw);
    if ('error' in parsed) {
      return refuse(res, ctx, 400, parsed.error, 'invalid_request_error', parsed.code, { param: parsed.param, allocationId: key.allocationId });
    }
    const body = parsed.body;
    const requested = body.model as string;
    if (!modelMatches(requested, key.model)) {
      return refuse(res, ctx, 403, `model "${requested}" is not in this key's package; this key is for ${key.model} (GET /v1/models lists it)`, 'permission_error', 'model_not_allowed', {
        param: 'model',
        model: requested,
        allocationId: key.allocationId,
      });
    }
    const stream = body.stream === true;
    const rule = ruleForRates(key.promptRate, key.completionRate);
    // The hold is sized on a fast upper bound of the prompt tokens whenever that changes nothing for the
    // customer (fastHoldPlan: same max_tokens, a hold never smaller); the tokenizer runs only when the bound
    // would limit the request, or for an estimated charge (no usage came).
    const promptBound = promptTokensUpperBound(body);
    let promptExact: number | undefined;
    const promptEstimate = () => (promptExact ??= estimatePromptTokens(body));
    const holdInput = (k: KeyRecord): Omit<HoldInput, 'promptEstimate'> => ({
      rule,
      requestedMaxTokens: parsed.maxTokens,
      modelMaxCompletionTokens: k.maxCompletionTokens,
      contextLength: k.contextLength,
      choices: parsed.choices,
      available: remaining(k),
    });

    // Reserve: one atomic conditional UPDATE. The fast plan (no tokenizer) is tried first, with its
    // headroom decided by the UPDATE itself, so a cached read of the key cannot make it pass; otherwise, or
    // when refused, the exact estimate on a fresh read of the key, retried once with the smaller remainder.
    const reserve = (p: HoldPlan, minRemaining?: number) =>
      store.reserve({ allocationId: key.allocationId, requestId: ctx.requestId, instanceId: deps.instanceId, tokens: p.hold, minRemaining });
    let plan: HoldPlan | null = fastHoldPlan(holdInput(key), promptBound);
    let reserved = plan !== null && (await reserve(plan, fastHoldHeadroom(plan)));
    // the latest read of the key; authenticate's serves the first exact attempt unless it was cached or
    // the fast hold was already tried on it
    let fresh: KeyRecord | undefined = plan || auth.cached ? undefined : key;
    for (let attempt = 0; !reserved && attempt < 2; attempt++) {
      if (attempt > 0 || !fresh) fresh = await store.getKey(key.allocationId);
      if (!fresh || keyRefusal(fresh)) break;
      plan = planHold({ ...holdInput(fresh), promptEstimate: promptEstimate() });
      if (!plan) break;
      reserved = await reserve(plan);
    }
    if (!reserved || !plan) {
      keyCache.delete(auth.hash);
      // revoked or expired since the key was read: the same answer authenticate gives
      const refusal = keyRefusal(fresh);
      if (refusal) return void (await refuseAuth(res, ctx, refusal));
      const left = fresh ? remaining(fresh) : 0;
      return refuse(
        res,
        ctx,
        402,
        `insufficient quota: ${left.toLocaleString('en-US')} of ${key.tokensTotal.toLocaleString('en-US')} tokens left (some may be held by requests in flight), not enough for this request; shorten the prompt or lower max_tokens, or buy a new package`,
        'insufficient_quota',
        'insufficient_quota',
        { model: key.model, allocationId: key.allocationId },
      );
    }

    // Holding tokens from here on: every path below settles exactly once.
    const granted = plan as HoldPlan;
    let statusCode = 0;
    let outcome: UsageOutcome = 'ok';
    let served = false;
    let usage: UpstreamUsage | null = null;
    let delivered = '';
    let upstreamMs = 0;
    let upstreamRes: UpstreamResponse | undefined;
    /** the request left for the upstream (it may bill the prompt even if we abort) */
    let forwarded = false;
    let failure: string | undefined;
    let pendingError: { status: number; message: string; type: ApiErrorType; code: string; headers?: Record<string, string | number> } | undefined;
    let nonStreamBody: Buffer | undefined;
    let streamTail: string | undefined;

    try {
      // the body goes through unchanged except: the model id resolved, max_tokens set and capped, usage forced on
      body.model = key.model;
      delete body.max_completion_tokens;
      body.max_tokens = granted.maxTokens;
      if (stream) {
        const so = body.stream_options;
        body.stream_options = { ...(so && typeof so === 'object' ? (so as object) : {}), include_usage: true };
      }
      const forwardText = JSON.stringify(body);
      const sentAt = performance.now();
      forwarded = !flight.signal.aborted;
      try {
        upstreamRes = await upstream.chatCompletions(forwardText, { stream, signal: flight.signal, requestId: ctx.requestId });
      } finally {
        upstreamMs = performance.now() - sentAt;
      }
      metrics.upstreamLatency(key.model, upstreamMs / 1000);
      if (upstreamRes.failedOver) {
        logger.warn({ request_id: ctx.requestId, primary_failure: upstreamRes.primaryFailure, upstream: upstreamRes.baseUrl }, 'upstream failover: the backup answered');
      }
      if (upstreamRes.statusCode !== 200) {
        pendingError = await upstreamErrorResponse(upstreamRes, logger, ctx);
        statusCode = pendingError.status;
        outcome = 'upstream_error';
        failure = `upstream status ${upstreamRes.statusCode}`;
      } else if (!stream) {
        served = true;
        const bodyStart = performance.now();
        nonStreamBody = await upstreamRes.body.bytes();
        upstreamMs += performance.now() - bodyStart;
        let json: unknown;
        try {
          json = JSON.parse(nonStreamBody.toString('utf8'));
        } catch {
          json = undefined;
        }
        usage = readUsage((json as { usage?: unknown } | undefined)?.usage);
        if (!usage) delivered = json === undefined ? nonStreamBody.toString('utf8') : completionText(json);
        statusCode = 200;
      } else {
        served = true;
        statusCode = 200;
        res.writeHead(200, {
          'content-type': String(upstreamRes.headers['content-type'] ?? 'text/event-stream'),
          'cache-control': 'no-cache',
          'x-request-id': ctx.requestId,
          'x-arb-overhead-ms': overheadHeader(ctx, upstreamMs),
        });
        // the headers go out at once when the upstream is still silent (a reasoning model thinking); when
        // its first bytes are already here they share one write with them
        if (upstreamRes.body.readableLength === 0) res.flushHeaders();
        const meter = new StreamMeter();
        const upstreamBody = upstreamRes.body;
        // backpressure: a slow client pauses the upstream until its socket drains
        const resume = () => upstreamBody.resume();
        res.on('drain', resume);
        try {
          await upstreamBody.forEach((chunk) => {
            if (flight.clientGone) return true; // the abort that follows ends the read
            meter.push(chunk);
            return res.write(chunk);
          });
          if (flight.clientGone) outcome = flight.reason === 'shutdown' ? 'shutdown' : 'client_abort';
          else if (meter.error !== null) {
            outcome = 'upstream_error';
            failure = `mid-stream error: ${meter.error}`;
          } else if (!meter.done && !meter.usage) {
            outcome = 'upstream_cut';
            failure = 'stream ended without [DONE]';
          }
        } catch (e) {
          if (flight.signal.aborted) outcome = flight.reason === 'shutdown' ? 'shutdown' : 'client_abort';
          else if (isTimeoutError(e)) outcome = 'timeout';
          else outcome = 'upstream_cut';
          failure = describeError(e);
        } finally {
          res.off('drain', resume);
        }
        meter.end();
        usage = meter.usage;
        if (!usage) delivered = meter.deliveredText();
        if (!flight.clientGone && (outcome === 'upstream_cut' || outcome === 'timeout' || outcome === 'shutdown')) {
          const err =
            outcome === 'shutdown'
              ? apiError('the server is shutting down; the response was cut short (you are charged only for what you received)', 'server_error', 'shutting_down')
              : apiError(`the upstream ${outcome === 'timeout' ? 'timed out' : 'connection was lost'} mid-stream; you are charged only for what you received`, 'upstream_error', outcome);
          streamTail = `data: ${JSON.stringify(err)}\n\n`;
        }
      }
    } catch (e) {
      if (flight.signal.aborted) {
        outcome = flight.reason === 'shutdown' ? 'shutdown' : 'client_abort';
        // the prompt reached the upstream: a client that walks away pays for it; our shutdown does not bill
        served = outcome === 'client_abort' && forwarded;
        statusCode = outcome === 'shutdown' ? 503 : 499;
        if (outcome === 'shutdown') pendingError = { status: 503, message: 'the server is shutting down; retry shortly', type: 'server_error', code: 'shutting_down' };
      } else if (e instanceof UpstreamTimeoutError || isTimeoutError(e)) {
        // (streams handle their own failures above; here the customer received nothing: no charge)
        outcome = 'timeout';
        served = false;
        statusCode = 504;
        pendingError = { status: 504, message: 'the upstream model provider timed out; retry later', type: 'upstream_error', code: 'upstream_timeout' };
      } else if (e instanceof UpstreamError) {
        outcome = 'upstream_error';
        statusCode = 502;
        pendingError = { status: 502, message: 'the upstream model provider is unreachable; retry later', type: 'upstream_error', code: 'upstream_unavailable' };
      } else {
        // a non-streamed body cut while it was read: the customer received nothing, so pays nothing
        outcome = 'upstream_cut';
        served = false;
        statusCode = 502;
        pendingError = { status: 502, message: 'the upstream connection was lost; retry', type: 'upstream_error', code: 'upstream_cut' };
      }
      failure = describeError(e);
    } finally {
      // Settle before the response ends, so a client that sees the end also sees its usage.
      // (the exact prompt estimate is needed only when no usage came; it cannot fail the settle)
      let chargedPrompt = 0;
      if (!usage && served) {
        try {
          chargedPrompt = promptEstimate();
        } catch {
          chargedPrompt = promptBound;
        }
      }
      const charge = computeCharge({ rule, usage, served, promptEstimate: chargedPrompt, deliveredText: delivered });
      const latencyMs = performance.now() - ctx.startedAt;
      const settled = await settleWithRetry({
        requestId: ctx.requestId,
        allocationId: key.allocationId,
        model: key.model,
        promptTokens: charge.promptTokens,
        completionTokens: charge.completionTokens,
        weightedTokens: charge.weightedTokens,
        upstreamCostMicros: charge.upstreamCostMicros,
        latencyMs,
        statusCode,
        outcome,
        estimated: charge.estimated,
        stream,
      });
      const charged = settled?.charged ?? 0;
      const loss = settled?.lossTokens ?? 0;
      if (loss > 0) logger.warn({ request_id: ctx.requestId, allocation_id: key.allocationId, loss_tokens: loss }, 'usage exceeded the hold and the quota: excess recorded as operator loss');

      // Finish the response.
      if (pendingError && !res.headersSent) {
        const headers = { 'x-request-id': ctx.requestId, 'x-arb-overhead-ms': overheadHeader(ctx, upstreamMs), ...pendingError.headers };
        sendApiError(res, pendingError.status, pendingError.message, pendingError.type, pendingError.code, headers);
      } else if (nonStreamBody && !res.headersSent) {
        if (!flight.clientGone) {
          res.writeHead(200, {
            'content-type': String(upstreamRes?.headers['content-type'] ?? 'application/json'),
            'content-length': nonStreamBody.length,
            'x-request-id': ctx.requestId,
            'x-arb-overhead-ms': overheadHeader(ctx, upstreamMs),
          });
          res.end(nonStreamBody);
        }
      } else if (res.headersSent && !res.writableEnded) {
        if (streamTail && !flight.clientGone) res.write(streamTail);
        res.end();
      }

      const revenueMicros = key.tokensTotal > 0 ? Math.floor((charged * key.pricePaid) / key.tokensTotal) : 0;
      metrics.completion({
        model: key.model,
        status: statusCode,
        outcome,
        promptTokens: charge.promptTokens,
        completionTokens: charge.completionTokens,
        weightedTokens: charged,
        lossTokens: loss,
        revenueMicros,
        upstreamCostMicros: charge.upstreamCostMicros,
      });
      metrics.overhead(Math.max(0, latencyMs - upstreamMs) / 1000);
      logApiCall(logger, {
        service: 'proxy',
        endpoint: ctx.endpoint,
        status: statusCode,
        success: statusCode === 200 && outcome === 'ok',
        latency_ms: Math.round(latencyMs),
        model: key.model,
        request_id: ctx.requestId,
        allocation_id: key.allocationId,
        user_id: key.userId,
        outcome,
        stream,
        prompt_tokens: charge.promptTokens,
        completion_tokens: charge.completionTokens,
        weighted_tokens: charged,
        estimated: charge.estimated,
        hold_tokens: granted.hold,
        upstream_cost_micros: charge.upstreamCostMicros,
        overhead_ms: Math.round(Math.max(0, latencyMs - upstreamMs) * 1000) / 1000,
        // rare fields only when they say something
        ...(loss > 0 ? { loss_tokens: loss } : {}),
        ...(upstreamRes?.failedOver ? { upstream: 'backup' } : {}),
        ...(failure ? { failure: redactText(failure) } : {}),
      });
    }
  }

  async function listModels(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> {
    const key = (await authenticate(req, res, ctx))?.key;
    if (!key) return;
    const owner = key.model.includes('/') ? key.model.split('/')[0] : 'openrouter';
    sendJson(
      res,
      200,
      {
        object: 'list',
        data: [{ id: key.model, object: 'model', created: 0, owned_by: owner, context_length: key.contextLength, max_completion_tokens: key.maxCompletionTokens }],
      },
      { 'x-request-id': ctx.requestId, 'x-arb-overhead-ms': overheadHeader(ctx) },
    );
  }

  async function keyInfo(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> {
    const key = (await authenticate(req, res, ctx))?.key;
    if (!key) return;
    const rule = ruleForRates(key.promptRate, key.completionRate);
    sendJson(
      res,
      200,
      {
        data: {
          key: key.maskedKey,
          model: key.model,
          status: key.status,
          tokens_total: key.tokensTotal,
          tokens_used: key.tokensUsed,
          tokens_reserved: key.tokensReserved,
          tokens_remaining: remaining(key),
          expires_at: fromDbTime(key.expiresAt).toISOString(),
          completion_weight: completionWeight(rule),
          metering_rule: describeRule(rule),
          rate_limit_rpm: deps.rateLimitRpm,
        },
      },
      { 'x-request-id': ctx.requestId, 'x-arb-overhead-ms': overheadHeader(ctx) },
    );
  }

  return {
    chatCompletions,
    listModels,
    keyInfo,
    get inFlight() {
      return flights.size;
    },
    idle() {
      if (flights.size === 0) return Promise.resolve();
      return new Promise<void>((resolve) => idleWaiters.push(resolve));
    },
    abortAll() {
      for (const f of flights) {
        if (f.signal.aborted) continue;
        f.reason = 'shutdown';
        f.signal.abort();
      }
    },
  };
}

interface AuthRefusal {
  reason: string;
  message: string;
  code: string;
}

/** Why a key read from the database cannot be used (missing, revoked, expired), or null. */
function keyRefusal(key: KeyRecord | undefined): AuthRefusal | null {
  if (!key) return { reason: 'unknown key', message: 'invalid API key: no such key (it may have been mistyped)', code: 'invalid_api_key' };
  if (key.status === 'revoked') return { reason: 'revoked key', message: `API key ${key.maskedKey} has been revoked; buy a new package in the shop bot`, code: 'key_revoked' };
  if (key.status === 'expired' || key.expiresAt <= nowDb()) {
    return { reason: 'expired key', message: `API key ${key.maskedKey} expired at ${key.expiresAt} UTC; buy a new package in the shop bot`, code: 'key_expired' };
  }
  return null;
}

/** A key's model accepts its full OpenRouter id or the short form after the slash. */
export function modelMatches(requested: string, keyModel: string): boolean {
  const r = requested.trim().toLowerCase();
  const k = keyModel.toLowerCase();
  if (r === k) return true;
  const slash = k.indexOf('/');
  return slash >= 0 && r === k.slice(slash + 1);
}

type ParsedChat = { body: Record<string, unknown>; maxTokens: number | undefined; choices: number } | { error: string; code: string; param?: string };

/** Validates the fields arb relies on; everything else passes through untouched. */
export function parseChatBody(raw: Buffer): ParsedChat {
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch (e) {
    return { error: `request body is not valid JSON (${(e as Error).message}); send a JSON object like {"model":"…","messages":[…]}`, code: 'invalid_json' };
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    return { error: 'request body must be a JSON object like {"model":"…","messages":[…]}', code: 'invalid_body' };
  }
  const body = value as Record<string, unknown>;
  if (typeof body.model !== 'string' || body.model.trim() === '') {
    return { error: 'model: required; use the model of your key (GET /v1/models lists it)', code: 'invalid_body', param: 'model' };
  }
  if (!Array.isArray(body.messages) || body.messages.length === 0) {
    return { error: 'messages: required, a non-empty array like [{"role":"user","content":"Hello"}]', code: 'invalid_body', param: 'messages' };
  }
  for (const [i, m] of body.messages.entries()) {
    if (!m || typeof m !== 'object' || Array.isArray(m) || typeof (m as { role?: unknown }).role !== 'string') {
      return { error: `messages[${i}]: must be an object with a "role" (and "content")`, code: 'invalid_body', param: `messages[${i}]` };
    }
  }
  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== 'boolean') {
    return { error: 'stream: must be true or false', code: 'invalid_body', param: 'stream' };
  }
  if (body.stream_options !== undefined && body.stream_options !== null && (typeof body.stream_options !== 'object' || Array.isArray(body.stream_options))) {
    return { error: 'stream_options: must be an object like {"include_usage":true}', code: 'invalid_body', param: 'stream_options' };
  }
  let maxTokens: number | undefined;
  for (const field of ['max_tokens', 'max_completion_tokens'] as const) {
    const v = body[field];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) {
      return { error: `${field}: must be a positive whole number of tokens, like 256`, code: 'invalid_body', param: field };
    }
    maxTokens = maxTokens === undefined ? v : Math.min(maxTokens, v);
  }
  let choices = 1;
  if (body.n !== undefined && body.n !== null) {
    if (typeof body.n !== 'number' || !Number.isInteger(body.n) || body.n < 1 || body.n > 128) {
      return { error: 'n: must be a whole number from 1 to 128', code: 'invalid_body', param: 'n' };
    }
    choices = body.n;
  }
  return { body, maxTokens, choices };
}

/** Reads a request body up to `limit` bytes. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too_large' | 'aborted'> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (v: Buffer | 'too_large' | 'aborted') => {
      if (done) return;
      done = true;
      req.off('data', onData);
      resolve(v);
    };
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.pause();
        return finish('too_large');
      }
      parts.push(c);
    };
    req.on('data', onData);
    req.once('end', () => finish(parts.length === 1 ? parts[0] : Buffer.concat(parts)));
    req.once('error', () => finish('aborted'));
    req.once('close', () => finish(req.complete ? (parts.length === 1 ? parts[0] : Buffer.concat(parts)) : 'aborted'));
  });
}

/** Maps an upstream non-200 answer (before any output) to what the customer sees. Never charged. */
async function upstreamErrorResponse(
  up: UpstreamResponse,
  logger: Logger,
  ctx: RequestContext,
): Promise<{ status: number; message: string; type: ApiErrorType; code: string; headers?: Record<string, string | number> }> {
  let text = '';
  try {
    text = (await up.body.text()).slice(0, 64 * 1024);
  } catch {
    /* body lost: keep the status */
  }
  let upstreamMessage = '';
  try {
    const j = JSON.parse(text) as { error?: { message?: unknown } };
    if (typeof j?.error?.message === 'string') upstreamMessage = j.error.message;
  } catch {
    upstreamMessage = text.slice(0, 200);
  }
  upstreamMessage = redactText(upstreamMessage).slice(0, 500);
  const s = up.statusCode;
  logger.warn({ request_id: ctx.requestId, upstream_status: s, upstream_message: upstreamMessage }, 'upstream refused the request');
  if (s === 401 || s === 402) {
    logger.critical({ request_id: ctx.requestId, upstream_status: s }, s === 401 ? 'OpenRouter rejected the OPENROUTER_API_KEY' : 'OpenRouter credit exhausted: top up the OpenRouter account');
    return { status: 502, message: 'the upstream model provider refused the request (provider account problem); the operator has been alerted — retry later', type: 'upstream_error', code: 'upstream_account' };
  }
  if (s === 429) {
    const ra = Number(up.headers['retry-after']);
    const retry = Number.isFinite(ra) && ra > 0 ? Math.ceil(ra) : 5;
    return { status: 429, message: `the upstream model provider is rate limiting; retry in ${retry} s`, type: 'rate_limit_error', code: 'upstream_rate_limited', headers: { 'retry-after': retry } };
  }
  if (s === 408) return { status: 504, message: 'the upstream model provider timed out; retry later', type: 'upstream_error', code: 'upstream_timeout' };
  if (s >= 400 && s < 500) {
    return { status: s, message: `upstream refused the request: ${upstreamMessage || `status ${s}`}`, type: 'invalid_request_error', code: 'upstream_rejected' };
  }
  return { status: 502, message: `the upstream model provider failed (status ${s}); retry later`, type: 'upstream_error', code: 'upstream_error' };
}
