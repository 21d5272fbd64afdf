/** `arb health`: GET http://127.0.0.1:PORT/health of the running daemon. */
import { request } from 'undici';
import { ArbError } from '../../src/errors.js';
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

export async function runHealth(ctx: CommandContext, opts: { json?: boolean }): Promise<number> {
  // HOST: a wildcard bind answers on loopback; a specific address only there
  const where = ['0.0.0.0', '::'].includes(ctx.config.host) ? `127.0.0.1:${ctx.config.port}` : `${ctx.config.host.includes(':') ? `[${ctx.config.host}]` : ctx.config.host}:${ctx.config.port}`;
  const url = `http://${where}/health`;
  let status: number;
  let body: Record<string, unknown>;
  try {
    const res = await request(url, { method: 'GET', headersTimeout: 5_000, bodyTimeout: 5_000, headers: { accept: 'application/json' } });
    status = res.statusCode;
    const text = await res.body.text();
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new DaemonUnreachableError(`${url} answered HTTP ${status} but not with JSON; is another program listening on PORT=${ctx.config.port}?`);
    }
  } catch (e) {
    if (e instanceof ArbError) throw e;
    const code = (e as { code?: string }).code ?? (e as Error).message;
    const why = code === 'ECONNREFUSED' ? 'nothing is listening there' : code;
    throw new DaemonUnreachableError(`the daemon is not running on ${where} (${why}); start it with npm start (or systemctl start arb), or set PORT to where it listens`);
  }
  const healthy = status === 200 && body.status === 'ok';
  if (opts.json) {
    writeJson(ctx.stdout, { reachable: true, http_status: status, ...body });
  } else {
    const checks = (body.checks ?? {}) as Record<string, string>;
    const errors = (body.errors ?? {}) as Record<string, string>;
    ctx.stdout.write(
      `${renderKeyValues([
        ['status', `${String(body.status)} (HTTP ${status})`],
        ['version', String(body.version ?? '?')],
        ['uptime', typeof body.uptime_s === 'number' ? uptime(body.uptime_s) : '?'],
        ...Object.entries(checks).map(([k, v]) => [k, `${v}${errors[k] ? ` — ${errors[k]}` : ''}`] as [string, string]),
      ])}\n`,
    );
  }
  return healthy ? 0 : 1;
}
