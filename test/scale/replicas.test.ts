/**
 * Scale-out with real processes: two or three `arb daemon` replicas (spawned, ARB_FROM_SOURCE=1) on
 * different ports share one PostgreSQL database and one Redis, with the OpenRouter simulator upstream and
 * the fake Telegram Bot API.
 * - proxy: one key driven through every replica at once never overspends (books and audit clean), and
 *   RATE_LIMIT_RPM holds across the replicas;
 * - webhook mode: the same updates POSTed to different replicas are each processed once;
 * - polling mode: exactly one replica long-polls (no 409 at Telegram); when it is killed another takes over.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import OpenAI from 'openai';
import { startSimulator, type Simulator } from '../../src/catalog/simulator.js';
import { createConfig } from '../../src/config.js';
import { openAndMigrate, type DbHandle } from '../../src/db/dialect.js';
import { auditLedger } from '../../src/ledger/audit.js';
import { creditUser, purchasePackage } from '../../src/ledger/ledger.js';
import { meteringRule, weightedTokens } from '../../src/pricing.js';
import { createPgDatabase, PG_SKIP_REASON, tempDir } from '../support/db.js';
import { startFakeTelegram, type FakeTelegram } from '../support/fake-telegram.js';
import { freePort } from '../support/redis.js';
import { seedPackage } from '../support/seed.js';
import { spawnDaemon, type SpawnedDaemon } from '../support/cli.js';

const REDIS_URL = process.env.TEST_REDIS_URL;
const SKIP = !process.env.TEST_DATABASE_URL ? PG_SKIP_REASON : !REDIS_URL ? 'TEST_REDIS_URL is not set (Redis tests skipped; .ci/run sets it)' : false;
const HELLO = [{ role: 'user' as const, content: 'Say hello in five words.' }];
const WEBHOOK_SECRET = 'replica-webhook-secret-0123456789';
const gpt4 = meteringRule(30_000_000, 60_000_000);

type After = { after: (fn: () => Promise<void> | void) => void };

interface Cluster {
  sim: Simulator;
  handle: DbHandle;
  replicas: SpawnedDaemon[];
  env: Record<string, string>;
  dir: string;
}

/** n replicas on one fresh PostgreSQL database and the shared Redis, the simulator upstream. */
async function startCluster(t: After, n: number, extra: Record<string, string> = {}, ports?: number[]): Promise<Cluster> {
  const sim = await startSimulator({ chunkDelayMs: 1 });
  t.after(() => sim.close());
  const databaseUrl = await createPgDatabase(t as never);
  // migrated once here, so the replicas start on an up-to-date schema
  const handle = await openAndMigrate({ databaseUrl, poolSize: 4 });
  t.after(() => handle.close());
  const redis = new URL(REDIS_URL!);
  const dir = tempDir(t as never);
  const env = {
    DATABASE_URL: databaseUrl,
    REDIS_HOST: redis.hostname,
    REDIS_PORT: redis.port || '6379',
    OPENROUTER_BASE_URL: sim.baseUrl,
    OPENROUTER_API_KEY: 'sk-or-v1-replicas-test-000000000000',
    LOG_DIR: join(dir, 'logs'),
    ...extra,
  };
  const chosen = ports ?? (await Promise.all(Array.from({ length: n }, () => freePort())));
  const replicas = await Promise.all(chosen.map((port) => spawnDaemon(dir, env, { port, t, timeoutMs: 60_000, label: `replica on port ${port}` })));
  return { sim, handle, replicas, env, dir };
}

async function buyKey(handle: DbHandle, packageId: number, price: number, telegramId: number): Promise<{ key: string; allocationId: number }> {
  await creditUser({ handle }, { telegramId, amountMicros: price, type: 'topup', reference: `replicas-${telegramId}` });
  const r = await purchasePackage({ handle, config: createConfig({}) }, { telegramId, packageId });
  return { key: r.apiKey!, allocationId: r.allocation.id };
}

/** `n` requests at once, spread round-robin over the replicas; HTTP statuses (-1: error inside a 200 stream). */
async function storm(replicas: SpawnedDaemon[], key: string, n: number, maxTokens: number): Promise<number[]> {
  const clients = replicas.map((r) => new OpenAI({ apiKey: key, baseURL: `${r.url}/v1`, maxRetries: 0, timeout: 60_000 }));
  return Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const client = clients[i % clients.length];
      try {
        if (i % 2 === 0) {
          await client.chat.completions.create({ model: 'gpt-4', messages: HELLO, max_tokens: maxTokens });
        } else {
          const s = await client.chat.completions.create({ model: 'gpt-4', messages: HELLO, max_tokens: maxTokens, stream: true });
          for await (const _chunk of s) {
            /* drain */
          }
        }
        return 200;
      } catch (e) {
        return e instanceof OpenAI.APIError ? (e.status ?? -1) : -2;
      }
    }),
  );
}

async function health(r: SpawnedDaemon): Promise<{ status: string; checks: Record<string, string>; leader?: boolean; rate_limits?: string; instance_id: string }> {
  return (await (await fetch(`${r.url}/health`)).json()) as never;
}

async function until<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(v)} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function stopAll(replicas: SpawnedDaemon[]) {
  const live = replicas.filter((r) => r.child.exitCode === null && r.child.signalCode === null);
  for (const r of live) r.child.kill('SIGTERM');
  return Promise.all(live.map((r) => r.exited));
}

test('three replicas, one PostgreSQL, one Redis: one key through all at once never overspends; RATE_LIMIT_RPM holds across replicas', { skip: SKIP }, async (t) => {
  const RPM = 60;
  const cluster = await startCluster(t, 3, { RATE_LIMIT_RPM: String(RPM) });
  const { handle, replicas, sim } = cluster;
  for (const r of replicas) {
    const h = await health(r);
    assert.equal(h.checks.database, 'ok');
    assert.equal(h.checks.redis, 'ok');
    assert.equal(h.rate_limits, 'redis');
  }
  assert.equal((await handle.db.selectFrom('instances').selectAll().execute()).length, 3, 'every replica registered');

  // 1. a small quota (~20 requests of up to 20 completion tokens) hit by 60 requests at once over 3 replicas,
  //    every fourth cut upstream (a cut non-stream request is a 502; a cut stream ends with an error event)
  const config = createConfig({});
  const small = await seedPackage(handle, { config, tokens: 20 * (14 + 2 * 20) });
  const a = await buyKey(handle, small.id, small.priceMicros, 7001);
  for (let i = 0; i < 60; i += 4) sim.queueFault({ kind: 'cut', afterTokens: 4 });
  const results = await storm(replicas, a.key, RPM, 20);
  await sim.idle();
  const alloc = await handle.db.selectFrom('ai_token_allocations').selectAll().where('id', '=', a.allocationId).executeTakeFirstOrThrow();
  const events = await handle.db.selectFrom('usage_events').selectAll().where('allocation_id', '=', a.allocationId).execute();
  const charged = events.reduce((s, e) => s + e.weighted_tokens, 0);
  const chat = sim.requests.filter((r) => r.endpoint === 'chat');
  const served = chat.reduce((s, r) => s + (r.status === 200 ? weightedTokens(gpt4, r.promptTokens, r.completionTokensSent) : 0), 0);
  assert.ok(alloc.tokens_used <= alloc.tokens_total, `overspent: ${alloc.tokens_used} of ${alloc.tokens_total}`);
  assert.equal(alloc.tokens_used, charged, 'tokens_used = sum of its usage events');
  assert.equal(charged, served, 'charged = what the upstream served (weighted)');
  assert.equal(alloc.tokens_reserved, 0, 'no hold left');
  assert.equal((await handle.db.selectFrom('reservations').selectAll().execute()).length, 0);
  assert.equal(events.length, chat.length, 'one usage event per forwarded request');
  assert.ok(
    results.every((s) => [200, 402, 502, -1].includes(s)),
    `statuses: ${[...new Set(results)].join(', ')}`,
  );
  assert.ok(results.filter((s) => s === 402).length > 0, 'the quota ran out');
  const owners = new Set((await handle.db.selectFrom('instances').select('instance_id').execute()).map((i) => i.instance_id));
  assert.equal(owners.size, 3);
  assert.deepEqual((await auditLedger(handle)).problems, []);

  // 2. the shared rate limit: 1.5 × RPM requests at once on a big key, spread over the replicas
  const big = await seedPackage(handle, { config, tokens: 1_000_000 });
  const b = await buyKey(handle, big.id, big.priceMicros, 7002);
  const limited = await storm(replicas, b.key, RPM * 1.5, 1);
  const ok = limited.filter((s) => s === 200).length;
  const refused = limited.filter((s) => s === 429).length;
  assert.ok(ok <= RPM && ok >= RPM - 3, `RATE_LIMIT_RPM=${RPM} across 3 replicas let ${ok} through`);
  assert.equal(ok + refused, limited.length, `only 200 and 429: ${[...new Set(limited)].join(', ')}`);
  assert.deepEqual((await auditLedger(handle)).problems, []);

  assert.deepEqual(await stopAll(replicas), [0, 0, 0]);
  assert.equal((await handle.db.selectFrom('instances').selectAll().execute()).length, 0, 'every replica unregistered');
});

/** POSTs an update to a replica's webhook as Telegram would. */
async function postUpdate(r: SpawnedDaemon, update: unknown): Promise<number> {
  const res = await fetch(`${r.url}/telegram/webhook`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': WEBHOOK_SECRET },
    body: JSON.stringify(update),
  });
  await res.arrayBuffer();
  return res.status;
}

async function telegramEnv(t: After): Promise<{ fake: FakeTelegram; env: Record<string, string> }> {
  const fake = await startFakeTelegram();
  t.after(() => fake.close());
  return { fake, env: { TOKEN: fake.token, TELEGRAM_API_ROOT: fake.apiRoot } };
}

test('webhook mode over three replicas: the same updates POSTed to different replicas are each processed once', { skip: SKIP }, async (t) => {
  const { fake, env } = await telegramEnv(t);
  const ports = await Promise.all([freePort(), freePort(), freePort()]);
  // WEBHOOK_URL is the public address (the load balancer); here the first replica stands in for it
  const cluster = await startCluster(t, 3, { ...env, WEBHOOK_URL: `http://127.0.0.1:${ports[0]}`, WEBHOOK_SECRET_TOKEN: WEBHOOK_SECRET }, ports);
  const { handle, replicas } = cluster;
  assert.equal(fake.webhook?.url, `http://127.0.0.1:${ports[0]}/telegram/webhook`);
  assert.equal(fake.callsOf('getUpdates').length, 0, 'nobody polls in webhook mode');

  // a control user, delivered once: how many messages one /start produces
  const control = fake.user(9000);
  assert.equal(await postUpdate(replicas[1], fake.messageUpdate(control, '/start')), 200);
  const perStart = fake.botMessages(control.id).length;
  assert.ok(perStart >= 1);

  // six users; each /start update is delivered to all three replicas at the same time (redelivery, LB retry)
  const users = Array.from({ length: 6 }, (_, i) => fake.user(9100 + i));
  const updates = users.map((u) => fake.messageUpdate(u, '/start'));
  // and a Stars payment delivered three times at once: credited once
  const payer = users[0];
  const payment = fake.successfulPaymentUpdate(payer, { payload: `stars:${payer.id}:100`, total_amount: 100, charge_id: 'charge-replicas-1' });
  const statuses = await Promise.all([...updates, payment].flatMap((u) => replicas.map((r) => postUpdate(r, u))));
  assert.ok(
    statuses.every((s) => s === 200),
    `webhook answers: ${[...new Set(statuses)].join(', ')}`,
  );

  for (const u of users.slice(1)) assert.equal(fake.botMessages(u.id).length, perStart, `user ${u.id} got one answer`);
  assert.equal(fake.botMessages(payer.id).length, perStart + 1, 'the payer: one /start answer and one "credited" message');
  const credits = await handle.db.selectFrom('transactions').selectAll().where('reference', '=', 'charge-replicas-1').execute();
  assert.equal(credits.length, 1, 'the payment was credited once');
  const user = await handle.db.selectFrom('users').selectAll().where('telegram_id', '=', payer.id).executeTakeFirstOrThrow();
  assert.equal(user.balance, credits[0].amount);
  const processed = await handle.db.selectFrom('processed_updates').select('update_id').execute();
  assert.equal(processed.length, updates.length + 2);
  assert.deepEqual((await auditLedger(handle)).problems, []);
  assert.deepEqual(await stopAll(replicas), [0, 0, 0]);
});

test('polling mode over three replicas: only the leader long-polls; kill -9 the leader and another takes over', { skip: SKIP }, async (t) => {
  const { fake, env } = await telegramEnv(t);
  const cluster = await startCluster(t, 3, env);
  const { replicas, handle } = cluster;

  const leaders = async () =>
    (await Promise.all(replicas.map(async (r) => (r.child.exitCode === null && r.child.signalCode === null ? (await health(r)).leader : undefined)))).map((l, i) => (l ? i : -1)).filter((i) => i >= 0);
  const first = await leaders();
  assert.equal(first.length, 1, `exactly one leader: ${JSON.stringify(first)}`);
  const leader = replicas[first[0]];
  assert.match(leader.output(), /listening on/);

  const users = Array.from({ length: 4 }, (_, i) => fake.user(9200 + i));
  for (const u of users) await fake.send(u, '/start');
  const perStart = fake.botMessages(users[0].id).length;
  for (const u of users) assert.equal(fake.botMessages(u.id).length, perStart);
  assert.equal(fake.getUpdatesConflicts, 0, 'Telegram never saw two pollers at once');

  // the leader dies without a goodbye; a standby on this host sees its pid is gone and takes over
  leader.child.kill('SIGKILL');
  await leader.exited;
  const next = await until('a new leader', leaders, (l) => l.length === 1);
  assert.notEqual(next[0], first[0]);
  const late = fake.user(9300);
  await fake.send(late, '/start');
  assert.equal(fake.botMessages(late.id).length, perStart, 'the new leader answers');
  assert.equal(fake.getUpdatesConflicts, 0);
  const processed = await handle.db.selectFrom('processed_updates').select('update_id').execute();
  assert.equal(processed.length, users.length + 1, 'each update processed once');

  const codes = await stopAll(replicas);
  assert.deepEqual(codes, [0, 0]);
});
