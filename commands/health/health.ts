/** `arb health [--url URL]`: GET /health of the running daemon (127.0.0.1:PORT by default, or another host). */
import { request } from 'undici';
import { ArbError, InputError } from '../../src/errors.js';
import type { CommandContext } from '../context.js';
import { writeJson } from '../ui/json.js';
import { renderKeyValues } from '../ui/table.js';

export class DaemonUnreachableError extends ArbError {
  override readonly code = 'ARB_DAEMON_UNREACHABLE';
}

function uptime(s: number): string {
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3_600);
  const m = Math.floor((s % 3_600) / 60);
  return d ? `${d}d ${h}h ${m}m` : h ? `${h}h ${m}m` : `${m}m ${Math.floor(s % 60)}s`;
}

/** Where the local daemon answers: HOST's address, or loopback when HOST is a wildcard. */
export function localDaemonAddress(host: string, port: number): string {
  return ['0.0.0.0', '::'].includes(host) ? `127.0.0.1:${port}` : `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * The /health URL: `--url` (a base URL like https://shop.example.com, host:port, or the /health URL
 * itself), else the local daemon at `local` (host:port).
 */
export function healthUrl(text: string | undefined, local: string): string {
  if (text === undefined) return `http://${local}/health`;
  const raw = text.trim();
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`);
  } catch {
    throw new InputError(`--url: "${text}" is not a URL; use the daemon's base URL, e.g. --url https://shop.example.com or --url 10.0.0.5:8000`, 'url');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InputError(`--url: ${url.protocol} is not supported; use an http:// or https:// URL`, 'url');
  if (!url.pathname.replace(/\/+$/, '').endsWith('/health')) url.pathname = `${url.pathname.replace(/\/+$/, '')}/health`;
  url.search = '';
  url.hash = '';
  return url.toString();
}

interface Unreachable {
  reachable: false;
  url: string;
  http_status?: number;
  error: string;
  hint: string;
}

export async function runHealth(ctx: CommandContext, opts: { url?: string; json?: boolean }): Promise<number> {
  const local = localDaemonAddress(ctx.config.host, ctx.config.port);
  const url = healthUrl(opts.url, local);
  const where = opts.url === undefined ? local : new URL(url).host;
  const down = (failure: Omit<Unreachable, 'reachable' | 'url'>): number => {
    if (opts.json) {
      writeJson(ctx.stdout, { reachable: false, url, ...failure } satisfies Unreachable);
      return 1;
    }
    throw new DaemonUnreachableError(`${failure.error}; ${failure.hint}`);
  };
  let status: number;
  let body: Record<string, unknown>;
  try {
    const res = await request(url, { method: 'GET', headersTimeout: 5_000, bodyTimeout: 5_000, headers: { accept: 'application/json' } });
    status = res.statusCode;
    const text = await res.body.text();
    try {
      body = JSON.parse(text) as Record<string, unknown>;
      if (body === null || typeof body !== 'object') throw new Error('not an object');
    } catch {
      return down({
        http_status: status,
        error: `${url} answered HTTP ${status} but not with arb's health document`,
        hint: opts.url === undefined ? `is another program listening on PORT=${ctx.config.port}?` : 'check the URL points at the arb daemon (its /health)',
      });
    }
  } catch (e) {
    const code = (e as { code?: string }).code ?? (e as Error).message;
    const why = code === 'ECONNREFUSED' ? 'nothing is listening there' : code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT' ? 'no answer within 5 s' : code;
    return down({
      error: `the daemon is not ${opts.url === undefined ? 'running on' : 'reachable at'} ${where} (${why})`,
      hint: opts.url === undefined ? 'start it with npm start (or systemctl start arb), or set PORT to where it listens' : 'check the host, the port and any firewall or proxy in between',
    });
  }
  const healthy = status === 200 && body.status === 'ok';
  if (opts.json) {
    writeJson(ctx.stdout, { reachable: true, url, http_status: status, ...body });
  } else {
    const checks = (body.checks ?? {}) as Record<string, string>;
    const errors = (body.errors ?? {}) as Record<string, string>;
    ctx.stdout.write(
      `${renderKeyValues([
        ['daemon', url.replace(/\/health$/, '')],
        ['status', `${String(body.status)} (HTTP ${status})`],
        ['version', String(body.version ?? '?')],
        ['uptime', typeof body.uptime_s === 'number' ? uptime(body.uptime_s) : '?'],
        ...Object.entries(checks).map(([k, v]) => [k, `${v}${errors[k] ? ` — ${errors[k]}` : ''}`] as [string, string]),
      ])}\n`,
    );
  }
  return healthy ? 0 : 1;
}
