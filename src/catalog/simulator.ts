/**
 * An OpenRouter simulator on 127.0.0.1 for tests, `arb demo` and benchmarks: the same URLs, JSON
 * shapes and streaming quirks as OpenRouter (`: OPENROUTER PROCESSING` comments, a final usage chunk that
 * still carries `choices`, mid-stream `error` events), switchable faults, and a record of what it served.
 *
 * Deterministic token counts:
 * - prompt tokens = Σ over messages (3 + tokens of the message's text content) + 3, where "tokens" is
 *   gpt-tokenizer's default encoding (o200k_base) and text content is the string content, or the `text` of
 *   every text part of an array content (OpenAI's chat counting rule). See `countPromptTokens`.
 * - completion tokens = min(max_tokens ?? completionTokens, completionTokens); each token is one fixed
 *   word from a cycle ("The quick brown fox …"), so the generated text encodes to exactly that many tokens.
 * - cost (USD) = (prompt × prompt_rate + completion × completion_rate) / 1e12 with rates in µ$/Mtok from
 *   the model list (0 for models without a fixed price).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { countTokens } from 'gpt-tokenizer';

/** Special-token strings in a prompt (`<|endoftext|>`…) are ordinary text, as real providers treat them. */
const PLAIN_TEXT = { disallowedSpecial: new Set<string>() };
import { parseOpenRouterRate } from '../pricing.js';
import { loadFixtureModels } from './fixture.js';
import type { OpenRouterModel } from './types.js';

export type { OpenRouterModel } from './types.js';
export { fixtureModelsPath, loadFixtureModels } from './fixture.js';

export type SimEndpoint = 'chat' | 'models' | 'key' | 'credits';

/** Where a fault applies: chat completions by default. */
interface FaultScope {
  endpoint?: SimEndpoint | 'any';
}

export type SimFault = FaultScope &
  (
    | { kind: 'status'; status: number; message?: string; retryAfter?: number }
    | { kind: 'midstream_error'; afterTokens: number; message?: string }
    | { kind: 'cut'; afterTokens: number }
    | { kind: 'slow'; delayMs: number }
    | { kind: 'no_usage' }
    | { kind: 'hang' }
  );

export interface SimRequestRecord {
  /** generation id returned to the client (`gen-…`) */
  id: string;
  endpoint: SimEndpoint;
  model: string | null;
  stream: boolean;
  maxTokens: number | null;
  promptTokens: number;
  /** completion tokens written to the socket */
  completionTokensSent: number;
  usageReported: boolean;
  /** USD of the tokens served (what the usage reported, or would have) */
  costUsd: number;
  fault?: SimFault;
  /** HTTP status sent (0 when none was sent: hang or cut before headers) */
  status: number;
  /** the client went away before the response ended */
  aborted: boolean;
  /** the response (or the cut/abort) is over */
  done: boolean;
}

export interface SimulatorOptions {
  port?: number;
  /** the model list (`data` array); defaults to the 371-model fixture */
  models?: OpenRouterModel[];
  /** when set, every request must carry `Authorization: Bearer <apiKey>` */
  apiKey?: string;
  /** delay between stream chunks (ms), default 2; 0 writes as fast as possible */
  chunkDelayMs?: number;
  /** tokens generated when max_tokens allows, default 40 */
  completionTokens?: number;
  /** account credit state for `/key` and `/credits` (USD); usage grows with what the simulator serves */
  credits?: { limit?: number | null; usage?: number; totalCredits?: number };
}

export interface Simulator {
  /** http://127.0.0.1:PORT/api/v1 */
  readonly baseUrl: string;
  readonly port: number;
  /** every request served, in arrival order */
  readonly requests: SimRequestRecord[];
  /** fault for every following request (null clears) */
  setFault(fault: SimFault | null): void;
  /** fault for the next matching request only (FIFO) */
  queueFault(fault: SimFault): void;
  /** replaces the model list served by `/models` and accepted by chat completions */
  setModels(models: OpenRouterModel[]): void;
  setCredits(credits: { limit?: number | null; usage?: number; totalCredits?: number }): void;
  /** clears the record, the faults and the served-cost counter */
  reset(): void;
  /** resolves when no request is in flight (hung requests count as in flight until their client leaves) */
  idle(): Promise<void>;
  close(): Promise<void>;
}

/** Header carrying a per-request fault as JSON. */
export const SIM_FAULT_HEADER = 'x-sim-fault';
/** Header overriding `completionTokens` for one request. */
export const SIM_COMPLETION_TOKENS_HEADER = 'x-sim-completion-tokens';

const WORDS = [' The', ' quick', ' brown', ' fox', ' jumps', ' over', ' the', ' lazy', ' dog', '.', ' Hello', ' from', ' a', ' simulated', ' model'];

/** The i-th generated completion token (each encodes to exactly one token). */
export function simulatedToken(i: number): string {
  return i === 0 ? 'The' : WORDS[i % WORDS.length];
}

/** The text of n generated completion tokens. */
export function simulatedText(n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += simulatedToken(i);
  return s;
}

/** The simulator's prompt token rule (see the module comment). */
export function countPromptTokens(messages: unknown): number {
  if (!Array.isArray(messages)) return 0;
  let total = 3;
  for (const m of messages) {
    total += 3;
    const content = (m as { content?: unknown } | null)?.content;
    if (typeof content === 'string') total += countTokens(content, PLAIN_TEXT);
    else if (Array.isArray(content)) {
      for (const part of content) {
        const text = (part as { text?: unknown } | null)?.text;
        if (typeof text === 'string') total += countTokens(text, PLAIN_TEXT);
      }
    }
  }
  return total;
}

interface Rates {
  prompt: number;
  completion: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Starts the simulator; see `Simulator`. */
export async function startSimulator(opts: SimulatorOptions = {}): Promise<Simulator> {
  let models = opts.models ?? loadFixtureModels();
  let modelIndex = indexModels(models);
  const chunkDelayMs = opts.chunkDelayMs ?? 2;
  const defaultCompletion = opts.completionTokens ?? 40;
  let credits = { limit: null as number | null, usage: 0, totalCredits: 100, ...opts.credits };
  let servedUsd = 0;
  let persistentFault: SimFault | null = null;
  let queued: SimFault[] = [];
  const requests: SimRequestRecord[] = [];
  let inFlight = 0;
  let idleWaiters: Array<() => void> = [];
  let counter = 0;

  const finish = (rec: SimRequestRecord) => {
    if (rec.done) return;
    rec.done = true;
    inFlight--;
    if (inFlight === 0) {
      const w = idleWaiters;
      idleWaiters = [];
      for (const fn of w) fn();
    }
  };

  const pickFault = (req: IncomingMessage, endpoint: SimEndpoint): SimFault | undefined => {
    const header = req.headers[SIM_FAULT_HEADER];
    if (typeof header === 'string' && header.trim() !== '') {
      try {
        return JSON.parse(header) as SimFault;
      } catch {
        /* a malformed header is ignored */
      }
    }
    const applies = (f: SimFault) => (f.endpoint ?? 'chat') === 'any' || (f.endpoint ?? 'chat') === endpoint;
    const qi = queued.findIndex(applies);
    if (qi >= 0) return queued.splice(qi, 1)[0];
    if (persistentFault && applies(persistentFault)) return persistentFault;
    return undefined;
  };

  const server: Server = createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendError(res, 500, `simulator error: ${(err as Error).message}`);
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    req.socket.setNoDelay(true);
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const path = url.pathname.replace(/\/+$/, '');
    const endpoint: SimEndpoint | null =
      path === '/api/v1/chat/completions' ? 'chat' : path === '/api/v1/models' ? 'models' : path === '/api/v1/key' ? 'key' : path === '/api/v1/credits' ? 'credits' : null;
    const bodyText = await readBody(req);
    if (!endpoint) return sendError(res, 404, `Not Found: ${req.method} ${url.pathname}`);
    if (opts.apiKey !== undefined && req.headers.authorization !== `Bearer ${opts.apiKey}`) {
      return sendError(res, 401, req.headers.authorization ? 'User not found.' : 'No auth credentials found');
    }
    const expectedMethod = endpoint === 'chat' ? 'POST' : 'GET';
    if (req.method !== expectedMethod) return sendError(res, 405, `Method ${req.method} not allowed on ${url.pathname}`);

    const rec: SimRequestRecord = {
      id: `gen-${++counter}-${randomBytes(6).toString('hex')}`,
      endpoint,
      model: null,
      stream: false,
      maxTokens: null,
      promptTokens: 0,
      completionTokensSent: 0,
      usageReported: false,
      costUsd: 0,
      status: 0,
      aborted: false,
      done: false,
    };
    const fault = pickFault(req, endpoint);
    if (fault) rec.fault = fault;
    requests.push(rec);
    inFlight++;
    let cutByUs = false;
    res.on('close', () => {
      if (!res.writableFinished && !cutByUs) rec.aborted = true;
      finish(rec);
    });
    const gone = () => res.destroyed || rec.aborted;

    if (fault?.kind === 'hang') return; // never answers; `close()` or the client ends it
    if (fault?.kind === 'slow') {
      await sleep(fault.delayMs);
      if (gone()) return;
    }
    if (fault?.kind === 'status') {
      rec.status = fault.status;
      const headers: Record<string, string> = {};
      if (fault.retryAfter !== undefined) headers['retry-after'] = String(fault.retryAfter);
      return sendError(res, fault.status, fault.message ?? defaultMessage(fault.status), headers);
    }

    if (endpoint === 'models') {
      rec.status = 200;
      return sendJson(res, 200, { data: models });
    }
    if (endpoint === 'key') {
      rec.status = 200;
      const usage = credits.usage + servedUsd;
      return sendJson(res, 200, {
        data: {
          label: 'sk-or-v1-sim…0000',
          usage,
          limit: credits.limit,
          limit_remaining: credits.limit === null ? null : credits.limit - usage,
          is_free_tier: false,
          is_provisioning_key: false,
          rate_limit: { requests: -1, interval: '10s' },
        },
      });
    }
    if (endpoint === 'credits') {
      rec.status = 200;
      return sendJson(res, 200, { data: { total_credits: credits.totalCredits, total_usage: credits.usage + servedUsd } });
    }

    // chat completions
    let body: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(bodyText);
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
      body = parsed as Record<string, unknown>;
    } catch {
      rec.status = 400;
      return sendError(res, 400, 'Invalid JSON body');
    }
    const model = typeof body.model === 'string' ? body.model : '';
    rec.model = model || null;
    rec.stream = body.stream === true;
    const rates = modelIndex.get(model);
    if (!rates) {
      rec.status = 400;
      return sendError(res, 400, model ? `${model} is not a valid model ID` : 'No models provided');
    }
    if (!Array.isArray(body.messages) || body.messages.length === 0) {
      rec.status = 400;
      return sendError(res, 400, 'Input required: specify "prompt" or "messages"');
    }
    const maxRaw = body.max_tokens ?? body.max_completion_tokens;
    if (maxRaw !== undefined && maxRaw !== null && (!Number.isInteger(maxRaw) || (maxRaw as number) < 1)) {
      rec.status = 400;
      return sendError(res, 400, 'max_tokens must be a positive integer');
    }
    const maxTokens = maxRaw === undefined || maxRaw === null ? null : (maxRaw as number);
    rec.maxTokens = maxTokens;
    const override = Number(req.headers[SIM_COMPLETION_TOKENS_HEADER]);
    const generate = Number.isInteger(override) && override >= 0 ? override : defaultCompletion;
    const n = maxTokens === null ? generate : Math.min(maxTokens, generate);
    const finishReason = maxTokens !== null && maxTokens < generate ? 'length' : 'stop';
    const promptTokens = countPromptTokens(body.messages);
    rec.promptTokens = promptTokens;
    const created = Math.floor(Date.now() / 1000);
    const costOf = (completion: number) => (promptTokens * rates.prompt + completion * rates.completion) / 1e12;
    const usageOf = (completion: number) => ({
      prompt_tokens: promptTokens,
      completion_tokens: completion,
      total_tokens: promptTokens + completion,
      cost: costOf(completion),
      is_byok: false,
      prompt_tokens_details: { cached_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0 },
    });
    const charge = (completion: number) => {
      rec.costUsd = costOf(completion);
      servedUsd += rec.costUsd;
    };

    if (!rec.stream) {
      if (fault?.kind === 'cut') {
        charge(0);
        cutByUs = true;
        res.destroy();
        return;
      }
      if (fault?.kind === 'midstream_error') {
        rec.status = 502;
        charge(0);
        return sendError(res, 502, fault.message ?? 'Provider returned error');
      }
      if (chunkDelayMs > 0) await sleep(chunkDelayMs);
      if (gone()) return;
      const withUsage = fault?.kind !== 'no_usage';
      const payload: Record<string, unknown> = {
        id: rec.id,
        provider: 'Simulator',
        model,
        object: 'chat.completion',
        created,
        choices: [{ index: 0, logprobs: null, finish_reason: finishReason, native_finish_reason: finishReason, message: { role: 'assistant', content: simulatedText(n), refusal: null, reasoning: null } }],
      };
      if (withUsage) payload.usage = usageOf(n);
      rec.status = 200;
      rec.completionTokensSent = n;
      rec.usageReported = withUsage;
      charge(n);
      return sendJson(res, 200, payload);
    }

    // streaming
    rec.status = 200;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    res.flushHeaders();
    const write = (text: string) =>
      new Promise<boolean>((resolve) => {
        if (gone()) return resolve(false);
        res.write(text, (err) => resolve(!err));
      });
    const chunk = (delta: Record<string, unknown>, finish: string | null, extra: Record<string, unknown> = {}) =>
      `data: ${JSON.stringify({
        id: rec.id,
        provider: 'Simulator',
        model,
        object: 'chat.completion.chunk',
        created,
        choices: [{ index: 0, delta, finish_reason: finish, native_finish_reason: finish, logprobs: null }],
        ...extra,
      })}\n\n`;

    if (!(await write(': OPENROUTER PROCESSING\n\n'))) return;
    if (chunkDelayMs > 0) await sleep(chunkDelayMs);
    if (!(await write(': OPENROUTER PROCESSING\n\n'))) return;
    const stopAt = fault?.kind === 'cut' || fault?.kind === 'midstream_error' ? Math.min(fault.afterTokens, n) : n;
    for (let i = 0; i < stopAt; i++) {
      if (chunkDelayMs > 0) await sleep(chunkDelayMs);
      if (gone()) break;
      const delta: Record<string, unknown> = i === 0 ? { role: 'assistant', content: simulatedToken(i) } : { content: simulatedToken(i) };
      if (!(await write(chunk(delta, null)))) break;
      rec.completionTokensSent++;
    }
    if (gone()) {
      charge(rec.completionTokensSent);
      return;
    }
    if (fault?.kind === 'cut') {
      charge(rec.completionTokensSent);
      cutByUs = true;
      res.destroy();
      return;
    }
    if (fault?.kind === 'midstream_error') {
      charge(rec.completionTokensSent);
      await write(
        `data: ${JSON.stringify({
          id: rec.id,
          provider: 'Simulator',
          model,
          object: 'chat.completion.chunk',
          created,
          error: { code: 'server_error', message: fault.message ?? 'Provider disconnected unexpectedly' },
          choices: [{ index: 0, delta: { content: '' }, finish_reason: 'error', native_finish_reason: 'error' }],
        })}\n\n`,
      );
      res.end();
      return;
    }
    if (chunkDelayMs > 0) await sleep(chunkDelayMs);
    if (!(await write(chunk({ content: '' }, finishReason)))) return charge(rec.completionTokensSent);
    const streamOptions = body.stream_options as { include_usage?: unknown } | undefined;
    const wantUsage = streamOptions?.include_usage === true && fault?.kind !== 'no_usage';
    if (wantUsage) {
      // OpenRouter's usage chunk still carries a `choices` array
      if (!(await write(chunk({ content: '' }, null, { usage: usageOf(rec.completionTokensSent) })))) return charge(rec.completionTokensSent);
      rec.usageReported = true;
    }
    charge(rec.completionTokensSent);
    await write('data: [DONE]\n\n');
    res.end();
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  let closed: Promise<void> | undefined;

  return {
    baseUrl: `http://127.0.0.1:${port}/api/v1`,
    port,
    requests,
    setFault(fault) {
      persistentFault = fault;
    },
    queueFault(fault) {
      queued.push(fault);
    },
    setModels(next) {
      models = next;
      modelIndex = indexModels(models);
    },
    setCredits(next) {
      credits = { ...credits, ...next };
    },
    reset() {
      requests.length = 0;
      persistentFault = null;
      queued = [];
      servedUsd = 0;
    },
    idle() {
      if (inFlight === 0) return Promise.resolve();
      return new Promise<void>((resolve) => idleWaiters.push(resolve));
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

function indexModels(models: OpenRouterModel[]): Map<string, Rates> {
  const map = new Map<string, Rates>();
  for (const m of models) {
    map.set(m.id, {
      prompt: parseOpenRouterRate(m.pricing?.prompt) ?? 0,
      completion: parseOpenRouterRate(m.pricing?.completion) ?? 0,
    });
  }
  return map;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** OpenRouter's error shape: `{"error":{"code":<status>,"message":…}}`. */
function sendError(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  sendJson(res, status, { error: { code: status, message, metadata: {} } }, headers);
}

function defaultMessage(status: number): string {
  switch (status) {
    case 400:
      return 'Bad request';
    case 401:
      return 'No auth credentials found';
    case 402:
      return 'Insufficient credits. Add more using https://openrouter.ai/credits';
    case 403:
      return 'Forbidden';
    case 408:
      return 'Request timed out';
    case 429:
      return 'Rate limit exceeded';
    case 502:
      return 'Provider returned error';
    case 503:
      return 'No available model provider that meets your routing requirements';
    default:
      return `Upstream error ${status}`;
  }
}
