/**
 * The ledger's log lines, read the way the operations manual reads them: the daily-revenue recipe
 * (`grep '"transaction":true' | grep "$(date +%Y-%m-%d)" | jq | awk`) must print what `arb stats` calls the
 * day's revenue, with top-ups (the money customers put in), free grants and refunds in the log.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openAndMigrate } from '../../src/db/dialect.js';
import { creditUser, purchasePackage, refundAllocation } from '../../src/ledger/ledger.js';
import { refundStarsPayment, starsTopupNote } from '../../src/ledger/stars-refunds.js';
import { closeLogger, createLogger } from '../../src/logger.js';
import { tempDir } from '../support/db.js';
import { addPackage, arbEnvDb, CLAUDE, GPT4, runArb } from '../commands/support.js';

function bash(cwd: string, script: string): string {
  const r = spawnSync('bash', ['-c', script], { cwd, encoding: 'utf8', env: { PATH: process.env.PATH, TZ: 'UTC' } });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

test("the manual's daily-revenue recipe equals arb stats revenue: top-ups are business events, sales and refunds are the transactions", async (t) => {
  if (spawnSync('bash', ['-c', 'command -v jq'], { encoding: 'utf8' }).status !== 0) {
    t.skip('jq is not installed (the manual recipe needs it; .ci/run installs it)');
    return;
  }
  const env = await arbEnvDb(t, tempDir(t));
  const handle = await openAndMigrate(env.db);
  const logger = createLogger({ logDir: env.logDir });
  t.after(async () => {
    await closeLogger(logger);
    await handle.close();
  });
  const gpt4 = await addPackage(handle, GPT4, { tokens: 100_000, cost: 3_000_000, price: 3_750_000 });
  const claude = await addPackage(handle, CLAUDE, { tokens: 1_000_000, cost: 250_000, price: 320_000 });
  const deps = { handle, logger, config: { packageValidityDays: 30 } };
  // $162.00 of top-ups (the report: the recipe printed top-ups + sales)
  await creditUser(deps, { telegramId: 1001, amountMicros: 150_000_000, type: 'topup', reference: 'stars-1', note: starsTopupNote(11_539), source: 'telegram_stars' });
  await creditUser(deps, { telegramId: 1002, amountMicros: 12_000_000, type: 'topup', reference: 'stars-2' });
  await creditUser(deps, { telegramId: 1002, amountMicros: 1_000_000, type: 'adjustment', note: 'goodwill' });
  const sold = [
    await purchasePackage(deps, { telegramId: 1001, packageId: gpt4 }),
    await purchasePackage(deps, { telegramId: 1001, packageId: gpt4 }),
    await purchasePackage(deps, { telegramId: 1002, packageId: claude }),
    await purchasePackage(deps, { telegramId: 1002, packageId: gpt4 }),
  ];
  await purchasePackage(deps, { telegramId: 1003, packageId: gpt4, free: true });
  // the ledger's refund path: the unused share of the last sale goes back to the customer
  const refund = await refundAllocation(deps, { allocationId: sold[3].allocation.id, note: 'customer asked' });
  assert.equal(refund.refundedMicros, 3_750_000);
  // the bot's Stars refund after 1001 spent $7.50 of the $150 it credited: the spent part is a refund (the operator's loss)
  const stars = await refundStarsPayment({ ...deps, refund: async () => {} }, { chargeId: 'stars-1', force: true, requestedBy: 'cli' });
  assert.equal(stars.lossMicros, 7_500_000);
  await closeLogger(logger);

  // gross sales 3.75 + 3.75 + 0.32 + 3.75 = 11.57, refunds −3.75 and −7.50 → revenue 0.32
  const recipe = bash(
    env.dir,
    `grep '"transaction":true' logs/arbitrage.log | \\
grep "$(date +%Y-%m-%d)" | \\
jq -r '.amount' | \\
awk '{sum+=$1} END {print "Daily Revenue: $" sum}'`,
  );
  assert.equal(recipe, 'Daily Revenue: $0.32');

  const stats = await runArb(['stats', '--json', '--since', '24h'], env);
  assert.equal(stats.code, 0, stats.stderr);
  const doc = JSON.parse(stats.stdout);
  assert.equal(doc.revenue_usd, 0.32);
  assert.equal(doc.free_grants, 1);
  const today = new Date().toISOString().slice(0, 10);
  assert.equal(doc.by_day.find((d: { day: string }) => d.day === today)?.revenue_usd, 0.32);
  assert.equal(Number(recipe.replace('Daily Revenue: $', '')), doc.revenue_usd);

  const lines = readFileSync(join(env.logDir, 'arbitrage.log'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const transactions = lines.filter((l) => l.transaction === true);
  assert.deepEqual(
    transactions.map((l) => [l.type, l.amount, l.user_id]),
    [
      ['token_package_purchase', 3.75, 1001],
      ['token_package_purchase', 3.75, 1001],
      ['token_package_purchase', 0.32, 1002],
      ['token_package_purchase', 3.75, 1002],
      ['refund', -3.75, 1002],
      ['refund', -7.5, 1001],
    ],
    'only revenue events are transactions, with the Telegram user id',
  );
  const topups = lines.filter((l) => l.business_event === true && (l.event_type === 'balance_topup' || l.event_type === 'balance_adjustment'));
  assert.deepEqual(
    topups.map((l) => [l.event_type, l.amount, l.user_id, l.source]),
    [
      ['balance_topup', 150, 1001, 'telegram_stars'],
      ['balance_topup', 12, 1002, undefined],
      ['balance_adjustment', 1, 1002, undefined],
    ],
  );
  // every sale writes the manual's arbitrage line; a free grant is not a sale
  const sales = lines.filter((l) => l.arbitrage === true && l.operation === 'package_sale');
  assert.equal(sales.length, 4);
  assert.deepEqual(
    { ...sales[0], timestamp: undefined, allocation_id: undefined },
    {
      timestamp: undefined,
      level: 'INFO',
      arbitrage: true,
      operation: 'package_sale',
      model: 'openai/gpt-4',
      tokens: 100_000,
      cost: 3,
      sell_price: 3.75,
      profit: 0.75,
      margin_percent: 25,
      package_id: gpt4,
      user_id: 1001,
      allocation_id: undefined,
      message: 'arbitrage package_sale',
    },
  );
  assert.equal(sales[2].margin_percent, 28);
  assert.ok(lines.some((l) => l.event_type === 'token_package_granted' && l.user_id === 1003));
});
