/** Display formatting for the CLI (tables and screens). Money stays integer µ$ until here. */
import { formatUsd, microsToUsd } from '../../src/money.js';

export { formatUsd };

// one formatter: toLocaleString builds a new one per call, which dominated 10,000-row tables
const COUNT = new Intl.NumberFormat('en-US', { maximumFractionDigits: 3 });

/** 100000 → "100,000" */
export function formatCount(n: number): string {
  return COUNT.format(n);
}

/** 25 → "25.0 %"; null → "n/a" */
export function formatPercent(p: number | null | undefined, digits = 1): string {
  return p === null || p === undefined || !Number.isFinite(p) ? 'n/a' : `${p.toFixed(digits)} %`;
}

/** µ$ per million tokens → "$30.00/Mtok" */
export function formatRate(microsPerMtok: number | null): string {
  if (microsPerMtok === null) return 'variable';
  const usd = microsToUsd(microsPerMtok);
  return `$${usd < 0.01 && usd > 0 ? usd.toPrecision(2) : usd.toFixed(2)}/Mtok`;
}

/** Length of a bar for `value` on a chart whose longest bar (`max`) is `width` cells; any positive value shows. */
export function barLength(value: number, max: number, width: number): number {
  return value <= 0 ? 0 : Math.max(1, Math.round((value / Math.max(1, max)) * width));
}
