import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tempDb, testDialects } from '../support/db.js';
import { seedCatalog } from '../support/seed.js';
import { loadFixtureModels } from '../../src/catalog/fixture.js';
import type { OpenRouterModel } from '../../src/catalog/types.js';
import { syncModels } from '../../src/catalog/sync.js';
import { resolveModel, resolveCatalogModel } from '../../src/catalog/aliases.js';
import { InputError } from '../../src/errors.js';

function refused(pattern: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof InputError, String(err));
    assert.equal(err.field, 'model');
    assert.match(err.message, pattern);
    return true;
  };
}

for (const dialect of testDialects()) {
  test(`[${dialect}] resolveModel: full ids, unambiguous short forms, :variant only when unambiguous`, async (t) => {
    const handle = await tempDb(t, dialect);
    await seedCatalog(handle);
    assert.equal(await resolveModel(handle, 'openai/gpt-4'), 'openai/gpt-4');
    assert.equal(await resolveModel(handle, 'gpt-4'), 'openai/gpt-4');
    assert.equal(await resolveModel(handle, ' GPT-3.5-Turbo '), 'openai/gpt-3.5-turbo');
    assert.equal(await resolveModel(handle, 'claude-3.7-sonnet'), 'anthropic/claude-3.7-sonnet');
    assert.equal(await resolveModel(handle, 'claude-3.7-sonnet:thinking'), 'anthropic/claude-3.7-sonnet:thinking');
    // only a :free variant exists → the suffix may be left out
    assert.equal(await resolveModel(handle, 'gemma-3n-e2b-it'), 'google/gemma-3n-e2b-it:free');
    // both exist → the plain one is an exact short match
    assert.equal(await resolveModel(handle, 'gemma-3-12b-it'), 'google/gemma-3-12b-it');
    const model = await resolveCatalogModel(handle, 'gpt-4');
    assert.deepEqual([model.promptRate, model.completionRate], [30_000_000, 60_000_000]);
  });

  test(`[${dialect}] resolveModel refuses retired, unknown and unpriced models with candidates`, async (t) => {
    const handle = await tempDb(t, dialect);
    await seedCatalog(handle);
    await assert.rejects(resolveModel(handle, 'claude-3-sonnet'), (err: unknown) => {
      refused(/"claude-3-sonnet" is not a model in the catalog; candidates: /)(err);
      const candidates = (err as Error).message.split('candidates: ')[1].split(' (see')[0];
      assert.match(candidates, /anthropic\/claude-3\.7-sonnet/);
      assert.ok(candidates.split(', ').length <= 5);
      return true;
    });
    await assert.rejects(resolveModel(handle, 'gpt4'), refused(/candidates: openai\/gpt-4\b/));
    await assert.rejects(resolveModel(handle, 'openrouter/auto'), refused(/openrouter\/auto has no fixed per-token price/));
    await assert.rejects(resolveModel(handle, 'auto'), refused(/no fixed per-token price/));
    await assert.rejects(resolveModel(handle, ''), refused(/a model name is required/));
    await assert.rejects(resolveModel(handle, 'openai/gpt-4:free'), refused(/not a model in the catalog/));

    // gone upstream: named as such
    await syncModels(
      handle,
      loadFixtureModels().filter((m) => m.id !== 'openai/gpt-4'),
    );
    await assert.rejects(resolveModel(handle, 'gpt-4'), refused(/openai\/gpt-4 is no longer offered upstream; candidates: /));
    assert.equal(await resolveModel(handle, 'gpt-4', { includeInactive: true }), 'openai/gpt-4');
  });
}

test('ambiguous short forms list every match; an empty catalog says to sync', async (t) => {
  const handle = await tempDb(t);
  await assert.rejects(resolveModel(handle, 'gpt-4'), refused(/catalog is empty; run `arb models --sync`/));
  const priced = { pricing: { prompt: '0.000001', completion: '0.000002' } };
  const models: OpenRouterModel[] = [
    { id: 'acme/llama-9b', ...priced },
    { id: 'other/llama-9b', ...priced },
    { id: 'acme/mini:free', ...priced },
    { id: 'acme/mini:thinking', ...priced },
  ];
  await syncModels(handle, models);
  await assert.rejects(resolveModel(handle, 'llama-9b'), refused(/"llama-9b" is ambiguous: it matches acme\/llama-9b, other\/llama-9b; use the full id/));
  await assert.rejects(resolveModel(handle, 'mini'), refused(/ambiguous: it matches acme\/mini:free, acme\/mini:thinking/));
  assert.equal(await resolveModel(handle, 'other/llama-9b'), 'other/llama-9b');
  assert.equal(await resolveModel(handle, 'mini:free'), 'acme/mini:free');
});
