import type { OpenRouterModel } from '../types.js';

/** The simulator's endpoints (paths under /api/v1). */
export type SimEndpoint =
  | 'chat' // POST /chat/completions
  | 'responses' // POST /responses
  | 'completions' // POST /completions
  | 'embeddings' // POST /embeddings
  | 'messages' // POST /messages (Anthropic-compatible)
  | 'models' // GET /models
  | 'embedding_models' // GET /embeddings/models
  | 'key' // GET /key
  | 'credits'; // GET /credits

/** The model-answering endpoints. */
export type SimProtocol = 'chat' | 'responses' | 'completions' | 'embeddings' | 'messages';

/** Where a fault applies: chat completions by default, one endpoint, a list, or `any`. */
export interface FaultScope {
  endpoint?: SimEndpoint | 'any' | SimEndpoint[];
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

/**
 * Tokens served, per class. The classes are disjoint: `input` is the prompt without cache reads and
 * writes, `output` the visible answer without reasoning. OpenAI-style usage reports
 * prompt = input + cacheRead + cacheWrite and completion = output + reasoning; Anthropic reports input,
 * cache read and cache creation side by side and output including thinking.
 */
export interface SimTokens {
  input: number;
  cacheRead: number;
  cacheWrite: number;
  output: number;
  reasoning: number;
}

export interface SimRequestRecord {
  /** generation id returned to the client (`gen-…`) */
  id: string;
  endpoint: SimEndpoint;
  /** path and query string as requested (`/api/v1/messages?beta=true`) */
  url: string;
  /** the model the request named (null when none) */
  model: string | null;
  /** the model that answered (differs from `model` when a fallback list or suffix was honoured) */
  servedModel: string | null;
  stream: boolean;
  /** the output cap asked for (`max_tokens`, `max_completion_tokens`, `max_output_tokens`), null when none */
  maxTokens: number | null;
  /** prompt tokens, cache classes included (OpenAI's `prompt_tokens`) */
  promptTokens: number;
  /** completion tokens written to the socket, reasoning included (OpenAI's `completion_tokens`) */
  completionTokensSent: number;
  /** what was served, per class (written, even when the usage was not reported) */
  tokens: SimTokens;
  usageReported: boolean;
  /** USD of what was served: what `usage.cost` reported, or would have (routing extras included) */
  costUsd: number;
  /** OpenRouter routing and billing features the request used (`models`, `provider`, `plugins:web`, `suffix:online`, `tool:web_search_20250305` …) */
  routing: string[];
  /** web searches billed for this request (plugins, `:online`, server tools) */
  webSearches: number;
  fault?: SimFault;
  /** HTTP status sent (0 when none was sent: hang or cut before headers) */
  status: number;
  /** the client went away before the response ended */
  aborted: boolean;
  /** the response (or the cut/abort) is over */
  done: boolean;
  /** the parsed request body (null when it was not JSON) */
  body: Record<string, unknown> | null;
  /** request headers as received */
  headers: Record<string, string | string[] | undefined>;
}

export interface SimulatorOptions {
  port?: number;
  /** the listening socket's accept queue (node's default 511) */
  backlog?: number;
  /**
   * how long an idle connection stays open (node's default 5 s; OpenRouter's edge keeps them far longer).
   * A client whose event loop lags seconds behind reuses a connection the simulator is just closing: its
   * request fails with a reset, as it would against any upstream that closes idle connections that soon
   */
  keepAliveTimeoutMs?: number;
  /** the model list (`data` array); defaults to the 371-model fixture */
  models?: OpenRouterModel[];
  /**
   * the embedding models (`GET /embeddings/models`, accepted by `/embeddings`); defaults to two OpenAI ones;
   * null: no listing (`GET /embeddings/models` answers 404) and no embedding model is served
   */
  embeddingModels?: OpenRouterModel[] | null;
  /** when set, every request must carry `Authorization: Bearer <apiKey>` */
  apiKey?: string;
  /** delay between stream chunks (ms), default 2; 0 writes as fast as possible */
  chunkDelayMs?: number;
  /** tokens generated when the output cap allows, default 40 */
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
  /** replaces the model list served by `/models` and accepted by the model endpoints */
  setModels(models: OpenRouterModel[]): void;
  /** replaces the embedding models (`GET /embeddings/models`, accepted by `/embeddings`); null: the listing answers 404 */
  setEmbeddingModels(models: OpenRouterModel[] | null): void;
  setCredits(credits: { limit?: number | null; usage?: number; totalCredits?: number }): void;
  /** clears the record, the faults and the served-cost counter */
  reset(): void;
  /** resolves when no request is in flight (hung requests count as in flight until their client leaves) */
  idle(): Promise<void>;
  close(): Promise<void>;
}
