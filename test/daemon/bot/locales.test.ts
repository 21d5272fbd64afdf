/**
 * Locales: the shipped files are imported statically (available synchronously, no discovery at run time),
 * a user's language_code picks one (exact, then base language, then English), and texts a file lacks
 * fall back to English.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import en from '../../../daemon/bot/locales/en.js';
import { createLocales, locales } from '../../../daemon/bot/locales/index.js';

function shape(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return typeof value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shape(v)]));
}

test('the shipped locales are there at import time and complete', () => {
  assert.deepEqual([...locales.byCode.keys()].sort(), ['en', 'ru']);
  for (const [code, locale] of locales.byCode) assert.deepEqual(shape(locale), shape(en), `${code} has every text of en`);
  assert.equal(locales.pick('ru').code, 'ru');
  assert.equal(locales.pick('ru-RU').code, 'ru');
  assert.equal(locales.pick('RU').code, 'ru');
  assert.equal(locales.pick('fr').code, 'en');
  assert.equal(locales.pick(undefined).code, 'en');
});

test('a partial language file falls back to English for what it lacks', () => {
  const partial = createLocales([
    { code: 'de', btn: { balance: '💰 Guthaben' }, menu: { fallback: 'Bitte die Knöpfe unten benutzen.' } } as never,
    { code: 'pt-br', btn: { balance: '💰 Saldo' } } as never,
  ]);
  const de = partial.pick('de-CH');
  assert.equal(de.btn.balance, '💰 Guthaben');
  assert.equal(de.menu.fallback, 'Bitte die Knöpfe unten benutzen.');
  assert.equal(de.btn.aiTokens, en.btn.aiTokens);
  assert.equal(de.shop.insufficient({ price: 3_750_000, balance: 0, stars: 289 }), en.shop.insufficient({ price: 3_750_000, balance: 0, stars: 289 }));
  assert.equal(partial.pick('pt-BR').btn.balance, '💰 Saldo');
  assert.equal(partial.pick('pt').code, 'en');
});
