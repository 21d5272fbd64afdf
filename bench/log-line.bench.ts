/**
 * The cost of one `api_call` log line (one per proxied request) through the logger, against a baseline
 * measured in the same run: `JSON.stringify` of the same object (timestamp, level, fields, message) with
 * no redaction — the least any JSON logger can do. Both write into a sink that drops the bytes, so only
 * CPU is measured. Rounds are interleaved and the median counts.
 *
 *   npm run bench -- log-line        (BENCH_LOG_LINES=200000 lines per round, BENCH_ROUNDS=7)
 */
import { createLogger, logApiCall } from '../src/logger.js';

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

viaLogger(20_000);
viaStringify(20_000);
const ours: number[] = [];
const base: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  ours.push(nsPerLine(viaLogger));
  base.push(nsPerLine(viaStringify));
}
const o = median(ours);
const b = median(base);
console.log(`api_call log line: ${LINES.toLocaleString('en-US')} lines per round, median of ${ROUNDS} interleaved rounds (${(bytes / 1e6).toFixed(0)} MB formatted)`);
console.log(`  arb logger (redaction on)        ${(o / 1000).toFixed(2)} µs/line`);
console.log(`  JSON.stringify baseline          ${(b / 1000).toFixed(2)} µs/line`);
console.log(`  ratio logger / baseline: ${(o / b).toFixed(2)}×`);
