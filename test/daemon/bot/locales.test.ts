/**
 * Locales: every file in daemon/bot/locales is picked up (adding a language = adding a file), a user's
 * language_code picks it (exact, then base language, then English), and keys a file lacks fall back to
 * English at run time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import en from '../../../daemon/bot/locales/en.js';
import { loadLocales } from '../../../daemon/bot/locales/index.js';
import { tempDir } from '../../support/db.js';

function shape(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return typeof value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shape(v)]));
}

test('the shipped locales are discovered and complete', async () => {
  const locales = await loadLocales();
  assert.deepEqual([...locales.byCode.keys()].sort(), ['en', 'ru']);
  for (const [code, locale] of locales.byCode) assert.deepEqual(shape(locale), shape(en), `${code} has every text of en`);
  assert.equal(locales.pick('ru').code, 'ru');
  assert.equal(locales.pick('ru-RU').code, 'ru');
  assert.equal(locales.pick('RU').code, 'ru');
  assert.equal(locales.pick('fr').code, 'en');
  assert.equal(locales.pick(undefined).code, 'en');
});

test('a new language is a new file; what it lacks falls back to English', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'de.mjs'), `export default { code: 'de', btn: { balance: '💰 Guthaben' }, menu: { fallback: 'Bitte die Knöpfe unten benutzen.' } };\n`);
  writeFileSync(join(dir, 'pt-br.mjs'), `export default { code: 'pt-br', btn: { balance: '💰 Saldo' } };\n`);
  writeFileSync(join(dir, 'notes.txt'), 'not a locale');
  const locales = await loadLocales(dir);
  const de = locales.pick('de-CH');
  assert.equal(de.btn.balance, '💰 Guthaben');
  assert.equal(de.menu.fallback, 'Bitte die Knöpfe unten benutzen.');
  assert.equal(de.btn.aiTokens, en.btn.aiTokens);
  assert.equal(de.shop.insufficient({ price: 3_750_000, balance: 0 }), en.shop.insufficient({ price: 3_750_000, balance: 0 }));
  assert.equal(locales.pick('pt-BR').btn.balance, '💰 Saldo');
  assert.equal(locales.pick('pt').code, 'en');
});
