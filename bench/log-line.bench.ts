/**
 * The cost of one `api_call` log line (one per proxied request) through the logger, against baselines
 * measured in the same run:
 *   - the pino logger arb used before (pino 10.4.0 configured as src/logger.ts was: bench/support/pino-logger.ts),
 *     as it wrote api_call lines (its hand-built flat line inside pino's hook) and through pino's own
 *     serializer (every line before that shortcut) — issue 16.3: the line must not cost more than it did;
 *   - `JSON.stringify` of the same object (timestamp, level, fields, message) with no redaction — the
 *     least any JSON logger can do.
 * All write into one sink that drops the bytes, so only CPU is measured; the lines are checked to be the
 * same (but for the timestamp) first. Rounds are interleaved and the median counts.
 *
 *   npm run bench -- log-line        (BENCH_LOG_LINES=200000 lines per round, BENCH_ROUNDS=7)
 */
import type pino from 'pino';
import { createLogger, logApiCall } from '../src/logger.js';
import { createPinoLogger } from './support/pino-logger.js';

const LINES = Number(process.env.BENCH_LOG_LINES ?? 200_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);

let bytes = 0;
const sink = {
  write(chunk: string): boolean {
    bytes += chunk.length;
    return true;
  },
} as unknown as NodeJS.WritableStream;

const secrets = ['sk-or-v1-0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab', '7012345678:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw'];
const logger = createLogger({ destination: sink, level: 'info', secrets, process: 'test' });
const pinoFlat = createPinoLogger({ destination: sink, level: 'info', secrets });
const pinoSerializer = createPinoLogger({ destination: sink, level: 'info', secrets, flatLines: false });

/** The fields the proxy logs for a served chat completion (daemon/http/proxy.ts). */
function call(i: number) {
  return {
    service: 'proxy',
    endpoint: '/v1/chat/completions',
    status: 200,
    success: true,
    latency_ms: 812 + (i & 15),
    model: 'openai/gpt-4',
    request_id: `req_${(1e9 + i).toString(36)}`,
    allocation_id: 12,
    user_id: 123456789,
    outcome: 'ok',
    stream: false,
    prompt_tokens: 412,
    completion_tokens: 128,
    weighted_tokens: 668,
    estimated: false,
    hold_tokens: 4508,
    upstream_cost_micros: 20_040,
    overhead_ms: 0.512,
  };
}

function viaLogger(n: number): void {
  for (let i = 0; i < n; i++) logApiCall(logger, call(i));
}

/** The old logApiCall (a served call is an info line). */
function pinoApiCall(log: pino.Logger<'critical'>, c: ReturnType<typeof call>): void {
  const level = c.success ? 'info' : c.status >= 500 || c.status === 0 ? 'error' : 'warn';
  log[level]({ api_call: true, ...c }, `${c.service} ${c.endpoint} ${c.status}`);
}

function viaPinoFlat(n: number): void {
  for (let i = 0; i < n; i++) pinoApiCall(pinoFlat, call(i));
}

function viaPinoSerializer(n: number): void {
  for (let i = 0; i < n; i++) pinoApiCall(pinoSerializer, call(i));
}

function viaStringify(n: number): void {
  for (let i = 0; i < n; i++) {
    const c = call(i);
    sink.write(`${JSON.stringify({ timestamp: new Date().toISOString(), level: 'INFO', api_call: true, ...c, message: `${c.service} ${c.endpoint} ${c.status}` })}\n`);
  }
}

function nsPerLine(fn: (n: number) => void): number {
  const start = process.hrtime.bigint();
  fn(LINES);
  return Number(process.hrtime.bigint() - start) / LINES;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** The line `fn` writes for call 0, its timestamp blanked. */
function oneLine(fn: (n: number) => void): string {
  const write = sink.write;
  let line = '';
  sink.write = (chunk: string) => ((line += chunk), true);
  try {
    fn(1);
  } finally {
    sink.write = write;
  }
  return line.replace(/"timestamp":"[^"]*"/, '"timestamp":""');
}

const ways = [viaLogger, viaPinoFlat, viaPinoSerializer, viaStringify];
const sameLines = ways.every((fn) => oneLine(fn) === oneLine(viaLogger));
for (const fn of ways) fn(20_000);
const runs = ways.map((): number[] => []);
for (let r = 0; r < ROUNDS; r++) ways.forEach((fn, i) => runs[i].push(nsPerLine(fn)));
const [o, pf, ps, b] = runs.map((xs) => median(xs) / 1000);
const us = (x: number) => `${x.toFixed(2)} µs/line`;
console.log(`api_call log line: ${LINES.toLocaleString('en-US')} lines per round, median of ${ROUNDS} interleaved rounds (${(bytes / 1e6).toFixed(0)} MB formatted)`);
console.log(`  arb logger (redaction on)                          ${us(o)}`);
console.log(`  pino 10.4.0 as the old logger wrote api_call lines ${us(pf)}   (its hand-built line inside pino's hook)`);
console.log(`  pino 10.4.0, the old logger via pino's serializer  ${us(ps)}`);
console.log(`  JSON.stringify baseline                            ${us(b)}`);
console.log(`  the same line from all four (timestamp aside): ${sameLines ? 'yes' : 'NO'}`);
console.log(`  ratio arb / old pino logger: ${(o / pf).toFixed(2)}× (as it wrote api_call lines), ${(o / ps).toFixed(2)}× (pino's serializer)`);
console.log(`  ratio logger / JSON.stringify baseline: ${(o / b).toFixed(2)}×`);
if (!sameLines) process.exitCode = 1;
