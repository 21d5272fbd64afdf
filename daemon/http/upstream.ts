/**
 * Forwards requests (every protocol, by path) to OpenRouter over a keep-alive undici Agent. Fails over to
 * OPENROUTER_BACKUP_BASE_URL on a connection error, a timeout before the response headers, or a 5xx
 * status (all before any output reached the client). The OpenRouter key only ever goes into the
 * Authorization header; error messages are scrubbed of it.
 */
import { EventEmitter } from 'node:events';
import { Agent, errors, type Dispatcher } from 'undici';
import { UpstreamError, UpstreamTimeoutError } from '../../src/errors.js';
import { ProxyError } from './errors.js';

export interface UpstreamOptions {
  baseUrl: string;
  backupBaseUrl?: string;
  apiKey?: string;
  connectTimeoutMs?: number;
  /** time to the response headers (first byte), default 120 s — reasoning models can think for a while */
  headersTimeoutMs?: number;
  /** max silence between body chunks, default 120 s */
  bodyTimeoutMs?: number;
  /** max sockets per upstream origin; default: as many as requests (never a queue inside arb) */
  connections?: number;
  /**
   * UPSTREAM_MAX_CONCURRENCY: at most this many requests at the upstream at once; one more is refused
   * at once (ARB_UPSTREAM_BUSY: 503 with retry-after), never queued. 0 or unset: no limit.
   */
  maxInFlight?: number;
}

export interface UpstreamResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: UpstreamBody;
  /** which base URL answered */
  baseUrl: string;
  /** true when the backup answered after the primary failed */
  failedOver: boolean;
  /** the primary's failure, when failed over */
  primaryFailure?: string;
}

/**
 * A response body as undici delivers it (through `dispatch`, without a Readable stream: about a third of
 * a pass-through proxy's CPU per request goes to `request()`'s stream machinery). Chunks wait here until
 * they are read, whole (`bytes`, `text`) or one by one (`forEach`, with pause and resume for backpressure).
 * An error after the headers (a cut, a body timeout, an abort) rejects the read once the chunks already
 * received have been handed over.
 */
export class UpstreamBody {
  private queue: Buffer[] = [];
  private queued = 0;
  private ended = false;
  private failure: Error | null = null;
  private onChunk: ((chunk: Buffer) => boolean) | null = null;
  private done: { resolve: () => void; reject: (e: Error) => void } | null = null;
  private paused = false;
  private discarding = false;
  private delivering = false;
  private flushQueued = false;
  private readonly flushNow = (): void => {
    this.flushQueued = false;
    this.flush();
  };

  constructor(private readonly controller: Dispatcher.DispatchController) {}

  /** bytes received and not read yet */
  get readableLength(): number {
    return this.queued;
  }

  /** The whole body. */
  bytes(): Promise<Buffer> {
    const parts: Buffer[] = [];
    return this.forEach((c) => {
      parts.push(c);
      return true;
    }).then(() => (parts.length === 1 ? parts[0] : Buffer.concat(parts)));
  }

  async text(): Promise<string> {
    return (await this.bytes()).toString('utf8');
  }

  /**
   * Hands the body to `onChunk`, in order, as it arrives (what one socket read brought, as one chunk);
   * resolves at the end of the body. `onChunk` returning false pauses the upstream until `resume()`. One
   * reader per body.
   */
  forEach(onChunk: (chunk: Buffer) => boolean): Promise<void> {
    if (this.onChunk || this.discarding) return Promise.reject(new Error('the upstream body is already being read'));
    this.onChunk = onChunk;
    return new Promise<void>((resolve, reject) => {
      this.done = { resolve, reject };
      this.flush();
    });
  }

  /** Continues after `onChunk` returned false. */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.flush();
    if (!this.paused && !this.ended && !this.failure) this.controller.resume();
  }

  /** Reads and drops the rest of the body (the connection stays reusable). */
  dump(): void {
    this.discarding = true;
    this.queue = [];
    this.queued = 0;
    if (this.paused) {
      this.paused = false;
      this.controller.resume();
    }
  }

  /**
   * @internal the dispatch handler's side. The chunks of one socket read (a streaming upstream sends each
   * SSE event as its own HTTP chunk: ~20 per completion, mostly read together) are handed over as one,
   * once the read is parsed (a microtask later): one write to the client instead of one per event.
   */
  push(chunk: Buffer): void {
    if (this.discarding) return;
    this.queue.push(chunk);
    this.queued += chunk.length;
    if (this.onChunk && !this.paused && !this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(this.flushNow);
    }
  }

  /** @internal */
  end(): void {
    this.ended = true;
    this.flush();
  }

  /** @internal */
  fail(error: Error): void {
    if (this.ended) return;
    this.failure = error;
    this.flush();
  }

  private deliver(chunk: Buffer): void {
    this.delivering = true;
    try {
      if (this.onChunk!(chunk) === false && !this.ended && !this.failure) {
        this.paused = true;
        this.controller.pause();
      }
    } finally {
      this.delivering = false;
    }
  }

  private flush(): void {
    if (!this.onChunk || this.delivering) return;
    if (this.queue.length > 0 && !this.paused) {
      const chunk = this.queue.length === 1 ? this.queue[0] : Buffer.concat(this.queue, this.queued);
      this.queue = [];
      this.queued = 0;
      this.deliver(chunk);
    }
    if (this.queue.length > 0 || !this.done) return;
    const done = this.done;
    if (this.failure) {
      this.done = null;
      done.reject(this.failure);
    } else if (this.ended) {
      this.done = null;
      done.resolve();
    }
  }
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

export interface PostOptions {
  stream: boolean;
  signal: AbortFlag;
  requestId: string;
  /** extra request headers (e.g. anthropic-version) */
  headers?: Record<string, string>;
}

export interface Upstream {
  readonly baseUrls: readonly string[];
  /**
   * POSTs `body` to `path` under the base URL (e.g. `/chat/completions`); throws UpstreamError (502) /
   * UpstreamTimeoutError (504) when no upstream answered. `body` is sent as it is on every attempt, and
   * undici keeps it until the response ends: give it bytes of their own (`ownBytes`).
   */
  post(path: string, body: Buffer, opts: PostOptions): Promise<UpstreamResponse>;
  /** requests at the upstream now (sent, and not yet answered to the end) */
  readonly inFlight?: number;
  close(): Promise<void>;
}

/** The names daemon/main.ts wires the upstream by. */
export type ChatUpstreamOptions = UpstreamOptions;
export type ChatUpstream = Upstream;
export const createChatUpstream = (options: UpstreamOptions): Upstream => createUpstream(options);

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

export function isTimeoutError(e: unknown): boolean {
  const code = (e as { code?: string } | null)?.code;
  return code !== undefined && TIMEOUT_CODES.has(code);
}

export function createUpstream(options: UpstreamOptions): Upstream {
  const agent = new Agent({
    connect: { timeout: options.connectTimeoutMs ?? 10_000 },
    keepAliveTimeout: 30_000,
    // a fixed pool made the 257th concurrent stream wait inside arb for a free socket (issue 15.1)
    connections: options.connections ?? null,
    headersTimeout: options.headersTimeoutMs ?? 120_000,
    bodyTimeout: options.bodyTimeoutMs ?? 120_000,
  });
  const bases = [options.baseUrl, options.backupBaseUrl].filter((b): b is string => !!b).map((b) => b.replace(/\/+$/, ''));
  const apiKey = options.apiKey;
  const scrub = (text: string) => (apiKey ? text.split(apiKey).join('[REDACTED]') : text);

  // origin and path of each base URL, per upstream path
  const targets = new Map<string, Array<{ origin: string; path: string }>>();
  const targetsFor = (path: string) => {
    let t = targets.get(path);
    if (!t) {
      t = bases.map((b) => {
        const u = new URL(`${b}${path}`);
        return { origin: u.origin, path: `${u.pathname}${u.search}` };
      });
      targets.set(path, t);
    }
    return t;
  };

  const maxInFlight = options.maxInFlight && options.maxInFlight > 0 ? options.maxInFlight : Infinity;
  let inFlight = 0;

  /**
   * One POST to one base URL: resolves at the response headers; the body follows in UpstreamBody. The
   * request (its body above all: a coding agent's is hundreds of KB) is built here, outside the closures
   * that live as long as the response: only undici's own reference to it stays for a long stream.
   */
  function once(
    target: { origin: string; path: string },
    body: Buffer,
    opts: PostOptions,
  ): Promise<{ statusCode: number; headers: Record<string, string | string[] | undefined>; body: UpstreamBody }> {
    const headers: Record<string, string> = {
      ...opts.headers,
      'content-type': 'application/json',
      accept: opts.stream ? 'text/event-stream' : 'application/json',
      'user-agent': 'arb',
      'x-title': 'arb',
      'x-request-id': opts.requestId,
    };
    if (apiKey) headers.authorization = `Bearer ${apiKey}`;
    if (opts.signal.aborted) return Promise.reject(new errors.RequestAbortedError());
    return dispatchOnce({ origin: target.origin, path: target.path, method: 'POST', headers, body }, opts.signal);
  }

  function dispatchOnce(request: Dispatcher.DispatchOptions, signal: AbortFlag): Promise<{ statusCode: number; headers: Record<string, string | string[] | undefined>; body: UpstreamBody }> {
    return new Promise((resolve, reject) => {
      let controller: Dispatcher.DispatchController | undefined;
      let upstreamBody: UpstreamBody | undefined;
      const onAbort = () => controller?.abort(new errors.RequestAbortedError());
      signal.once('abort', onAbort);
      inFlight++;
      let listening = true;
      const stopListening = () => {
        if (!listening) return;
        listening = false;
        inFlight--;
        signal.off('abort', onAbort);
      };
      agent.dispatch(request, {
        onRequestStart(c) {
          controller = c;
          if (signal.aborted) c.abort(new errors.RequestAbortedError());
        },
        onResponseStart(c, statusCode, responseHeaders) {
          // the headers arrive parsed; their raw Buffers (one per name and value) would stay on the
          // controller as long as the response, a stream's minutes
          c.rawHeaders = null;
          if (statusCode < 200) return; // 1xx: the final status follows
          upstreamBody = new UpstreamBody(c);
          resolve({ statusCode, headers: responseHeaders as Record<string, string | string[] | undefined>, body: upstreamBody });
        },
        onResponseData(_c, chunk) {
          upstreamBody?.push(chunk);
        },
        onResponseEnd() {
          stopListening();
          upstreamBody?.end();
        },
        onResponseError(_c, error) {
          stopListening();
          if (upstreamBody) upstreamBody.fail(error);
          else reject(error);
        },
      });
    });
  }

  return {
    baseUrls: bases,
    get inFlight() {
      return inFlight;
    },
    async post(path, body, opts) {
      if (inFlight >= maxInFlight) {
        throw new ProxyError('ARB_UPSTREAM_BUSY', `the server is at its limit of ${maxInFlight} requests in progress; nothing was charged — retry in a second`, { headers: { 'retry-after': 1 } });
      }
      const targets = targetsFor(path);
      let primaryFailure: string | undefined;
      let lastError: unknown;
      for (let i = 0; i < bases.length; i++) {
        const base = bases[i];
        const last = i === bases.length - 1;
        try {
          const res = await once(targets[i], body, opts);
          if (res.statusCode >= 500 && !last) {
            primaryFailure = `status ${res.statusCode}`;
            res.body.dump();
            continue;
          }
          return { statusCode: res.statusCode, headers: res.headers, body: res.body, baseUrl: base, failedOver: i > 0, primaryFailure };
        } catch (e) {
          if (opts.signal.aborted) throw e;
          lastError = e;
          primaryFailure ??= scrub(describeError(e));
          if (!last) continue;
        }
      }
      const message = scrub(describeError(lastError));
      if (isTimeoutError(lastError)) throw new UpstreamTimeoutError(`upstream timed out: ${message}`, 504, { cause: lastError });
      throw new UpstreamError(`upstream unreachable: ${message}`, 502, { cause: lastError });
    },
    close: () => agent.close(),
  };
}

/**
 * A string's UTF-8 bytes in memory of their own: a small Buffer.from is a slice of a shared 8 KB pool,
 * which a long stream (undici keeps its request's body until the response ends) would keep alive.
 */
export function ownBytes(text: string): Buffer {
  const bytes = Buffer.allocUnsafeSlow(Buffer.byteLength(text, 'utf8'));
  bytes.write(text, 'utf8');
  return bytes;
}

/** "CODE message" of an error (the code from its cause when it has none), for logs. */
export function describeError(e: unknown): string {
  const err = e as { code?: string; message?: string; cause?: { code?: string } } | null;
  const code = err?.code ?? err?.cause?.code;
  return `${code ? `${code} ` : ''}${err?.message ?? String(e)}`.trim();
}
