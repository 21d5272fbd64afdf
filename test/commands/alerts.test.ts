import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openAndMigrate } from '../../src/db/dialect.js';
import { startSimulator } from '../../src/catalog/simulator.js';
import { tempDir } from '../support/db.js';
import { arbEnvDb, runArb, seedShop } from './support.js';

test('arb alerts: every rule evaluated; exit 1 while one fires (revenue today below $100), JSON and table', async (t) => {
  const sim = await startSimulator({ apiKey: 'sk-or-v1-alertscli00000', credits: { limit: 50, usage: 10 } });
  t.after(() => sim.close());
  const env = await arbEnvDb(t, tempDir(t), { OPENROUTER_BASE_URL: sim.baseUrl, OPENROUTER_API_KEY: 'sk-or-v1-alertscli00000' });
  const handle = await openAndMigrate(env.db);
  await seedShop(handle);
  await handle.close();
  const r = await runArb(['alerts', '--json'], env);
  assert.equal(r.code, 1, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.equal(doc.ok, false);
  assert.deepEqual(
    doc.alerts.map((a: { rule: string }) => a.rule),
    ['error_rate', 'p95_latency', 'openrouter_credit', 'revenue_today', 'failed_purchases', 'upstream_cost_loss'],
  );
  // one failure in four requests (25 %) and revenue $7.82 fire; credit $40 is fine
  assert.deepEqual(doc.firing, ['error_rate', 'p95_latency', 'revenue_today']);
  const credit = doc.alerts.find((a: { rule: string }) => a.rule === 'openrouter_credit');
  assert.deepEqual(credit, { rule: 'openrouter_credit', ok: true, value: 40_000_000, threshold: 10_000_000, unit: 'micros', message: 'OpenRouter credit $40.00', skipped: false });

  const text = await runArb(['alerts'], env);
  assert.equal(text.code, 1);
  assert.match(text.stdout, /^revenue_today +ALERT +revenue today \$7\.82 \(3 sales since 00:00 UTC\) — below \$100\.00$/m);
  assert.match(text.stdout, /^failed_purchases +ok +failed purchases: no purchase attempts in the last 24 h$/m);
  assert.match(text.stdout, /^3 alert\(s\) firing: error_rate, p95_latency, revenue_today$/m);
  assert.doesNotMatch(text.stdout + text.stderr, /sk-or-v1/);
});
