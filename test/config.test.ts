import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CONFIG_VARIABLES, createConfig, parseDotenv } from '../src/config.js';
import { ConfigError } from '../src/errors.js';

test('defaults follow SPEC §2', () => {
  const c = createConfig({});
  assert.equal(c.markupBp, 2500);
  assert.equal(c.minProfitMarginBp, 1000);
  assert.equal(c.bulkDiscountThreshold, 1_000_000);
  assert.equal(c.bulkDiscountBp, 500);
  assert.equal(c.packageValidityDays, 30);
  assert.equal(c.rateLimitRpm, 60);
  assert.equal(c.starsMicrosPerStar, 13_000);
  assert.equal(c.port, 8000);
  assert.equal(c.dbName, 'arbitrage.db');
  assert.equal(c.openrouterBaseUrl, 'https://openrouter.ai/api/v1');
  assert.equal(c.telegramApiRoot, 'https://api.telegram.org');
  assert.equal(c.redis, undefined);
  assert.equal(c.token, undefined);
});

test('every bad value is named with its expected form, all at once', () => {
  try {
    createConfig({ PORT: 'eighty', TOKEN_MARKUP_PERCENTAGE: '-3', MIN_PROFIT_MARGIN: 'ten', ADMIN_ID_LIST: '12,abc', WEBHOOK_URL: 'https://shop.example.com', STARS_USD_RATE: '0', LOG_LEVEL: 'loud', DATABASE_URL: 'mysql://x' });
    assert.fail('should throw');
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    const text = e.problems.join('\n');
    for (const name of ['PORT', 'TOKEN_MARKUP_PERCENTAGE', 'MIN_PROFIT_MARGIN', 'ADMIN_ID_LIST', 'WEBHOOK_SECRET_TOKEN', 'STARS_USD_RATE', 'LOG_LEVEL', 'DATABASE_URL']) {
      assert.match(text, new RegExp(`^${name}`, 'm'), `${name} is named`);
    }
    assert.match(text, /PORT="eighty": expected a port number/);
    assert.match(text, /MIN_PROFIT_MARGIN="ten": expected a fraction like 0.10/);
  }
});

test('values parse: admins, fractional percentages, redis', () => {
  const c = createConfig({ ADMIN_ID_LIST: ' 1, 22 ,333', TOKEN_MARKUP_PERCENTAGE: '12.5', MIN_PROFIT_MARGIN: '0.15', REDIS_HOST: '127.0.0.1', TOKEN: '123456:ABCdefGHIjklMNOpqrSTUvwxYZ012345' });
  assert.deepEqual(c.adminIds, [1, 22, 333]);
  assert.equal(c.markupBp, 1250);
  assert.equal(c.minProfitMarginBp, 1500);
  assert.deepEqual(c.redis, { host: '127.0.0.1', port: 6379, password: undefined });
});

test('.env parsing and .env.example lists every variable with a comment', () => {
  assert.deepEqual(parseDotenv('A=1\n# c\nexport B="two words"\nC=x # trailing\n'), { A: '1', B: 'two words', C: 'x' });
  const example = readFileSync(new URL('../.env.example', import.meta.url), 'utf8');
  for (const [name] of CONFIG_VARIABLES) {
    assert.match(example, new RegExp(`# .+\\n#? ?${name}=`), `${name} is in .env.example with a comment`);
  }
});
