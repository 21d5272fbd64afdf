import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONFIG_VARIABLES, createConfig, loadConfig, parseDotenv, readEnv } from '../src/config.js';
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
    createConfig({
      PORT: 'eighty',
      TOKEN_MARKUP_PERCENTAGE: '-3',
      MIN_PROFIT_MARGIN: 'ten',
      ADMIN_ID_LIST: '12,abc',
      WEBHOOK_URL: 'https://shop.example.com',
      STARS_USD_RATE: '0',
      LOG_LEVEL: 'loud',
      DATABASE_URL: 'mysql://x',
    });
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

test(".env is read by dotenv's rules: the manual's quoted markup with an inline comment, export, empty values, quotes", () => {
  const text = [
    '# Arbitrage Settings',
    'TOKEN_MARKUP_PERCENTAGE="30"  # Increase to 30%',
    'export MIN_PROFIT_MARGIN=0.15',
    "BULK_DISCOUNT_PERCENTAGE='7'   # single quotes",
    'BULK_DISCOUNT_THRESHOLD=2000000 # unquoted, comment after a space',
    'REDIS_PASSWORD="p#ss word"',
    'OPENROUTER_BACKUP_BASE_URL=',
    'WEBHOOK_URL=""',
    'LOG_LEVEL = warn ',
    'TERMS_TEXT="line one',
    'line two"',
  ].join('\n');
  const env = parseDotenv(text);
  assert.equal(env.TOKEN_MARKUP_PERCENTAGE, '30');
  assert.equal(env.MIN_PROFIT_MARGIN, '0.15');
  assert.equal(env.BULK_DISCOUNT_PERCENTAGE, '7');
  assert.equal(env.BULK_DISCOUNT_THRESHOLD, '2000000');
  assert.equal(env.REDIS_PASSWORD, 'p#ss word');
  assert.equal(env.OPENROUTER_BACKUP_BASE_URL, '');
  assert.equal(env.WEBHOOK_URL, '');
  assert.equal(env.LOG_LEVEL, 'warn');
  assert.equal(env.TERMS_TEXT, 'line one\nline two');
  const c = createConfig({ ...env, REDIS_HOST: '127.0.0.1' });
  assert.equal(c.markupBp, 3000);
  assert.equal(c.minProfitMarginBp, 1500);
  assert.equal(c.bulkDiscountBp, 700);
  assert.equal(c.bulkDiscountThreshold, 2_000_000);
  assert.equal(c.redis?.password, 'p#ss word');
  assert.equal(c.openrouterBackupBaseUrl, undefined, 'an empty value is unset');
  assert.equal(c.webhookUrl, undefined);
  assert.equal(c.logLevel, 'warn');
});

test('readEnv: the .env file (or ARB_ENV_FILE) under the process environment, which wins', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'arb-env-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'custom.env');
  writeFileSync(file, 'TOKEN_MARKUP_PERCENTAGE="30"  # Increase to 30%\nPORT=9000\n');
  const env = readEnv({ ARB_ENV_FILE: file, PORT: '8100' });
  assert.equal(env.TOKEN_MARKUP_PERCENTAGE, '30');
  assert.equal(env.PORT, '8100');
  assert.equal(loadConfig({ ARB_ENV_FILE: file }).markupBp, 3000);
});

test('LOG_RETENTION_DAYS: default 30, 0 keeps rotated logs, a bad value names the form', () => {
  assert.equal(createConfig({}).logRetentionDays, 30);
  assert.equal(createConfig({ LOG_RETENTION_DAYS: '0' }).logRetentionDays, 0);
  assert.equal(createConfig({ LOG_RETENTION_DAYS: '7' }).logRetentionDays, 7);
  assert.throws(
    () => createConfig({ LOG_RETENTION_DAYS: 'a month' }),
    (e: unknown) => e instanceof ConfigError && /LOG_RETENTION_DAYS="a month": expected a whole number of days like 30/.test(e.message),
  );
});
