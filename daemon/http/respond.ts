/**
 * Response helpers: JSON bodies and OpenAI's error shape `{"error":{"message","type","code"}}`. Messages
 * are written by arb and never contain a key.
 */
import type { ServerResponse } from 'node:http';

export type ApiErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'insufficient_quota'
  | 'rate_limit_error'
  | 'upstream_error'
  | 'server_error';

export interface ApiErrorBody {
  error: { message: string; type: ApiErrorType; code: string; param?: string | null };
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string | number> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function apiError(message: string, type: ApiErrorType, code: string, param?: string): ApiErrorBody {
  return { error: { message, type, code, ...(param ? { param } : {}) } };
}

export function sendApiError(
  res: ServerResponse,
  status: number,
  message: string,
  type: ApiErrorType,
  code: string,
  headers: Record<string, string | number> = {},
  param?: string,
): void {
  sendJson(res, status, apiError(message, type, code, param), headers);
}
