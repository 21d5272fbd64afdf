/**
 * Response helpers: JSON bodies, and the errors answered outside any protocol route (an unknown path,
 * /metrics without its token, shutdown) in OpenAI's error shape `{"error":{"message","type","code"}}`,
 * through the one error table (./errors.ts). Messages are written by arb and never contain a key.
 */
import type { ServerResponse } from 'node:http';
import { describeFailure } from './errors.js';
import { openAiError } from './protocols/protocol.js';

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string | number> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Answers `e` (a ProxyError, or anything thrown) with the status, OpenAI error shape and headers the table gives it. */
export function sendOpenAiFailure(res: ServerResponse, e: unknown, headers: Record<string, string | number> = {}): void {
  const f = describeFailure(e);
  sendJson(res, f.status, openAiError(f.kind, f.message, f.code, f.param), { ...headers, ...f.headers });
}
