/**
 * The Telegram webhook endpoint (`POST /telegram/webhook`), as a plain node:http handler the daemon's
 * HTTP server mounts. Every call must carry `X-Telegram-Bot-Api-Secret-Token` equal to
 * WEBHOOK_SECRET_TOKEN (compared in constant time); anything else is 401 and nothing is processed.
 * The response is sent after the update was handled: 200 when handled (or deliberately ignored), 500 when
 * it could not even be recorded (Telegram then delivers it again), 503 while shutting down.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Update } from 'grammy/types';
import { logSecurityEvent, type Logger } from '../../src/logger.js';
import { readBody } from '../../src/request-body.js';

export const TELEGRAM_WEBHOOK_PATH = '/telegram/webhook';
export const MAX_WEBHOOK_BODY_BYTES = 1024 * 1024;

export interface WebhookDeps {
  secretToken: string | undefined;
  logger: Logger;
  isStopping(): boolean;
  handleUpdate(update: Update): Promise<void>;
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function reply(res: ServerResponse, status: number, body: Record<string, unknown>, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function createWebhookHandler(deps: WebhookDeps): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return async (req, res) => {
    if (req.method !== 'POST') {
      req.resume();
      return reply(res, 405, { ok: false, error: 'method not allowed; Telegram POSTs updates here' }, { allow: 'POST' });
    }
    const given = req.headers['x-telegram-bot-api-secret-token'];
    const expected = deps.secretToken;
    if (!expected || typeof given !== 'string' || !sameSecret(given, expected)) {
      req.resume();
      logSecurityEvent(deps.logger, {
        event: 'webhook_unauthorized',
        reason: !expected ? 'WEBHOOK_SECRET_TOKEN is not configured' : typeof given === 'string' ? 'wrong secret' : 'no secret header',
        ip: req.socket.remoteAddress,
      });
      return reply(res, 401, { ok: false, error: 'unauthorized' });
    }
    if (deps.isStopping()) {
      req.resume();
      return reply(res, 503, { ok: false, error: 'shutting down; retry later' }, { 'retry-after': '5' });
    }
    const body = await readBody(req, MAX_WEBHOOK_BODY_BYTES);
    if (body === 'too_large') {
      req.resume();
      return reply(res, 413, { ok: false, error: `body over ${MAX_WEBHOOK_BODY_BYTES} bytes` });
    }
    if (body === 'aborted') return;
    let update: Update;
    try {
      const parsed = JSON.parse(body.toString('utf8')) as Update;
      if (typeof parsed !== 'object' || parsed === null || !Number.isSafeInteger(parsed.update_id)) {
        return reply(res, 400, { ok: false, error: 'expected a Telegram Update object with an integer update_id' });
      }
      update = parsed;
    } catch {
      return reply(res, 400, { ok: false, error: 'body is not valid JSON' });
    }
    try {
      await deps.handleUpdate(update);
      reply(res, 200, { ok: true });
    } catch (err) {
      deps.logger.error({ update_id: update.update_id, error: (err as Error).message }, 'telegram update could not be processed; Telegram will deliver it again');
      reply(res, 500, { ok: false, error: 'update not processed; retry' });
    }
  };
}
