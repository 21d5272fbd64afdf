/**
 * Spawns the real `arb` CLI (bin/arb.js → CLI_FROM_SOURCE below) in a temp working directory, so no
 * developer .env is picked up. Returns exit code and output.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ARB_BIN = fileURLToPath(new URL('../../bin/arb.js', import.meta.url));

/**
 * `ARB_FROM_SOURCE` for the `arb` processes tests spawn: the TypeScript sources through tsx ('1'), or the
 * compiled CLI in dist/ that operators run ('0') when the test runner has just built it
 * (scripts/run-tests.mjs sets ARB_TEST_CLI=dist; a test file run by hand spawns the sources).
 */
export const CLI_FROM_SOURCE = process.env.ARB_TEST_CLI === 'dist' ? '0' : '1';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runArb(args: string[], opts: { cwd: string; env?: Record<string, string | undefined>; input?: string; timeoutMs?: number }): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string | undefined> = { PATH: process.env.PATH, HOME: process.env.HOME, ARB_FROM_SOURCE: CLI_FROM_SOURCE, ...opts.env };
    const child = spawn(process.execPath, [ARB_BIN, ...args], { cwd: opts.cwd, env: env as NodeJS.ProcessEnv, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

export interface SpawnedDaemon {
  child: ChildProcess;
  url: string;
  output: () => string;
  exited: Promise<number | null>;
}

/**
 * Spawns `arb daemon` on 127.0.0.1 and waits for its "listening on" line. With `t`, the process is killed
 * (SIGKILL) after the test if it still runs.
 */
export async function spawnDaemon(
  cwd: string,
  env: Record<string, string>,
  opts: { port?: number; timeoutMs?: number; label?: string; t?: { after: (fn: () => Promise<void> | void) => void } } = {},
): Promise<SpawnedDaemon> {
  const label = opts.label ?? 'daemon';
  const child = spawn(process.execPath, [ARB_BIN, 'daemon', '--host', '127.0.0.1', '--port', String(opts.port ?? 0)], {
    cwd,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ARB_FROM_SOURCE: CLI_FROM_SOURCE, ...env } as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  opts.t?.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${label} did not start:\n${out}`)), opts.timeoutMs ?? 30_000);
    const check = () => {
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${label} exited with ${code}:\n${out}`));
    });
  });
  return { child, url, output: () => out, exited };
}
