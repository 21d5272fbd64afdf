/**
 * `npm run bench tokens`: the local token count (holds near the end of a quota, estimated charges) on text
 * without spaces against ordinary prose of the same length, in one run. gpt-tokenizer is quadratic in the
 * length of one pre-token, so a run without spaces used to block the event loop for seconds (20,000 CJK
 * characters ≈ 2 s); countTextTokens cuts such runs into short pieces. Goal: every kind of text costs about
 * the same per character as prose (ratio ≤ 3×), i.e. linear time.
 */
import { performance } from 'node:perf_hooks';
import { countTokens } from 'gpt-tokenizer';
import { countTextTokens } from '../src/metering/token-count.js';

const LENGTH = 64_000;
const prose = 'The quick brown fox jumps over the lazy dog while the operator drinks coffee at seven. '.repeat(LENGTH / 86 + 1).slice(0, LENGTH);
const texts: Record<string, string> = {
  'prose (baseline)': prose,
  'CJK, no spaces': '漢字かな交じり文'.repeat(LENGTH / 8),
  'one letter repeated': 'a'.repeat(LENGTH),
  base64: Buffer.from(Array.from({ length: (LENGTH * 3) / 4 }, (_, i) => (i * 7919) % 256)).toString('base64'),
};

function timeOf(fn: () => unknown): number {
  fn(); // warm
  const runs: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    fn();
    runs.push(performance.now() - t0);
  }
  return runs.sort((a, b) => a - b)[2];
}

const base = timeOf(() => countTextTokens(prose));
console.log(`token counting, ${LENGTH.toLocaleString('en-US')} characters each (median of 5)`);
let worst = 0;
for (const [name, text] of Object.entries(texts)) {
  const ms = text === prose ? base : timeOf(() => countTextTokens(text));
  worst = Math.max(worst, ms / base);
  console.log(`${name.padEnd(22)} ${ms.toFixed(1).padStart(8)} ms  ${(ms / base).toFixed(2)}× prose  (${countTextTokens(text).toLocaleString('en-US')} tokens)`);
}
// what one call on the whole run costs (the old behaviour), on a length that finishes in about a second
const t0 = performance.now();
countTokens('漢字'.repeat(7_500));
console.log(`for reference, the tokenizer on one 15,000-character CJK run: ${(performance.now() - t0).toFixed(0)} ms`);
console.log(`worst / prose = ${worst.toFixed(2)}× (goal ≤ 3×) ${worst <= 3 ? 'MET' : 'NOT MET'}`);
