/**
 * What the benches share: server roles in child processes that announce their URL, the OpenRouter
 * simulator role, the bare pass-through proxy arb is compared with, a database seeded with free keys, a
 * time-bounded load of N workers each sending one request after another, and timing of commands by
 * wall-clock and CPU time.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Config } from '../../src/config.js';
import type { DbHandle } from '../../src/db/dialect.js';

/**
 * Prints `READY {info}` for the parent; a parent connected over IPC may ask for this process's CPU time
 * (user + system µs) by sending 'cpu'.
 */
export function announce(info: Record<string, unknown>): void {
  process.on('message', (m) => {
    if (m === 'cpu') process.send?.(process.cpuUsage());
  });
  process.stdout.write(`READY ${JSON.stringify(info)}\n`);
}

/** The simulator without delays, as a role. */
export async function roleSimulator(completionTokens: number): Promise<void> {
  const { startSimulator } = await import('../../src/catalog/simulator.js');
  const sim = await startSimulator({ chunkDelayMs: 0, completionTokens });
  announce({ url: sim.baseUrl });
}

export interface BareProxyOptions {
  /** the upstream Agent's connection cap (null: none) */
  connections: number | null;
  /** the listen backlog (default Node's 511) */
  backlog?: number;
  /** the server's maxHeadersCount (0: no limit; default Node's 2000) */
  maxHeadersCount?: number;
}

/**
 * The baseline arb is compared with: a pass-through proxy in a few lines (node:http + undici, no
 * metering) on 127.0.0.1. Each request's body is POSTed to `target` + its path; status, content type and
 * body are relayed back. Resolves with the proxy's URL.
 */
export async function startBareProxy(target: string, options: BareProxyOptions): Promise<string> {
  const { Agent, request } = await import('undici');
  const agent = new Agent({ connections: options.connections, keepAliveTimeout: 30_000 });
  // an async listener's rejection would be unhandled: a failed relay ends its response instead
  const server = createServer((req, res) => {
    relay(req, res).catch(() => res.destroy());
  });
  async function relay(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const parts: Buffer[] = [];
    for await (const c of req) parts.push(c as Buffer);
    const up = await request(`${target}${req.url}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: Buffer.concat(parts), dispatcher: agent });
    res.writeHead(up.statusCode, { 'content-type': String(up.headers['content-type'] ?? 'application/json') });
    for await (const c of up.body) res.write(c);
    res.end();
  }
  server.keepAliveTimeout = 65_000;
  if (options.maxHeadersCount !== undefined) server.maxHeadersCount = options.maxHeadersCount;
  await new Promise<void>((r) => server.listen({ port: 0, host: '127.0.0.1', backlog: options.backlog }, () => r()));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

export interface FreePackage {
  model: string;
  description: string;
  /** Telegram users 1…buyers each get one key (default 1) */
  buyers?: number;
}

export interface FreeKey {
  apiKey: string;
  allocationId: number;
}

/**
 * Syncs the model catalog from the fixture snapshot, then creates each package (5 billion tokens of its
 * model) and gives it free to its buyers: the keys, per package in the order given.
 */
export async function seedFreeKeys(handle: DbHandle, config: Config, packages: FreePackage[]): Promise<FreeKey[][]> {
  const { syncModels } = await import('../../src/catalog/sync.js');
  const { loadFixtureModels } = await import('../../src/catalog/fixture.js');
  const { createPackage } = await import('../../src/packages/packages.js');
  const { purchasePackage } = await import('../../src/ledger/ledger.js');
  await syncModels(handle, loadFixtureModels());
  const out: FreeKey[][] = [];
  for (const p of packages) {
    const { package: pkg } = await createPackage({ handle, config }, { model: p.model, tokens: 5_000_000_000, description: p.description });
    const keys: FreeKey[] = [];
    for (let i = 0; i < (p.buyers ?? 1); i++) {
      const { apiKey, allocation } = await purchasePackage({ handle, config }, { telegramId: 1 + i, packageId: pkg.id, free: true });
      keys.push({ apiKey: apiKey!, allocationId: allocation.id });
    }
    out.push(keys);
  }
  return out;
}

/** Runs `script --role=ROLE ...args` (with `nodeArgs`) and resolves with what it announced. */
export function startRole(script: string, role: string, args: string[] = [], nodeArgs: string[] = []): Promise<{ child: ChildProcess; info: Record<string, string> }> {
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', script, `--role=${role}`, ...args], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      if (process.env.BENCH_ROLE_OUT) appendFileSync(`${process.env.BENCH_ROLE_OUT}.${role}`, d);
      out += d;
      const m = /READY (\{.*\})\n/.exec(out);
      if (m) resolve({ child, info: JSON.parse(m[1]) as Record<string, string> });
    });
    child.on('exit', (code) => reject(new Error(`${role} exited with ${code}`)));
  });
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** The middle value of `f` over several runs. */
export function middle<T>(runs: T[], f: (r: T) => number): number {
  return runs.map(f).sort((a, b) => a - b)[Math.floor(runs.length / 2)];
}

export interface LoadRun {
  /** latencies of the measured requests, sorted (ms) */
  latencies: number[];
  /** requests that failed or did not answer 200 during the measurement */
  errors: number;
  /** seconds measured */
  elapsed: number;
}

/**
 * `workers` loops, each sending `send(worker)` (which resolves with the status code) one after another:
 * 0.5 s of warm-up (connections opened, paths compiled), then `beforeMeasure`, then `seconds` measured.
 */
export async function runLoad(workers: number, seconds: number, send: (worker: number) => Promise<number>, beforeMeasure?: () => Promise<void>): Promise<LoadRun> {
  const latencies: number[] = [];
  let errors = 0;
  const one = async (worker: number, record: boolean) => {
    const t0 = performance.now();
    try {
      if ((await send(worker)) !== 200) errors++;
    } catch {
      errors++;
    }
    if (record) latencies.push(performance.now() - t0);
  };
  const loop = (until: number, record: boolean) =>
    Promise.all(
      Array.from({ length: workers }, async (_, i) => {
        while (performance.now() < until) await one(i, record);
      }),
    );
  await loop(performance.now() + 500, false);
  errors = 0;
  await beforeMeasure?.();
  const start = performance.now();
  await loop(start + seconds * 1000, true);
  const elapsed = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  return { latencies, errors, elapsed };
}

/**
 * An open-loop load: requests start on a fixed schedule (`rate` per second for `seconds`, after a half-second
 * warm-up), whatever the answers do, and each latency counts from the request's scheduled start — a stall
 * of the server delays every request scheduled during it, as it would real customers (a closed loop would
 * send fewer requests while the server stalls and hide it). The caller's `send` bounds the concurrency
 * (an undici Pool queues beyond its connections; the wait counts in the latency).
 */
export async function runPaced(rate: number, seconds: number, send: () => Promise<number>, beforeMeasure?: () => Promise<void>): Promise<LoadRun> {
  const interval = 1000 / rate;
  const run = async (ms: number, record: boolean, latencies: number[], counts: { errors: number }) => {
    const total = Math.max(1, Math.floor(ms / interval));
    const start = performance.now();
    const pending: Promise<void>[] = [];
    for (let i = 0; i < total;) {
      const due = Math.min(total, Math.floor((performance.now() - start) / interval) + 1);
      for (; i < due; i++) {
        const at = start + i * interval;
        pending.push(
          send().then(
            (status) => {
              if (status !== 200) counts.errors++;
              if (record) latencies.push(performance.now() - at);
            },
            () => {
              counts.errors++;
              if (record) latencies.push(performance.now() - at);
            },
          ),
        );
      }
      if (i < total) await new Promise((resolve) => setTimeout(resolve, Math.max(0, start + i * interval - performance.now())));
    }
    await Promise.all(pending);
    return (performance.now() - start) / 1000;
  };
  await run(500, false, [], { errors: 0 });
  await beforeMeasure?.();
  const latencies: number[] = [];
  const counts = { errors: 0 };
  const elapsed = await run(seconds * 1000, true, latencies, counts);
  latencies.sort((a, b) => a - b);
  return { latencies, errors: counts.errors, elapsed };
}

export interface Timed {
  /** wall-clock time */
  ms: number;
  /** user + system CPU time of the command and its children; null where /usr/bin/time is missing */
  cpuMs: number | null;
  stdout: string;
}

/**
 * Runs a command to completion and measures its wall-clock and CPU time (through /usr/bin/time, which
 * counts the children a shell pipeline waits for). On a shared machine the CPU time is the steadier
 * figure: wall-clock time grows with everyone else's load. A non-zero exit throws, except exit 1 of a
 * pipeline that printed something (grep finding nothing).
 */
export function timed(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Timed {
  const haveTime = existsSync('/usr/bin/time');
  const out = join(tmpdir(), `arb-bench-time-${process.pid}.txt`);
  const argv = haveTime ? ['/usr/bin/time', '-f', '%U %S', '-o', out, cmd, ...args] : [cmd, ...args];
  const t0 = process.hrtime.bigint();
  const r = spawnSync(argv[0], argv.slice(1), { cwd: opts.cwd, encoding: 'utf8', env: opts.env ?? process.env, maxBuffer: 256 * 1024 * 1024 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0 && !(r.status === 1 && r.stdout.trim() !== '')) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  let cpuMs: number | null = null;
  if (haveTime) {
    const m = /([\d.]+) ([\d.]+)\s*$/.exec(readFileSync(out, 'utf8'));
    if (m) cpuMs = (Number(m[1]) + Number(m[2])) * 1000;
  }
  return { ms, cpuMs, stdout: r.stdout };
}

/** The run with the least CPU time (else the fastest) of `n` runs. */
export function bestOf(n: number, run: () => Timed): Timed {
  let best: Timed | undefined;
  for (let i = 0; i < n; i++) {
    const r = run();
    if (!best || (r.cpuMs ?? r.ms) < (best.cpuMs ?? best.ms)) best = r;
  }
  return best!;
}

/** The machine's load, to print beside every figure. */
export function machineLoad(): string {
  return `load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')} on ${cpus().length} cores`;
}
