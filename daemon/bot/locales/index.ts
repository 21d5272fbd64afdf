/**
 * The bot's locales, imported statically: one file per language (`en` is the reference; every other file
 * has its shape, checked by `satisfies Locale`). Adding a language = adding its file and one line in
 * SHIPPED below. A user's `language_code` picks the locale (exact, then the base language), falling back
 * to English; texts a file lacks fall back to the English ones.
 */
import en, { type Locale } from './en.js';
import ru from './ru.js';

export type { Locale } from './en.js';

/** Every locale besides English. */
const SHIPPED: readonly Locale[] = [ru];

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

/** Locales from a list (partial files allowed: what they lack is English). */
export function createLocales(list: readonly (Partial<Locale> & { code: string })[]): Locales {
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

/** The shipped locales. */
export const locales: Locales = createLocales(SHIPPED);
