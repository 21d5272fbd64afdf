/**
 * CLI benchmarks, each against a baseline measured in the same run:
 *
 * 1. `arb stats --json` on a database with BENCH_USAGE_EVENTS usage events (default 1,000,000) and
 *    BENCH_SALES sales (default 100,000), goal < 0.5 s. Baselines: the sqlite3 shell running the same
 *    aggregate sums (when installed), and `node` opening the database and doing one plain
 *    `SELECT count(*)` pass. The in-process `computeStats` time (no process start) is shown too.
 * 2. `arb --version` cold start with compiled JS, goal < 0.3 s, against `node -e 0`.
 * 3. `arb package import` of BENCH_IMPORT_ITEMS items (default 10,000) as a dry run: the table of every
 *    row (`--all`) and the default summary with the first rows, against the `--json` path (the issue
 *    measured 25 s for the table, all of it cli-table3 rendering, and 0.75 s with --json).
 *
 *   npm run bench -- cli                      (BENCH_USAGE_EVENTS=100000 for a quick check)
 *
 * The CLI runs as JS compiled into .tmp/bench-cli-dist for this run (what `npm install` builds into
 * dist/), so tsx's start-up is not measured. Each timing is the median of BENCH_RUNS runs (default 5).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { openAndMigrate, openDb } from '../src/db/dialect.js';
import { computeStats } from '../src/stats/stats.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const usageEvents = Number(process.env.BENCH_USAGE_EVENTS ?? 1_000_000);
const sales = Number(process.env.BENCH_SALES ?? 100_000);
const runs = Number(process.env.BENCH_RUNS ?? 5);
const importItems = Number(process.env.BENCH_IMPORT_ITEMS ?? 10_000);
for (const [name, v] of [['BENCH_USAGE_EVENTS', usageEvents], ['BENCH_SALES', sales], ['BENCH_RUNS', runs], ['BENCH_IMPORT_ITEMS', importItems]] as const) {
  if (!Number.isSafeInteger(v) || v < 1) {
    console.error(`${name}="${process.env[name]}": expected a positive whole number`);
    process.exit(2);
  }
}

const dir = join(tmpdir(), `arb-bench-cli-${usageEvents}-${sales}`);
const dbFile = join(dir, 'arbitrage.db');

/** Builds the data with set-based SQL (recursive CTEs), not row loops: seconds, not minutes. */
async function buildDatabase(): Promise<void> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const handle = await openAndMigrate({ dbName: dbFile });
  await handle.close();
  const h = openDb({ dbName: dbFile });
  const db = h.sqlite!;
  const users = Math.max(1, Math.floor(sales / 10));
  const started = Date.now();
  db.exec('pragma synchronous = off');
  db.transaction(() => {
    db.exec(`
      with recursive n(i) as (select 1 union all select i + 1 from n where i < 10)
      insert into ai_models (model_id, name, prompt_rate, completion_rate, context_length, is_active)
      select 'vendor/model-' || i, 'Model ' || i, i * 1000000, i * 2000000, 8192, 1 from n;
      with recursive n(i) as (select 1 union all select i + 1 from n where i < 20)
      insert into ai_token_packages (model, tokens, description, cost, price, validity_days, is_available)
      select 'vendor/model-' || ((i - 1) % 10 + 1), 100000 * i, 'package ' || i, ((i - 1) % 10 + 1) * 100000 * i, ((i - 1) % 10 + 1) * 125000 * i, 30, 1 from n;
    `);
    db.prepare(`
      with recursive n(i) as (select 1 union all select i + 1 from n where i < ?)
      insert into users (telegram_id, balance) select 100000 + i, 1000000 from n`).run(users);
    db.prepare(`
      with recursive n(i) as (select 1 union all select i + 1 from n where i < ?)
      insert into ai_token_allocations (user_id, package_id, api_key, api_key_hash, model, tokens_total, tokens_used, price_paid, expires_at, status, created_at, updated_at)
      select (i - 1) % ? + 1, (i - 1) % 20 + 1, 'sk-arb-' || substr('0000' || i, -4) || '…wxyz', 'hash-' || i,
             'vendor/model-' || ((i - 1) % 10 + 1), 100000 * ((i - 1) % 20 + 1), 0,
             case when i % 50 = 0 then 0 else ((i - 1) % 10 + 1) * 125000 * ((i - 1) % 20 + 1) end,
             datetime('now', '+' || (i % 40) || ' days'), 'active',
             datetime('now', '-' || (i % 30) || ' days', '-' || (i % 86400) || ' seconds'), datetime('now')
      from n`).run(sales, users);
    db.prepare(`
      insert into transactions (user_id, type, amount, balance_after, allocation_id, package_id, created_at)
      select user_id, 'purchase', -price_paid, 0, id, package_id, created_at from ai_token_allocations where price_paid > 0`).run();
    db.prepare(`
      with recursive n(i) as (select 1 union all select i + 1 from n where i < ?)
      insert into transactions (user_id, type, amount, balance_after, created_at)
      select i, 'topup', 50000000, 0, datetime('now', '-' || (i % 30) || ' days') from n`).run(users);
    db.prepare(`
      with recursive n(i) as (select 1 union all select i + 1 from n where i < ?)
      insert into usage_events (request_id, allocation_id, model, prompt_tokens, completion_tokens, weighted_tokens, loss_tokens, upstream_cost, latency_ms, status_code, outcome, estimated, stream, created_at)
      select 'req-' || i, (i - 1) % ? + 1, 'vendor/model-' || ((i - 1) % 10 + 1), 100 + i % 900, 50 + i % 400, 200 + i % 1700, 0,
             1000 + i % 5000, 200 + i % 3000, case when i % 97 = 0 then 502 else 200 end,
             case when i % 97 = 0 then 'upstream_error' else 'ok' end, 0, i % 2,
             datetime('now', '-' || (i % 30) || ' days', '-' || (i % 86400) || ' seconds')
      from n`).run(usageEvents, sales);
  })();
  db.exec('analyze');
  await h.close();
  console.log(`built ${usageEvents.toLocaleString('en-US')} usage events, ${sales.toLocaleString('en-US')} sales, ${users.toLocaleString('en-US')} users in ${((Date.now() - started) / 1000).toFixed(1)} s (${dbFile})`);
}

/** Compiles the project into .tmp/bench-cli-dist and returns a runner that calls the compiled runCli. */
function compileCli(): string[] {
  const out = join(root, '.tmp', 'bench-cli-dist');
  rmSync(out, { recursive: true, force: true });
  spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json'), '--outDir', out], { cwd: root, encoding: 'utf8' });
  const main = join(out, 'bin', 'main.js');
  if (!existsSync(join(out, 'commands', 'stats', 'stats.js'))) {
    console.log('could not compile the CLI; using the TypeScript sources via tsx (slower start-up)');
    return [join(root, 'bin', 'arb.js')];
  }
  const runner = join(out, 'run.mjs');
  writeFileSync(runner, `const { runCli } = await import(${JSON.stringify(pathToFileURL(main).href)});\nawait runCli(process.argv);\n`);
  return [runner];
}

function timeIt(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): { ms: number; stdout: string } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, maxBuffer: 64 * 1024 * 1024 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return { ms, stdout: r.stdout };
}

function median(fn: () => number): number {
  const xs = Array.from({ length: runs }, fn).sort((a, b) => a - b);
  return xs[Math.floor(xs.length / 2)];
}

const fmt = (ms: number) => `${(ms / 1000).toFixed(3)} s`;
const verdict = (ms: number, goalMs: number) => (ms < goalMs ? `goal < ${fmt(goalMs)} met` : `GOAL < ${fmt(goalMs)} MISSED`);

await buildDatabase();
console.log(`machine: ${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} (timings scale with other work on the box)`);
const cli = compileCli();
const env = { DB_NAME: dbFile, LOG_DIR: join(dir, 'logs'), ...(cli[0].endsWith('arb.js') ? { ARB_FROM_SOURCE: '1' } : {}) };

// correctness first: the CLI's totals equal a direct SQL sum
const doc = JSON.parse(timeIt(process.execPath, [...cli, 'stats', '--json'], env).stdout) as { sales: number; requests: number; revenue_micros: number; upstream_cost_micros: number };
const check = openDb({ dbName: dbFile, readonly: true });
const direct = check.sqlite!.prepare(`select (select count(*) from usage_events) as requests, (select sum(upstream_cost) from usage_events) as upstream, (select sum(price_paid) from ai_token_allocations) as revenue`).get() as { requests: number; upstream: number; revenue: number };
await check.close();
if (doc.requests !== direct.requests || doc.upstream_cost_micros !== direct.upstream || doc.revenue_micros !== direct.revenue || doc.sales !== sales) {
  console.error('arb stats --json disagrees with a direct SQL sum', { doc, direct });
  process.exit(1);
}

console.log(`\narb stats --json over ${usageEvents.toLocaleString('en-US')} usage events and ${sales.toLocaleString('en-US')} sales (median of ${runs}):`);
const statsMs = median(() => timeIt(process.execPath, [...cli, 'stats', '--json'], env).ms);
const countMs = median(
  () =>
    timeIt(process.execPath, [
      '-e',
      `const D=require(${JSON.stringify(join(root, 'node_modules', 'better-sqlite3'))});const db=new D(${JSON.stringify(dbFile)},{readonly:true});console.log(db.prepare('select count(*) as n from usage_events').get().n)`,
    ]).ms,
);
console.log(`  arb stats --json                          ${fmt(statsMs)}   ${verdict(statsMs, 500)}`);
console.log(`  baseline: node + one SELECT count(*) pass ${fmt(countMs)}   ratio ${(statsMs / countMs).toFixed(2)}×`);
const haveSqlite3 = spawnSync('bash', ['-c', 'command -v sqlite3'], { encoding: 'utf8' }).status === 0;
if (haveSqlite3) {
  const sums = `select count(*), sum(weighted_tokens), sum(loss_tokens), sum(upstream_cost), sum(outcome <> 'ok') from usage_events;
select a.model, count(*), sum(a.price_paid), sum(a.tokens_total), sum(p.cost) from ai_token_allocations a join ai_token_packages p on p.id = a.package_id group by a.model;
select substr(a.created_at, 1, 10), count(*), sum(a.price_paid), sum(p.cost) from ai_token_allocations a join ai_token_packages p on p.id = a.package_id group by 1;
select type, sum(amount) from transactions where type in ('refund', 'topup') group by type;
select count(*) from ai_token_allocations where status = 'active' and expires_at > datetime('now');`;
  const sqliteMs = median(() => timeIt('sqlite3', [dbFile, sums]).ms);
  console.log(`  baseline: sqlite3 shell, the same sums    ${fmt(sqliteMs)}   ratio ${(statsMs / sqliteMs).toFixed(2)}×`);
} else {
  console.log('  baseline: sqlite3 shell not installed (skipped)');
}
{
  const h = openDb({ dbName: dbFile, readonly: true });
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await computeStats(h);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  console.log(`  in process: computeStats() alone          ${fmt(times[Math.floor(times.length / 2)])}`);
  await h.close();
}

console.log(`\narb --version cold start, compiled JS (median of ${Math.max(runs, 10)}):`);
const versionRuns = Math.max(runs, 10);
const med = (fn: () => number) => {
  const xs = Array.from({ length: versionRuns }, fn).sort((a, b) => a - b);
  return xs[Math.floor(xs.length / 2)];
};
const versionMs = med(() => timeIt(process.execPath, [...cli, '--version'], env).ms);
const nodeMs = med(() => timeIt(process.execPath, ['-e', '0']).ms);
console.log(`  arb --version                             ${fmt(versionMs)}   ${verdict(versionMs, 300)}`);
console.log(`  baseline: node -e 0                       ${fmt(nodeMs)}   ratio ${(versionMs / nodeMs).toFixed(2)}×`);

console.log(`\narb package import of ${importItems.toLocaleString('en-US')} items, dry run (median of ${runs}):`);
{
  const file = join(dir, 'import.json');
  writeFileSync(file, JSON.stringify(Array.from({ length: importItems }, (_, i) => ({ model: `vendor/model-${(i % 10) + 1}`, tokens: 1000 * (i + 1), description: `bench package ${i + 1}` }))));
  const check = timeIt(process.execPath, [...cli, 'package', 'import', file, '--dry-run', '--all'], env).stdout;
  const shownRows = check.split('\n').filter((l) => /would be created/.test(l) && !l.startsWith('dry run')).length;
  if (shownRows !== importItems) {
    console.error(`the --all table shows ${shownRows} rows, expected ${importItems}`);
    process.exit(1);
  }
  const jsonMs = median(() => timeIt(process.execPath, [...cli, 'package', 'import', file, '--dry-run', '--json'], env).ms);
  const allMs = median(() => timeIt(process.execPath, [...cli, 'package', 'import', file, '--dry-run', '--all'], env).ms);
  const firstMs = median(() => timeIt(process.execPath, [...cli, 'package', 'import', file, '--dry-run'], env).ms);
  console.log(`  --dry-run --all (a table of every row)    ${fmt(allMs)}   ratio ${(allMs / jsonMs).toFixed(2)}× the --json path`);
  console.log(`  --dry-run (summary and the first rows)    ${fmt(firstMs)}   ratio ${(firstMs / jsonMs).toFixed(2)}× the --json path`);
  console.log(`  baseline: --dry-run --json                ${fmt(jsonMs)}`);
}
