/**
 * Locale discovery: every `<language>.ts` file in this folder (`en`, `ru`, `pt-br`, …) whose default export
 * has the shape of en.ts is a locale. Adding a language means adding a file; nothing is registered by hand.
 * A user's `language_code` picks the locale (exact, then the base language), falling back to English; keys
 * missing from a file fall back to the English text.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import en, { type Locale } from './en.js';

export type { Locale } from './en.js';

const LOCALE_FILE = /^([a-z]{2,3}(?:-[a-z0-9]{2,8})?)\.(?:ts|js|mjs)$/i;

export interface Locales {
  /** language code → locale; always has `en` */
  readonly byCode: ReadonlyMap<string, Locale>;
  pick(languageCode: string | null | undefined): Locale;
}

/** Fills what `partial` lacks from `base` (objects recursively; strings and functions as they are). */
function withFallback<T>(base: T, partial: unknown): T {
  if (typeof base !== 'object' || base === null || typeof partial !== 'object' || partial === null) {
    return (partial === undefined || typeof partial !== typeof base ? base : partial) as T;
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(base as Record<string, unknown>)) {
    out[key] = withFallback(value, (partial as Record<string, unknown>)[key]);
  }
  return out as T;
}

export function createLocales(list: readonly Locale[]): Locales {
  const byCode = new Map<string, Locale>([['en', en]]);
  for (const locale of list) byCode.set(locale.code.toLowerCase(), withFallback(en, locale));
  return {
    byCode,
    pick(languageCode) {
      const code = (languageCode ?? '').toLowerCase().replace('_', '-');
      return byCode.get(code) ?? byCode.get(code.split('-')[0]) ?? en;
    },
  };
}

/** Imports every locale file next to this one. */
export async function loadLocales(dir: string = dirname(fileURLToPath(import.meta.url))): Promise<Locales> {
  const found: Locale[] = [];
  for (const name of readdirSync(dir).sort()) {
    const m = LOCALE_FILE.exec(name);
    if (!m || m[1].toLowerCase() === 'index' || m[1].toLowerCase() === 'en') continue;
    const mod = (await import(pathToFileURL(join(dir, name)).href)) as { default?: Partial<Locale> };
    const locale = mod.default;
    if (!locale || typeof locale !== 'object' || typeof locale.code !== 'string') continue;
    found.push(locale as Locale);
  }
  return createLocales(found);
}
