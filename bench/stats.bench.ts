/**
 * `arb stats` does not grow with history (issue 15.4): the same shop at the same daily rate, once with
 * 30 days of history and once with 300 — 1M usage events and 100k sales, then 10M usage events and 1M
 * sales — each measured in the same run:
 *
 *   - `arb stats --json --since 7d` and `arb stats --json` (all time) on both, and the ratio big/small
 *     (goal ≤ 1.3×);
 *   - the sqlite3 shell's full-scan sums on the big one (the same figures), goal: arb faster;
 *   - for information: the one-time roll-up of an existing history (what the first `arb stats` after the
 *     upgrade does, 5 s at a time), computeStats in process, and the raw path the rollups replace.
 *
 *   npm run bench -- stats                    BENCH_SCALE=0.1 for a tenth of the rows (quick check)
 *   BENCH_KEEP_DB=1 keeps the built databases in the temp dir for the next run; BENCH_RUNS (default 5)
 *
 * The CLI runs as JS compiled into .tmp/bench-stats-dist for this run (what `npm install` builds into dist/).
 * Each timing is the median of BENCH_RUNS runs. The machine's load is printed: with other work on the
 * machine the absolute times are noise; compare the ratios.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type BetterSqlite3 from 'better-sqlite3';
import { openAndMigrate, openDb } from '../src/db/dialect.js';
import { machineLoad, timed, type Timed } from './support/harness.js';
import { computeStats } from '../src/stats/stats.js';
import { rollUp } from '../src/stats/rollup.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const scale = Number(process.env.BENCH_SCALE ?? 1);
const runs = Number(process.env.BENCH_RUNS ?? 5);
if (!(scale > 0) || !Number.isSafeInteger(runs) || runs < 1) {
  console.error('BENCH_SCALE must be a positive number (1 = 1M/10M events) and BENCH_RUNS a positive whole number');
  process.exit(2);
}
const Database = createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3;

interface Shape {
  label: string;
  events: number;
  sales: number;
  days: number;
}
const SMALL: Shape = { label: 'small', events: Math.round(1_000_000 * scale), sales: Math.round(100_000 * scale), days: 30 };
const BIG: Shape = { label: 'big', events: Math.round(10_000_000 * scale), sales: Math.round(1_000_000 * scale), days: 300 };
/** better-sqlite3 binds a JS number as a REAL: BigInts keep the arithmetic in integers (ids, seconds). */
const ints = (...xs: number[]) => xs.map((x) => BigInt(Math.round(x)));
const dbPath = (s: Shape) => join(tmpdir(), `arb-bench-stats-${s.events}-${s.sales}-${s.days}d.db`);

/**
 * Builds the shop with set-based SQL: rows spread evenly over `days` up to a minute ago, each request on a
 * key sold shortly before it, every 50th sale a free grant, every 200th refunded half a day later.
 * Indexes are dropped during the load and rebuilt (sorted) after it.
 */
async function build(s: Shape): Promise<void> {
  const file = dbPath(s);
  for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
  const h = await openAndMigrate({ dbName: file });
  await h.close();
  const db = new Database(file);
  const started = Date.now();
  const end = Math.floor(Date.now() / 1000) - 60;
  const start = end - s.days * 86_400;
  const users = Math.max(1, Math.floor(s.sales / 10));
  db.pragma('synchronous = off');
  db.pragma('foreign_keys = off');
  const indexes = db.prepare(`select name, sql from sqlite_master where type = 'index' and sql is not null and tbl_name in ('usage_events', 'ai_token_allocations', 'transactions')`).all() as {
    name: string;
    sql: string;
  }[];
  for (const ix of indexes) db.exec(`drop index ${ix.name}`);
  db.transaction(() => {
    db.exec(`
      with recursive n(i) as (select 1 union all select i + 1 from n where i < 10)
      insert into ai_models (model_id, name, prompt_rate, completion_rate, context_length, is_active)
      select 'vendor/model-' || i, 'Model ' || i, i * 1000000, i * 2000000, 8192, 1 from n;
      with recursive n(i) as (select 1 union all select i + 1 from n where i < 20)
      insert into ai_token_packages (model, tokens, description, cost, price, validity_days, is_available)
      select 'vendor/model-' || ((i - 1) % 10 + 1), 100000 * i, 'package ' || i, ((i - 1) % 10 + 1) * 100000 * i, ((i - 1) % 10 + 1) * 125000 * i, 30, 1 from n;`);
    db.prepare(`with recursive n(i) as (select 1 union all select i + 1 from n where i < ?) insert into users (telegram_id, balance) select 100000 + i, 1000000 from n`).run(...ints(users));
    db.prepare(
      `
      with recursive n(i) as (select 1 union all select i + 1 from n where i < ?)
      insert into ai_token_allocations (user_id, package_id, api_key, api_key_hash, model, tokens_total, tokens_used, price_paid, cost_basis, expires_at, status, created_at, updated_at)
      select (i - 1) % ? + 1, (i - 1) % 20 + 1, 'sk-arb-' || substr('0000' || i, -4) || '…wxyz', printf('hash-%010d', i),
             'vendor/model-' || ((i - 1) % 10 + 1), 100000 * ((i - 1) % 20 + 1), 0,
             case when i % 50 = 0 then 0 else ((i - 1) % 10 + 1) * 125000 * ((i - 1) % 20 + 1) end,
             ((i - 1) % 10 + 1) * 100000 * ((i - 1) % 20 + 1),
             datetime(? + (i * ?) / ? + 30 * 86400, 'unixepoch'), 'active',
             datetime(? + (i * ?) / ?, 'unixepoch'), datetime(? + (i * ?) / ?, 'unixepoch')
      from n`,
    ).run(...ints(s.sales, users, start, end - start, s.sales, start, end - start, s.sales, start, end - start, s.sales));
    // the ledger in time order, as it is written (ids follow time)
    db.prepare(
      `
      insert into transactions (user_id, type, amount, balance_after, allocation_id, package_id, created_at)
      select user_id, type, amount, 0, allocation_id, package_id, created_at from (
        select user_id, 'purchase' as type, -price_paid as amount, id as allocation_id, package_id, created_at from ai_token_allocations where price_paid > 0
        union all
        select user_id, 'refund', price_paid / 2, id, package_id, datetime(created_at, '+12 hours') from ai_token_allocations where id % 200 = 7 and price_paid > 0
        union all
        select i, 'topup', 50000000, null, null, datetime(? + (i * ?) / ?, 'unixepoch') from (with recursive n(i) as (select 1 union all select i + 1 from n where i < ?) select i from n)
      ) order by created_at`,
    ).run(...ints(start, end - start, users, users));
    db.prepare(
      `
      with recursive n(i) as (select 1 union all select i + 1 from n where i < ?)
      insert into usage_events (request_id, allocation_id, model, prompt_tokens, completion_tokens, weighted_tokens, loss_tokens, upstream_cost, latency_ms, status_code, outcome, estimated, stream, created_at)
      select printf('req-%010d', i), k, 'vendor/model-' || ((k - 1) % 10 + 1), 100 + i % 900, 50 + i % 400, 200 + i % 1700, 0,
             1000 + i % 5000, 200 + i % 3000, case when i % 97 = 0 then 502 else 200 end,
             case when i % 97 = 0 then 'upstream_error' else 'ok' end, 0, i % 2,
             datetime(? + (i * ?) / ?, 'unixepoch')
      from (select i, max(1, (i * ?) / ? - i % 7) as k from n)`,
    ).run(...ints(s.events, start, end - start, s.events, s.sales, s.events));
  })();
  for (const ix of indexes) db.exec(ix.sql);
  db.exec('analyze');
  db.close();
  console.log(
    `built ${s.label}: ${s.events.toLocaleString('en-US')} usage events, ${s.sales.toLocaleString('en-US')} sales over ${s.days} days in ${((Date.now() - started) / 1000).toFixed(1)} s (${file})`,
  );
}

/** Compiles the project into .tmp/bench-stats-dist and returns a runner that calls the compiled runCli. */
function compileCli(): string[] {
  const out = join(root, '.tmp', 'bench-stats-dist');
  rmSync(out, { recursive: true, force: true });
  spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json'), '--outDir', out], { cwd: root, encoding: 'utf8' });
  if (!existsSync(join(out, 'commands', 'stats', 'stats.js'))) {
    console.log('could not compile the CLI; using the TypeScript sources via tsx (slower start-up)');
    return [join(root, 'bin', 'arb.js')];
  }
  const runner = join(out, 'run.mjs');
  writeFileSync(runner, `const { runCli } = await import(${JSON.stringify(pathToFileURL(join(out, 'bin', 'main.js')).href)});\nawait runCli(process.argv);\n`);
  return [runner];
}

/** The median run by CPU time (wall-clock where CPU time is not available). */
function medianRun(n: number, f: () => Timed): Timed {
  const xs = Array.from({ length: n }, f).sort((a, b) => (a.cpuMs ?? a.ms) - (b.cpuMs ?? b.ms));
  return xs[Math.floor(xs.length / 2)];
}

/** Median wall-clock and CPU time of `f` in this process. */
async function inProcess(file: string, f: (h: ReturnType<typeof openDb>) => Promise<unknown>, times: number): Promise<Timed> {
  const h = openDb({ dbName: file });
  const xs: Timed[] = [];
  try {
    for (let i = 0; i < times; i++) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await f(h);
      const c = process.cpuUsage(c0);
      xs.push({ ms: performance.now() - t0, cpuMs: (c.user + c.system) / 1000, stdout: '' });
    }
  } finally {
    await h.close();
  }
  return xs.sort((a, b) => a.cpuMs! - b.cpuMs!)[Math.floor(xs.length / 2)];
}

const fmt = (t: Timed) => `${(t.ms / 1000).toFixed(3)} s wall${t.cpuMs === null ? '' : `, ${(t.cpuMs / 1000).toFixed(3)} s CPU`}`;
const cost = (t: Timed) => t.cpuMs ?? t.ms;
const load = machineLoad;
const cli = compileCli();
const results: Record<string, { week: Timed; all: Timed; weekIn: Timed; allIn: Timed; rawWeek: Timed; rawAll: Timed }> = {};

console.log(`machine: ${load()} at the start (other helpers share the cores: absolute times are noise, compare ratios)`);
for (const shape of [SMALL, BIG]) {
  const file = dbPath(shape);
  if (!(process.env.BENCH_KEEP_DB === '1' && existsSync(file))) await build(shape);
  else console.log(`reusing ${file}`);
  const env = { DB_NAME: file, LOG_DIR: join(tmpdir(), 'arb-bench-stats-logs'), ...(cli[0].endsWith('arb.js') ? { ARB_FROM_SOURCE: '1' } : {}) };

  // the history an upgrade finds: rolled up once (the first `arb stats` does it 5 s at a time)
  const h = openDb({ dbName: file });
  const t0 = performance.now();
  await rollUp(h);
  const catchUp = performance.now() - t0;
  await h.close();

  // correctness first: the CLI's figures equal the tables' own sums
  const cliEnv = { PATH: process.env.PATH, HOME: process.env.HOME, ...env };
  const doc = JSON.parse(timed(process.execPath, [...cli, 'stats', '--json'], { cwd: tmpdir(), env: cliEnv }).stdout) as Record<string, number>;
  const check = new Database(file, { readonly: true });
  const direct = check
    .prepare(
      `select (select count(*) from usage_events) as requests, (select sum(upstream_cost) from usage_events) as upstream, (select sum(weighted_tokens) from usage_events) as used,
    (select sum(price_paid) from ai_token_allocations) as gross, (select coalesce(sum(amount), 0) from transactions where type = 'refund') as refunds`,
    )
    .get() as Record<string, number>;
  check.close();
  if (doc.requests !== direct.requests || doc.upstream_spend_micros !== direct.upstream || doc.tokens_used !== direct.used || doc.revenue_micros !== direct.gross - direct.refunds) {
    console.error('arb stats --json disagrees with the direct SQL sums', { doc, direct });
    process.exit(1);
  }

  const week = medianRun(runs, () => timed(process.execPath, [...cli, 'stats', '--json', '--since', '7d'], { cwd: tmpdir(), env: cliEnv }));
  const all = medianRun(runs, () => timed(process.execPath, [...cli, 'stats', '--json'], { cwd: tmpdir(), env: cliEnv }));
  const weekAgo = () => new Date(Date.now() - 7 * 86_400_000);
  const weekIn = await inProcess(file, (hh) => computeStats(hh, { since: weekAgo() }), runs);
  const allIn = await inProcess(file, (hh) => computeStats(hh), runs);
  const rawWeek = await inProcess(file, (hh) => computeStats(hh, { since: weekAgo(), useRollups: false }), 1);
  const rawAll = await inProcess(file, (hh) => computeStats(hh, { useRollups: false }), 1);
  results[shape.label] = { week, all, weekIn, allIn, rawWeek, rawAll };
  console.log(`\n${shape.label}: ${shape.events.toLocaleString('en-US')} usage events, ${shape.sales.toLocaleString('en-US')} sales, ${shape.days} days (median of ${runs})`);
  console.log(`  arb stats --json --since 7d                ${fmt(week)}`);
  console.log(`  arb stats --json (all time)                ${fmt(all)}`);
  console.log(`  in process: computeStats --since 7d        ${fmt(weekIn)}`);
  console.log(`  in process: computeStats all time          ${fmt(allIn)}`);
  console.log(`  for information, the raw path the rollups replace: 7d ${fmt(rawWeek)}; all ${fmt(rawAll)}`);
  console.log(`  for information, the one-time roll-up of this history (the first arb stats after the upgrade does it 5 s at a time): ${(catchUp / 1000).toFixed(1)} s wall`);
  if (shape === BIG) {
    const haveSqlite3 = spawnSync('bash', ['-c', 'command -v sqlite3'], { encoding: 'utf8' }).status === 0;
    if (haveSqlite3) {
      const sums = `select count(*), sum(weighted_tokens), sum(loss_tokens), sum(upstream_cost), sum(outcome <> 'ok') from usage_events;
select a.model, count(*), sum(a.price_paid), sum(a.tokens_total), sum(a.cost_basis) from ai_token_allocations a group by a.model;
select substr(a.created_at, 1, 10), count(*), sum(a.price_paid), sum(a.cost_basis) from ai_token_allocations a group by 1;
select type, sum(amount) from transactions where type in ('refund', 'topup') group by type;
select count(*) from ai_token_allocations where status = 'active' and expires_at > datetime('now');`;
      const shell = medianRun(Math.min(runs, 3), () => timed('sqlite3', [file, sums], { cwd: tmpdir() }));
      const r = cost(all) / cost(shell);
      console.log(`  baseline: sqlite3 shell, full-scan sums    ${fmt(shell)}`);
      console.log(`  arb stats (all time) / sqlite3 shell: ${r.toFixed(2)}× ${r < 1 ? '(arb faster: goal met)' : '(GOAL MISSED)'}`);
    } else console.log('  baseline: sqlite3 shell not installed (skipped)');
  }
  if (process.env.BENCH_KEEP_DB !== '1') for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
}

const s = results.small;
const b = results.big;
const ratio = (x: Timed, y: Timed) => cost(x) / cost(y);
const verdict = (r: number) => (r <= 1.3 ? 'goal ≤ 1.3× met' : 'GOAL ≤ 1.3× MISSED');
console.log(`\nbig / small (10× the history at the same daily rate), by ${b.all.cpuMs === null ? 'wall-clock' : 'CPU'} time`);
console.log(`  arb stats --since 7d   ${ratio(b.week, s.week).toFixed(2)}×   ${verdict(ratio(b.week, s.week))}`);
console.log(`  arb stats (all time)   ${ratio(b.all, s.all).toFixed(2)}×   ${verdict(ratio(b.all, s.all))}`);
console.log(
  `  in process 7d / all    ${ratio(b.weekIn, s.weekIn).toFixed(2)}× / ${ratio(b.allIn, s.allIn).toFixed(2)}×   (the raw path: ${ratio(b.rawWeek, s.rawWeek).toFixed(2)}× / ${ratio(b.rawAll, s.rawAll).toFixed(2)}×)`,
);
console.log(`machine: ${load()} at the end`);
