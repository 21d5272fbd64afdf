import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { startSimulator, type SimulatorOptions } from '../../src/catalog/simulator.js';
import { createOpenRouterClient, type OpenRouterClientOptions } from '../../src/catalog/openrouter.js';
import { UpstreamError, UpstreamTimeoutError } from '../../src/errors.js';

const KEY = 'sk-or-v1-secret-test-key-0123456789';

async function setup(t: { after: (fn: () => Promise<void>) => void }, simOpts: SimulatorOptions = {}, clientOpts: Partial<OpenRouterClientOptions> = {}) {
  const sim = await startSimulator({ apiKey: KEY, ...simOpts });
  t.after(() => sim.close());
  const client = createOpenRouterClient({ baseUrl: sim.baseUrl, apiKey: KEY, ...clientOpts });
  t.after(() => client.close());
  return { sim, client };
}

test('listModels, getKey and getCredits read the data payloads', async (t) => {
  const { client } = await setup(t, { credits: { limit: 20, usage: 5, totalCredits: 40 } });
  const models = await client.listModels();
  assert.equal(models.length, 371);
  assert.equal(models.find((m) => m.id === 'openai/gpt-4')?.pricing?.prompt, '0.00003');
  const key = await client.getKey();
  assert.equal(key.limit_remaining, 15);
  assert.deepEqual(await client.getCredits(), { total_credits: 40, total_usage: 5 });
});

test('creditRemainingMicros: /key limit_remaining when set, else /credits total − usage', async (t) => {
  const { sim, client } = await setup(t, { credits: { limit: 20, usage: 7.25 } });
  assert.equal(await client.creditRemainingMicros(), 12_750_000);
  sim.setCredits({ limit: null, usage: 3.5, totalCredits: 10 });
  assert.equal(await client.creditRemainingMicros(), 6_500_000);
});

test('HTTP errors become UpstreamError with the status and never show the API key', async (t) => {
  const { sim, client } = await setup(t);
  const wrong = createOpenRouterClient({ baseUrl: sim.baseUrl, apiKey: 'sk-or-v1-wrong-key' });
  t.after(() => wrong.close());
  await assert.rejects(wrong.listModels(), (err: unknown) => {
    assert.ok(err instanceof UpstreamError);
    assert.equal(err.status, 401);
    assert.match(err.message, /OpenRouter GET \/models failed: HTTP 401/);
    assert.ok(!err.message.includes('sk-or-v1-wrong-key'));
    return true;
  });
  sim.queueFault({ kind: 'status', status: 402, message: `key ${KEY} has no credit`, endpoint: 'key' });
  await assert.rejects(client.getKey(), (err: unknown) => {
    assert.ok(err instanceof UpstreamError);
    assert.equal(err.status, 402);
    assert.ok(!err.message.includes(KEY), err.message);
    assert.match(err.message, /\[REDACTED\] has no credit/);
    return true;
  });
});

test('a hung upstream is an UpstreamTimeoutError (headers timeout)', async (t) => {
  const { sim, client } = await setup(t, {}, { headersTimeoutMs: 100 });
  sim.queueFault({ kind: 'hang', endpoint: 'models' });
  await assert.rejects(client.listModels(), (err: unknown) => {
    assert.ok(err instanceof UpstreamTimeoutError);
    assert.match(err.message, /timed out \(headers\)/);
    return true;
  });
});

test('connection refused is an UpstreamError without status; the backup URL takes over on 5xx', async (t) => {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as { port: number }).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const dead = createOpenRouterClient({ baseUrl: `http://127.0.0.1:${port}/api/v1`, apiKey: KEY });
  t.after(() => dead.close());
  await assert.rejects(dead.getCredits(), (err: unknown) => err instanceof UpstreamError && err.status === undefined && !err.message.includes(KEY));

  const primary = await startSimulator({ apiKey: KEY });
  t.after(() => primary.close());
  const backup = await startSimulator({ apiKey: KEY });
  t.after(() => backup.close());
  primary.setFault({ kind: 'status', status: 503, endpoint: 'any' });
  const client = createOpenRouterClient({ baseUrl: primary.baseUrl, backupBaseUrl: backup.baseUrl, apiKey: KEY });
  t.after(() => client.close());
  assert.equal((await client.listModels()).length, 371);
  assert.equal(backup.requests.length, 1);
  // a 4xx is the caller's problem: no failover
  primary.setFault({ kind: 'status', status: 401, endpoint: 'any' });
  await assert.rejects(client.listModels(), (err: unknown) => err instanceof UpstreamError && err.status === 401);
  assert.equal(backup.requests.length, 1);
});
