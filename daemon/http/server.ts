/**
 * The daemon's HTTP surface on node:http: the proxy under /v1 and its /api/v1 alias, /health, /metrics
 * and the Telegram webhook. One error boundary maps anything unexpected to a 500 in OpenAI's shape.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../../src/logger.js';
import type { Proxy, RequestContext } from './proxy.js';
import type { ProtocolName } from './protocols/protocol.js';
import type { Health } from './health.js';
import type { ProxyMetrics } from './metrics.js';
import { ProxyError } from './errors.js';
import { sendJson, sendOpenAiFailure } from './respond.js';

export interface WebhookHandler {
  handleWebhook(req: IncomingMessage, res: ServerResponse): Promise<void> | void;
}

export interface HttpDeps {
  proxy: Proxy;
  health: Health;
  metrics: ProxyMetrics;
  logger: Logger;
  /** the bot, when TOKEN is set and it runs in webhook mode */
  webhook?: () => WebhookHandler | undefined;
  /** true once shutdown began: new requests get 503 */
  stopping: () => boolean;
  /** METRICS_TOKEN: /metrics requires `Authorization: Bearer <token>` */
  metricsToken?: string;
  /** TRUST_PROXY: the client address comes from X-Forwarded-For (a reverse proxy is in front) */
  trustProxy?: boolean;
  /** a request not wholly received after this is a 408 and its connection closes, default REQUEST_TIMEOUT_MS */
  requestTimeoutMs?: number;
}

/**
 * How long a client may take to send a whole request (headers and body). A body trickled in and never
 * finished holds up to the body limit in memory (8 MiB on the agent protocols) and costs nothing: no hold is
 * taken before the body is read. Node answers 408 and closes the connection; what the client was sending is
 * charged nothing. Responses are not limited by it: a stream lasts as long as the answer. 2 minutes carry
 * 8 MiB over a link of ~600 kbit/s.
 */
export const REQUEST_TIMEOUT_MS = 120_000;

type Route = ProtocolName | 'count_tokens' | 'root' | 'models' | 'key' | 'health' | 'metrics' | 'webhook' | null;

/** The metered endpoints and the protocol each speaks. */
const PROTOCOL_ROUTES: Record<string, ProtocolName> = {
  '/v1/chat/completions': 'chat',
  '/v1/responses': 'responses',
  '/v1/completions': 'completions',
  '/v1/embeddings': 'embeddings',
  '/v1/messages': 'messages',
};

function route(method: string, path: string): { route: Route; endpoint: string } {
  let p = path;
  if (p.startsWith('/api/v1/')) p = p.slice(4);
  if (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
  const protocol = PROTOCOL_ROUTES[p];
  if (protocol) return { route: method === 'POST' ? protocol : null, endpoint: p };
  switch (p) {
    case '/':
      // Claude Code checks the base URL with HEAD / before its first request
      return { route: method === 'GET' || method === 'HEAD' ? 'root' : null, endpoint: p };
    case '/v1/messages/count_tokens':
      return { route: method === 'POST' ? 'count_tokens' : null, endpoint: p };
    case '/v1/models':
      return { route: method === 'GET' ? 'models' : null, endpoint: p };
    case '/v1/key':
      return { route: method === 'GET' ? 'key' : null, endpoint: p };
    case '/health':
      return { route: method === 'GET' || method === 'HEAD' ? 'health' : null, endpoint: p };
    case '/metrics':
      return { route: method === 'GET' ? 'metrics' : null, endpoint: p };
    case '/telegram/webhook':
      return { route: method === 'POST' ? 'webhook' : null, endpoint: p };
    default:
      return { route: null, endpoint: p };
  }
}

const PROCESS_TAG = randomBytes(5).toString('hex');
let requestCounter = 0;

/**
 * A request id: `req_` + 32 hex digits — the time in ms (12), a random tag of this process (10) and a
 * counter (10). Unique across replicas and restarts, and increasing in time: the unique request_id
 * indexes of usage_events and reservations take each new id at their right edge (the same few pages per
 * group commit) instead of at a random leaf — with 300k usage events a random id costs ~3× the CPU per
 * insert and ~4× the WAL writes.
 */
export function newRequestId(): string {
  requestCounter = (requestCounter + 1) % 0x10000000000;
  return `req_${Date.now().toString(16).padStart(12, '0')}${PROCESS_TAG}${requestCounter.toString(16).padStart(10, '0')}`;
}

const plainAddress = (a: string): string => (a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a);

/**
 * The client's address. Without TRUST_PROXY it is the socket peer: X-Forwarded-For is whatever the client
 * wrote. With it the peer is a reverse proxy (nginx in daemon/deploy), which appends the address it saw
 * to X-Forwarded-For: the last entry is that address, the ones before it the client's own claims.
 */
export function clientIp(req: IncomingMessage, trustProxy = false): string {
  const peer = plainAddress(req.socket.remoteAddress ?? 'unknown');
  if (!trustProxy) return peer;
  const fwd = req.headers['x-forwarded-for'];
  const last = (Array.isArray(fwd) ? fwd.join(',') : (fwd ?? '')).split(',').pop()?.trim();
  if (last) return plainAddress(last);
  const real = req.headers['x-real-ip'];
  if (typeof real === 'string' && real.trim()) return plainAddress(real.trim());
  return peer;
}

const digest = (text: string) => createHash('sha256').update(text).digest();

/** Compares an Authorization header with `Bearer <token>` in constant time. */
function bearerMatches(header: string | undefined, token: string): boolean {
  return timingSafeEqual(digest(header ?? ''), digest(`Bearer ${token}`));
}

export function createHttpServer(deps: HttpDeps): Server {
  const { proxy, health, metrics, logger } = deps;

  async function dispatch(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, r: Route): Promise<void> {
    switch (r) {
      case 'chat':
      case 'responses':
      case 'completions':
      case 'embeddings':
      case 'messages':
        return proxy.serve(r, req, res, ctx);
      case 'count_tokens':
        return proxy.countTokens(req, res, ctx);
      case 'root':
        return sendJson(res, 200, { name: 'arb', api: '/v1' });
      case 'models':
        return proxy.listModels(req, res, ctx);
      case 'key':
        return proxy.keyInfo(req, res, ctx);
      case 'health': {
        const { httpStatus, report } = await health.check();
        return sendJson(res, httpStatus, report, { 'cache-control': 'no-store' });
      }
      case 'metrics': {
        if (deps.metricsToken !== undefined && !bearerMatches(req.headers.authorization, deps.metricsToken)) {
          return sendOpenAiFailure(
            res,
            new ProxyError('ARB_METRICS_UNAUTHORIZED', '/metrics needs Authorization: Bearer <METRICS_TOKEN>', { headers: { 'www-authenticate': 'Bearer realm="metrics"' } }),
          );
        }
        const text = await metrics.render();
        res.writeHead(200, { 'content-type': metrics.contentType, 'content-length': Buffer.byteLength(text) });
        res.end(text);
        return;
      }
      case 'webhook': {
        const bot = deps.webhook?.();
        if (!bot) return sendOpenAiFailure(res, new ProxyError('ARB_NOT_FOUND', 'no Telegram webhook here: the bot runs by long polling or is disabled'));
        return bot.handleWebhook(req, res);
      }
      default:
        return sendOpenAiFailure(
          res,
          new ProxyError(
            'ARB_NOT_FOUND',
            `no route ${req.method} ${ctx.endpoint}; the API lives under /v1 (POST /v1/chat/completions, /v1/responses, /v1/completions, /v1/embeddings, /v1/messages; GET /v1/models, /v1/key)`,
          ),
        );
    }
  }

  const requestTimeout = deps.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
  const server = createServer(
    {
      keepAliveTimeout: 65_000,
      requestTimeout,
      headersTimeout: Math.min(60_000, requestTimeout),
      // how often Node looks for requests past their time (its default, 30 s, for a 2-minute limit)
      connectionsCheckingInterval: Math.min(30_000, Math.max(100, Math.floor(requestTimeout / 4))),
    },
    (req, res) => {
      const startedAt = performance.now();
      const q = (req.url ?? '/').indexOf('?');
      const path = q === -1 ? (req.url ?? '/') : (req.url ?? '/').slice(0, q);
      const { route: r, endpoint } = route(req.method ?? 'GET', path);
      const ctx: RequestContext = { requestId: newRequestId(), startedAt, ip: clientIp(req, deps.trustProxy), endpoint };
      res.once('finish', () => metrics.httpRequest(r ?? 'unknown', res.statusCode));
      if (deps.stopping() && r !== 'health' && r !== 'metrics') {
        return sendOpenAiFailure(res, new ProxyError('ARB_SHUTTING_DOWN', 'the server is shutting down; retry shortly', { headers: { connection: 'close', 'retry-after': 1 } }));
      }
      dispatch(req, res, ctx, r).catch((err: unknown) => {
        logger.error({ err, request_id: ctx.requestId, endpoint }, 'unhandled error in HTTP handler');
        if (!res.headersSent) sendOpenAiFailure(res, new ProxyError('ARB_INTERNAL', `internal error (request ${ctx.requestId}); retry, and report it if it persists`));
        else res.destroy();
      });
    },
  );
  return server;
}
