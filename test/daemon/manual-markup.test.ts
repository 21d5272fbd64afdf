/**
 * The operations manual's "Dynamic Pricing Adjustments", word for word: edit .env to
 * `TOKEN_MARKUP_PERCENTAGE="30"  # Increase to 30%` and restart. The daemon starts (the line used to stop
 * it: exit 2), prices by the formula follow before anything is sold, the fixed price stays, every change
 * is an `"arbitrage":true` `package_repriced` line and the admins are told in Telegram. The same start
 * prunes rotated logs past LOG_RETENTION_DAYS.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createConfig, parseDotenv } from '../../src/config.js';
import { openAndMigrate } from '../../src/db/dialect.js';
import { createPackage } from '../../src/packages/packages.js';
import { seedCatalog } from '../support/seed.js';
import { tempDir } from '../support/db.js';
import { startFakeTelegram } from '../support/fake-telegram.js';
import { ARB_BIN, CLI_FROM_SOURCE, spawnDaemon } from '../support/cli.js';

const ADMIN = 777;

test('the manual\'s markup change: TOKEN_MARKUP_PERCENTAGE="30"  # Increase to 30% and a restart reprice the formula packages, keep the fixed one, log and tell the admins', async (t) => {
  const tg = await startFakeTelegram();
  t.after(() => tg.close());
  const cwd = tempDir(t);
  const envText = (markupLine: string) =>
    [
      '# Essential Configuration',
      `TOKEN="${tg.token}"`,
      `ADMIN_ID_LIST="${ADMIN}"`,
      'OPENROUTER_API_KEY="sk-or-v1-your-openrouter-key"',
      `TELEGRAM_API_ROOT=${tg.apiRoot}`,
      'OPENROUTER_BASE_URL=http://127.0.0.1:9/api/v1',
      '',
      '# Database',
      'DB_NAME="arbitrage.db"',
      '',
      '# Arbitrage Settings',
      markupLine,
      'MIN_PROFIT_MARGIN="0.10"',
      'BULK_DISCOUNT_THRESHOLD="1000000"',
      'BULK_DISCOUNT_PERCENTAGE="5"',
      '',
    ].join('\n');
  writeFileSync(join(cwd, '.env'), envText('TOKEN_MARKUP_PERCENTAGE="25"'));

  // the shop as it was: two packages by the formula, one at an explicit price
  const before = createConfig(parseDotenv(readFileSync(join(cwd, '.env'), 'utf8')));
  const handle = await openAndMigrate({ dbName: join(cwd, 'arbitrage.db') });
  await seedCatalog(handle);
  const deps = { handle, config: before };
  const gpt4 = (await createPackage(deps, { model: 'gpt-4', tokens: 100_000, description: 'GPT-4 Premium Access - 100k tokens' })).package;
  const bulk = (await createPackage(deps, { model: 'gpt-3.5-turbo', tokens: 1_000_000, description: 'GPT-3.5 Turbo Bulk - 1M tokens' })).package;
  const fixed = (await createPackage(deps, { model: 'gpt-4', tokens: 200_000, description: 'GPT-4 200k, promo', priceUsd: '7.00' })).package;
  await handle.close();
  assert.deepEqual([gpt4.priceMicros, bulk.priceMicros, fixed.priceMicros], [3_750_000, 600_000, 7_000_000]);

  // a rotated log from two months ago (LOG_RETENTION_DAYS defaults to 30)
  mkdirSync(join(cwd, 'logs'), { recursive: true });
  const oldLog = join(cwd, 'logs', 'arbitrage.log.20261001-000000');
  writeFileSync(oldLog, '{"level":"INFO"}\n');
  utimesSync(oldLog, new Date(Date.now() - 60 * 86_400_000), new Date(Date.now() - 60 * 86_400_000));

  // "Edit .env file", then restart
  writeFileSync(join(cwd, '.env'), envText('TOKEN_MARKUP_PERCENTAGE="30"  # Increase to 30%'));
  const check = spawnSync(process.execPath, [ARB_BIN, 'config', 'check'], { cwd, env: { PATH: process.env.PATH, HOME: process.env.HOME, ARB_FROM_SOURCE: CLI_FROM_SOURCE }, encoding: 'utf8' });
  assert.equal(check.status, 0, `arb config check accepts the manual's line: ${check.stderr}`);
  const daemon = await spawnDaemon(cwd, {}, { t });

  const after = await openAndMigrate({ dbName: join(cwd, 'arbitrage.db') });
  t.after(() => after.close());
  const prices = new Map((await after.db.selectFrom('ai_token_packages').select(['id', 'price', 'is_available', 'price_mode']).execute()).map((p) => [p.id, p]));
  // repriced before the daemon said it listens: cost $3.00 × 1.30; $0.50 × 1.30 × 0.95 → $0.62 (rounded up to a cent)
  assert.equal(prices.get(gpt4.id)?.price, 3_900_000);
  assert.equal(prices.get(bulk.id)?.price, 620_000);
  assert.equal(prices.get(fixed.id)?.price, 7_000_000, 'the explicit price stays');
  assert.equal(prices.get(fixed.id)?.price_mode, 'fixed');
  assert.equal(prices.get(fixed.id)?.is_available, 1, '16.7 % is above the 10 % floor: still on sale');

  // the admins are told (the bot's notify path), within a deadline
  const deadline = Date.now() + 20_000;
  let told: string | undefined;
  while (!told) {
    told = tg
      .callsOf('sendMessage')
      .filter((p) => p.chat_id === ADMIN)
      .map((p) => String(p.text))
      .find((text) => text.includes('Prices updated at daemon start'));
    if (told) break;
    assert.ok(Date.now() < deadline, `no admin message about the new prices; daemon output:\n${daemon.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.match(told, /markup 30 %/);
  assert.match(told, /#1 openai\/gpt-4 100,000 tokens: \$3\.75 → \$3\.90 \(margin 30\.0 %\)/);
  assert.match(told, /#2 openai\/gpt-3\.5-turbo 1,000,000 tokens: \$0\.60 → \$0\.62/);
  assert.match(told, /#3 openai\/gpt-4: \$7\.00, margin 16\.7 %/);

  daemon.child.kill('SIGTERM');
  assert.equal(await daemon.exited, 0, daemon.output());

  const log = readFileSync(join(cwd, 'logs', 'arbitrage.log'), 'utf8');
  const repriced = log
    .split('\n')
    .filter((l) => l.includes('"arbitrage":true') && l.includes('"operation":"package_repriced"'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(
    repriced.map((l) => [l.package_id, l.previous_sell_price, l.sell_price, l.margin_percent, l.trigger]),
    [
      [gpt4.id, 3.75, 3.9, 30, 'start'],
      [bulk.id, 0.6, 0.62, 24, 'start'],
    ],
  );
  assert.ok(!existsSync(oldLog), 'the rotated log past the retention was pruned at start');
  assert.match(log, /"event_type":"logs_pruned","count":1/);
});
