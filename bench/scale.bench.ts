/**
 * `npm run bench scale`: proxy throughput with one and with two daemon replicas on one PostgreSQL
 * database (and Redis for the shared rate limit when available), against the OpenRouter simulator.
 * Each replica and the simulator run in their own process; the load generator (undici Pools) runs here,
 * bounded by time, with the same total number of connections in both cases (split evenly over the
 * replicas, as a round-robin load balancer would). Printed: requests/s and p50/p99 for 1 and 2 replicas,
 * and the ratio 2 ÷ 1 — with many keys (one per connection) and with one hot key (every request
 * reserves and settles on the same allocation row).
 *
 * Needs PostgreSQL: BENCH_DATABASE_URL or TEST_DATABASE_URL (a fresh database is created and dropped).
 * Redis: BENCH_REDIS_URL or TEST_REDIS_URL (optional). Knobs: BENCH_SECONDS (default 3),
 * BENCH_CONNECTIONS (default 32), BENCH_ROUNDS (default 3; interleaved, each figure is the median).
 * On a machine with few cores the replicas, the simulator and the load generator share them, so the
 * ratio says how the database and the shared state scale, not what more hardware would give.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Pool } from 'undici';
import { announce, middle, percentile, roleSimulator, runLoad, seedFreeKeys, startRole } from './support/harness.js';

const SELF = fileURLToPath(import.meta.url);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const COMPLETION_TOKENS = 16;
const BODY = JSON.stringify({ model: 'gpt-4', messages: [{ role: 'user', content: 'Say hello in five words.' }], max_tokens: COMPLETION_TOKENS });
const BASE_URL = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
const REDIS_URL = process.env.BENCH_REDIS_URL ?? process.env.TEST_REDIS_URL;

// ---------------------------------------------------------------- roles (child processes)

async function roleReplica(upstream: string, databaseUrl: string): Promise<void> {
  const { createConfig } = await import('../src/config.js');
  const { startDaemon } = await import('../daemon/main.js');
  const dir = mkdtempSync(join(tmpdir(), 'arb-scale-bench-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  const redis = REDIS_URL ? new URL(REDIS_URL) : undefined;
  const config = createConfig({
    OPENROUTER_BASE_URL: upstream,
    DATABASE_URL: databaseUrl,
    LOG_DIR: join(dir, 'logs'),
    RATE_LIMIT_RPM: '1000000',
    ...(redis ? { REDIS_HOST: redis.hostname, REDIS_PORT: redis.port || '6379' } : {}),
  });
  const daemon = await startDaemon({ config, host: '127.0.0.1', port: 0, bot: false, alerts: false });
  process.once('SIGTERM', () => {
    void daemon.stop().finally(() => process.exit(0));
  });
  announce({ url: daemon.url });
}

// ---------------------------------------------------------------- load generator

interface Result {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

function median(results: Result[]): Result {
  const mid = (f: (r: Result) => number) => middle(results, f);
  return { rps: mid((r) => r.rps), p50: mid((r) => r.p50), p99: mid((r) => r.p99), errors: results.reduce((n, r) => n + r.errors, 0) };
}

/** CONNECTIONS workers for SECONDS, worker i on replica i % n with key i % keys.length. */
async function load(replicas: string[], keys: string[], seconds: number): Promise<Result> {
  const pools = replicas.map((url) => new Pool(url, { connections: Math.ceil(CONNECTIONS / replicas.length), pipelining: 1, keepAliveTimeout: 30_000 }));
  const { latencies, errors, elapsed } = await runLoad(CONNECTIONS, seconds, async (i) => {
    const res = await pools[i % pools.length].request({
      path: '/v1/chat/completions',
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${keys[i % keys.length]}` },
      body: BODY,
    });
    await res.body.text();
    return res.statusCode;
  });
  await Promise.all(pools.map((p) => p.close()));
  return { rps: latencies.length / elapsed, p50: percentile(latencies, 50), p99: percentile(latencies, 99), errors };
}

// ---------------------------------------------------------------- main

async function seed(databaseUrl: string, keyCount: number): Promise<string[]> {
  const { createConfig } = await import('../src/config.js');
  const { openAndMigrate } = await import('../src/db/dialect.js');
  const handle = await openAndMigrate({ databaseUrl, poolSize: 2 });
  try {
    const [keys] = await seedFreeKeys(handle, createConfig({}), [{ model: 'gpt-4', description: 'scale bench', buyers: keyCount }]);
    return keys.map((k) => k.apiKey);
  } finally {
    await handle.close();
  }
}

async function main(): Promise<void> {
  if (!BASE_URL) {
    console.log('scale bench skipped: set BENCH_DATABASE_URL or TEST_DATABASE_URL (PostgreSQL) to run it');
    return;
  }
  const name = `arb_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: BASE_URL });
  await admin.connect();
  await admin.query(`create database ${name}`);
  const dbUrl = new URL(BASE_URL);
  dbUrl.pathname = `/${name}`;
  const children: ChildProcess[] = [];
  try {
    const keys = await seed(dbUrl.toString(), CONNECTIONS);
    const sim = await startRole(SELF, 'sim');
    children.push(sim.child);
    const a = await startRole(SELF, 'replica', [sim.info.url, dbUrl.toString()]);
    children.push(a.child);
    const b = await startRole(SELF, 'replica', [sim.info.url, dbUrl.toString()]);
    children.push(b.child);
    console.log(
      `scale bench: PostgreSQL${REDIS_URL ? ' + Redis' : ''}, ${CONNECTIONS} connections in total, ${SECONDS} s per measurement, median of ${ROUNDS} interleaved rounds, ` +
        `non-streaming, ${COMPLETION_TOKENS} completion tokens, ${cpus().length} CPU cores shared by everything`,
    );
    const cases = [
      { label: `many keys (${keys.length})`, keys },
      { label: 'one hot key', keys: keys.slice(0, 1) },
    ];
    for (const c of cases) {
      const one: Result[] = [];
      const two: Result[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        one.push(await load([a.info.url], c.keys, SECONDS));
        two.push(await load([a.info.url, b.info.url], c.keys, SECONDS));
      }
      const r1 = median(one);
      const r2 = median(two);
      const ms = (v: number) => `${v.toFixed(1)} ms`.padStart(9);
      console.log(`\n${c.label}`);
      console.log(`${'replicas'.padEnd(10)} ${'req/s'.padStart(8)} ${'p50'.padStart(9)} ${'p99'.padStart(9)} ${'errors'.padStart(7)}`);
      console.log(`${'1'.padEnd(10)} ${r1.rps.toFixed(0).padStart(8)} ${ms(r1.p50)} ${ms(r1.p99)} ${String(r1.errors).padStart(7)}`);
      console.log(`${'2'.padEnd(10)} ${r2.rps.toFixed(0).padStart(8)} ${ms(r2.p50)} ${ms(r2.p99)} ${String(r2.errors).padStart(7)}`);
      console.log(`  throughput 2 replicas ÷ 1 replica = ${(r2.rps / r1.rps).toFixed(2)}×`);
    }
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r(null) : c.once('exit', r)))));
    await admin.query(`drop database if exists ${name} with (force)`);
    await admin.end();
  }
}

const role = process.argv.find((x) => x.startsWith('--role='))?.slice(7);
const roleArg = (k: number) => process.argv[process.argv.indexOf(`--role=${role}`) + k];
if (role === 'sim') await roleSimulator(COMPLETION_TOKENS);
else if (role === 'replica') await roleReplica(roleArg(1), roleArg(2));
else await main();
