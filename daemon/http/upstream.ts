/**
 * Forwards chat completions to OpenRouter over a keep-alive undici Agent. Fails over to
 * OPENROUTER_BACKUP_BASE_URL on a connection error, a timeout before the response headers, or a 5xx
 * status (all before any output reached the client). The OpenRouter key only ever goes into the
 * Authorization header; error messages are scrubbed of it.
 */
import { EventEmitter } from 'node:events';
import { Agent, request, type Dispatcher } from 'undici';
import { UpstreamError, UpstreamTimeoutError } from '../../src/errors.js';

export interface ChatUpstreamOptions {
  baseUrl: string;
  backupBaseUrl?: string;
  apiKey?: string;
  connectTimeoutMs?: number;
  /** time to the response headers (first byte), default 120 s — reasoning models can think for a while */
  headersTimeoutMs?: number;
  /** max silence between body chunks, default 120 s */
  bodyTimeoutMs?: number;
  /** max sockets per upstream origin, default 256 */
  connections?: number;
}

export interface UpstreamResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData['body'];
  /** which base URL answered */
  baseUrl: string;
  /** true when the backup answered after the primary failed */
  failedOver: boolean;
  /** the primary's failure, when failed over */
  primaryFailure?: string;
}

/**
 * A request's abort switch, in the form undici also accepts as a `signal`: an EventEmitter with `aborted`
 * that emits 'abort'. An AbortController costs the proxy ~10 µs per request (its signal is an EventTarget,
 * and undici adds and removes a listener on it); this costs next to nothing.
 */
export class AbortFlag extends EventEmitter {
  aborted = false;

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.emit('abort');
  }
}

/** What `chatCompletions` can be aborted with. */
export type UpstreamSignal = AbortFlag | AbortSignal;

export interface ChatUpstream {
  readonly baseUrls: readonly string[];
  /** POSTs `/chat/completions`; throws UpstreamError (502) / UpstreamTimeoutError (504) when no upstream answered. */
  chatCompletions(body: string, opts: { stream: boolean; signal: UpstreamSignal; requestId: string }): Promise<UpstreamResponse>;
  close(): Promise<void>;
}

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

export function isTimeoutError(e: unknown): boolean {
  const code = (e as { code?: string } | null)?.code;
  return code !== undefined && TIMEOUT_CODES.has(code);
}

export function createChatUpstream(options: ChatUpstreamOptions): ChatUpstream {
  const agent = new Agent({
    connect: { timeout: options.connectTimeoutMs ?? 10_000 },
    keepAliveTimeout: 30_000,
    connections: options.connections ?? 256,
    headersTimeout: options.headersTimeoutMs ?? 120_000,
    bodyTimeout: options.bodyTimeoutMs ?? 120_000,
  });
  const bases = [options.baseUrl, options.backupBaseUrl].filter((b): b is string => !!b).map((b) => b.replace(/\/+$/, ''));
  const apiKey = options.apiKey;
  const scrub = (text: string) => (apiKey ? text.split(apiKey).join('[REDACTED]') : text);

  async function once(base: string, body: string, opts: { stream: boolean; signal: UpstreamSignal; requestId: string }) {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: opts.stream ? 'text/event-stream' : 'application/json',
      'user-agent': 'arb',
      'x-title': 'arb',
      'x-request-id': opts.requestId,
    };
    if (apiKey) headers.authorization = `Bearer ${apiKey}`;
    return request(`${base}/chat/completions`, { method: 'POST', headers, body, signal: opts.signal, dispatcher: agent });
  }

  return {
    baseUrls: bases,
    async chatCompletions(body, opts) {
      let primaryFailure: string | undefined;
      let lastError: unknown;
      for (let i = 0; i < bases.length; i++) {
        const base = bases[i];
        const last = i === bases.length - 1;
        try {
          const res = await once(base, body, opts);
          if (res.statusCode >= 500 && !last) {
            primaryFailure = `status ${res.statusCode}`;
            res.body.dump().catch(() => {});
            continue;
          }
          return { statusCode: res.statusCode, headers: res.headers, body: res.body, baseUrl: base, failedOver: i > 0, primaryFailure };
        } catch (e) {
          if (opts.signal.aborted) throw e;
          lastError = e;
          primaryFailure ??= scrub(describe(e));
          if (!last) continue;
        }
      }
      const message = scrub(describe(lastError));
      if (isTimeoutError(lastError)) throw new UpstreamTimeoutError(`upstream timed out: ${message}`, 504, { cause: lastError });
      throw new UpstreamError(`upstream unreachable: ${message}`, 502, { cause: lastError });
    },
    close: () => agent.close(),
  };
}

function describe(e: unknown): string {
  const err = e as { code?: string; message?: string; cause?: { code?: string } } | null;
  const code = err?.code ?? err?.cause?.code;
  return `${code ? `${code} ` : ''}${err?.message ?? String(e)}`.trim();
}
