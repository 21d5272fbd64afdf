/**
 * `arb logs <query>` against the operations manual's shell recipe for the same answer, on the same big
 * log, in the same run (issue 15.3: arb must be no slower than the recipe).
 *
 *   npm run bench -- logs                 (1 GB log; BENCH_LOG_MB=100 for a quick check)
 *   BENCH_LOG_ROTATED=1                   the log as 50 MB rotated files plus the live file (read in parallel)
 *   BENCH_KEEP_LOG=1                      keep the generated log in the temp dir for the next run
 *
 * Pairs (each prints both times, the ratio recipe/arb, and checks that the answers agree):
 *   errors        grep -e '"level":"ERROR"' -e '"level":"CRITICAL"' | wc -l    arb logs errors --json
 *   transactions  grep '"transaction":true' | jq -r .amount | awk sum          arb logs transactions --json (amount)
 *   security      grep '"security_event":true' | wc -l                        arb logs security --json
 *   api-failures  grep '"api_call":true' | grep '"success":false' | wc -l     arb logs api-failures --json
 *   high-value    grep '"transaction":true' | jq 'select(.amount >= 100)' | wc -l   arb logs high-value --json
 * and, for information, the manual's high-value regex grep (a different answer) and arb on one thread
 * (ARB_LOG_THREADS=0) and on two (ARB_LOG_THREADS=2; by default arb starts workers only for a big log and
 * when at least two cores are free by the load average). arb prints one entry (--limit 1) so output size does not dominate. The CLI runs as
 * JS compiled into .tmp/bench-dist for this run (what npm install builds into dist/). Each command runs
 * BENCH_RUNS times (default 3); the least wall-clock time and the least CPU time count (the recipe's CPU is
 * every process of its pipeline, arb's includes its worker threads). The ratio is printed by both: on an
 * idle machine the wall-clock ratio is the goal; on a shared, loaded machine wall-clock is mostly the
 * scheduler's doing and the CPU ratio says which side does more work. The machine's load is printed
 * before and after.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { rotatedLogName } from '../src/logs/files.js';
import { timed, type Timed } from './support/harness.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const megabytes = Number(process.env.BENCH_LOG_MB ?? 1024);
if (!Number.isFinite(megabytes) || megabytes <= 0) {
  console.error(`BENCH_LOG_MB="${process.env.BENCH_LOG_MB}": expected a positive number of megabytes, e.g. 50`);
  process.exit(2);
}
const rotated = process.env.BENCH_LOG_ROTATED === '1';
const runs = Number(process.env.BENCH_RUNS ?? 3);
if (!Number.isSafeInteger(runs) || runs < 1) {
  console.error(`BENCH_RUNS="${process.env.BENCH_RUNS}": expected a positive whole number, e.g. 3`);
  process.exit(2);
}
const haveJq = spawnSync('bash', ['-c', 'command -v jq'], { encoding: 'utf8' }).status === 0;
if (!haveJq) {
  console.log('skipped: jq is not installed (the baseline recipes need it)');
  process.exit(0);
}

const dir = join(tmpdir(), `arb-bench-logs-${megabytes}mb${rotated ? '-rotated' : ''}`);
const logDir = join(dir, 'logs');
const targetBytes = Math.round(megabytes * 1024 * 1024);
const ROTATE_BYTES = 50 * 1024 * 1024;

interface Expected {
  transactions: number;
  amountMicros: number;
  errors: number;
  security: number;
  apiFailures: number;
}

/**
 * A realistic mix of the logger's lines (api calls dominate, ~10 % transactions, some errors, a few
 * security events); with BENCH_LOG_ROTATED=1 cut into 50 MB rotated files named as the logger names them.
 */
function generate(): Expected {
  mkdirSync(logDir, { recursive: true });
  let seed = 42;
  const rnd = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
  const models = ['openai/gpt-4', 'openai/gpt-4o-mini', 'anthropic/claude-3.5-sonnet', 'meta-llama/llama-3.1-70b-instruct'];
  let t = Date.UTC(2024, 0, 1);
  let written = 0;
  let inFile = 0;
  const e: Expected = { transactions: 0, amountMicros: 0, errors: 0, security: 0, apiFailures: 0 };
  let fd = openSync(join(logDir, 'arbitrage.log'), 'w');
  let chunk = '';
  const flush = () => {
    const n = writeSync(fd, chunk);
    written += n;
    inFile += n;
    chunk = '';
    if (rotated && inFile >= ROTATE_BYTES && written < targetBytes) {
      closeSync(fd);
      // the live file is renamed as the logger's rotation would; a fresh one follows
      renameSync(join(logDir, 'arbitrage.log'), join(logDir, rotatedLogName(new Date(t))));
      fd = openSync(join(logDir, 'arbitrage.log'), 'w');
      inFile = 0;
    }
  };
  while (written < targetBytes) {
    t += Math.floor(rnd() * 2000);
    const ts = new Date(t).toISOString();
    const r = rnd();
    const model = models[Math.floor(rnd() * models.length)];
    const rid = `req-${Math.floor(rnd() * 1e12).toString(36)}`;
    let line: string;
    if (r < 0.1) {
      const micros = Math.floor(rnd() * 200_000_000) + 10_000;
      const type = rnd() < 0.6 ? 'token_package_purchase' : 'refund';
      const signed = type === 'refund' ? -micros : micros;
      line = `{"timestamp":"${ts}","level":"INFO","transaction":true,"type":"${type}","amount":${signed / 1e6},"amount_micros":${signed},"user_id":${Math.floor(rnd() * 50_000)},"package_id":${Math.floor(rnd() * 40)},"transaction_id":${Math.floor(rnd() * 1e7)},"message":"transaction ${type}"}`;
      e.transactions++;
      e.amountMicros += signed;
    } else if (r < 0.14) {
      line = `{"timestamp":"${ts}","level":"INFO","business_event":true,"event_type":"token_package_sold","package_id":${Math.floor(rnd() * 40)},"user_id":${Math.floor(rnd() * 50_000)},"model":"${model}","tokens":100000,"revenue":3.75,"profit":0.75,"message":"token_package_sold"}`;
    } else if (r < 0.16) {
      line = `{"timestamp":"${ts}","level":"ERROR","request_id":"${rid}","err":{"type":"UpstreamError","message":"upstream returned 502","stack":"UpstreamError: upstream returned 502\\n    at forward (daemon/http/proxy.js:120:11)"},"message":"upstream returned 502"}`;
      e.errors++;
    } else if (r < 0.161) {
      line = `{"timestamp":"${ts}","level":"WARN","security_event":true,"event":"invalid_api_key","reason":"unknown key","ip":"203.0.113.${Math.floor(rnd() * 250)}","key":"sk-arb-${Math.floor(rnd() * 1e4)}…wxyz","message":"security invalid_api_key"}`;
      e.security++;
    } else if (r < 0.9) {
      const ok = rnd() > 0.03;
      const status = ok ? 200 : rnd() < 0.5 ? 429 : 502;
      const level = ok ? 'INFO' : status >= 500 ? 'ERROR' : 'WARN';
      line = `{"timestamp":"${ts}","level":"${level}","api_call":true,"service":"proxy","endpoint":"/v1/chat/completions","status":${status},"success":${ok},"latency_ms":${Math.floor(rnd() * 3000)},"model":"${model}","request_id":"${rid}","allocation_id":${Math.floor(rnd() * 90_000)},"prompt_tokens":${Math.floor(rnd() * 2000)},"completion_tokens":${Math.floor(rnd() * 800)},${ok ? '' : `"failure":"upstream status ${status}",`}"message":"proxy /v1/chat/completions ${status}"}`;
      if (!ok) e.apiFailures++;
      if (level === 'ERROR') e.errors++;
    } else {
      line = `{"timestamp":"${ts}","level":"DEBUG","performance":true,"operation":"settle_usage","execution_time":${(rnd() * 0.05).toFixed(4)},"message":"performance settle_usage"}`;
    }
    chunk += `${line}\n`;
    if (chunk.length > 1 << 20) flush();
  }
  if (chunk) flush();
  closeSync(fd);
  return e;
}

function time<T>(fn: () => T): { ms: number; value: T } {
  const start = process.hrtime.bigint();
  const value = fn();
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, value };
}

/** `runs` runs of a command: the least wall-clock and the least CPU time (each may come from another run). */
function best<T>(fn: () => Timed, value: (t: Timed) => T): { ms: number; cpuMs: number | null; value: T } {
  const xs = Array.from({ length: runs }, fn);
  const cpus = xs.map((x) => x.cpuMs).filter((c): c is number => c !== null);
  return { ms: Math.min(...xs.map((x) => x.ms)), cpuMs: cpus.length === xs.length ? Math.min(...cpus) : null, value: value(xs[0]) };
}

/** The log files for a recipe: the live file, or (rotated) every file oldest first. */
const files = () => (rotated ? 'logs/arbitrage*' : 'logs/arbitrage.log');

/** The recipe's pipeline, timed with every process in it. */
function bash(script: string): Timed {
  return timed('bash', ['-c', `set -o pipefail; ${script}`], { cwd: dir });
}

/** The shipped CLI runs compiled JS (npm install builds dist/): the project is compiled for this run (dist/ may be stale). */
function cliCommand(): { argv: string[]; label: string } {
  if (process.env.BENCH_FROM_SOURCE === '1') return { argv: [join(root, 'bin', 'arb.js')], label: 'the TypeScript sources via tsx (BENCH_FROM_SOURCE=1)' };
  const out = join(root, '.tmp', 'bench-dist');
  rmSync(out, { recursive: true, force: true });
  const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json'), '--outDir', out], { cwd: root, encoding: 'utf8' });
  if (!existsSync(join(out, 'src', 'logs', 'fields.js'))) {
    console.log(`could not compile the CLI (${tsc.stdout.slice(0, 300)}); using tsx`);
    return { argv: [join(root, 'bin', 'arb.js')], label: 'the TypeScript sources via tsx' };
  }
  const runner = join(out, 'run.mjs');
  writeFileSync(runner, `const { runCli } = await import(${JSON.stringify(pathToFileURL(join(out, 'bin', 'main.js')).href)});\nawait runCli(process.argv);\n`);
  return { argv: [runner], label: 'JS compiled into .tmp/bench-dist for this run' };
}

const cli = cliCommand();
function arb(args: string[], env: Record<string, string> = {}): Timed {
  return timed(process.execPath, [...cli.argv, ...args], {
    cwd: dir,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_DIR: logDir, ...(cli.label.includes('tsx') ? { ARB_FROM_SOURCE: '1' } : {}), ...env },
  });
}
const doc = (t: Timed) => JSON.parse(t.stdout) as Record<string, unknown>;
const num = (t: Timed) => Number(t.stdout.trim());

const load = () =>
  `load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')} on ${cpus().length} cores`;
const liveFile = join(logDir, 'arbitrage.log');
let expected: Expected | undefined;
const totalBytes = () => (existsSync(logDir) ? readdirSync(logDir).reduce((a, f) => a + statSync(join(logDir, f)).size, 0) : 0);
if (existsSync(liveFile) && totalBytes() >= targetBytes) {
  console.log(`reusing ${logDir} (${(totalBytes() / 1048576).toFixed(0)} MB)`);
} else {
  rmSync(logDir, { recursive: true, force: true });
  const g = time(generate);
  expected = g.value;
  console.log(
    `generated ${logDir}: ${(totalBytes() / 1048576).toFixed(0)} MB in ${readdirSync(logDir).length} file(s), ${g.value.transactions.toLocaleString('en-US')} transactions, in ${(g.ms / 1000).toFixed(1)} s`,
  );
}
console.log(`arb runs from ${cli.label}`);
console.log(`machine: ${load()} at the start (other work on the machine makes these figures noise; compare ratios)`);

let failed = false;
const secs = (ms: number | null) => (ms === null ? '     ?' : (ms / 1000).toFixed(2).padStart(6));
const row = (label: string, t: { ms: number; cpuMs: number | null }, answer: unknown) => console.log(`  ${label.padEnd(58)} ${secs(t.ms)} s wall ${secs(t.cpuMs)} s CPU   ${answer}`);
function pair(
  title: string,
  recipe: { label: string; script: string; answer: (out: string) => number },
  ours: { args: string[]; answer: (doc: Record<string, unknown>) => number },
  expect?: number,
  tolerance = 0,
): void {
  const r = best(
    () => bash(recipe.script),
    (t) => recipe.answer(t.stdout.trim()),
  );
  const a = best(
    () => arb(ours.args),
    (t) => ours.answer(doc(t)),
  );
  const agree = Math.abs(r.value - a.value) <= tolerance && (expect === undefined || Math.abs(a.value - expect) <= tolerance);
  console.log(`\n${title}`);
  row(recipe.label, r, r.value);
  row(`arb ${ours.args.join(' ')}`, a, a.value);
  const byCpu = r.cpuMs !== null && a.cpuMs !== null ? `; by CPU ${(r.cpuMs / a.cpuMs).toFixed(2)}× ${r.cpuMs >= a.cpuMs ? '(arb does no more work)' : '(ARB DOES MORE WORK)'}` : '';
  console.log(
    `  ratio recipe/arb by wall-clock ${(r.ms / a.ms).toFixed(2)}× ${r.ms >= a.ms ? '(arb is no slower)' : '(ARB IS SLOWER)'}${byCpu}; answers ${agree ? 'agree' : `DISAGREE${expect === undefined ? '' : ` (generated ${expect})`}`}`,
  );
  if (!agree) failed = true;
}

try {
  const f = files();
  pair(
    'errors: count of ERROR and CRITICAL lines',
    { label: `grep -e '"level":"ERROR"' -e '"level":"CRITICAL"' | wc -l`, script: `grep -h -e '"level":"ERROR"' -e '"level":"CRITICAL"' ${f} | wc -l`, answer: Number },
    { args: ['logs', 'errors', '--json', '--limit', '1'], answer: (d) => d.total as number },
    expected?.errors,
  );
  pair(
    'transactions: the total of every amount (USD)',
    { label: `grep '"transaction":true' | jq -r .amount | awk sum`, script: `grep -h '"transaction":true' ${f} | jq -r '.amount' | awk '{sum+=$1} END {printf "%.6f", sum}'`, answer: Number },
    { args: ['logs', 'transactions', '--json', '--limit', '1'], answer: (d) => d.amount_usd as number },
    expected ? expected.amountMicros / 1e6 : undefined,
    0.01,
  );
  pair(
    'security: count of security events',
    { label: `grep '"security_event":true' | wc -l`, script: `grep -h '"security_event":true' ${f} | wc -l`, answer: Number },
    { args: ['logs', 'security', '--json', '--limit', '1'], answer: (d) => d.total as number },
    expected?.security,
  );
  pair(
    'api-failures: count of failed API calls',
    { label: `grep '"api_call":true' | grep '"success":false' | wc -l`, script: `grep -h '"api_call":true' ${f} | grep '"success":false' | wc -l`, answer: Number },
    { args: ['logs', 'api-failures', '--json', '--limit', '1'], answer: (d) => d.total as number },
    expected?.apiFailures,
  );
  pair(
    'high-value: count of transactions of $100 or more',
    { label: `grep '"transaction":true' | jq -c 'select(.amount >= 100)' | wc -l`, script: `grep -h '"transaction":true' ${f} | jq -c 'select(.amount >= 100)' | wc -l`, answer: Number },
    { args: ['logs', 'high-value', '--json', '--limit', '1'], answer: (d) => d.total as number },
  );

  console.log('\nfor information');
  const regex = best(() => bash(`grep -h '"amount":[5-9][0-9]*\\|"amount":[0-9][0-9][0-9]' ${f} | wc -l`), num);
  row(`the manual's high-value regex grep (a looser answer)`, regex, regex.value);
  const one = best(
    () => arb(['logs', 'errors', '--json', '--limit', '1'], { ARB_LOG_THREADS: '0' }),
    (t) => doc(t).total,
  );
  row('arb logs errors on one thread (ARB_LOG_THREADS=0)', one, one.value);
  const two = best(
    () => arb(['logs', 'errors', '--json', '--limit', '1'], { ARB_LOG_THREADS: '2' }),
    (t) => doc(t).total,
  );
  row('arb logs errors on two threads (ARB_LOG_THREADS=2)', two, two.value);
  const request = best(
    () => arb(['logs', '--request-id', 'req-not-there', '--json', '--limit', '1']),
    (t) => doc(t).total,
  );
  row('arb logs --request-id (a filter is its own needle)', request, request.value);
  const empty = join(dir, 'empty');
  mkdirSync(empty, { recursive: true });
  const start = best(
    () => arb(['logs', 'errors', '--json', '--limit', '1'], { LOG_DIR: empty }),
    (t) => doc(t).total,
  );
  row('arb logs errors over an empty log dir (the fixed start cost)', start, start.value);
} finally {
  console.log(`\nmachine: ${load()} at the end`);
  if (process.env.BENCH_KEEP_LOG !== '1') rmSync(dir, { recursive: true, force: true });
}
if (failed) process.exitCode = 1;
