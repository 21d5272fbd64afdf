/**
 * An embeddings package end to end, as an operator and a customer meet it: `arb models --sync` reads the
 * embedding models OpenRouter lists apart (GET /embeddings/models), `arb package create` sells one, a key
 * is bought, and the `openai` client's `embeddings.create` goes through the daemon to the simulator —
 * metered exactly: the prompt tokens the simulator served, nothing else. Without the listing upstream
 * (404) the sync notes it and such a package is refused by name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startSimulator } from '../../src/catalog/simulator.js';
import { createConfig } from '../../src/config.js';
import { openAndMigrate } from '../../src/db/dialect.js';
import { creditUser, purchasePackage } from '../../src/ledger/ledger.js';
import { auditLedger } from '../../src/ledger/audit.js';
import { createSilentLogger } from '../../src/logger.js';
import { startDaemon } from '../../daemon/main.js';
import { tempDir } from '../support/db.js';
import { arbEnvDb, runArb } from './support.js';

const KEY = 'sk-or-v1-embeddings000000000';

test('embeddings package: models --sync lists the embedding models, package create sells one, the openai client embeds through the daemon and is charged the prompt tokens served', async (t) => {
  const sim = await startSimulator({ apiKey: KEY, chunkDelayMs: 1 });
  t.after(() => sim.close());
  const dir = tempDir(t);
  const env = await arbEnvDb(t, dir, { OPENROUTER_BASE_URL: sim.baseUrl, OPENROUTER_API_KEY: KEY });

  const sync = await runArb(['models', '--sync'], env);
  assert.equal(sync.code, 0, sync.stderr);
  assert.match(sync.stdout, /^synced 373 models from OpenRouter, 2 of them for embeddings \(first sync\)/m);
  const market = await runArb(['models', 'text-embedding'], env);
  assert.match(market.stdout, /^openai\/text-embedding-3-small +\$0\.02 +\$0\.00 /m);

  const created = await runArb(['package', 'create', 'text-embedding-3-small', '10000000', 'Embeddings 10M tokens', '--json'], env);
  assert.equal(created.code, 0, created.stderr);
  const pkg = JSON.parse(created.stdout);
  // 10M × $0.02/Mtok = $0.20 cost; × 1.25 × 0.95 (bulk) = $0.2375 → $0.24
  assert.deepEqual([pkg.model, pkg.tokens, pkg.cost_micros, pkg.price_micros, pkg.price_mode], ['openai/text-embedding-3-small', 10_000_000, 200_000, 240_000, 'formula']);

  const handle = await openAndMigrate(env.db);
  t.after(() => handle.close());
  const config = createConfig({ OPENROUTER_BASE_URL: sim.baseUrl, OPENROUTER_API_KEY: KEY, RATE_LIMIT_RPM: '100000', LOG_DIR: dir, PORT: '0' });
  await creditUser({ handle }, { telegramId: 4242, amountMicros: pkg.price_micros, type: 'topup', reference: 'embeddings-test-topup' });
  const bought = await purchasePackage({ handle, config }, { telegramId: 4242, packageId: pkg.id });
  const daemon = await startDaemon({ config, handle, logger: createSilentLogger(), host: '127.0.0.1', port: 0, bot: false, alerts: false, defaultMetrics: false });
  t.after(() => daemon.stop());

  const client = new OpenAI({ apiKey: bought.apiKey!, baseURL: `${daemon.url}/v1`, maxRetries: 0, timeout: 20_000 });
  const res = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['The food was delicious and the waiter was kind', 'the bill was fair'] });
  assert.equal(res.data.length, 2);
  assert.equal(res.data[0].embedding.length, 8);
  assert.ok(res.usage.prompt_tokens > 0);
  assert.ok(!('cost' in (res.usage as object)), 'the wholesale cost reached the customer');
  const rec = sim.requests.at(-1)!;
  assert.deepEqual([rec.endpoint, rec.model, rec.status], ['embeddings', 'openai/text-embedding-3-small', 200]);

  await daemon.idle();
  await sim.idle();
  const events = await handle.db.selectFrom('usage_events').selectAll().where('allocation_id', '=', bought.allocation.id).execute();
  assert.equal(events.length, 1);
  const ev = events[0];
  assert.deepEqual(
    [ev.prompt_tokens, ev.completion_tokens, ev.reasoning_tokens, ev.cache_read_tokens, ev.cache_write_tokens, ev.weighted_tokens, ev.estimated],
    [rec.promptTokens, 0, 0, 0, 0, rec.promptTokens, 0],
  );
  assert.equal(res.usage.prompt_tokens, rec.promptTokens);
  const alloc = await handle.db.selectFrom('ai_token_allocations').select(['tokens_used', 'tokens_reserved']).where('id', '=', bought.allocation.id).executeTakeFirstOrThrow();
  assert.deepEqual([alloc.tokens_used, alloc.tokens_reserved], [rec.promptTokens, 0]);
  assert.deepEqual((await auditLedger(handle)).problems, []);
});

test('an upstream without the embedding listing (404): models --sync succeeds with a note; an embeddings package is refused by name, exit 2', async (t) => {
  const sim = await startSimulator({ apiKey: KEY, embeddingModels: null });
  t.after(() => sim.close());
  const env = await arbEnvDb(t, tempDir(t), { OPENROUTER_BASE_URL: sim.baseUrl, OPENROUTER_API_KEY: KEY });
  const sync = await runArb(['models', '--sync'], env);
  assert.equal(sync.code, 0, sync.stderr);
  assert.match(sync.stdout, /^synced 371 models from OpenRouter \(first sync\)/m);
  assert.match(sync.stdout, /^note: OpenRouter lists no embedding models here \(GET \/embeddings\/models: not found\), so none were added$/m);
  const json = JSON.parse((await runArb(['models', '--sync', '--json'], env)).stdout);
  assert.deepEqual(json.sync.embedding_models, { listed: false, count: 0, kept: 0 });
  const refused = await runArb(['package', 'create', 'text-embedding-3-small', '1000000', 'Embeddings 1M'], env);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /^error: model: "text-embedding-3-small" is not a model in the catalog/);
});
