/**
 * The one bounded reader of an HTTP request body (the proxy, the Telegram webhook, the OpenRouter
 * simulator): it never holds more than `limit` bytes, and says why it stopped instead of throwing.
 */
import type { IncomingMessage } from 'node:http';

/** The body; `too_large` past `limit` bytes (the request is paused, the rest unread); `aborted` when the client went away. */
export type BodyRead = Buffer | 'too_large' | 'aborted';

/**
 * Reads a request body up to `limit` bytes. Once it has answered it leaves nothing on the request: a
 * listener left waiting for 'close' would keep every chunk read until the response ends — for a stream,
 * minutes of a coding agent's whole session (hundreds of KB) per open request.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<BodyRead> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    let size = 0;
    const whole = () => (parts.length === 1 ? parts[0] : Buffer.concat(parts));
    const finish = (v: BodyRead) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
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
    const onEnd = () => finish(whole());
    const onError = () => finish('aborted');
    const onClose = () => finish(req.complete ? whole() : 'aborted');
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}
