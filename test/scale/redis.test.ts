/**
 * REDIS_HOST set: rate limits are shared by the replicas through Redis; when Redis goes away they are
 * never lifted — each replica falls back to its own counters at RATE_LIMIT_RPM ÷ live replicas, /health
 * says `"redis":"error"` and `"rate_limits":"fallback"` — and when Redis is back the shared counters
 * take over again. The bot's per-user rate limit is shared the same way. Uses a private redis-server that
 * the test kills and restarts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { Redis } from 'ioredis';
import { createSilentLogger } from '../../src/logger.js';
import { startDaemon, type Daemon } from '../../daemon/main.js';
import { HELLO, startStack } from '../daemon/harness.js';
import { startBotHarness } from '../daemon/bot/harness.js';
import { REDIS_SERVER_SKIP, startTestRedis } from '../support/redis.js';

interface Health {
  status: string;
  checks: Record<string, string>;
  errors?: Record<string, string>;
  rate_limits?: string;
  leader?: boolean;
}

const health = async (d: Daemon) => (await (await fetch(`${d.url}/health`)).json()) as Health;

async function until<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(v)} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** `n` sequential requests with `key` through `daemon`; the HTTP statuses. */
async function fire(daemon: Daemon, key: string, n: number): Promise<number[]> {
  const client = new OpenAI({ apiKey: key, baseURL: `${daemon.url}/v1`, maxRetries: 0 });
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    out.push(
      await client.chat.completions.create({ model: 'gpt-4', messages: HELLO, max_tokens: 1 }).then(
        () => 200,
        (e: unknown) => (e as { status?: number }).status ?? -1,
      ),
    );
  }
  return out;
}

const count = (statuses: number[], s: number) => statuses.filter((x) => x === s).length;

test('Redis goes away: limits fall back to RATE_LIMIT_RPM ÷ replicas per replica (never unlimited), /health says so; Redis back: shared again', { skip: REDIS_SERVER_SKIP }, async (t) => {
  const redis = await startTestRedis(t);
  const stack = await startStack(t, { env: { ...redis.env, RATE_LIMIT_RPM: '6' } });
  const replica = await startDaemon({ config: stack.config, handle: stack.handle, logger: createSilentLogger(), host: '127.0.0.1', port: 0, bot: false, alerts: false, defaultMetrics: false });
  t.after(() => replica.stop());
  const daemons = [stack.daemon, replica];

  for (const d of daemons) {
    const h = await health(d);
    assert.equal(h.checks.redis, 'ok');
    assert.equal(h.rate_limits, 'redis');
  }
  // shared: 6 per minute for the key, whichever replica serves it
  const { key: shared } = await stack.buyKey();
  const a = await fire(stack.daemon, shared, 4);
  const b = await fire(replica, shared, 4);
  assert.deepEqual([...a, ...b], [200, 200, 200, 200, 200, 200, 429, 429]);

  // Redis vanishes
  await redis.kill();
  for (const d of daemons) {
    const h = await until(
      'health after Redis died',
      () => health(d),
      (x) => x.checks.redis === 'error',
    );
    assert.equal(h.status, 'ok', 'Redis is not the database: the daemon keeps serving');
    assert.match(h.errors?.redis ?? '', /rate limits: per-replica fallback, RATE_LIMIT_RPM divided by the live replicas/);
  }
  const { key: fallback } = await stack.buyKey();
  const fa = await fire(stack.daemon, fallback, 5);
  const fb = await fire(replica, fallback, 5);
  // two live replicas: each allows 6 ÷ 2 = 3 for the key
  assert.deepEqual(fa, [200, 200, 200, 429, 429]);
  assert.deepEqual(fb, [200, 200, 200, 429, 429]);
  assert.ok(count([...fa, ...fb], 200) <= 6, 'the cluster as a whole stays within RATE_LIMIT_RPM');
  for (const d of daemons) assert.equal((await health(d)).rate_limits, 'fallback');
  assert.ok(
    stack.logs.lines().some((l) => l.level === 'ERROR' && /redis is unreachable: rate limits fall back to per-replica counters/.test(String(l.message))),
    'the switch is logged',
  );
  // a key already limited through Redis gets a fresh per-replica budget (at most one extra window), still bounded
  assert.equal(count(await fire(stack.daemon, shared, 4), 200), 3);

  // Redis comes back (empty): the shared counters take over again
  await redis.restart();
  for (const d of daemons)
    await until(
      'health after Redis came back',
      () => health(d),
      (x) => x.checks.redis === 'ok',
    );
  const { key: again } = await stack.buyKey();
  const ra = await fire(stack.daemon, again, 4);
  const rb = await fire(replica, again, 4);
  assert.deepEqual([...ra, ...rb], [200, 200, 200, 200, 200, 200, 429, 429]);
  for (const d of daemons) assert.equal((await health(d)).rate_limits, 'redis');
  assert.ok(stack.logs.lines().some((l) => /redis answers again: rate limits are shared through Redis/.test(String(l.message))));
});

test('Redis unreachable from the start: the daemon serves with per-replica limits and /health shows redis error', { skip: REDIS_SERVER_SKIP }, async (t) => {
  const redis = await startTestRedis(t);
  await redis.kill(); // a port where nothing listens any more
  const stack = await startStack(t, { env: { ...redis.env, RATE_LIMIT_RPM: '2' } });
  const h = await health(stack.daemon);
  assert.equal(h.status, 'ok');
  assert.equal(h.checks.redis, 'error');
  const { key } = await stack.buyKey();
  // one live replica: the whole budget, and not one request more
  assert.deepEqual(await fire(stack.daemon, key, 3), [200, 200, 429]);
  assert.equal((await health(stack.daemon)).rate_limits, 'fallback');
});

test("the bot's per-user rate limit is shared by two replicas through Redis, and still holds when Redis is gone", { skip: REDIS_SERVER_SKIP }, async (t) => {
  const server = await startTestRedis(t);
  const redis = new Redis({ host: '127.0.0.1', port: server.port, maxRetriesPerRequest: 1, enableOfflineQueue: false, commandTimeout: 1_000, lazyConnect: true });
  redis.on('error', () => {});
  await redis.connect();
  t.after(() => redis.disconnect());
  const deps = { rateLimit: { limit: 3, windowMs: 60_000 }, redis };
  const a = await startBotHarness(t, { deps });
  const b = await startBotHarness(t, { deps });
  const answers = (id: number) => a.fake.botMessages(id).length + b.fake.botMessages(id).length;
  const notices = () => [...a.logs(), ...b.logs()].filter((l) => l.security_event === true && l.event === 'bot_rate_limited').length;

  // six /start from one user, alternating between the replicas: 3 answers and one "slow down" in total
  for (let i = 0; i < 6; i++) {
    const h = i % 2 === 0 ? a : b;
    await h.fake.send(h.fake.user(3100), '/start');
  }
  assert.equal(answers(3100), 4);
  assert.equal(notices(), 1);

  // Redis gone: each replica counts on its own — still limited
  await server.kill();
  await until(
    'the client notices Redis is gone',
    async () => redis.status,
    (s) => s !== 'ready',
  );
  for (let i = 0; i < 5; i++) await a.fake.send(a.fake.user(3101), '/start');
  assert.equal(a.fake.botMessages(3101).length, 4);
  assert.equal(a.fake.lastBotMessage(3101).text, '⏳ Too many requests — please slow down a little.');
});
