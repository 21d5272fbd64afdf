/**
 * The metering proxy (SPEC §4). Every protocol goes through the same named stages:
 *
 *   admit    authenticate → rate limit → read and parse the body → check the model → hold (hold.ts)
 *   relay    forward the allow-listed body; a whole body is kept back, a stream is passed on as it arrives
 *            (with the upstream's cost fields cut out) while a copy is metered
 *   classify decide, in one place, the outcome, the status and whether the customer was served
 *   settle   replace the hold by the real charge (every token class weighed), exactly once, in `finally`
 *   respond  send the kept body or the error, end the stream; log the api_call line and the metrics
 *
 * What differs between protocols lives in their adapter (protocols/); refusals are typed errors mapped to
 * status and each protocol's error shape by one table (errors.ts). Served means billed: a whole body is
 * delivered only once its charge is recorded; a stream whose charge cannot be recorded yet is queued for a
 * retry (store.settleLater).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { StringDecoder } from 'node:string_decoder';
import type { Logger } from '../../src/logger.js';
import { logApiCall, logPerformance, logSecurityEvent, redactText } from '../../src/logger.js';
import { DatabaseUnavailableError, UpstreamError, UpstreamTimeoutError } from '../../src/errors.js';
import type { UsageOutcome } from '../../src/db/database.js';
import { classWeights, completionWeight, describeRule } from '../../src/pricing.js';
import { hashApiKey, looksLikeApiKey } from '../../src/keys/api-key.js';
import type { MeteredKey, MeteringStore, SettleInput, SettleResult } from '../../src/metering/store.js';
import { createHolds, expiryIso, ruleForKey, tokensLeft, type Hold, type HoldDemand, type KeyRead } from '../../src/metering/hold.js';
import { countPromptTokens, countTexts, type PromptText } from '../../src/metering/tokens.js';
import { nextTurn } from '../../src/metering/turns.js';
import { computeCharge, type Charge, type PromptUsage, type SseStreamMeter, type TokenUsage } from '../../src/metering/usage.js';
import type { Upstream, UpstreamResponse } from './upstream.js';
import { AbortFlag, describeError, isTimeoutError, ownBytes } from './upstream.js';
import type { LimitVerdict, ProxyLimits } from './limits.js';
import type { ProxyMetrics } from './metrics.js';
import { sendJson } from './respond.js';
import { readBody } from '../../src/request-body.js';
import { MAX_BODY_BYTES, parseJsonObject } from './body.js';
import { describeFailure, ProxyError, type FailureView } from './errors.js';
import { createStreamScrubber, scrubJson } from './scrub.js';
import { protocols } from './protocols/index.js';
import { shortenCacheTtl, type ParsedRequest, type Protocol, type ProtocolName } from './protocols/protocol.js';
import { messages } from './protocols/messages.js';

export { MAX_BODY_BYTES };

/** A proxied request slower than this writes a `"performance":true` line (SPEC §8). */
const SLOW_REQUEST_MS = 1000;
/** OpenRouter's reported cost may exceed the cost basis of what was charged by this much before it is an operator loss. */
const COST_TOLERANCE_PERCENT = 2;
/** A body this large is parsed in a turn of the event loop of its own (a 1 MiB parse takes milliseconds). */
const LARGE_BODY_BYTES = 64 * 1024;
/**
 * The bytes of the bodies one key may be receiving at once (by their declared sizes; a body sent without one
 * counts as the limit). A client trickling bodies it never finishes holds that memory until the request
 * timeout (server.ts); a burst of small requests (an agent's parallel calls, a batch job) is never refused
 * by it, and one body within the limit always fits. Past it, a 429 before the body is read.
 */
export const MAX_BODY_BYTES_PER_KEY = 32 * 1024 * 1024;
/** A body refused for its declared size is read and dropped after the 413 up to this size; past it the connection closes. */
const DRAIN_REFUSED_BYTES = 16 * 1024 * 1024;
/** Tokenizer work for the delivered text of an estimated charge (see tokens.ts; what it does not reach: the byte bound). */
const OUTPUT_BUDGET = 4_000_000;

export interface ProxyDeps {
  store: MeteringStore;
  upstream: Upstream;
  limits: ProxyLimits;
  metrics: ProxyMetrics;
  logger: Logger;
  instanceId: string;
  rateLimitRpm: number;
  maxBodyBytes?: number;
  /** how long a request may reuse a read of its key (see hold.ts; 0 = read it every request) */
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
  /** A metered request in one protocol (POST /v1/chat/completions, /v1/messages, …). */
  serve(protocol: ProtocolName, req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void>;
  /** POST /v1/messages/count_tokens: the prompt's tokens by the local tokenizer, not metered. */
  countTokens(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void>;
  listModels(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void>;
  keyInfo(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void>;
  /** metered requests in flight */
  readonly inFlight: number;
  /** resolves when no metered request is in flight */
  idle(): Promise<void>;
  /** aborts every request in flight (they settle with outcome `shutdown`) */
  abortAll(): void;
}

interface Flight {
  signal: AbortFlag;
  reason: 'client' | 'shutdown' | null;
  clientGone: boolean;
}

/** What admission established: the key, the request, its rate-limit verdict and its hold. */
interface Admitted {
  protocol: Protocol;
  request: ParsedRequest;
  /** request headers passed upstream (the protocol's) */
  upstreamHeaders: Record<string, string>;
  demand: HoldDemand;
  read: KeyRead;
  rate: LimitVerdict;
  hold: Hold;
  /**
   * The body as forwarded (undici keeps it until the response ends anyway). Once it is sent, the prompt's
   * texts are let go (request.prompt and demand.prompt emptied): a stream open for minutes does not keep
   * a coding agent's session twice; an estimated charge reads the prompt back from these bytes (sentPrompt).
   */
  sent?: Buffer;
}

/** What came back from the upstream. */
interface Relayed {
  /** the request left for the upstream (it may bill the prompt even if we abort) */
  forwarded: boolean;
  upstreamMs: number;
  response?: UpstreamResponse;
  /** an upstream answer other than 200, before any output */
  refusal?: ProxyError;
  /** a whole 200 body (its text), kept back until settled */
  body?: string;
  json?: unknown;
  /** a 200 stream, already being passed on */
  meter?: SseStreamMeter;
  /** what was thrown on the way (network, timeout, abort, cut) */
  error?: unknown;
}

/** The one decision about how a request ended. */
interface Outcome {
  outcome: UsageOutcome;
  status: number;
  /** the customer got output (or walked away after the prompt went up): charged for what was consumed */
  served: boolean;
  usage: TokenUsage | null;
  partial: PromptUsage | null;
  /** the answer, when nothing was sent yet */
  error?: Error;
  /** the event closing a stream cut short (the client is still there) */
  tail?: Error;
  answeredModel: string | null;
  failure?: string;
}

interface Settlement {
  charge: Charge;
  charged: number;
  lossTokens: number;
  costLossMicros: number;
  /** the charge could not be recorded now; it is queued (or, for a kept body, released and the body withheld) */
  deferred: boolean;
}

export function createProxy(deps: ProxyDeps): Proxy {
  const { upstream, limits, metrics, logger } = deps;
  const { store } = deps;
  const bodyLimit = (protocol: Protocol) => deps.maxBodyBytes ?? protocol.maxBodyBytes;
  const holds = createHolds({ store, instanceId: deps.instanceId, keyCacheTtlMs: deps.keyCacheTtlMs });
  const flights = new Set<Flight>();
  let idleWaiters: Array<() => void> = [];

  const overhead = (ctx: RequestContext, upstreamMs = 0) => Math.max(0, performance.now() - ctx.startedAt - upstreamMs);

  // ------------------------------------------------------------------ flights (drain and shutdown)

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

  // ------------------------------------------------------------------ refusals (nothing was held)

  /** Answers a failure before anything was held, in the protocol's shape; logs it (and counts failed authentications). */
  async function refuse(protocol: Protocol, res: ServerResponse, ctx: RequestContext, e: unknown, key?: MeteredKey): Promise<void> {
    const f = describeFailure(e);
    if (f.status >= 500 && !(e instanceof DatabaseUnavailableError)) logger.error({ err: e, request_id: ctx.requestId, endpoint: ctx.endpoint }, 'request failed before it was held');
    if (f.arbCode === 'ARB_UNAUTHENTICATED' || f.arbCode === 'ARB_KEY_REFUSED') {
      await limits.authFailed(ctx.ip);
      logSecurityEvent(logger, { event: 'auth_failed', reason: (e as { reason?: string }).reason ?? f.code, ip: ctx.ip, request_id: ctx.requestId, endpoint: ctx.endpoint });
    }
    sendFailure(protocol, res, ctx, f, { 'x-arb-overhead-ms': overhead(ctx).toFixed(3) });
    metrics.rejection(f.code);
    logApiCall(logger, {
      service: 'proxy',
      endpoint: ctx.endpoint,
      status: f.status,
      success: false,
      latency_ms: Math.round(performance.now() - ctx.startedAt),
      model: key?.model,
      request_id: ctx.requestId,
      ip: ctx.ip,
      reason: f.code,
      ...(key ? { allocation_id: key.id, user_id: telegramId(key) } : {}),
    });
  }

  function sendFailure(protocol: Protocol, res: ServerResponse, ctx: RequestContext, f: FailureView, headers: Record<string, string | number>): void {
    sendJson(res, f.status, protocol.errorBody(f.kind, f.message, f.code, f.param), { 'x-request-id': ctx.requestId, ...headers, ...f.headers });
  }

  // ------------------------------------------------------------------ admit

  /** The key the client presented: `Authorization: Bearer …` or `x-api-key` (Anthropic's clients). */
  function presentedKey(req: IncomingMessage, protocol: Protocol): string {
    const header = req.headers.authorization;
    const bearer = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1] : undefined;
    const xApiKey = req.headers['x-api-key'];
    const token = bearer ?? (typeof xApiKey === 'string' && xApiKey.trim() ? xApiKey.trim() : undefined);
    if (!token) throw new ProxyError('ARB_UNAUTHENTICATED', `missing API key: ${protocol.keyHint}`, { publicCode: 'missing_api_key' });
    if (!looksLikeApiKey(token)) throw new ProxyError('ARB_UNAUTHENTICATED', 'invalid API key: arb keys look like sk-arb-… (check for a copy-paste error)');
    return token;
  }

  /** The key for a request; `reuse` lets a read from the last second stand in (see hold.ts). */
  async function authenticate(req: IncomingMessage, protocol: Protocol, ctx: RequestContext, reuse: boolean): Promise<KeyRead> {
    const blocked = await limits.authBlocked(ctx.ip);
    if (!blocked.ok) {
      logSecurityEvent(logger, { event: 'auth_throttled', reason: 'too many failed authentications', ip: ctx.ip, request_id: ctx.requestId });
      throw new ProxyError('ARB_RATE_LIMITED', `too many failed authentications from your address; retry in ${blocked.retryAfterSec} s`, {
        publicCode: 'auth_rate_limited',
        headers: { 'retry-after': blocked.retryAfterSec },
      });
    }
    return holds.readKey(hashApiKey(presentedKey(req, protocol)), reuse);
  }

  async function rateLimit(read: KeyRead): Promise<LimitVerdict> {
    const verdict = await limits.consumeKey(`k${read.hash.slice(0, 24)}`);
    if (!verdict.ok) {
      throw new ProxyError('ARB_RATE_LIMITED', `rate limit: ${deps.rateLimitRpm} requests per minute per key; retry in ${verdict.retryAfterSec} s`, {
        headers: { 'retry-after': verdict.retryAfterSec },
      });
    }
    return verdict;
  }

  /** Bytes of the bodies each key is sending at this moment (by key id). */
  const bodyBytesInFlight = new Map<number, number>();

  /** The body, read within MAX_BODY_BYTES_PER_KEY of the key's bodies at once. */
  async function readKeyBody(req: IncomingMessage, limit: number, key: MeteredKey) {
    const declared = Number(req.headers['content-length'] ?? Number.NaN);
    const bytes = Number.isFinite(declared) && declared >= 0 ? Math.min(declared, limit) : limit;
    const sending = bodyBytesInFlight.get(key.id) ?? 0;
    if (sending > 0 && sending + bytes > MAX_BODY_BYTES_PER_KEY) {
      throw new ProxyError('ARB_RATE_LIMITED', `this key is still sending ${mib(sending)} of request bodies (at most ${mib(MAX_BODY_BYTES_PER_KEY)} at once); let them finish, then retry`, {
        headers: { 'retry-after': 1 },
      });
    }
    bodyBytesInFlight.set(key.id, sending + bytes);
    try {
      return await readBody(req, limit);
    } finally {
      const left = (bodyBytesInFlight.get(key.id) ?? bytes) - bytes;
      if (left > 0) bodyBytesInFlight.set(key.id, left);
      else bodyBytesInFlight.delete(key.id);
    }
  }

  /** The parsed request body; null when the client went away while sending it. */
  async function readRequest(req: IncomingMessage, protocol: Protocol, key: MeteredKey): Promise<ParsedRequest | null> {
    const limit = bodyLimit(protocol);
    const raw = await readKeyBody(req, limit, key);
    if (raw === 'aborted') return null;
    // the rest of a body that went past the limit (it declared no length) is not read: the connection closes
    if (raw === 'too_large') throw new ProxyError('ARB_BODY_TOO_LARGE', `request body is larger than ${limit} bytes (${mib(limit)}); shorten the request`, { headers: { connection: 'close' } });
    const request = await parseInTurns(raw, protocol);
    checkModel(request.model, key.model);
    if (raw.includes('"ttl"')) {
      if (raw.length > LARGE_BODY_BYTES) await nextTurn();
      shortenCacheTtl(request.body, request.dropped);
    }
    return request;
  }

  function checkDeclaredSize(req: IncomingMessage, protocol: Protocol): void {
    const declared = Number(req.headers['content-length']);
    const limit = bodyLimit(protocol);
    if (Number.isFinite(declared) && declared > limit) {
      // answered before the body is read; Node then reads and drops the body, as after any refusal, so the
      // client — or nginx, which sends the whole body before it reads the answer — gets the 413, not a reset
      // connection (nginx's 502); a body too big for that closes the connection after the answer
      const close = declared > DRAIN_REFUSED_BYTES ? { headers: { connection: 'close' } } : undefined;
      throw new ProxyError('ARB_BODY_TOO_LARGE', `request body is ${declared} bytes; the limit is ${limit} bytes (${mib(limit)}); shorten the request`, close);
    }
  }

  /** Stage 1. Throws a typed refusal; null when the client left before its body arrived. */
  async function admit(protocol: Protocol, req: IncomingMessage, ctx: RequestContext, state: { key?: MeteredKey }): Promise<Admitted | null> {
    checkDeclaredSize(req, protocol);
    const read = await authenticate(req, protocol, ctx, true);
    state.key = read.key;
    const rate = await rateLimit(read);
    await holds.checkNotEmpty(read, protocol.completion);
    const request = await readRequest(req, protocol, read.key);
    if (!request) return null;
    const demand: HoldDemand = { requestId: ctx.requestId, prompt: request.prompt, requestedMaxTokens: request.maxTokens, choices: request.choices, completion: request.completion };
    const hold = await holds.take(read, demand);
    return { protocol, request, upstreamHeaders: protocol.upstreamHeaders(req), demand, read, rate, hold };
  }

  // ------------------------------------------------------------------ relay

  function successHeaders(a: Admitted, ctx: RequestContext, upstreamMs: number, tokensLeftAfter: number): Record<string, string | number> {
    return {
      'x-request-id': ctx.requestId,
      'x-arb-overhead-ms': overhead(ctx, upstreamMs).toFixed(3),
      'x-ratelimit-limit-requests': a.rate.limit ?? deps.rateLimitRpm,
      'x-ratelimit-remaining-requests': a.rate.remaining ?? 0,
      'x-arb-tokens-remaining': Math.max(0, tokensLeftAfter),
    };
  }

  /** Stage 2: forward; keep a whole body back, pass a stream on as it comes. Never throws. */
  async function relay(a: Admitted, flight: Flight, res: ServerResponse, ctx: RequestContext): Promise<Relayed> {
    const { protocol, request, hold } = a;
    const r: Relayed = { forwarded: false, upstreamMs: 0 };
    const model = a.read.key.model;
    try {
      const sentAt = performance.now();
      r.forwarded = !flight.signal.aborted;
      try {
        const sent = ownBytes(forwardBody(protocol, request, model, hold.plan.maxTokens));
        a.sent = sent;
        request.prompt = a.demand.prompt = SENT_PROMPT;
        r.response = await upstream.post(protocol.upstreamPath, sent, {
          stream: request.stream,
          signal: flight.signal,
          requestId: ctx.requestId,
          headers: a.upstreamHeaders,
        });
      } finally {
        r.upstreamMs = performance.now() - sentAt;
      }
      const up = r.response;
      metrics.upstreamLatency(model, r.upstreamMs / 1000);
      if (up.failedOver) logger.warn({ request_id: ctx.requestId, primary_failure: up.primaryFailure, upstream: up.baseUrl }, 'upstream failover: the backup answered');
      if (up.statusCode !== 200) {
        r.refusal = await upstreamRefusal(up, ctx);
        return r;
      }
      if (!request.stream) {
        const bodyStart = performance.now();
        r.body = (await up.body.bytes()).toString('utf8');
        r.upstreamMs += performance.now() - bodyStart;
        try {
          r.json = JSON.parse(r.body);
        } catch {
          r.json = undefined;
        }
        return r;
      }
      // the stream: headers now (with the tokens left while this request holds its share), then chunks as they come
      r.meter = protocol.streamMeter();
      res.writeHead(200, {
        'content-type': String(up.headers['content-type'] ?? 'text/event-stream'),
        'cache-control': 'no-cache',
        ...successHeaders(a, ctx, r.upstreamMs, hold.available - hold.plan.hold),
      });
      // the headers go out at once when the upstream is still silent (a reasoning model thinking); when its
      // first bytes are already here they share one write with them
      if (up.body.readableLength === 0) res.flushHeaders();
      const meter = r.meter;
      // one decoding of the stream, for the meter and the cost-field cut
      const decoder = new StringDecoder('utf8');
      const scrubber = createStreamScrubber();
      const body = up.body;
      // backpressure: a slow client pauses the upstream until its socket drains
      const resume = () => body.resume();
      res.on('drain', resume);
      try {
        await body.forEach((chunk) => {
          if (flight.clientGone) return true; // the abort that follows ends the read
          const text = decoder.write(chunk);
          meter.push(text);
          const out = scrubber.push(text);
          return out.length === 0 || res.write(out);
        });
      } catch (e) {
        r.error = e;
      } finally {
        res.off('drain', resume);
        const tail = decoder.end();
        if (tail) meter.push(tail);
        const rest = tail ? scrubber.push(tail) + scrubber.end() : scrubber.end();
        if (rest.length > 0 && !flight.clientGone) res.write(rest);
        meter.end();
      }
    } catch (e) {
      r.error = e;
    }
    return r;
  }

  /** Maps an upstream answer other than 200 (before any output) to what the customer sees. Never charged. */
  async function upstreamRefusal(up: UpstreamResponse, ctx: RequestContext): Promise<ProxyError> {
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
      return new ProxyError('ARB_UPSTREAM_ACCOUNT', 'the upstream model provider refused the request (provider account problem); the operator has been alerted — retry later');
    }
    if (s === 429) {
      const ra = Number(up.headers['retry-after']);
      const retry = Number.isFinite(ra) && ra > 0 ? Math.ceil(ra) : 5;
      return new ProxyError('ARB_UPSTREAM_RATE_LIMITED', `the upstream model provider is rate limiting; retry in ${retry} s`, { headers: { 'retry-after': retry } });
    }
    if (s === 408) return new ProxyError('ARB_UPSTREAM_TIMEOUT', 'the upstream model provider timed out; retry later');
    if (s >= 400 && s < 500) return new ProxyError('ARB_UPSTREAM_REJECTED', `upstream refused the request: ${upstreamMessage || `status ${s}`}`, { status: s });
    return new ProxyError('ARB_UPSTREAM', `the upstream model provider failed (status ${s}); retry later`, { publicCode: 'upstream_error' });
  }

  // ------------------------------------------------------------------ classify

  /** Stage 3: the one place that decides the outcome, the status and whether the customer was served. */
  function classify(a: Admitted, r: Relayed, flight: Flight): Outcome {
    const aborted: UsageOutcome = flight.reason === 'shutdown' ? 'shutdown' : 'client_abort';
    if (r.meter) {
      // a stream: output reached the customer
      const m = r.meter;
      const o: Outcome = { outcome: 'ok', status: 200, served: true, usage: m.usage, partial: m.partial, answeredModel: m.model };
      if (flight.clientGone || (r.error !== undefined && flight.signal.aborted)) o.outcome = aborted;
      else if (r.error !== undefined) {
        o.outcome = isTimeoutError(r.error) ? 'timeout' : 'upstream_cut';
        o.failure = describeError(r.error);
      } else if (m.error !== null) {
        o.outcome = 'upstream_error';
        o.failure = `mid-stream error: ${m.error}`;
      } else if (!m.done && !m.usage) {
        o.outcome = 'upstream_cut';
        o.failure = 'stream ended without its end marker';
      }
      if (!flight.clientGone && (o.outcome === 'upstream_cut' || o.outcome === 'timeout' || o.outcome === 'shutdown')) {
        o.tail =
          o.outcome === 'shutdown'
            ? new ProxyError('ARB_SHUTTING_DOWN', 'the server is shutting down; the response was cut short (you are charged only for what you received)')
            : new ProxyError(
                o.outcome === 'timeout' ? 'ARB_UPSTREAM_TIMEOUT' : 'ARB_UPSTREAM_CUT',
                `the upstream ${o.outcome === 'timeout' ? 'timed out' : 'connection was lost'} mid-stream; you are charged only for what you received`,
                { publicCode: o.outcome },
              );
      }
      return o;
    }
    if (r.body && r.error === undefined) return { outcome: 'ok', status: 200, served: true, usage: a.protocol.usageOf(r.json), partial: null, answeredModel: modelNamed(r.json) };
    const base = { usage: null, partial: null, answeredModel: null };
    if (r.refusal) {
      const f = describeFailure(r.refusal);
      return { ...base, outcome: 'upstream_error', status: f.status, served: false, error: r.refusal, failure: `upstream status ${r.response?.statusCode}` };
    }
    const e = r.error;
    const failure = describeError(e);
    if (flight.signal.aborted) {
      // the prompt reached the upstream: a client that walks away pays for it; our shutdown does not bill
      const outcome = aborted;
      return {
        ...base,
        outcome,
        status: outcome === 'shutdown' ? 503 : 499,
        served: outcome === 'client_abort' && r.forwarded,
        error: outcome === 'shutdown' ? new ProxyError('ARB_SHUTTING_DOWN', 'the server is shutting down; retry shortly', { headers: { 'retry-after': 1 } }) : undefined,
        failure,
      };
    }
    // refused before it was sent (UPSTREAM_MAX_CONCURRENCY): the upstream's own answer
    if (e instanceof ProxyError) return { ...base, outcome: 'upstream_error', status: describeFailure(e).status, served: false, error: e, failure };
    if (e instanceof UpstreamTimeoutError || isTimeoutError(e)) {
      return { ...base, outcome: 'timeout', status: 504, served: false, error: new ProxyError('ARB_UPSTREAM_TIMEOUT', 'the upstream model provider timed out; retry later'), failure };
    }
    if (e instanceof UpstreamError) {
      return { ...base, outcome: 'upstream_error', status: 502, served: false, error: new ProxyError('ARB_UPSTREAM', 'the upstream model provider is unreachable; retry later'), failure };
    }
    // a whole body cut while it was read: the customer received nothing, so pays nothing
    return { ...base, outcome: 'upstream_cut', status: 502, served: false, error: new ProxyError('ARB_UPSTREAM_CUT', 'the upstream connection was lost; retry'), failure };
  }

  // ------------------------------------------------------------------ settle

  /** Stage 4: the charge, recorded exactly once (or queued when the database cannot record it now). */
  async function settle(a: Admitted, r: Relayed, o: Outcome, ctx: RequestContext): Promise<Settlement> {
    const { hold } = a;
    const key = a.read.key;
    // local counts only when no usage came (they cannot fail the settle)
    let promptEstimate = 0;
    let completionEstimate = 0;
    if (!o.usage && o.served) {
      try {
        if (!o.partial) {
          if (hold.promptExact === undefined && a.demand.prompt === SENT_PROMPT) a.demand.prompt = await sentPrompt(a);
          promptEstimate = await holds.promptTokens(hold, a.demand);
        }
        completionEstimate = await countTexts([deliveredText(a, r)], OUTPUT_BUDGET);
      } catch {
        promptEstimate ||= hold.promptBound;
      }
    }
    const charge = computeCharge({ rule: hold.rule, usage: o.usage, partial: o.partial, served: o.served, promptEstimate, completionEstimate });
    const costLossMicros = costAboveBasis(charge, hold, ctx, key);
    const kept = r.body !== undefined && o.error === undefined;
    const input: SettleInput = {
      requestId: ctx.requestId,
      allocationId: key.id,
      model: key.model,
      promptTokens: charge.promptTokens,
      completionTokens: charge.completionTokens,
      weightedTokens: charge.weightedTokens,
      upstreamCostMicros: charge.upstreamCostMicros,
      latencyMs: performance.now() - ctx.startedAt,
      statusCode: o.status,
      outcome: o.outcome,
      estimated: charge.estimated,
      stream: a.request.stream,
      cacheReadTokens: charge.cacheReadTokens,
      cacheWriteTokens: charge.cacheWriteTokens,
      reasoningTokens: charge.reasoningTokens,
      answeredModel: o.answeredModel,
      costLossMicros,
    };
    let result: SettleResult | null = null;
    try {
      result = await settleWithRetry(input);
    } catch (e) {
      // Served means billed. A kept body is not delivered: its hold is released at no charge (queued) and
      // the customer gets 503. A stream was delivered: its real charge is queued until the database takes it.
      if (kept) {
        o.error = e instanceof DatabaseUnavailableError ? e : new DatabaseUnavailableError('the charge could not be recorded', { cause: e });
        o.status = 503;
        o.outcome = 'withheld';
        // the hold goes back at no charge; the event keeps what the operator paid upstream
        deferSettle({ ...input, weightedTokens: 0, statusCode: 503, outcome: 'withheld' }, e, ctx);
      } else deferSettle(input, e, ctx);
      return { charge, charged: 0, lossTokens: 0, costLossMicros, deferred: true };
    }
    const charged = result?.charged ?? 0;
    const lossTokens = result?.lossTokens ?? 0;
    if (lossTokens > 0) logger.warn({ request_id: ctx.requestId, allocation_id: key.id, loss_tokens: lossTokens }, 'usage exceeded the hold and the quota: excess recorded as operator loss');
    return { charge, charged, lossTokens, costLossMicros, deferred: false };
  }

  /** store.settle, retried briefly on errors other than "the database cannot record now". */
  async function settleWithRetry(input: SettleInput): Promise<SettleResult> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await store.settle(input);
      } catch (e) {
        if (e instanceof DatabaseUnavailableError || attempt >= 3) throw e;
        await new Promise((resolve) => setTimeout(resolve, attempt * 50));
      }
    }
  }

  function deferSettle(input: SettleInput, cause: unknown, ctx: RequestContext): void {
    store.settleLater(input);
    logger.error({ err: cause, request_id: ctx.requestId, allocation_id: input.allocationId, weighted_tokens: input.weightedTokens }, 'settle failed: queued to retry until the database records it');
  }

  /**
   * The part of OpenRouter's reported cost above the cost basis of the tokens consumed (charged + lost),
   * beyond COST_TOLERANCE_PERCENT: a dearer model or paid routing answered. It is operator loss, logged as
   * a security event and recorded on the usage event (cost_loss); 0 when within the basis.
   */
  function costAboveBasis(charge: Charge, hold: Hold, ctx: RequestContext, key: MeteredKey): number {
    const cost = charge.upstreamCostMicros;
    if (cost <= 0) return 0;
    const basis = Math.ceil((charge.weightedTokens * hold.rule.unitRate) / 1_000_000);
    if (cost * 100 <= basis * (100 + COST_TOLERANCE_PERCENT) + 100) return 0;
    const loss = cost - basis;
    logSecurityEvent(logger, {
      event: 'upstream_cost_above_basis',
      reason: `the upstream reported ${cost} µ$ for tokens whose cost basis is ${basis} µ$ (a dearer model or paid routing answered)`,
      ip: ctx.ip,
      request_id: ctx.requestId,
      allocation_id: key.id,
      model: key.model,
      upstream_cost_micros: cost,
      cost_basis_micros: basis,
      cost_loss_micros: loss,
    });
    return loss;
  }

  // ------------------------------------------------------------------ respond and log

  /** Stage 5: the response's end, the api_call line, the metrics. */
  function respond(a: Admitted, r: Relayed, o: Outcome, s: Settlement, res: ServerResponse, flight: Flight, ctx: RequestContext): void {
    const { protocol, hold } = a;
    const key = a.read.key;
    if (o.error && !res.headersSent) {
      const f = describeFailure(o.error);
      sendFailure(protocol, res, ctx, f, { 'x-arb-overhead-ms': overhead(ctx, r.upstreamMs).toFixed(3) });
    } else if (r.body && !res.headersSent) {
      if (!flight.clientGone) {
        const body = scrubJson(r.body);
        res.writeHead(200, {
          'content-type': String(r.response?.headers['content-type'] ?? 'application/json'),
          'content-length': Buffer.byteLength(body),
          ...successHeaders(a, ctx, r.upstreamMs, hold.available - s.charged),
        });
        res.end(body);
      }
    } else if (res.headersSent && !res.writableEnded) {
      if (o.tail && !flight.clientGone) {
        const f = describeFailure(o.tail);
        res.write(protocol.streamError(f.kind, f.message, f.code));
      }
      res.end();
    }

    const latencyMs = performance.now() - ctx.startedAt;
    const { charge, charged, lossTokens } = s;
    const revenueMicros = key.tokensTotal > 0 ? Math.floor((charged * key.pricePaidMicros) / key.tokensTotal) : 0;
    metrics.completion({
      model: key.model,
      status: o.status,
      outcome: o.outcome,
      promptTokens: charge.promptTokens,
      completionTokens: charge.completionTokens,
      weightedTokens: charged,
      lossTokens,
      revenueMicros,
      upstreamCostMicros: charge.upstreamCostMicros,
    });
    const ownMs = Math.max(0, latencyMs - r.upstreamMs);
    metrics.overhead(ownMs / 1000);
    if (o.answeredModel && !sameModel(o.answeredModel, key.model)) {
      logSecurityEvent(logger, {
        event: 'answered_model_mismatch',
        reason: `the upstream answered with ${o.answeredModel} for ${key.model}`,
        ip: ctx.ip,
        request_id: ctx.requestId,
        allocation_id: key.id,
      });
    }
    logApiCall(logger, {
      service: 'proxy',
      endpoint: ctx.endpoint,
      status: o.status,
      success: o.status === 200 && o.outcome === 'ok',
      latency_ms: Math.round(latencyMs),
      model: key.model,
      request_id: ctx.requestId,
      ip: ctx.ip,
      allocation_id: key.id,
      user_id: telegramId(key),
      outcome: o.outcome,
      stream: a.request.stream,
      prompt_tokens: charge.promptTokens,
      completion_tokens: charge.completionTokens,
      weighted_tokens: charged,
      estimated: charge.estimated,
      hold_tokens: hold.plan.hold,
      upstream_cost_micros: charge.upstreamCostMicros,
      overhead_ms: Math.round(ownMs * 1000) / 1000,
      // rare fields only when they say something
      ...(charge.cacheReadTokens ? { cache_read_tokens: charge.cacheReadTokens } : {}),
      ...(charge.cacheWriteTokens ? { cache_write_tokens: charge.cacheWriteTokens } : {}),
      ...(charge.reasoningTokens ? { reasoning_tokens: charge.reasoningTokens } : {}),
      ...(lossTokens > 0 ? { loss_tokens: lossTokens } : {}),
      ...(s.costLossMicros > 0 ? { cost_loss_micros: s.costLossMicros } : {}),
      ...(s.deferred ? { settle: 'deferred' } : {}),
      ...(a.request.dropped.length ? { dropped_fields: a.request.dropped } : {}),
      ...(r.response?.failedOver ? { upstream: 'backup' } : {}),
      ...(o.failure ? { failure: redactText(o.failure) } : {}),
    });
    if (latencyMs > SLOW_REQUEST_MS) {
      logPerformance(logger, 'proxy_request', Math.round(latencyMs) / 1000, {
        endpoint: ctx.endpoint,
        model: key.model,
        request_id: ctx.requestId,
        user_id: telegramId(key),
        stream: a.request.stream,
      });
    }
  }

  // ------------------------------------------------------------------ the path

  async function serve(name: ProtocolName, req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> {
    const protocol = protocols[name];
    // tracked from arrival, so a shutdown drains (or aborts) it whatever its stage
    const flight = track(res);
    try {
      const state: { key?: MeteredKey } = {};
      let admitted: Admitted | null;
      try {
        admitted = await admit(protocol, req, ctx, state);
      } catch (e) {
        return await refuse(protocol, res, ctx, e, state.key);
      }
      if (!admitted) return;
      // holding tokens from here on: every path below settles exactly once
      let relayed: Relayed = { forwarded: false, upstreamMs: 0 };
      let outcome: Outcome | undefined;
      try {
        relayed = await relay(admitted, flight, res, ctx);
        outcome = classify(admitted, relayed, flight);
      } finally {
        outcome ??= { outcome: 'upstream_error', status: 500, served: relayed.forwarded, usage: null, partial: null, answeredModel: null, failure: 'internal error' };
        const settlement = await settle(admitted, relayed, outcome, ctx);
        respond(admitted, relayed, outcome, settlement, res, flight, ctx);
      }
    } finally {
      untrack(flight);
    }
  }

  async function countTokens(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> {
    const state: { key?: MeteredKey } = {};
    try {
      checkDeclaredSize(req, messages);
      const read = await authenticate(req, messages, ctx, true);
      state.key = read.key;
      await rateLimit(read);
      // an exhausted key costs nothing, not even a count
      await holds.checkNotEmpty(read, true);
      const request = await readRequest(req, messages, read.key);
      if (!request) return;
      const inputTokens = await countPromptTokens(request.prompt);
      sendJson(res, 200, { input_tokens: inputTokens }, { 'x-request-id': ctx.requestId, 'x-arb-overhead-ms': overhead(ctx).toFixed(3) });
      logApiCall(logger, {
        service: 'proxy',
        endpoint: ctx.endpoint,
        status: 200,
        success: true,
        latency_ms: Math.round(performance.now() - ctx.startedAt),
        model: read.key.model,
        request_id: ctx.requestId,
        ip: ctx.ip,
        user_id: telegramId(read.key),
        prompt_tokens: inputTokens,
      });
    } catch (e) {
      await refuse(messages, res, ctx, e, state.key);
    }
  }

  /** GET /v1/models and /v1/key read the key fresh; refusals in OpenAI's shape. */
  async function withKey(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, fn: (key: MeteredKey) => void): Promise<void> {
    const state: { key?: MeteredKey } = {};
    try {
      const { key } = await authenticate(req, protocols.chat, ctx, false);
      state.key = key;
      fn(key);
    } catch (e) {
      await refuse(protocols.chat, res, ctx, e, state.key);
    }
  }

  return {
    serve,
    countTokens,
    listModels: (req, res, ctx) =>
      withKey(req, res, ctx, (key) => {
        const owner = key.model.includes('/') ? key.model.split('/')[0] : 'openrouter';
        sendJson(
          res,
          200,
          { object: 'list', data: [{ id: key.model, object: 'model', created: 0, owned_by: owner, context_length: key.contextLength, max_completion_tokens: key.maxCompletionTokens }] },
          { 'x-request-id': ctx.requestId, 'x-arb-overhead-ms': overhead(ctx).toFixed(3) },
        );
      }),
    keyInfo: (req, res, ctx) =>
      withKey(req, res, ctx, (key) => {
        const rule = ruleForKey(key);
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
              tokens_remaining: tokensLeft(key),
              expires_at: expiryIso(key),
              completion_weight: completionWeight(rule),
              token_weights: classWeights(rule),
              metering_rule: describeRule(rule),
              rate_limit_rpm: deps.rateLimitRpm,
            },
          },
          { 'x-request-id': ctx.requestId, 'x-arb-overhead-ms': overhead(ctx).toFixed(3) },
        );
      }),
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

function mib(bytes: number): string {
  return `${Math.round((bytes / (1024 * 1024)) * 10) / 10} MiB`;
}

/** The customer's Telegram user id (log lines name customers by it). */
function telegramId(key: MeteredKey): number | undefined {
  return key.telegramId ?? undefined;
}

/**
 * The body sent upstream. The parsed body is not needed after this (an estimate reads the prompt back from
 * the bytes sent): a long stream does not keep a coding agent's whole session in objects.
 */
function forwardBody(protocol: Protocol, request: ParsedRequest, model: string, maxTokens: number): string {
  const text = protocol.upstreamBody(request, model, maxTokens);
  request.body = {};
  return text;
}

/** What demand.prompt holds once the body is sent and its prompt is read back from a.sent when needed. */
const SENT_PROMPT: PromptText = Object.freeze({ overhead: 0, texts: Object.freeze([]) as unknown as string[] });

/**
 * A body read by its protocol. Bodies that arrive together are parsed in turns of the event loop of their
 * own, not all in one: a large body's JSON parse and its reading by the protocol each take a turn (at
 * 8 MiB each takes tens of ms).
 */
async function parseInTurns(raw: Buffer, protocol: Protocol): Promise<ParsedRequest> {
  const large = raw.length > LARGE_BODY_BYTES;
  if (large) await nextTurn();
  const json = parseJsonObject(raw, protocol.example);
  if (large) await nextTurn();
  return protocol.parse(json);
}

/** The prompt of the body as forwarded (the protocol's own reading of it), for an estimated charge. */
async function sentPrompt(a: Admitted): Promise<PromptText> {
  return (await parseInTurns(a.sent!, a.protocol)).prompt;
}

/** The text that reached (or was kept for) the customer, counted when no usage came. */
function deliveredText(a: Admitted, r: Relayed): string {
  if (r.meter) return r.meter.deliveredText();
  if (!r.body) return '';
  return r.json === undefined ? r.body : a.protocol.outputText(r.json);
}

/** The `model` a whole response body names. */
function modelNamed(json: unknown): string | null {
  const m = (json as { model?: unknown } | null)?.model;
  return typeof m === 'string' && m ? m : null;
}

/** A model id reduced to its words: no provider prefix, no date or version stamp, no order (claude-4.5-sonnet = claude-sonnet-4.5). */
function modelWords(id: string): string {
  const name = id
    .toLowerCase()
    .replace(/^[^/]*\//, '')
    .replace(/:.*$/, '');
  return name
    .replace(/-?\d{4}-?\d{2}-?\d{2}$/, '')
    .split(/[-._]/)
    .filter((w) => w && w !== 'latest')
    .sort()
    .join(' ');
}

/** Whether the model that answered is the package's (allowing OpenRouter's dated and reordered names). */
export function sameModel(answered: string, keyModel: string): boolean {
  return answered === keyModel || modelWords(answered) === modelWords(keyModel);
}

/** A requested model name as Anthropic spells it: no `anthropic/`, no date, no `-latest`, dots as dashes. */
function anthropicName(name: string): string {
  return name
    .replace(/^anthropic\//, '')
    .replace(/\[\w+\]$/, '')
    .replace(/-(\d{8}|latest)$/, '')
    .replace(/\./g, '-');
}

/**
 * A key's model accepts its full OpenRouter id, the short form after the slash, and for Anthropic models
 * the names Anthropic's clients use (`claude-sonnet-4-6`, dated ids).
 */
export function modelMatches(requested: string, keyModel: string): boolean {
  const r = requested.trim().toLowerCase();
  const k = keyModel.toLowerCase();
  if (r === k) return true;
  const slash = k.indexOf('/');
  if (slash >= 0 && r === k.slice(slash + 1)) return true;
  return k.startsWith('anthropic/') && r.startsWith('claude') && anthropicName(r) === anthropicName(k);
}

/** The requested model must be the key's (403); OpenRouter model suffixes (`:online`, `:nitro`) are refused (400). */
function checkModel(requested: string, keyModel: string): void {
  if (modelMatches(requested, keyModel)) return;
  const colon = requested.indexOf(':');
  if (colon > 0 && modelMatches(requested.slice(0, colon), keyModel)) {
    throw new ProxyError('ARB_FIELD_NOT_ALLOWED', `model: the suffix "${requested.slice(colon)}" selects OpenRouter routing or paid features, which this key does not include; use "${keyModel}"`, {
      param: 'model',
    });
  }
  throw new ProxyError('ARB_MODEL_NOT_ALLOWED', `model "${requested}" is not in this key's package; this key is for ${keyModel} (GET /v1/models lists it)`, { param: 'model' });
}
