/**
 * Between the daemon and the OpenRouter simulator: a small HTTP relay on 127.0.0.1:0 that records what the
 * daemon sent upstream (path, headers, parsed body) and may rewrite what comes back — an upstream that
 * answers as OpenRouter documents for a fallback model, with a dearer cost.
 */
import { createServer, type IncomingMessage } from 'node:http';
import { request } from 'undici';

type After = { after: (fn: () => Promise<void> | void) => void };

export interface Forwarded {
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
}

export interface Relay {
  readonly baseUrl: string;
  readonly forwarded: Forwarded[];
}

/** Starts the relay in front of `target` (…/api/v1); `rewrite` gets each response's text (whole, after the upstream ended). */
export async function startRelay(t: After, target: string, opts: { rewrite?: (text: string, path: string) => string } = {}): Promise<Relay> {
  const forwarded: Forwarded[] = [];
  const prefix = new URL(target).pathname;
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      void (async () => {
        const raw = Buffer.concat(parts).toString('utf8');
        const path = (req.url ?? '/').slice(prefix.length) || '/';
        let body: Record<string, unknown> = {};
        try {
          body = JSON.parse(raw) as Record<string, unknown>;
        } catch {
          /* not JSON */
        }
        forwarded.push({ path, headers: req.headers, body });
        const headers = { ...req.headers };
        delete headers.host;
        delete headers['content-length'];
        const up = await request(`${target}${path}`, { method: (req.method ?? 'POST') as 'POST', headers, body: raw });
        if (!opts.rewrite) {
          res.writeHead(up.statusCode, { 'content-type': String(up.headers['content-type'] ?? 'application/json') });
          for await (const c of up.body) res.write(c);
          res.end();
          return;
        }
        const text = opts.rewrite(await up.body.text(), path);
        res.writeHead(up.statusCode, { 'content-type': String(up.headers['content-type'] ?? 'application/json'), 'content-length': Buffer.byteLength(text) });
        res.end(text);
      })().catch(() => res.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  const port = (server.address() as { port: number }).port;
  return { baseUrl: `http://127.0.0.1:${port}${prefix}`, forwarded };
}
