/**
 * /health (200 ok, 503 when the database fails), /metrics (Prometheus text, a registry per daemon), and
 * rate limits shared through Redis by two replicas.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { VERSION } from '../../src/version.js';
import { createSilentLogger } from '../../src/logger.js';
import { startDaemon } from '../../daemon/main.js';
import { HELLO, startStack } from './harness.js';

const REDIS_URL = process.env.TEST_REDIS_URL;

test('GET /health: 200 with every check; 503 "error" when the database fails', async (t) => {
  const stack = await startStack(t);
  const ok = await fetch(`${stack.daemon.url}/health`);
  assert.equal(ok.status, 200);
  const body = (await ok.json()) as Record<string, unknown>;
  assert.equal(body.status, 'ok');
  assert.deepEqual(body.checks, { database: 'ok', redis: 'disabled', openrouter: 'ok', telegram: 'disabled' });
  assert.equal(body.version, VERSION);
  assert.equal(typeof body.uptime_s, 'number');

  stack.sim.setFault({ kind: 'status', status: 500, endpoint: 'key' });
  // the OpenRouter probe is cached; a fresh daemon sees the failure, and it does not fail the probe
  const other = await startDaemon({ config: stack.config, handle: stack.handle, logger: createSilentLogger(), host: '127.0.0.1', port: 0, bot: false, alerts: false, defaultMetrics: false });
  t.after(() => other.stop());
  const degraded = (await (await fetch(`${other.url}/health`)).json()) as { status: string; checks: Record<string, string> };
  assert.equal(degraded.status, 'ok');
  assert.equal(degraded.checks.openrouter, 'error');
  await other.stop();

  await stack.handle.close(); // the database goes away under the running daemon (SQLite or PostgreSQL)
  const down = await fetch(`${stack.daemon.url}/health`);
  assert.equal(down.status, 503);
  const downBody = (await down.json()) as { status: string; checks: Record<string, string> };
  assert.equal(downBody.status, 'error');
  assert.equal(downBody.checks.database, 'error');
});

test('GET /metrics: Prometheus text with requests, tokens, revenue, latency, in-flight; one registry per daemon', async (t) => {
  const stack = await startStack(t);
  const { key } = await stack.buyKey();
  await stack.client(key).chat.completions.create({ model: 'gpt-4', messages: HELLO, max_tokens: 10 });
  await stack.daemon.idle();
  const res = await fetch(`${stack.daemon.url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
  const text = await res.text();
  const p = stack.sim.requests[0].promptTokens;
  assert.match(text, /arb_proxy_requests_total\{model="openai\/gpt-4",status="200",outcome="ok"\} 1/);
  assert.match(text, new RegExp(`arb_proxy_tokens_total\\{model="openai/gpt-4",kind="weighted"\\} ${p + 20}`));
  assert.match(text, /arb_proxy_tokens_total\{model="openai\/gpt-4",kind="completion"\} 10/);
  assert.match(text, /arb_proxy_revenue_micros_total\{model="openai\/gpt-4"\} \d+/);
  assert.match(text, /arb_proxy_upstream_cost_micros_total\{model="openai\/gpt-4"\} \d+/);
  assert.match(text, /arb_upstream_latency_seconds_count\{model="openai\/gpt-4"\} 1/);
  assert.match(text, /arb_proxy_in_flight 0/);
  // the SQLite daemon's pauses of its metering writes for the WAL checkpoint (none yet in so short a run)
  assert.match(text, /# TYPE arb_sqlite_write_pause_seconds histogram/);
  assert.match(text, /arb_http_requests_total\{route="chat",status="200"\} 1/);

  const other = await startDaemon({ config: stack.config, handle: stack.handle, logger: createSilentLogger(), host: '127.0.0.1', port: 0, bot: false, alerts: false, defaultMetrics: false });
  t.after(() => other.stop());
  const otherText = await (await fetch(`${other.url}/metrics`)).text();
  assert.doesNotMatch(otherText, /arb_proxy_requests_total\{/);
  await other.stop();
});

test('a SQLite daemon counts the pauses of its metering writes for the WAL wrap in /metrics', async (t) => {
  // a checkpointer that wraps the WAL after 20 frames: a few requests' holds and settles
  const stack = await startStack(t, { dialect: 'sqlite', daemon: { checkpointer: { wrapFrames: 20, intervalMs: 5 } } });
  const { key } = await stack.buyKey();
  const client = stack.client(key);
  const paused = async () => {
    const text = await (await fetch(`${stack.daemon.url}/metrics`)).text();
    return { count: Number(/^arb_sqlite_write_pause_seconds_count (\S+)$/m.exec(text)?.[1]), sum: Number(/^arb_sqlite_write_pause_seconds_sum (\S+)$/m.exec(text)?.[1]) };
  };
  assert.deepEqual(await paused(), { count: 0, sum: 0 });
  let seen = { count: 0, sum: 0 };
  for (let i = 0; i < 200 && seen.count < 2; i++) {
    await client.chat.completions.create({ model: 'gpt-4', messages: HELLO, max_tokens: 5 });
    seen = await paused();
  }
  assert.ok(seen.count >= 2, `the wraps' pauses are counted (${seen.count})`);
  assert.ok(seen.sum > 0 && seen.sum < seen.count, `each pause is short (${seen.sum} s in all)`);
});

test('RATE_LIMIT_RPM is shared through Redis by two replicas', { skip: REDIS_URL ? false : 'TEST_REDIS_URL is not set (Redis tests skipped; .ci/run sets it)' }, async (t) => {
  const u = new URL(REDIS_URL!);
  const env = { REDIS_HOST: u.hostname, REDIS_PORT: u.port || '6379', RATE_LIMIT_RPM: '3' };
  const stack = await startStack(t, { env });
  const { key } = await stack.buyKey();
  const replica = await startDaemon({ config: stack.config, handle: stack.handle, logger: createSilentLogger(), host: '127.0.0.1', port: 0, bot: false, alerts: false, defaultMetrics: false });
  t.after(() => replica.stop());
  const health = (await (await fetch(`${stack.daemon.url}/health`)).json()) as { checks: Record<string, string> };
  assert.equal(health.checks.redis, 'ok');
  const clients = [stack.client(key), new OpenAI({ apiKey: key, baseURL: `${replica.url}/v1`, maxRetries: 0 })];
  const statuses: number[] = [];
  for (let i = 0; i < 4; i++) {
    const r = await clients[i % 2].chat.completions.create({ model: 'gpt-4', messages: HELLO, max_tokens: 1 }).then(
      () => 200,
      (e: unknown) => (e as { status?: number }).status ?? -1,
    );
    statuses.push(r);
  }
  assert.deepEqual(statuses, [200, 200, 200, 429]);
  await replica.stop();
});
