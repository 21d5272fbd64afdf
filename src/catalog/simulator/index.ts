/**
 * An OpenRouter simulator on 127.0.0.1 for tests, `arb demo` and benchmarks. It speaks every protocol
 * OpenRouter serves under /api/v1 — Chat Completions, Responses, legacy Completions, Embeddings and
 * Anthropic Messages — with the same URLs, JSON shapes, SSE event sequences and usage fields (each
 * protocol's own usage shape, plus OpenRouter's `cost`, `cost_details`, `is_byok` and `provider`, which a
 * proxy must not pass on), `GET /models`, `GET /embeddings/models`, `GET /key`, `GET /credits`.
 *
 * - Deterministic tokens: see ./tokens.ts (counting rules, generated text, prompt markers that force
 *   cache reads/writes, reasoning, answer length and faults).
 * - Cost (USD) = Σ class × its catalog rate (prompt, input_cache_read, input_cache_write, completion,
 *   internal_reasoning — a missing cache rate is the prompt rate, a missing reasoning rate the completion
 *   rate) / 1e12 with rates in µ$/Mtok, times the provider multiplier, plus web-search fees (./routing.ts).
 * - OpenRouter's routing behaviour for `models`, `fallbacks`, `provider`, `plugins`, suffixes: ./routing.ts.
 * - Faults (`setFault`, `queueFault`, the `x-sim-fault` header, a `[sim:fault=…]` marker) on every
 *   endpoint: a status, a mid-stream error event after n tokens, a cut socket after n tokens, a slow start,
 *   no usage, a hang.
 * - A record per request (`requests`): what was asked, which model answered, what was served per class,
 *   what it cost, which routing features were used, the body received.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { readBody } from '../../request-body.js';
import { loadFixtureModels } from '../fixture.js';
import type { OpenRouterModel } from '../types.js';
import { chatAdapter } from './protocols/chat.js';
import { completionsAdapter } from './protocols/completions.js';
import { embeddingsAdapter } from './protocols/embeddings.js';
import { messagesAdapter } from './protocols/messages.js';
import { responsesAdapter } from './protocols/responses.js';
import { openRouterError, type Generation, type ProtocolAdapter, type Usage } from './protocol.js';
import { costOf, indexModels, planRoute } from './routing.js';
import { readMarkers, splitPrompt } from './tokens.js';
import type { SimEndpoint, SimFault, SimProtocol, SimRequestRecord, SimTokens, Simulator, SimulatorOptions } from './types.js';

export type { OpenRouterModel } from '../types.js';
export { fixtureModelsPath, loadFixtureModels } from '../fixture.js';
export type { SimEndpoint, SimFault, SimProtocol, SimRequestRecord, SimTokens, Simulator, SimulatorOptions } from './types.js';
export { countPromptTokens, countTextTokens, readMarkers, simulatedText, simulatedThinking, simulatedThought, simulatedToken, splitPrompt } from './tokens.js';
export { PREMIUM_PROVIDER, DEFAULT_PROVIDER } from './routing.js';

/** Header carrying a per-request fault as JSON. */
export const SIM_FAULT_HEADER = 'x-sim-fault';
/** Header overriding `completionTokens` for one request. */
export const SIM_COMPLETION_TOKENS_HEADER = 'x-sim-completion-tokens';
/** Largest request body the simulator reads (far above any limit of the proxy in front of it). */
const MAX_SIM_BODY_BYTES = 64 * 1024 * 1024;

const ADAPTERS: Record<SimProtocol, ProtocolAdapter> = {
  chat: chatAdapter,
  responses: responsesAdapter,
  completions: completionsAdapter,
  embeddings: embeddingsAdapter,
  messages: messagesAdapter,
};

const ROUTES: Record<string, { endpoint: SimEndpoint; method: 'GET' | 'POST' }> = {
  '/api/v1/chat/completions': { endpoint: 'chat', method: 'POST' },
  '/api/v1/responses': { endpoint: 'responses', method: 'POST' },
  '/api/v1/completions': { endpoint: 'completions', method: 'POST' },
  '/api/v1/embeddings': { endpoint: 'embeddings', method: 'POST' },
  '/api/v1/messages': { endpoint: 'messages', method: 'POST' },
  '/api/v1/models': { endpoint: 'models', method: 'GET' },
  '/api/v1/embeddings/models': { endpoint: 'embedding_models', method: 'GET' },
  '/api/v1/key': { endpoint: 'key', method: 'GET' },
  '/api/v1/credits': { endpoint: 'credits', method: 'GET' },
};

/** The embedding models served by default (OpenRouter lists them apart from `/models`). */
export const DEFAULT_EMBEDDING_MODELS: OpenRouterModel[] = [
  embeddingModel('openai/text-embedding-3-small', 'Text Embedding 3 Small', '0.00000002', 8192),
  embeddingModel('openai/text-embedding-3-large', 'Text Embedding 3 Large', '0.00000013', 8192),
];

function embeddingModel(id: string, name: string, prompt: string, context: number): OpenRouterModel {
  return {
    id,
    canonical_slug: id,
    name,
    created: 1692901234,
    description: `${name} (simulated)`,
    context_length: context,
    architecture: { input_modalities: ['text'], output_modalities: ['embeddings'], modality: 'text->text', tokenizer: 'GPT', instruct_type: null },
    pricing: { prompt, completion: '0', request: '0', image: '0' },
    top_provider: { context_length: context, max_completion_tokens: null, is_moderated: false },
    per_request_limits: null,
    supported_parameters: ['dimensions', 'encoding_format'],
    default_parameters: null,
    expiration_date: null,
  };
}

const ZERO: SimTokens = { input: 0, cacheRead: 0, cacheWrite: 0, output: 0, reasoning: 0 };
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Starts the simulator; see `Simulator`. */
export async function startSimulator(opts: SimulatorOptions = {}): Promise<Simulator> {
  let models = opts.models ?? loadFixtureModels();
  // null: no embedding listing at all (GET /embeddings/models answers 404, as an upstream without one would)
  let embeddingModels = opts.embeddingModels === undefined ? DEFAULT_EMBEDDING_MODELS : opts.embeddingModels;
  let modelIndex = indexModels(models);
  let embeddingIndex = indexModels(embeddingModels ?? []);
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

  const applies = (f: SimFault, endpoint: SimEndpoint) => {
    const scope = f.endpoint ?? 'chat';
    return scope === 'any' || scope === endpoint || (Array.isArray(scope) && scope.includes(endpoint));
  };

  const pickFault = (req: IncomingMessage, endpoint: SimEndpoint, marker: SimFault | undefined): SimFault | undefined => {
    const header = req.headers[SIM_FAULT_HEADER];
    if (typeof header === 'string' && header.trim() !== '') {
      try {
        return JSON.parse(header) as SimFault;
      } catch {
        /* a malformed header is ignored */
      }
    }
    if (marker) return marker;
    const qi = queued.findIndex((f) => applies(f, endpoint));
    if (qi >= 0) return queued.splice(qi, 1)[0];
    if (persistentFault && applies(persistentFault, endpoint)) return persistentFault;
    return undefined;
  };

  const server: Server = createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, openRouterError(500, `simulator error: ${(err as Error).message}`));
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    req.socket.setNoDelay(true);
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const path = url.pathname.replace(/\/+$/, '');
    const route = ROUTES[path];
    const endpoint = route?.endpoint ?? null;
    const adapter = endpoint && endpoint in ADAPTERS ? ADAPTERS[endpoint as SimProtocol] : null;
    const errorBody = (status: number, message: string) => (adapter ?? chatAdapter).errorBody(status, message);
    const raw = await readBody(req, MAX_SIM_BODY_BYTES);
    if (raw === 'aborted') return;
    if (raw === 'too_large') {
      req.resume();
      return sendJson(res, 413, openRouterError(413, `request body over ${MAX_SIM_BODY_BYTES} bytes`));
    }
    const bodyText = raw.toString('utf8');
    if (!route || !endpoint) return sendJson(res, 404, openRouterError(404, `Not Found: ${req.method} ${url.pathname}`));
    if (opts.apiKey !== undefined && req.headers.authorization !== `Bearer ${opts.apiKey}`) {
      return sendJson(res, 401, errorBody(401, req.headers.authorization ? 'User not found.' : 'No auth credentials found'));
    }
    if (req.method !== route.method) return sendJson(res, 405, errorBody(405, `Method ${req.method} not allowed on ${url.pathname}`));

    const markers = adapter ? readMarkers(bodyText) : {};
    const rec: SimRequestRecord = {
      id: `gen-${++counter}-${randomBytes(6).toString('hex')}`,
      endpoint,
      url: req.url ?? '',
      model: null,
      servedModel: null,
      stream: false,
      maxTokens: null,
      promptTokens: 0,
      completionTokensSent: 0,
      tokens: { ...ZERO },
      usageReported: false,
      costUsd: 0,
      routing: [],
      webSearches: 0,
      status: 0,
      aborted: false,
      done: false,
      body: null,
      headers: req.headers,
    };
    const fault = pickFault(req, endpoint, markers.fault);
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
      return sendJson(res, fault.status, errorBody(fault.status, fault.message ?? defaultMessage(fault.status)), headers);
    }

    if (endpoint === 'embedding_models' && embeddingModels === null) {
      rec.status = 404;
      return sendJson(res, 404, openRouterError(404, `Not Found: ${req.method} ${url.pathname}`));
    }
    if (endpoint === 'models' || endpoint === 'embedding_models') {
      rec.status = 200;
      return sendJson(res, 200, { data: endpoint === 'models' ? models : embeddingModels });
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
    if (endpoint === 'credits' || !adapter) {
      rec.status = 200;
      return sendJson(res, 200, { data: { total_credits: credits.totalCredits, total_usage: credits.usage + servedUsd } });
    }

    // a model endpoint
    const refuse = (status: number, message: string) => {
      rec.status = status;
      sendJson(res, status, errorBody(status, message));
    };
    let body: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(bodyText);
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
      body = parsed as Record<string, unknown>;
    } catch {
      return refuse(400, 'Invalid JSON body');
    }
    rec.body = body;
    rec.model = typeof body.model === 'string' && body.model !== '' ? body.model : null;
    rec.stream = body.stream === true && adapter.protocol !== 'embeddings';
    const planned = planRoute(adapter.protocol, body, adapter.protocol === 'embeddings' ? embeddingIndex : modelIndex);
    if (typeof planned === 'string') return refuse(400, planned);
    rec.servedModel = planned.model;
    rec.routing = planned.routing;
    const parsed = adapter.parse(body);
    if (parsed.error) return refuse(400, parsed.error);
    rec.maxTokens = parsed.maxTokens;
    rec.promptTokens = parsed.promptTokens;

    const override = Number(req.headers[SIM_COMPLETION_TOKENS_HEADER]);
    const generate = markers.completion ?? (Number.isInteger(override) && override >= 0 ? override : defaultCompletion);
    const cap = parsed.maxTokens ?? Infinity;
    const wantReasoning = parsed.noOutput ? 0 : (markers.reasoning ?? 0);
    const reasoning = Math.min(wantReasoning, cap);
    const gen: Generation = {
      id: rec.id,
      created: Math.floor(Date.now() / 1000),
      model: planned.model,
      provider: planned.provider,
      prompt: parsed.noOutput ? { input: parsed.promptTokens, cacheRead: 0, cacheWrite: 0 } : splitPrompt(parsed.promptTokens, markers),
      reasoning,
      text: parsed.noOutput ? 0 : Math.min(generate, cap - reasoning),
      capped: !parsed.noOutput && wantReasoning + generate > cap,
      webSearches: planned.webSearches,
      body,
    };
    const usageOf = (output: number, thought: number): Usage => {
      const tokens = { ...gen.prompt, output, reasoning: thought };
      return { tokens, cost: costOf(planned, tokens), webSearches: planned.webSearches };
    };
    // the record follows the stream token by token (a test may read it as soon as the client is gone);
    // the account's usage grows once, when the answer is over
    const served = (output: number, thought: number) => {
      const usage = usageOf(output, thought);
      rec.tokens = usage.tokens;
      rec.completionTokensSent = output + thought;
      rec.webSearches = planned.webSearches;
      rec.costUsd = usage.cost.total;
    };
    let charged = false;
    const charge = (output: number, thought: number) => {
      served(output, thought);
      if (!charged) servedUsd += rec.costUsd;
      charged = true;
    };

    if (!rec.stream) return answerWhole(res, rec, adapter, gen, fault, charge, usageOf, gone, () => (cutByUs = true));
    return answerStream(res, rec, adapter, gen, fault, served, charge, usageOf, gone, () => (cutByUs = true));
  }

  async function answerWhole(
    res: ServerResponse,
    rec: SimRequestRecord,
    adapter: ProtocolAdapter,
    gen: Generation,
    fault: SimFault | undefined,
    charge: (output: number, thought: number) => void,
    usageOf: (output: number, thought: number) => Usage,
    gone: () => boolean,
    markCut: () => void,
  ): Promise<void> {
    if (fault?.kind === 'cut') {
      charge(0, 0);
      markCut();
      res.destroy();
      return;
    }
    if (fault?.kind === 'midstream_error') {
      rec.status = 502;
      charge(0, 0);
      return sendJson(res, 502, adapter.errorBody(502, fault.message ?? 'Provider returned error'));
    }
    if (chunkDelayMs > 0) await sleep(chunkDelayMs);
    if (gone()) return;
    const withUsage = fault?.kind !== 'no_usage';
    const payload = adapter.whole(gen, withUsage ? usageOf(gen.text, gen.reasoning) : null);
    rec.status = 200;
    rec.usageReported = withUsage;
    charge(gen.text, gen.reasoning);
    return sendJson(res, 200, payload);
  }

  async function answerStream(
    res: ServerResponse,
    rec: SimRequestRecord,
    adapter: ProtocolAdapter,
    gen: Generation,
    fault: SimFault | undefined,
    served: (output: number, thought: number) => void,
    charge: (output: number, thought: number) => void,
    usageOf: (output: number, thought: number) => Usage,
    gone: () => boolean,
    markCut: () => void,
  ): Promise<void> {
    rec.status = 200;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    res.flushHeaders();
    const write = (text: string) =>
      new Promise<boolean>((resolve) => {
        if (gone()) return resolve(false);
        if (text === '') return resolve(true);
        res.write(text, (err) => resolve(!err));
      });
    const writer = adapter.stream(gen, fault?.kind !== 'no_usage');
    const opening = writer.open();
    for (let i = 0; i < opening.length; i++) {
      if (i > 0 && chunkDelayMs > 0) await sleep(chunkDelayMs);
      if (!(await write(opening[i]))) return;
    }
    const total = gen.reasoning + gen.text;
    const stopAt = fault?.kind === 'cut' || fault?.kind === 'midstream_error' ? Math.min(fault.afterTokens, total) : total;
    let thought = 0;
    let output = 0;
    for (let i = 0; i < stopAt; i++) {
      if (chunkDelayMs > 0) await sleep(chunkDelayMs);
      if (gone()) break;
      const isThought = i < gen.reasoning;
      if (!(await write(isThought ? writer.reasoning(i) : writer.text(i - gen.reasoning)))) break;
      if (isThought) thought++;
      else output++;
      served(output, thought);
    }
    if (gone()) return charge(output, thought);
    if (fault?.kind === 'cut') {
      charge(output, thought);
      markCut();
      await sleep(CUT_PAUSE_MS); // the client has read what came before the drop, as when a connection dies mid-answer
      cutAfterFlush(res);
      return;
    }
    if (fault?.kind === 'midstream_error') {
      charge(output, thought);
      for (const e of writer.fail(fault.message ?? 'Provider disconnected unexpectedly')) await write(e);
      res.end();
      return;
    }
    if (chunkDelayMs > 0) await sleep(chunkDelayMs);
    const closing = writer.close(writer.reportsUsage ? usageOf(output, thought) : null);
    // charged before the last event, so a client that has read the whole stream finds the record complete
    for (let i = 0; i < closing.length - 1; i++) if (!(await write(closing[i]))) return charge(output, thought);
    rec.usageReported = writer.reportsUsage;
    charge(output, thought);
    await write(closing[closing.length - 1]);
    res.end();
  }

  if (opts.keepAliveTimeoutMs !== undefined) server.keepAliveTimeout = opts.keepAliveTimeoutMs;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: opts.port ?? 0, host: '127.0.0.1', backlog: opts.backlog }, () => {
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
    setEmbeddingModels(next) {
      embeddingModels = next;
      embeddingIndex = indexModels(next ?? []);
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

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
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

/**
 * A cut stream, as a dropped connection looks to the client: what was written arrives, then the connection
 * ends without the stream's end. A FIN after the data (not a reset, which may throw away bytes the client has
 * not read yet) so every client sees the same events before the cut, whatever the machine's load.
 */
const CUT_PAUSE_MS = 50;

function cutAfterFlush(res: ServerResponse): void {
  const socket = res.socket;
  if (!socket) return void res.destroy();
  socket.end();
  setTimeout(() => res.destroy(), 1_000).unref();
}
