/**
 * OpenRouter client for the catalog endpoints (`/models`, `/embeddings/models`, `/key`, `/credits`) on undici, with
 * connect/headers/body timeouts and typed errors. The API key goes only into the Authorization header;
 * it is scrubbed from every error message.
 */
import { Agent, request, type Dispatcher } from 'undici';
import { UpstreamError, UpstreamTimeoutError } from '../errors.js';
import type { OpenRouterModel } from './types.js';

export type { OpenRouterModel } from './types.js';

/** `GET /key` → data. */
export interface OpenRouterKeyInfo {
  label?: string;
  /** USD spent */
  usage: number;
  /** USD credit limit of the key; null = unlimited (bounded by account credits) */
  limit: number | null;
  limit_remaining: number | null;
  is_free_tier?: boolean;
  [key: string]: unknown;
}

/** `GET /credits` → data. */
export interface OpenRouterCredits {
  total_credits: number;
  total_usage: number;
}

export interface OpenRouterClientOptions {
  /** e.g. https://openrouter.ai/api/v1 */
  baseUrl: string;
  apiKey?: string;
  /** tried when the primary fails with a connection error, a timeout or a 5xx */
  backupBaseUrl?: string;
  connectTimeoutMs?: number;
  headersTimeoutMs?: number;
  bodyTimeoutMs?: number;
  /** a shared dispatcher; by default the client owns an Agent closed by `close()` */
  dispatcher?: Dispatcher;
}

export interface OpenRouterClient {
  readonly baseUrl: string;
  listModels(): Promise<OpenRouterModel[]>;
  /**
   * The embedding models, which OpenRouter lists apart from `/models` (`GET /embeddings/models`); null when
   * the upstream has no such listing (HTTP 404), any other failure throws as `listModels` does.
   */
  listEmbeddingModels(): Promise<OpenRouterModel[] | null>;
  getKey(): Promise<OpenRouterKeyInfo>;
  getCredits(): Promise<OpenRouterCredits>;
  /** Remaining credit in µ$: `/key` limit_remaining when not null, else `/credits` total − usage. */
  creditRemainingMicros(): Promise<number>;
  close(): Promise<void>;
}

/** Creates an OpenRouter catalog client. */
export function createOpenRouterClient(options: OpenRouterClientOptions): OpenRouterClient {
  const connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
  const headersTimeoutMs = options.headersTimeoutMs ?? 15_000;
  const bodyTimeoutMs = options.bodyTimeoutMs ?? 30_000;
  const owned = options.dispatcher ? undefined : new Agent({ connect: { timeout: connectTimeoutMs }, keepAliveTimeout: 10_000 });
  const dispatcher = options.dispatcher ?? owned!;
  const apiKey = options.apiKey;
  const scrub = (text: string) => (apiKey ? text.split(apiKey).join('[REDACTED]') : text);
  const bases = [options.baseUrl, options.backupBaseUrl].filter((b): b is string => !!b).map((b) => b.replace(/\/+$/, ''));

  async function getOnce(base: string, path: string): Promise<unknown> {
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': 'arb' };
    if (apiKey) headers.authorization = `Bearer ${apiKey}`;
    const where = `OpenRouter GET ${path}`;
    let res: Dispatcher.ResponseData;
    try {
      res = await request(`${base}${path}`, { method: 'GET', headers, dispatcher, headersTimeout: headersTimeoutMs, bodyTimeout: bodyTimeoutMs });
    } catch (cause) {
      throw transportError(where, cause, scrub);
    }
    let text: string;
    try {
      text = await res.body.text();
    } catch (cause) {
      throw transportError(where, cause, scrub);
    }
    if (res.statusCode < 200 || res.statusCode >= 300) {
      throw new UpstreamError(`${where} failed: HTTP ${res.statusCode}${upstreamMessage(text, scrub)}`, res.statusCode);
    }
    try {
      return JSON.parse(text);
    } catch (cause) {
      throw new UpstreamError(`${where}: the response is not JSON`, res.statusCode, { cause });
    }
  }

  async function get(path: string): Promise<unknown> {
    let lastError: unknown;
    for (const base of bases) {
      try {
        return await getOnce(base, path);
      } catch (err) {
        lastError = err;
        const retryable = err instanceof UpstreamTimeoutError || (err instanceof UpstreamError && (err.status === undefined || err.status >= 500));
        if (!retryable) throw err;
      }
    }
    throw lastError;
  }

  async function data<T>(path: string, check: (d: unknown) => boolean): Promise<T> {
    const body = (await get(path)) as { data?: unknown } | null;
    if (!body || typeof body !== 'object' || !check(body.data)) {
      throw new UpstreamError(`OpenRouter GET ${path}: unexpected response shape (no "data")`, 200);
    }
    return body.data as T;
  }

  const client: OpenRouterClient = {
    baseUrl: bases[0],
    listModels: () => data<OpenRouterModel[]>('/models', Array.isArray),
    async listEmbeddingModels() {
      try {
        return await data<OpenRouterModel[]>('/embeddings/models', Array.isArray);
      } catch (err) {
        if (err instanceof UpstreamError && err.status === 404) return null;
        throw err;
      }
    },
    getKey: () => data<OpenRouterKeyInfo>('/key', isObject),
    getCredits: () => data<OpenRouterCredits>('/credits', isObject),
    async creditRemainingMicros() {
      const key = await client.getKey();
      if (typeof key.limit_remaining === 'number' && Number.isFinite(key.limit_remaining)) return usdToMicros(key.limit_remaining);
      const credits = await client.getCredits();
      const total = Number(credits.total_credits);
      const used = Number(credits.total_usage);
      if (!Number.isFinite(total) || !Number.isFinite(used)) {
        throw new UpstreamError('OpenRouter GET /credits: total_credits/total_usage are not numbers', 200);
      }
      return usdToMicros(total) - usdToMicros(used);
    },
    async close() {
      await owned?.close();
    },
  };
  return client;
}

/** A client for the configured upstream (OPENROUTER_BASE_URL, OPENROUTER_API_KEY, backup URL). */
export function openRouterClientFromConfig(
  config: { openrouterBaseUrl: string; openrouterApiKey: string | undefined; openrouterBackupBaseUrl?: string | undefined },
  overrides: Partial<OpenRouterClientOptions> = {},
): OpenRouterClient {
  return createOpenRouterClient({
    baseUrl: config.openrouterBaseUrl,
    apiKey: config.openrouterApiKey,
    backupBaseUrl: config.openrouterBackupBaseUrl,
    ...overrides,
  });
}

/** USD number (as OpenRouter reports it) → µ$, rounded to the nearest µ$. */
export function usdToMicros(usd: number): number {
  return Math.round(usd * 1_000_000);
}

function isObject(d: unknown): boolean {
  return !!d && typeof d === 'object' && !Array.isArray(d);
}

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

function transportError(where: string, cause: unknown, scrub: (s: string) => string): UpstreamError {
  const code = (cause as { code?: string } | null)?.code;
  const detail = scrub(String((cause as Error | null)?.message ?? cause));
  if (code && TIMEOUT_CODES.has(code)) {
    const phase = code === 'UND_ERR_CONNECT_TIMEOUT' ? 'connect' : code === 'UND_ERR_HEADERS_TIMEOUT' ? 'headers' : code === 'UND_ERR_BODY_TIMEOUT' ? 'body' : 'socket';
    return new UpstreamTimeoutError(`${where} timed out (${phase})`, undefined, { cause });
  }
  return new UpstreamError(`${where} failed: ${code ? `${code} ` : ''}${detail}`, undefined, { cause });
}

function upstreamMessage(text: string, scrub: (s: string) => string): string {
  try {
    const body = JSON.parse(text) as { error?: { message?: unknown } };
    const msg = body?.error?.message;
    if (typeof msg === 'string' && msg) return `: ${scrub(msg).slice(0, 300)}`;
  } catch {
    /* not JSON */
  }
  return '';
}
