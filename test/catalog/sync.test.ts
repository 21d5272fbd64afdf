import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tempDb, testDialects } from '../support/db.js';
import { defaultTestConfig, seedPackage } from '../support/seed.js';
import { DEFAULT_EMBEDDING_MODELS, loadFixtureModels, startSimulator, type OpenRouterModel } from '../../src/catalog/simulator.js';
import { createOpenRouterClient } from '../../src/catalog/openrouter.js';
import { lastSyncAt, syncModels, LAST_SYNC_SETTING } from '../../src/catalog/sync.js';
import { UpstreamError } from '../../src/errors.js';
import { captureLogger } from '../support/log-lines.js';

const T1 = new Date('2026-05-01T10:00:00Z');
const T2 = new Date('2026-05-02T10:00:00Z');

function withPrice(models: OpenRouterModel[], id: string, prompt: string, completion: string): OpenRouterModel[] {
  return models.map((m) => (m.id === id ? { ...m, pricing: { ...m.pricing, prompt, completion } } : m));
}

for (const dialect of testDialects()) {
  test(`[${dialect}] sync stores all 371 fixture models with sane rates`, async (t) => {
    const handle = await tempDb(t, dialect);
    const report = await syncModels(handle, loadFixtureModels(), { now: T1 });
    assert.equal(report.total, 371);
    assert.equal(report.added.length, 371);
    assert.deepEqual(report.skipped, []);
    assert.deepEqual([report.updated, report.removed, report.priceChanges, report.holds], [[], [], [], []]);
    assert.equal(report.previousSyncAt, null);
    assert.equal(report.syncedAt, '2026-05-01 10:00:00');

    const rows = await handle.db.selectFrom('ai_models').selectAll().execute();
    assert.equal(rows.length, 371);
    const by = new Map(rows.map((r) => [r.model_id, r]));
    const gpt4 = by.get('openai/gpt-4')!;
    assert.deepEqual([gpt4.name, gpt4.prompt_rate, gpt4.completion_rate, gpt4.context_length, gpt4.max_completion_tokens, gpt4.is_active], ['OpenAI: GPT-4', 30_000_000, 60_000_000, 8191, 4096, 1]);
    assert.deepEqual([by.get('openai/gpt-3.5-turbo')!.prompt_rate, by.get('openai/gpt-3.5-turbo')!.completion_rate], [500_000, 1_500_000]);
    // long decimals: $0.035/Mtok and $0.0375/Mtok
    assert.equal(by.get('amazon/nova-micro-v1')!.prompt_rate, 35_000);
    assert.equal(by.get('cohere/command-r7b-12-2024')!.prompt_rate, 37_500);
    // free models are priced at zero, not unknown
    assert.deepEqual([by.get('google/gemma-3-12b-it:free')!.prompt_rate, by.get('google/gemma-3-12b-it:free')!.completion_rate], [0, 0]);
    // router models ("-1") have no fixed price
    for (const id of ['openrouter/auto', 'openrouter/bodybuilder', 'openrouter/pareto-code']) {
      assert.deepEqual([by.get(id)!.prompt_rate, by.get(id)!.completion_rate], [null, null], id);
    }
    assert.equal(by.get('arcee-ai/coder-large')!.max_completion_tokens, null);
    for (const r of rows) {
      assert.ok(r.prompt_rate === null || (Number.isSafeInteger(r.prompt_rate) && r.prompt_rate >= 0 && r.prompt_rate < 1e9), r.model_id);
      assert.equal(r.synced_at, '2026-05-01 10:00:00');
    }
    assert.equal(await lastSyncAt(handle), '2026-05-01 10:00:00');
  });

  test(`[${dialect}] a second identical sync changes nothing`, async (t) => {
    const handle = await tempDb(t, dialect);
    await syncModels(handle, loadFixtureModels(), { now: T1 });
    const before = await handle.db.selectFrom('ai_models').select(['model_id', 'updated_at', 'prompt_rate']).orderBy('model_id').execute();
    const report = await syncModels(handle, loadFixtureModels(), { now: T2 });
    assert.deepEqual([report.added, report.updated, report.removed, report.reactivated, report.priceChanges, report.holds], [[], [], [], [], [], []]);
    assert.equal(report.unchanged, 371);
    assert.equal(report.previousSyncAt, '2026-05-01 10:00:00');
    const after = await handle.db.selectFrom('ai_models').select(['model_id', 'updated_at', 'prompt_rate']).orderBy('model_id').execute();
    assert.deepEqual(after, before);
    const setting = await handle.db.selectFrom('settings').selectAll().where('key', '=', LAST_SYNC_SETTING).execute();
    assert.equal(setting.length, 1);
    assert.equal(setting[0].value, '2026-05-02 10:00:00');
  });

  test(`[${dialect}] price changes are reported; formula packages follow the new rates (logged); fixed prices whose new cost breaks the floor go on hold`, async (t) => {
    const handle = await tempDb(t, dialect);
    const config = defaultTestConfig();
    await syncModels(handle, loadFixtureModels(), { now: T1, config });
    const gpt4 = await seedPackage(handle, { model: 'gpt-4', tokens: 100_000, priceUsd: '3.75' }); // fixed
    const turbo = await seedPackage(handle, { model: 'gpt-3.5-turbo', tokens: 1_000_000 });
    const formula = await seedPackage(handle, { model: 'openai/gpt-4', tokens: 100_000, description: 'GPT-4 by the formula' }); // $3.75
    const disabledGpt4 = await seedPackage(handle, { model: 'openai/gpt-4', tokens: 200_000 });
    await handle.db.updateTable('ai_token_packages').set({ is_available: 0 }).where('id', '=', disabledGpt4.id).execute();

    // $34/Mtok: cost $3.40, floor $3.74 ≤ $3.75 → the fixed price is still sellable; the formula gives $4.25
    let models = withPrice(loadFixtureModels(), 'openai/gpt-4', '0.000034', '0.00006');
    const { logger, lines } = captureLogger();
    let report = await syncModels(handle, models, { now: T2, config, logger });
    assert.deepEqual(report.priceChanges, [{ model: 'openai/gpt-4', oldPromptRate: 30_000_000, newPromptRate: 34_000_000, oldCompletionRate: 60_000_000, newCompletionRate: 60_000_000 }]);
    assert.deepEqual(report.updated, ['openai/gpt-4']);
    assert.deepEqual(report.holds, []);
    assert.deepEqual(
      report.repriced.map((r) => [r.package.id, r.previousPriceMicros, r.package.priceMicros, r.package.costMicros, r.pricing.marginPercent]),
      [
        [formula.id, 3_750_000, 4_250_000, 3_400_000, 25],
        [disabledGpt4.id, 7_500_000, 8_500_000, 6_800_000, 25],
      ],
    );
    assert.deepEqual(
      lines.filter((l) => l.arbitrage === true && l.operation === 'package_repriced').map((l) => [l.package_id, l.previous_sell_price, l.sell_price, l.cost, l.previous_cost, l.trigger]),
      [
        [formula.id, 3.75, 4.25, 3.4, 3, 'sync'],
        [disabledGpt4.id, 7.5, 8.5, 6.8, 6, 'sync'],
      ],
    );

    // $35/Mtok: cost $3.50, floor $3.85 > $3.75 → the fixed price goes on hold; the formula follows
    models = withPrice(loadFixtureModels(), 'openai/gpt-4', '0.000035', '0.00007');
    report = await syncModels(handle, models, { config });
    assert.equal(report.priceChanges.length, 1);
    assert.equal(report.priceChanges[0].oldPromptRate, 34_000_000);
    assert.deepEqual(report.holds, [{ packageId: gpt4.id, model: 'openai/gpt-4', reason: 'margin', priceMicros: 3_750_000, newCostMicros: 3_500_000, floorMicros: 3_850_000 }]);
    const rows = await handle.db.selectFrom('ai_token_packages').select(['id', 'is_available', 'hold_reason', 'price', 'price_mode']).orderBy('id').execute();
    assert.deepEqual(rows, [
      { id: gpt4.id, is_available: 0, hold_reason: 'margin', price: 3_750_000, price_mode: 'fixed' },
      { id: turbo.id, is_available: 1, hold_reason: null, price: turbo.priceMicros, price_mode: 'formula' },
      { id: formula.id, is_available: 1, hold_reason: null, price: 4_380_000, price_mode: 'formula' },
      { id: disabledGpt4.id, is_available: 0, hold_reason: null, price: 8_750_000, price_mode: 'formula' },
    ]);

    // the model turning into a router model (no fixed price) holds its packages, formula ones included
    await handle.db.updateTable('ai_token_packages').set({ is_available: 1, hold_reason: null }).where('id', '=', gpt4.id).execute();
    report = await syncModels(handle, withPrice(loadFixtureModels(), 'openai/gpt-4', '-1', '-1'), { config });
    assert.deepEqual(
      report.holds.map((h) => [h.packageId, h.reason, h.newCostMicros]),
      [
        [gpt4.id, 'margin', null],
        [formula.id, 'margin', null],
      ],
    );
    assert.deepEqual(report.repriced, []);
  });

  test(`[${dialect}] models gone upstream are deactivated and their packages held, never deleted`, async (t) => {
    const handle = await tempDb(t, dialect);
    await syncModels(handle, loadFixtureModels(), { now: T1 });
    const pkg = await seedPackage(handle, { model: 'gpt-4' });
    const without = loadFixtureModels().filter((m) => m.id !== 'openai/gpt-4');
    const report = await syncModels(handle, without, { now: T2 });
    assert.deepEqual(report.removed, ['openai/gpt-4']);
    assert.equal(report.total, 370);
    assert.deepEqual(
      report.holds.map((h) => [h.packageId, h.reason]),
      [[pkg.id, 'gone']],
    );
    const model = await handle.db.selectFrom('ai_models').selectAll().where('model_id', '=', 'openai/gpt-4').executeTakeFirstOrThrow();
    assert.equal(model.is_active, 0);
    const held = await handle.db.selectFrom('ai_token_packages').selectAll().where('id', '=', pkg.id).executeTakeFirstOrThrow();
    assert.deepEqual([held.is_available, held.hold_reason], [0, 'gone']);
    assert.equal((await handle.db.selectFrom('ai_models').select('id').execute()).length, 371);

    // back upstream: reactivated, the package stays on hold until the operator enables it
    const back = await syncModels(handle, loadFixtureModels());
    assert.deepEqual(back.reactivated, ['openai/gpt-4']);
    assert.deepEqual(back.removed, []);
    const still = await handle.db.selectFrom('ai_token_packages').select(['is_available', 'hold_reason']).where('id', '=', pkg.id).executeTakeFirstOrThrow();
    assert.deepEqual(still, { is_available: 0, hold_reason: 'gone' });
  });
}

test('malformed upstream entries: no id is skipped, missing prices and limits are null; an empty list is refused', async (t) => {
  const handle = await tempDb(t);
  const models = [
    { id: 'acme/full', name: 'Acme Full', pricing: { prompt: '0.000001', completion: '0.000002' }, context_length: 1000, top_provider: { max_completion_tokens: 100 } },
    { id: 'acme/bare' },
    { name: 'no id' } as unknown as OpenRouterModel,
    { id: 'acme/odd', pricing: { prompt: 'abc', completion: null }, context_length: -5, top_provider: null },
  ] as OpenRouterModel[];
  const report = await syncModels(handle, models);
  assert.deepEqual(report.added, ['acme/bare', 'acme/full', 'acme/odd']);
  assert.deepEqual(report.skipped, [{ index: 2, reason: 'no model id' }]);
  const bare = await handle.db.selectFrom('ai_models').selectAll().where('model_id', '=', 'acme/bare').executeTakeFirstOrThrow();
  assert.deepEqual([bare.name, bare.prompt_rate, bare.completion_rate, bare.context_length, bare.max_completion_tokens], ['acme/bare', null, null, null, null]);
  const odd = await handle.db.selectFrom('ai_models').selectAll().where('model_id', '=', 'acme/odd').executeTakeFirstOrThrow();
  assert.deepEqual([odd.prompt_rate, odd.completion_rate, odd.context_length], [null, null, null]);

  await assert.rejects(syncModels(handle, []), (err: unknown) => err instanceof UpstreamError && /no models/.test(err.message));
  assert.equal((await handle.db.selectFrom('ai_models').select('id').where('is_active', '=', 1).execute()).length, 3);
});

test('sync from the OpenRouter client against the simulator', async (t) => {
  const handle = await tempDb(t);
  const sim = await startSimulator({ apiKey: 'sk-or-sync' });
  t.after(() => sim.close());
  const client = createOpenRouterClient({ baseUrl: sim.baseUrl, apiKey: 'sk-or-sync' });
  t.after(() => client.close());
  const report = await syncModels(handle, client);
  assert.equal(report.added.length, 373);
  assert.deepEqual(report.embeddings, { listed: true, count: 2, kept: 0 });
  assert.equal(sim.requests.filter((r) => r.endpoint === 'models').length, 1);
  assert.equal(sim.requests.filter((r) => r.endpoint === 'embedding_models').length, 1);
});

test('embedding models come from GET /embeddings/models (listed apart upstream) with their prompt price; a listing that is not there (404) adds none and is noted, not an error', async (t) => {
  const handle = await tempDb(t);
  const sim = await startSimulator({ apiKey: 'sk-or-sync' });
  t.after(() => sim.close());
  const client = createOpenRouterClient({ baseUrl: sim.baseUrl, apiKey: 'sk-or-sync' });
  t.after(() => client.close());
  const { logger, lines } = captureLogger();
  let report = await syncModels(handle, client, { logger });
  assert.deepEqual(report.embeddings, { listed: true, count: 2, kept: 0 });
  const small = await handle.db.selectFrom('ai_models').selectAll().where('model_id', '=', 'openai/text-embedding-3-small').executeTakeFirstOrThrow();
  assert.deepEqual([small.prompt_rate, small.completion_rate, small.context_length, small.is_active], [20_000, 0, 8192, 1]);
  assert.ok(lines.some((l) => l.event_type === 'models_synced' && l.embedding_models === 2));

  // an upstream without the listing: nothing fails, nothing is added, the stored embedding models stay as they were
  sim.setEmbeddingModels(null);
  report = await syncModels(handle, client, { logger });
  assert.deepEqual(report.embeddings, { listed: false, count: 0, kept: 2 });
  assert.deepEqual([report.removed, report.added], [[], []]);
  assert.equal(report.total, 371);
  assert.ok(lines.some((l) => l.event_type === 'embedding_models_unlisted' && /no embedding model was added, 2 stored one\(s\) left as they were/.test(String(l.message))));
  assert.equal((await handle.db.selectFrom('ai_models').select('is_active').where('model_id', '=', 'openai/text-embedding-3-large').executeTakeFirstOrThrow()).is_active, 1);

  // listed again without one of them: that one is gone upstream
  sim.setEmbeddingModels(DEFAULT_EMBEDDING_MODELS.filter((m) => m.id === 'openai/text-embedding-3-small'));
  report = await syncModels(handle, client);
  assert.deepEqual(report.removed, ['openai/text-embedding-3-large']);
  assert.deepEqual(report.embeddings, { listed: true, count: 1, kept: 0 });

  // a fresh catalog from an upstream without the listing: no embedding models at all
  const fresh = await tempDb(t);
  const bare = await startSimulator({ apiKey: 'sk-or-sync', embeddingModels: null });
  t.after(() => bare.close());
  const bareClient = createOpenRouterClient({ baseUrl: bare.baseUrl, apiKey: 'sk-or-sync' });
  t.after(() => bareClient.close());
  report = await syncModels(fresh, bareClient);
  assert.deepEqual([report.total, report.embeddings], [371, { listed: false, count: 0, kept: 0 }]);

  // any other failure of the listing fails the sync, as a failing /models does: the catalog is left unchanged
  sim.queueFault({ kind: 'status', status: 500, endpoint: 'embedding_models' });
  await assert.rejects(syncModels(handle, client), (err: unknown) => err instanceof UpstreamError && /GET \/embeddings\/models failed: HTTP 500/.test(err.message));
});
