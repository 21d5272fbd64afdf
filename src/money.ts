/**
 * Money is integer micro-dollars (µ$, 1e-6 USD) end to end. Parsing never goes through floats;
 * formatting happens only at the edges (bot text, CLI tables, log lines).
 */
import { InputError } from './errors.js';

export const MICROS_PER_USD = 1_000_000;
export const MICROS_PER_CENT = 10_000;

const DECIMAL = /^(-)?(\d+)(?:\.(\d+))?$/;

/** Exact decimal string → BigInt scaled by 10^scale, rounding up (away from zero for positives) past `scale`. */
export function parseDecimalScaled(text: string, scale: number, round: 'ceil' | 'exact' = 'exact'): bigint | null {
  const m = DECIMAL.exec(text.trim());
  if (!m) return null;
  const [, neg, int, frac = ''] = m;
  const kept = frac.slice(0, scale).padEnd(scale, '0');
  const rest = frac.slice(scale);
  let value = BigInt(int + kept);
  if (/[1-9]/.test(rest)) {
    if (round === 'exact') return null;
    if (!neg) value += 1n;
  }
  return neg ? -value : value;
}

/** "3.75" → 3_750_000. Accepts up to 6 decimals; throws InputError naming `field` otherwise. */
export function parseUsd(text: string | number, field = 'amount'): number {
  const raw = typeof text === 'number' ? numberToPlainString(text) : String(text).trim().replace(/^\$/, '');
  const v = parseDecimalScaled(raw, 6, 'exact');
  if (v === null) {
    throw new InputError(`${field}: "${text}" is not a USD amount; write it like 3.75 (at most 6 decimals)`, field);
  }
  if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new InputError(`${field}: ${text} is too large`, field);
  }
  return Number(v);
}

function numberToPlainString(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  // Shortest round-trip representation, expanded if exponential.
  const s = String(n);
  if (!/e/i.test(s)) return s;
  return n.toFixed(12).replace(/0+$/, '').replace(/\.$/, '');
}

/** µ$ → USD number, for JSON documents and log lines only. */
export function microsToUsd(micros: number): number {
  return micros / MICROS_PER_USD;
}

/** µ$ → "$3.75" (2 decimals, or more when sub-cent digits matter and `precise`). */
export function formatUsd(micros: number, opts: { precise?: boolean } = {}): string {
  const neg = micros < 0;
  const abs = Math.abs(micros);
  const whole = Math.floor(abs / MICROS_PER_USD);
  const frac = String(abs % MICROS_PER_USD).padStart(6, '0');
  let shown = frac.slice(0, 2);
  if (opts.precise) {
    const trimmed = frac.replace(/0+$/, '');
    if (trimmed.length > 2) shown = trimmed;
  } else if (frac.slice(2) !== '0000') {
    // round half up to cents for display
    const cents = Math.round(abs / MICROS_PER_CENT);
    return `${neg ? '-' : ''}$${Math.floor(cents / 100).toLocaleString('en-US')}.${String(cents % 100).padStart(2, '0')}`;
  }
  return `${neg ? '-' : ''}$${whole.toLocaleString('en-US')}.${shown}`;
}

/** Rounds µ$ up to a whole cent. */
export function ceilToCent(micros: bigint): bigint {
  const c = BigInt(MICROS_PER_CENT);
  return ((micros + c - 1n) / c) * c;
}

/** ceil(a / b) for non-negative BigInts. */
export function ceilDiv(a: bigint, b: bigint): bigint {
  if (b <= 0n) throw new RangeError('ceilDiv by non-positive');
  if (a <= 0n) return -(-a / b);
  return (a + b - 1n) / b;
}
