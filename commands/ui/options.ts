/** Parsers for CLI option values; each bad value is an InputError naming the option and the fix. */
import { InputError } from '../../src/errors.js';
import { parseSince } from '../../src/time.js';

/** `--since 24h|7d|30d|all|2026-01-31` → window start (null = all time). */
export function parseSinceOption(text: string, now: Date = new Date(), option = '--since'): Date | null {
  const since = parseSince(text, now);
  if (since === undefined) {
    throw new InputError(`${option}: "${text}" is not a time window; use 24h, 7d, 30d, all or a date like 2026-01-31`, 'since');
  }
  if (since !== null && since.getTime() > now.getTime()) {
    throw new InputError(`${option}: ${text} is in the future; use a past date or a window like 7d`, 'since');
  }
  return since;
}

/** A whole number in [min, max], e.g. `--keep 7`. */
export function parseIntegerOption(text: string, option: string, min: number, max: number, example: string): number {
  const t = String(text).trim().replace(/_/g, '');
  if (!/^-?\d+$/.test(t) || !Number.isSafeInteger(Number(t)) || Number(t) < min || Number(t) > max) {
    throw new InputError(`${option}: "${text}" is not a whole number between ${min.toLocaleString('en-US')} and ${max.toLocaleString('en-US')}; use e.g. ${example}`, option.replace(/^-+/, ''));
  }
  return Number(t);
}

/** A Telegram user id argument or option (`--user`). */
export function parseTelegramIdArg(text: string, field = 'telegram_id'): number {
  const t = String(text).trim();
  if (!/^\d{1,15}$/.test(t) || Number(t) === 0) {
    throw new InputError(`${field}: "${text}" is not a Telegram user id; use the numeric id, e.g. 123456789`, field);
  }
  return Number(t);
}

/** A database id argument (package id, …). */
export function parseIdArg(text: string, field: string, hint: string): number {
  const t = String(text).trim();
  if (!/^\d{1,15}$/.test(t) || Number(t) === 0) throw new InputError(`${field}: "${text}" is not an id; use a positive whole number (${hint})`, field);
  return Number(t);
}
