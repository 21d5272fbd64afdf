/**
 * The one bounded reader of an HTTP request body (the proxy, the Telegram webhook, the OpenRouter
 * simulator): it never holds more than `limit` bytes, and says why it stopped instead of throwing.
 */
import type { IncomingMessage } from 'node:http';

/** The body; `too_large` past `limit` bytes (the request is paused, the rest unread); `aborted` when the client went away. */
export type BodyRead = Buffer | 'too_large' | 'aborted';

/** Reads a request body up to `limit` bytes. */
export function readBody(req: IncomingMessage, limit: number): Promise<BodyRead> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    let size = 0;
    let done = false;
    const whole = () => (parts.length === 1 ? parts[0] : Buffer.concat(parts));
    const finish = (v: BodyRead) => {
      if (done) return;
      done = true;
      req.off('data', onData);
      resolve(v);
    };
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.pause();
        return finish('too_large');
      }
      parts.push(c);
    };
    req.on('data', onData);
    req.once('end', () => finish(whole()));
    req.once('error', () => finish('aborted'));
    req.once('close', () => finish(req.complete ? whole() : 'aborted'));
  });
}
