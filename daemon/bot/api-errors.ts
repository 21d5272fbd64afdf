/**
 * Bot API error policy, as an API transformer installed on bot.api (grammY copies it to every context's
 * api):
 * - 429 Too Many Requests → wait `retry_after` seconds and retry (up to `maxRetries` times, and only when
 *   the wait is at most `maxWaitSeconds`; longer floods are returned as errors rather than stalling the bot);
 * - 400 "message is not modified" → treated as success (the screen already shows what we wanted);
 * - everything else (403 blocked by the user, 400 …) is returned unchanged; the error boundary and the
 *   notification senders decide what it means.
 * getUpdates is left alone: grammY's polling loop has its own backoff.
 */
import { GrammyError, HttpError, type Transformer } from 'grammy';
import type { Logger } from '../../src/logger.js';

export interface ApiErrorPolicyOptions {
  maxRetries?: number;
  maxWaitSeconds?: number;
  logger?: Logger;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}

export function isNotModified(description: string | undefined): boolean {
  return /message is not modified/i.test(description ?? '');
}

/** 403s that mean "this user can't be messaged" (blocked the bot, deleted account, never started it). */
export function isUnreachableUser(err: unknown): boolean {
  const e = err as { error_code?: number; description?: string };
  return e?.error_code === 403 || /chat not found|user is deactivated/i.test(e?.description ?? '');
}

export function apiErrorPolicy(options: ApiErrorPolicyOptions = {}): Transformer {
  const maxRetries = options.maxRetries ?? 3;
  const maxWaitSeconds = options.maxWaitSeconds ?? 30;
  const sleep = options.sleep ?? defaultSleep;
  return async (prev, method, payload, signal) => {
    if (method === 'getUpdates') return prev(method, payload, signal);
    for (let attempt = 0; ; attempt++) {
      const res = await prev(method, payload, signal);
      if (res.ok) return res;
      if (res.error_code === 429 && attempt < maxRetries) {
        const wait = res.parameters?.retry_after ?? 1;
        if (wait <= maxWaitSeconds && !signal?.aborted) {
          options.logger?.warn(
            { api_call: true, service: 'telegram', endpoint: method, status: 429, success: false, retry_after: wait, attempt: attempt + 1 },
            `Telegram ${method} rate limited; retrying in ${wait} s`,
          );
          await sleep(wait * 1000, signal as AbortSignal | undefined);
          continue;
        }
      }
      if (res.error_code === 400 && isNotModified(res.description)) {
        return { ok: true, result: true } as unknown as typeof res;
      }
      return res;
    }
  };
}

/** An error as log fields (never the request payload: it may hold a key). */
export function describeBotError(err: unknown): Record<string, unknown> {
  if (err instanceof GrammyError) return { type: 'GrammyError', method: err.method, error_code: err.error_code, description: err.description };
  if (err instanceof HttpError) return { type: 'HttpError', message: err.message };
  if (err instanceof Error) return { type: err.name, message: err.message, stack: err.stack };
  return { message: String(err) };
}
