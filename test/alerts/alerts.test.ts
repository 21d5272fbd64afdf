import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { evaluateAlerts, logPurchaseFailed, type AlertResult } from '../../src/alerts/alerts.js';
import { startSimulator } from '../../src/catalog/simulator.js';
import { createOpenRouterClient } from '../../src/catalog/openrouter.js';
import { createLogger } from '../../src/logger.js';
import { tempDb, tempDir, testDialects } from '../support/db.js';
import { addUsage, seedShop } from '../commands/support.js';

const byRule = (results: AlertResult[]) => Object.fromEntries(results.map((r) => [r.rule, r]));

for (const dialect of testDialects()) {
  test(`${dialect}: request rules over the last hour — error rate and nearest-rank p95 from usage events`, async (t) => {
    const handle = await tempDb(t, dialect);
    const shop = await seedShop(handle); // 4 events now: latencies 800, 1200, 300, 3000 (one upstream_error)
    for (let i = 1; i <= 96; i++) {
      await addUsage(handle, shop.allocations[2], { requestId: `q${i}`, model: 'openai/gpt-4', weighted: 1, upstreamCost: 1, latencyMs: i * 10 });
    }
    // an hour and more ago: outside the window
    await addUsage(handle, shop.allocations[2], {
      requestId: 'old',
      model: 'openai/gpt-4',
      weighted: 1,
      upstreamCost: 1,
      latencyMs: 99_000,
      outcome: 'upstream_error',
      at: new Date(Date.now() - 2 * 3_600_000),
    });
    const r = byRule(await evaluateAlerts({ handle }));
    assert.deepEqual(r.error_rate, { rule: 'error_rate', ok: true, value: 1, threshold: 5, unit: 'percent', message: 'error rate 1.0 % (1 of 100 requests failed upstream in the last hour)' });
    // sorted: 10..800 with the extra 300 and 800 (82 values), then 810..960 (83rd..98th), 1200, 3000
    assert.equal(r.p95_latency.ok, true);
    assert.equal(r.p95_latency.value, 930);

    for (let i = 0; i < 6; i++) {
      await addUsage(handle, shop.allocations[2], { requestId: `slow${i}`, model: 'openai/gpt-4', weighted: 0, upstreamCost: 0, latencyMs: 30_000, outcome: 'timeout' });
    }
    const bad = byRule(await evaluateAlerts({ handle }));
    assert.equal(bad.error_rate.ok, false);
    assert.equal(bad.error_rate.value, 6.6);
    assert.match(bad.error_rate.message, /^error rate 6\.6 % \(7 of 106 requests failed upstream in the last hour\) — above 5 %$/);
    assert.equal(bad.p95_latency.ok, false);
    assert.equal(bad.p95_latency.value, 30_000);
    assert.match(bad.p95_latency.message, /— above 2,000 ms$/);
  });
}

test('revenue today against $100, and thresholds can be changed', async (t) => {
  const handle = await tempDb(t);
  await seedShop(handle);
  const r = byRule(await evaluateAlerts({ handle }));
  assert.deepEqual(r.revenue_today, {
    rule: 'revenue_today',
    ok: false,
    value: 7_820_000,
    threshold: 100_000_000,
    unit: 'micros',
    message: 'revenue today $7.82 (3 sales since 00:00 UTC) — below $100.00',
  });
  const low = byRule(await evaluateAlerts({ handle, thresholds: { revenueTodayMicros: 5_000_000 } }));
  assert.equal(low.revenue_today.ok, true);
  // nothing sold yesterday counts today
  const tomorrow = byRule(await evaluateAlerts({ handle, now: new Date(Date.now() + 86_400_000) }));
  assert.equal(tomorrow.revenue_today.value, 0);
  assert.equal(tomorrow.error_rate.message, 'error rate: no proxied requests in the last hour');
  assert.equal(tomorrow.p95_latency.value, null);
});

test('OpenRouter credit: below $10 fires; unreachable or no client is skipped, not an error', async (t) => {
  const handle = await tempDb(t);
  const sim = await startSimulator({ apiKey: 'sk-or-alerts-test-1234', credits: { limit: 20, usage: 12.5 } });
  t.after(() => sim.close());
  const client = createOpenRouterClient({ baseUrl: sim.baseUrl, apiKey: 'sk-or-alerts-test-1234' });
  t.after(() => client.close());
  const low = byRule(await evaluateAlerts({ handle, creditRemainingMicros: () => client.creditRemainingMicros() }));
  assert.deepEqual(low.openrouter_credit, {
    rule: 'openrouter_credit',
    ok: false,
    value: 7_500_000,
    threshold: 10_000_000,
    unit: 'micros',
    message: 'OpenRouter credit $7.50 — below $10.00; top up at openrouter.ai',
  });
  sim.setCredits({ limit: 100, usage: 12.5 });
  assert.equal(byRule(await evaluateAlerts({ handle, creditRemainingMicros: () => client.creditRemainingMicros() })).openrouter_credit.ok, true);

  const down = createOpenRouterClient({ baseUrl: 'http://127.0.0.1:9/api/v1', apiKey: 'x' });
  t.after(() => down.close());
  const skipped = byRule(await evaluateAlerts({ handle, creditRemainingMicros: () => down.creditRemainingMicros() })).openrouter_credit;
  assert.equal(skipped.ok, true);
  assert.equal(skipped.skipped, true);
  assert.match(skipped.message, /^OpenRouter credit not checked \(unavailable: OpenRouter GET \/key failed/);
  assert.match(byRule(await evaluateAlerts({ handle })).openrouter_credit.message, /no OpenRouter client/);
});

test('failed purchases: purchase_failed over all attempts in the last 24 h of the log (live and rotated files)', async (t) => {
  const handle = await tempDb(t);
  const logDir = join(tempDir(t), 'logs');
  mkdirSync(logDir, { recursive: true });
  const none = byRule(await evaluateAlerts({ handle, logDir }));
  assert.equal(none.failed_purchases.message, 'failed purchases: no purchase attempts in the last 24 h');
  assert.equal(byRule(await evaluateAlerts({ handle })).failed_purchases.skipped, true);

  const logger = createLogger({ logDir, process: 'test' });
  await seedShop(handle, logger); // 3 token_package_sold (the free grant is not a sale)
  logPurchaseFailed(logger, { user_id: 1002, package_id: 1, reason: 'insufficient balance' });
  logger.flush();
  // a rotated file from two days ago: outside the window
  const old = new Date(Date.now() - 2 * 86_400_000).toISOString();
  appendFileSync(join(logDir, 'arbitrage-20200101-000000.log'), `${JSON.stringify({ timestamp: old, level: 'WARN', business_event: true, event_type: 'purchase_failed' })}\n`.repeat(20));
  const r = byRule(await evaluateAlerts({ handle, logDir }));
  assert.deepEqual(r.failed_purchases, {
    rule: 'failed_purchases',
    ok: false,
    value: 25,
    threshold: 10,
    unit: 'percent',
    message: 'failed purchases 25.0 % (1 of 4 attempts in the last 24 h) — above 10 %',
  });
  assert.equal(byRule(await evaluateAlerts({ handle, logDir, thresholds: { failedPurchasesPercent: 30 } })).failed_purchases.ok, true);
});

test('upstream cost above the cost basis: any operator loss in the last hour fires, with the amount and the requests', async (t) => {
  const handle = await tempDb(t);
  const shop = await seedShop(handle);
  const quiet = byRule(await evaluateAlerts({ handle }));
  assert.deepEqual(quiet.upstream_cost_loss, { rule: 'upstream_cost_loss', ok: true, value: 0, threshold: 0, unit: 'micros', message: 'upstream cost above the cost basis: none in the last hour' });
  await addUsage(handle, shop.allocations[2], { requestId: 'dear1', model: 'openai/gpt-4', weighted: 20, upstreamCost: 525_000 });
  await addUsage(handle, shop.allocations[2], { requestId: 'dear2', model: 'openai/gpt-4', weighted: 20, upstreamCost: 300_000 });
  await handle.db.updateTable('usage_events').set({ cost_loss: 524_400 }).where('request_id', '=', 'dear1').execute();
  await handle.db.updateTable('usage_events').set({ cost_loss: 299_400 }).where('request_id', '=', 'dear2').execute();
  const r = byRule(await evaluateAlerts({ handle }));
  assert.equal(r.upstream_cost_loss.ok, false);
  assert.equal(r.upstream_cost_loss.value, 823_800);
  assert.match(r.upstream_cost_loss.message, /^upstream cost above the cost basis: \$0\.8238 of operator loss on 2 requests in the last hour/);
  assert.equal(byRule(await evaluateAlerts({ handle, thresholds: { upstreamCostLossMicros: 1_000_000 } })).upstream_cost_loss.ok, true);
});
