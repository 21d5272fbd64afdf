/**
 * A private redis-server for tests that need to stop and restart Redis: on a free 127.0.0.1 port, no
 * persistence, killed in t.after. Skips (with the reason) when redis-server is not installed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

export const HAVE_REDIS_SERVER = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).status === 0;
export const REDIS_SERVER_SKIP = HAVE_REDIS_SERVER ? false : 'redis-server is not installed (apt-get install redis-server)';

/** A free TCP port on 127.0.0.1 (closed again before returning). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export interface TestRedis {
  readonly port: number;
  /** REDIS_HOST / REDIS_PORT for a daemon config */
  readonly env: { REDIS_HOST: string; REDIS_PORT: string };
  /** kill -9: Redis vanishes without a goodbye */
  kill(): Promise<void>;
  /** starts it again on the same port (empty: nothing was persisted) */
  restart(): Promise<void>;
  readonly running: boolean;
}

async function ping(port: number): Promise<boolean> {
  const r = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'ping'], { encoding: 'utf8', timeout: 2_000 });
  return r.status === 0 && r.stdout.trim() === 'PONG';
}

export async function startTestRedis(t: { after: (fn: () => Promise<void> | void) => void }): Promise<TestRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes'], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      if (await ping(port)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`redis-server did not answer on 127.0.0.1:${port}`);
  };
  const kill = async () => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGKILL');
    await exited;
  };
  await start();
  t.after(kill);
  return {
    port,
    env: { REDIS_HOST: '127.0.0.1', REDIS_PORT: String(port) },
    kill,
    restart: start,
    get running() {
      return child !== undefined && child.exitCode === null && child.signalCode === null;
    },
  };
}
