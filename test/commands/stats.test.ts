import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { openAndMigrate } from '../../src/db/dialect.js';
import { createLogger } from '../../src/logger.js';
import { refundAllocation } from '../../src/ledger/ledger.js';
import { startSimulator } from '../../src/catalog/simulator.js';
import { tempDir } from '../support/db.js';
import { arbEnvDb, runArb, seedShop, ROOT } from './support.js';

async function seeded(t: Parameters<typeof tempDir>[0], extra: Record<string, string> = {}) {
  const env = await arbEnvDb(t, tempDir(t), extra);
  const handle = await openAndMigrate(env.db);
  const logger = createLogger({ logDir: env.logDir, process: 'test' });
  const shop = await seedShop(handle, logger);
  await refundAllocation({ handle, logger }, { allocationId: shop.allocations[1] });
  logger.flush();
  await handle.close();
  return { env, shop };
}

test("arb stats --json: totals in USD and µ$, by model and day; revenue agrees with the manual's transaction-log recipe", async (t) => {
  const { env } = await seeded(t);
  const r = await runArb(['stats', '--json'], env);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.equal(doc.window, 'all');
  assert.equal(doc.sales, 3);
  assert.equal(doc.free_grants, 1);
  assert.equal(doc.free_grant_cost_micros, 250_000);
  assert.equal(doc.revenue_micros, 7_820_000 - 316_800);
  assert.equal(doc.revenue_usd, 7.5032);
  assert.equal(doc.cost_of_tokens_sold_micros, 6_250_000);
  assert.equal(doc.cost_micros, doc.cost_of_tokens_sold_micros);
  assert.equal(doc.profit_micros, 7_820_000 - 316_800 - 6_250_000);
  assert.equal(doc.active_keys, 3);
  assert.equal(doc.tokens_sold, 1_200_000);
  assert.equal(doc.tokens_used, 13_000);
  assert.equal(doc.upstream_spend_micros, 92_500);
  assert.equal(doc.upstream_cost_micros, 92_500);
  assert.equal(doc.revenue_of_tokens_used_micros, 115_700);
  assert.equal(doc.realised_margin_percent, 25.1);
  assert.equal(doc.margin_percent, 20.1, '(7.5032 − 6.25) / 6.25');
  assert.deepEqual(doc.openrouter_credit, { available: false, credit_usd: null, credit_micros: null, note: 'unavailable: OPENROUTER_API_KEY is not set' });
  assert.deepEqual(Object.keys(doc.by_model[0]).sort(), [
    'cost_micros',
    'cost_of_tokens_sold_micros',
    'cost_of_tokens_sold_usd',
    'cost_usd',
    'free_grant_cost_micros',
    'free_grant_cost_usd',
    'free_grant_tokens',
    'free_grants',
    'margin_percent',
    'model',
    'profit_micros',
    'profit_usd',
    'realised_margin_percent',
    'refunds_micros',
    'refunds_usd',
    'requests',
    'revenue_micros',
    'revenue_of_tokens_used_micros',
    'revenue_of_tokens_used_usd',
    'revenue_usd',
    'sales',
    'tokens_sold',
    'tokens_used',
    'upstream_spend_micros',
    'upstream_spend_usd',
  ]);
  assert.equal(doc.by_day.length, 1);

  // the operations manual's recipe: sum the purchase and refund transaction lines of the log with jq
  const recipe = execFileSync('jq', ['-s', '[.[] | select(.transaction == true and (.type == "token_package_purchase" or .type == "refund")) | .amount] | add', join(env.logDir, 'arbitrage.log')], {
    encoding: 'utf8',
  });
  assert.equal(Math.round(Number(recipe) * 1e6), doc.revenue_micros);

  const audit = await runArb(['audit', '--json'], env);
  assert.equal(audit.code, 0, audit.stdout);
  assert.equal(JSON.parse(audit.stdout).checked.allocations, doc.sales + doc.free_grants);
});

test('arb stats (not a TTY): plain tables; --since windows; OpenRouter credit from the upstream', async (t) => {
  const sim = await startSimulator({ apiKey: 'sk-or-v1-statstest0000', credits: { limit: 25, usage: 5 } });
  t.after(() => sim.close());
  const { env } = await seeded(t, { OPENROUTER_BASE_URL: sim.baseUrl, OPENROUTER_API_KEY: 'sk-or-v1-statstest0000' });
  const r = await runArb(['stats', '--since', '7d'], env);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Window: +last 7d/m);
  assert.match(r.stdout, /^Revenue: +\$7\.50 \(gross \$7\.82, refunds \$0\.32\)/m);
  assert.match(r.stdout, /^OpenRouter credit: +\$20\.00/m);
  assert.match(r.stdout, /^Cost of tokens sold: +\$6\.25$/m);
  assert.match(r.stdout, /^Free grants: +1 \(1,000,000 tokens, cost basis \$0\.25; not sales, not a loss\)$/m);
  assert.match(r.stdout, /^Upstream spend: +\$0\.0925/m);
  assert.match(r.stdout, /^Realised margin: +25\.1 %/m);
  assert.match(r.stdout, /^openai\/gpt-4 +2 +200,000 +\$7\.50 /m);
  // eslint-disable-next-line no-control-regex -- the assertion is about ANSI escapes
  assert.doesNotMatch(r.stdout, /\x1b\[/, 'no ANSI colours when piped');
  assert.doesNotMatch(r.stdout, /sk-or-v1/);
});

test('arb stats: a bad --since is exit 2 naming the option and the fix', async (t) => {
  const env = await arbEnvDb(t, tempDir(t));
  const r = await runArb(['stats', '--since', 'yesterday'], env);
  assert.equal(r.code, 2);
  assert.equal(r.stderr.trim(), 'error: --since: "yesterday" is not a time window; use 24h, 7d, 30d, all or a date like 2026-01-31');
  assert.equal(r.stdout, '');
});

test('arb stats on a terminal: the Ink dashboard with revenue and profit per day, margin by model and top keys', async (t) => {
  const { env } = await seeded(t);
  // `script` gives the CLI a pseudo-terminal, the way an operator runs it
  const raw = execFileSync('script', ['-qec', `${process.execPath} ${join(ROOT, 'bin', 'arb.js')} stats --since 30d`, '/dev/null'], {
    cwd: env.dir,
    env: { ...env.env, COLUMNS: '120', TERM: 'xterm' },
    encoding: 'utf8',
  });
  // eslint-disable-next-line no-control-regex -- the assertion is about ANSI colours
  assert.match(raw, /\x1b\[32m█/, 'coloured on a terminal');
  const out = stripVTControlCharacters(raw);
  assert.match(out, /arb stats — last 30d/);
  assert.match(out, /Revenue and profit per day — 3[01] days, \d{4}-\d\d-\d\d → \d{4}-\d\d-\d\d \(UTC\)/);
  assert.match(out, /█+▒+ +\$7\.50 +\$1\.25 +3\r?$/m);
  assert.match(out, /Margin by model/);
  assert.match(out, /Top keys by usage/);
  assert.match(out, /sk-arb-.{4}….{4} openai\/gpt-4 +█*░+ 3\.0 % +3,000 \/ 100,000 +\+3,000/);
  for (const line of out.split(/\r?\n/)) assert.ok([...line].length <= 120, line);
});
