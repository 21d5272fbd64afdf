import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startSimulator } from '../../src/catalog/simulator.js';
import { loadFixtureModels } from '../../src/catalog/fixture.js';
import { tempDir } from '../support/db.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { arbEnvDb, runArb } from './support.js';

const KEY = 'sk-or-v1-modelscli0000000';

test('arb models: empty catalog hint; --sync from OpenRouter; market analysis filtered by query', async (t) => {
  const sim = await startSimulator({ apiKey: KEY });
  t.after(() => sim.close());
  const env = await arbEnvDb(t, tempDir(t), { OPENROUTER_BASE_URL: sim.baseUrl, OPENROUTER_API_KEY: KEY });

  const empty = await runArb(['models'], env);
  assert.equal(empty.code, 0, empty.stderr);
  assert.equal(empty.stdout, 'the model catalog is empty; fetch it with arb models --sync\n');

  const sync = await runArb(['models', 'gpt-4', '--sync'], env);
  assert.equal(sync.code, 0, sync.stderr);
  assert.match(sync.stdout, /^synced 373 models from OpenRouter, 2 of them for embeddings \(first sync\): 373 new, 0 updated, 0 gone, 0 back, 0 unchanged$/m);
  assert.doesNotMatch(sync.stdout, /in \$\/Mtok +out/, 'a sync prints what changed, not the market table');
  const market = await runArb(['models', 'gpt-4'], env);
  assert.match(market.stdout, /^openai\/gpt-4 +\$30\.00 +\$60\.00 +2 +\$3\.75 +\$35\.63 +25\.0 % \/ 18\.8 % +0$/m);
  assert.doesNotMatch(market.stdout, /anthropic\//, 'the query filters');

  const json = await runArb(['models', 'openai/gpt-4', '--json'], env);
  assert.equal(json.code, 0, json.stderr);
  const doc = JSON.parse(json.stdout);
  assert.equal(doc.sync, null);
  const gpt4 = doc.models.find((m: { model: string }) => m.model === 'openai/gpt-4');
  assert.equal(gpt4.prompt_usd_per_mtok, 30);
  assert.equal(gpt4.completion_usd_per_mtok, 60);
  assert.deepEqual(gpt4.price_100k, { price_usd: 3.75, price_micros: 3_750_000, margin_percent: 25 });
  assert.deepEqual(gpt4.price_1m, { price_usd: 35.63, price_micros: 35_630_000, margin_percent: 18.8 });

  const none = await runArb(['models', 'no-such-model-xyz'], env);
  assert.equal(none.code, 0);
  assert.match(none.stdout, /^no model matches "no-such-model-xyz"/);
});

test('arb models --sync reports price changes, reprices the formula packages (logged), puts fixed prices below the floor and gone models on hold; nothing deleted', async (t) => {
  const sim = await startSimulator({ apiKey: KEY });
  t.after(() => sim.close());
  const env = await arbEnvDb(t, tempDir(t), { OPENROUTER_BASE_URL: sim.baseUrl, OPENROUTER_API_KEY: KEY });
  assert.equal((await runArb(['models', '--sync', '--json'], env)).code, 0);
  assert.equal((await runArb(['package', 'create', 'gpt-4', '100000', 'GPT-4 100k'], env)).code, 0);
  assert.equal((await runArb(['package', 'create', 'claude-3-haiku', '1000000', 'Haiku 1M'], env)).code, 0);
  assert.equal((await runArb(['package', 'create', 'gpt-4', '100000', 'GPT-4 100k promo', '--price', '3.75'], env)).code, 0);

  // upstream: GPT-4 gets 50 % dearer, Claude 3 Haiku retires
  const models = loadFixtureModels()
    .filter((m) => m.id !== 'anthropic/claude-3-haiku')
    .map((m) => (m.id === 'openai/gpt-4' ? { ...m, pricing: { ...m.pricing, prompt: '0.000045', completion: '0.00009' } } : m));
  sim.setModels(models);
  const r = await runArb(['models', 'gpt-4', '--sync'], env);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^price changes \(1\):$/m);
  assert.match(r.stdout, /^openai\/gpt-4 +\$30\.00\/Mtok → \$45\.00\/Mtok +\+50\.0 % +\$60\.00\/Mtok → \$90\.00\/Mtok +\+50\.0 %$/m);
  assert.ok(r.stdout.split('\n').length < 20, `a summary, not the market table:\n${r.stdout}`);
  assert.match(r.stdout, /^gone upstream: anthropic\/claude-3-haiku$/m);
  assert.match(r.stdout, /^packages priced by the formula, repriced to the new rates \(1\):$/m);
  assert.match(r.stdout, /^ {2}package 1 \(openai\/gpt-4, 100,000 tokens\): \$3\.75 → \$5\.63 \(cost now \$4\.50, margin 25\.1 %\)$/m);
  assert.match(r.stdout, /^ {2}package 3 \(openai\/gpt-4\): price \$3\.75 is below the new floor \$4\.95 \(cost now \$4\.50\)$/m);
  assert.match(r.stdout, /^ {2}package 2 \(anthropic\/claude-3-haiku\): the model is gone upstream$/m);
  const log = readFileSync(join(env.logDir, 'arbitrage.log'), 'utf8');
  const repriced = log
    .split('\n')
    .filter((l) => l.includes('"arbitrage":true') && l.includes('"operation":"package_repriced"'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(
    repriced.map((l) => [l.package_id, l.previous_sell_price, l.sell_price, l.cost, l.trigger]),
    [[1, 3.75, 5.63, 4.5, 'sync']],
  );

  const list = JSON.parse((await runArb(['package', 'list', '--all', '--json'], env)).stdout).packages;
  assert.deepEqual(
    list.map((p: { id: number; is_available: boolean; hold_reason: string; price_usd: number }) => [p.id, p.is_available, p.hold_reason, p.price_usd]),
    [
      [1, true, null, 5.63],
      [2, false, 'gone', 0.3],
      [3, false, 'margin', 3.75],
    ],
  );
  const reprice = await runArb(['package', 'reprice', '3', '--json'], env);
  assert.equal(reprice.code, 0, reprice.stderr);
  assert.equal(JSON.parse(reprice.stdout).price_micros, 5_630_000);
  assert.equal(JSON.parse(reprice.stdout).is_available, true);

  // a second sync at the same rates changes nothing
  const again = await runArb(['models', '--sync', '--json'], env);
  assert.deepEqual(JSON.parse(again.stdout).sync.repriced, []);
});

test('arb models --sync with OpenRouter unreachable: exit 1, catalog unchanged', async (t) => {
  const env = await arbEnvDb(t, tempDir(t), { OPENROUTER_API_KEY: KEY });
  const r = await runArb(['models', '--sync'], env);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^error: OpenRouter GET \/models failed: /);
  assert.doesNotMatch(r.stderr, new RegExp(KEY));
});
