import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tempDb } from '../support/db.js';
import { defaultTestConfig, seedPackage } from '../support/seed.js';
import { marketAnalysis } from '../../src/catalog/market.js';

test('marketAnalysis: upstream rates, the markup rate and packages on sale, filtered by query', async (t) => {
  const handle = await tempDb(t);
  await seedPackage(handle, { model: 'gpt-4', tokens: 100_000 }); // $3.75 → $37.50/Mtok
  await seedPackage(handle, { model: 'gpt-4', tokens: 1_000_000 }); // bulk: $35.63/Mtok
  const rows = await marketAnalysis(handle, defaultTestConfig(), { query: 'gpt-4' });
  assert.ok(rows.length > 5 && rows.every((r) => r.model.includes('gpt-4') || r.name.toLowerCase().includes('gpt-4')));
  const gpt4 = rows.find((r) => r.model === 'openai/gpt-4')!;
  assert.deepEqual(
    [gpt4.prompt_usd_per_mtok, gpt4.completion_usd_per_mtok, gpt4.completion_weight, gpt4.markup_usd_per_mtok, gpt4.packages, gpt4.cheapest_package_rate],
    [30, 60, 2, 37.5, 2, 35_630_000],
  );
  const auto = (await marketAnalysis(handle, defaultTestConfig(), { query: 'openrouter/auto' }))[0];
  assert.deepEqual([auto.prompt_rate, auto.completion_weight, auto.markup_rate, auto.packages], [null, null, null, 0]);
  assert.equal((await marketAnalysis(handle, defaultTestConfig())).length, 371);
  assert.equal((await marketAnalysis(handle, defaultTestConfig(), { limit: 3 })).length, 3);
});
