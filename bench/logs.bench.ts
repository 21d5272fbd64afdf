/**
 * `arb logs transactions` against the operations manual's recipe on the same big log, in the same run.
 *
 *   BENCH_LOG_MB=1024 npm run bench -- logs      (default 1024 MB; BENCH_LOG_MB=50 for a quick check)
 *   BENCH_KEEP_LOG=1 keeps the generated file in the temp dir for the next run
 *
 * Like with like: both sides compute the total of every transaction amount over the whole file —
 * the recipe `grep '"transaction":true' arbitrage.log | jq -r '.amount' | awk '{sum+=$1} END {print sum}'`
 * and `arb logs transactions --json --limit 1` (its `amount_usd` is that total; one entry is printed so
 * output size does not dominate). The error count (`grep '"level":"ERROR"' | wc -l` vs `arb logs errors`)
 * is shown too, for information. The CLI runs as compiled JS (dist/, or a fresh compile into
 * .tmp/bench-dist; BENCH_FROM_SOURCE=1 uses tsx instead). Each side runs twice; the faster run counts.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const megabytes = Number(process.env.BENCH_LOG_MB ?? 1024);
if (!Number.isFinite(megabytes) || megabytes <= 0) {
  console.error(`BENCH_LOG_MB="${process.env.BENCH_LOG_MB}": expected a positive number of megabytes, e.g. 50`);
  process.exit(2);
}
const haveJq = spawnSync('bash', ['-c', 'command -v jq'], { encoding: 'utf8' }).status === 0;
if (!haveJq) {
  console.log('skipped: jq is not installed (the baseline recipe needs it)');
  process.exit(0);
}

const dir = join(tmpdir(), `arb-bench-logs-${megabytes}mb`);
const logDir = join(dir, 'logs');
const logFile = join(logDir, 'arbitrage.log');
const targetBytes = Math.round(megabytes * 1024 * 1024);

/** A realistic mix of the logger's lines (api calls dominate, ~10 % transactions, some errors). */
function generate(): { transactions: number; amountMicros: number; errors: number } {
  mkdirSync(logDir, { recursive: true });
  const fd = openSync(logFile, 'w');
  let seed = 42;
  const rnd = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
  const models = ['openai/gpt-4', 'openai/gpt-4o-mini', 'anthropic/claude-3.5-sonnet', 'meta-llama/llama-3.1-70b-instruct'];
  let t = Date.UTC(2024, 0, 1);
  let written = 0;
  let transactions = 0;
  let amountMicros = 0;
  let errors = 0;
  let chunk = '';
  while (written < targetBytes) {
    t += Math.floor(rnd() * 2000);
    const ts = new Date(t).toISOString();
    const r = rnd();
    const model = models[Math.floor(rnd() * models.length)];
    let line: string;
    if (r < 0.1) {
      const micros = Math.floor(rnd() * 200_000_000) + 10_000;
      const type = rnd() < 0.6 ? 'token_package_purchase' : 'topup';
      line = `{"timestamp":"${ts}","level":"INFO","transaction":true,"type":"${type}","amount":${micros / 1e6},"amount_micros":${micros},"user_id":${Math.floor(rnd() * 50_000)},"package_id":${Math.floor(rnd() * 40)},"transaction_id":${Math.floor(rnd() * 1e7)},"message":"transaction ${type}"}`;
      transactions++;
      amountMicros += micros;
    } else if (r < 0.14) {
      line = `{"timestamp":"${ts}","level":"INFO","business_event":true,"event_type":"token_package_sold","package_id":${Math.floor(rnd() * 40)},"user_id":${Math.floor(rnd() * 50_000)},"model":"${model}","tokens":100000,"revenue":3.75,"profit":0.75,"message":"token_package_sold"}`;
    } else if (r < 0.16) {
      line = `{"timestamp":"${ts}","level":"ERROR","err":{"type":"UpstreamError","message":"upstream returned 502","stack":"UpstreamError: upstream returned 502\\n    at forward (daemon/http/proxy.js:120:11)"},"message":"upstream returned 502"}`;
      errors++;
    } else if (r < 0.9) {
      const ok = rnd() > 0.03;
      line = `{"timestamp":"${ts}","level":"${ok ? 'INFO' : 'WARN'}","api_call":true,"service":"proxy","endpoint":"/v1/chat/completions","status":${ok ? 200 : 429},"success":${ok},"latency_ms":${Math.floor(rnd() * 3000)},"model":"${model}","request_id":"req-${Math.floor(rnd() * 1e12).toString(36)}","prompt_tokens":${Math.floor(rnd() * 2000)},"completion_tokens":${Math.floor(rnd() * 800)},"message":"proxy /v1/chat/completions ${ok ? 200 : 429}"}`;
    } else {
      line = `{"timestamp":"${ts}","level":"DEBUG","performance":true,"operation":"settle_usage","execution_time":${(rnd() * 0.05).toFixed(4)},"message":"performance settle_usage"}`;
    }
    chunk += `${line}\n`;
    if (chunk.length > 1 << 20) {
      written += writeSync(fd, chunk);
      chunk = '';
    }
  }
  if (chunk) written += writeSync(fd, chunk);
  closeSync(fd);
  return { transactions, amountMicros, errors };
}

function time<T>(fn: () => T): { ms: number; value: T } {
  const start = process.hrtime.bigint();
  const value = fn();
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  return { ms, value };
}

function bash(script: string): string {
  const r = spawnSync('bash', ['-c', script], { cwd: dir, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${script} failed: ${r.stderr}`);
  return r.stdout.trim();
}

/**
 * The shipped CLI runs compiled JS (npm install builds dist/). When dist/ predates the logs command the
 * project is compiled into .tmp/bench-dist for this run, so tsx's start-up cost is not measured.
 */
function cliCommand(): { argv: string[]; label: string } {
  if (existsSync(join(root, 'dist', 'commands', 'logs', 'query.js'))) return { argv: [join(root, 'bin', 'arb.js')], label: 'dist/ (built JS)' };
  if (process.env.BENCH_FROM_SOURCE === '1') return { argv: [join(root, 'bin', 'arb.js')], label: 'the TypeScript sources via tsx (BENCH_FROM_SOURCE=1)' };
  const out = join(root, '.tmp', 'bench-dist');
  const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json'), '--outDir', out], { cwd: root, encoding: 'utf8' });
  const main = join(out, 'bin', 'main.js');
  if (!existsSync(join(out, 'commands', 'logs', 'query.js'))) {
    console.log(`could not compile the CLI (${tsc.stdout.slice(0, 300)}); using tsx`);
    return { argv: [join(root, 'bin', 'arb.js')], label: 'the TypeScript sources via tsx' };
  }
  const runner = join(out, 'run.mjs');
  writeFileSync(runner, `const { runCli } = await import(${JSON.stringify(pathToFileURL(main).href)});\nawait runCli(process.argv);\n`);
  return { argv: [runner], label: 'JS compiled into .tmp/bench-dist for this run (dist/ predates the logs command)' };
}

const cli = cliCommand();
function arb(args: string[]): Record<string, unknown> {
  const r = spawnSync(process.execPath, [...cli.argv, ...args], {
    cwd: dir,
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_DIR: logDir, ...(cli.label.includes('tsx') ? { ARB_FROM_SOURCE: '1' } : {}) },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`arb ${args.join(' ')} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

function best<T>(fn: () => T): { ms: number; value: T } {
  const a = time(fn);
  const b = time(fn);
  return a.ms <= b.ms ? a : b;
}

let expected: { transactions: number; amountMicros: number; errors: number } | undefined;
if (existsSync(logFile) && statSync(logFile).size >= targetBytes) {
  console.log(`reusing ${logFile} (${(statSync(logFile).size / 1048576).toFixed(0)} MB)`);
} else {
  const g = time(generate);
  expected = g.value;
  console.log(`generated ${logFile}: ${(statSync(logFile).size / 1048576).toFixed(0)} MB, ${g.value.transactions.toLocaleString('en-US')} transactions, in ${(g.ms / 1000).toFixed(1)} s`);
}
console.log(`arb runs from ${cli.label}`);

try {
  const recipe = best(() => Number(bash(`grep '"transaction":true' logs/arbitrage.log | jq -r '.amount' | awk '{sum+=$1} END {print sum}'`)));
  const ours = best(() => arb(['logs', 'transactions', '--json', '--limit', '1', '--since', 'all']));
  const oursSum = ours.value.amount_usd as number;
  const agree = Math.abs(oursSum - recipe.value) <= Math.max(1e-6, Math.abs(recipe.value) * 1e-5); // awk prints 6 significant digits
  console.log('\ntransaction total over the whole file (like with like: both print the sum)');
  console.log(`  manual recipe  grep | jq | awk       ${(recipe.ms / 1000).toFixed(2)} s   sum ${recipe.value}`);
  console.log(`  arb logs transactions --json         ${(ours.ms / 1000).toFixed(2)} s   sum ${oursSum} (${ours.value.total} transactions, ${ours.value.malformed_lines} malformed)`);
  console.log(`  ratio recipe/arb: ${(recipe.ms / ours.ms).toFixed(2)}× ${recipe.ms > ours.ms ? '(arb is faster)' : '(arb is slower)'}; sums ${agree ? 'agree' : 'DISAGREE'}`);
  if (expected && (ours.value.total !== expected.transactions || ours.value.amount_micros !== expected.amountMicros)) {
    throw new Error(`arb counted ${ours.value.total} / ${ours.value.amount_micros} µ$, generated ${expected.transactions} / ${expected.amountMicros} µ$`);
  }

  const grepErrors = best(() => Number(bash(`grep '"level":"ERROR"' logs/arbitrage.log | wc -l`)));
  const oursErrors = best(() => arb(['logs', 'errors', '--json', '--limit', '1']));
  console.log('\nerror count (for information: grep | wc has no JSON to parse)');
  console.log(`  grep | wc -l                         ${(grepErrors.ms / 1000).toFixed(2)} s   ${grepErrors.value}`);
  console.log(`  arb logs errors --json               ${(oursErrors.ms / 1000).toFixed(2)} s   ${oursErrors.value.total}`);
  console.log(`  ratio grep/arb: ${(grepErrors.ms / oursErrors.ms).toFixed(2)}×`);
  if (!agree || grepErrors.value !== oursErrors.value.total) process.exitCode = 1;
} finally {
  if (process.env.BENCH_KEEP_LOG !== '1') rmSync(dir, { recursive: true, force: true });
}
