/**
 * The CLI's start and the catalog sync (issue 15.5), each against a baseline measured in the same run:
 *
 * 1. `arb --version` cold start, compiled JS, against `node -e 0` — goal: under 2.5×.
 * 2. `arb models --sync --json` of the simulator's 371 models (OpenRouter's catalog snapshot) into an
 *    empty database, and again with nothing changed — goal: within 1 s. Baseline: `node` fetching the
 *    same /models document (the network and JSON part no sync can avoid).
 * 3. `arb package import` of BENCH_IMPORT_ITEMS items (default 10,000) as a dry run: the table of every
 *    row (`--all`) and the default summary with the first rows, against the `--json` path (issue 14 measured
 *    25 s for the table, all of it cli-table3 rendering, and 0.75 s with --json).
 *
 *   npm run bench -- cli          BENCH_RUNS (default 7)
 *
 * The CLI runs through its real entry, bin/arb.js, over JS compiled into .tmp/bench-cli/dist for this run
 * (what `npm install` builds into dist/), so tsx's start-up is not measured. `arb stats` over big histories is bench/stats.bench.ts.
 * Times are the median of BENCH_RUNS runs, by CPU time where /usr/bin/time is available (the machine's
 * load is printed: with other work on it, wall-clock times are noise).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { machineLoad, roleSimulator, startRole, timed, type Timed } from './support/harness.js';

const SELF = fileURLToPath(import.meta.url);
const role = process.argv.find((a) => a.startsWith('--role='))?.slice(7);
if (role === 'sim') {
  await roleSimulator(16);
} else {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const runs = Number(process.env.BENCH_RUNS ?? 7);
  if (!Number.isSafeInteger(runs) || runs < 1) {
    console.error(`BENCH_RUNS="${process.env.BENCH_RUNS}": expected a positive whole number`);
    process.exit(2);
  }

  /**
   * The real entry (bin/arb.js) over a fresh compile: .tmp/bench-cli/{bin/arb.js, dist/} is laid out as
   * an installed package (the entry runs dist/ when it is there).
   */
  const compileCli = (): string[] => {
    const pkg = join(root, '.tmp', 'bench-cli');
    rmSync(pkg, { recursive: true, force: true });
    mkdirSync(join(pkg, 'bin'), { recursive: true });
    spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json'), '--outDir', join(pkg, 'dist')], { cwd: root, encoding: 'utf8' });
    if (!existsSync(join(pkg, 'dist', 'bin', 'main.js'))) {
      console.log('could not compile the CLI; using the TypeScript sources via tsx (slower start-up)');
      return [join(root, 'bin', 'arb.js')];
    }
    copyFileSync(join(root, 'bin', 'arb.js'), join(pkg, 'bin', 'arb.js'));
    return [join(pkg, 'bin', 'arb.js')];
  };

  const median = (n: number, f: () => Timed): Timed => {
    const xs = Array.from({ length: n }, f).sort((a, b) => (a.cpuMs ?? a.ms) - (b.cpuMs ?? b.ms));
    return xs[Math.floor(xs.length / 2)];
  };
  const fmt = (t: Timed) => `${(t.ms / 1000).toFixed(3)} s wall${t.cpuMs === null ? '' : `, ${(t.cpuMs / 1000).toFixed(3)} s CPU`}`;
  const cost = (t: Timed) => t.cpuMs ?? t.ms;

  const dir = mkdtempSync(join(tmpdir(), 'arb-bench-cli-'));
  const cli = compileCli();
  const sim = await startRole(SELF, 'sim');
  try {
    const baseEnv = { PATH: process.env.PATH, HOME: process.env.HOME, LOG_DIR: join(dir, 'logs'), ...(cli[0] === join(root, 'bin', 'arb.js') ? { ARB_FROM_SOURCE: '1' } : {}) };
    console.log(`machine: ${machineLoad()} at the start (other helpers share the cores: wall-clock times are noise)`);

    // 20 starts in one shell loop, timed together: /usr/bin/time counts CPU in 10 ms steps
    const loops = 20;
    const perStart = (argv: string[]): Timed => {
      const quoted = argv.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
      const t = median(3, () => timed('bash', ['-c', `for i in $(seq ${loops}); do ${quoted} > /dev/null; done`], { cwd: dir, env: baseEnv }));
      return { ms: t.ms / loops, cpuMs: t.cpuMs === null ? null : t.cpuMs / loops, stdout: '' };
    };
    console.log(`\narb --version cold start, compiled JS (per start, over ${loops} starts, median of 3):`);
    const version = perStart([process.execPath, ...cli, '--version']);
    const node = perStart([process.execPath, '-e', '0']);
    const r = cost(version) / cost(node);
    console.log(`  arb --version                 ${fmt(version)}`);
    console.log(`  baseline: node -e 0           ${fmt(node)}`);
    console.log(`  ratio ${r.toFixed(2)}× ${r < 2.5 ? '(goal < 2.5× met)' : '(GOAL < 2.5× MISSED)'}`);

    console.log(`\narb models --sync --json of the simulator's catalog (median of ${runs}):`);
    const env = { ...baseEnv, OPENROUTER_BASE_URL: sim.info.url, OPENROUTER_API_KEY: 'sk-or-v1-bench' };
    const first = median(runs, () => {
      const db = join(dir, `first-${Math.random().toString(36).slice(2)}.db`);
      const t = timed(process.execPath, [...cli, 'models', '--sync', '--json'], { cwd: dir, env: { ...env, DB_NAME: db } });
      for (const suffix of ['', '-wal', '-shm']) rmSync(db + suffix, { force: true });
      return t;
    });
    const synced = JSON.parse(first.stdout) as { sync: { total: number; added: string[]; embedding_models?: { count: number } } | null };
    // the sync also reads GET /embeddings/models: its models (not in /models) count in the total
    const embeddingOnly = synced.sync?.embedding_models?.count ?? 0;
    const resyncDb = join(dir, 'resync.db');
    timed(process.execPath, [...cli, 'models', '--sync', '--json'], { cwd: dir, env: { ...env, DB_NAME: resyncDb } });
    const again = median(runs, () => timed(process.execPath, [...cli, 'models', '--sync', '--json'], { cwd: dir, env: { ...env, DB_NAME: resyncDb } }));
    const fetchOnly = median(runs, () =>
      timed(process.execPath, ['-e', `fetch(${JSON.stringify(`${sim.info.url}/models`)}).then((r) => r.json()).then((d) => console.log(d.data.length))`], { cwd: dir, env: baseEnv }),
    );
    // the goal is wall-clock; on a loaded machine the CPU time says whether the sync itself fits in it
    const verdict = (t: Timed) => (t.ms < 1000 ? '(goal < 1 s met)' : t.cpuMs !== null && t.cpuMs < 1000 ? '(over 1 s wall on this loaded machine; its CPU time fits)' : '(GOAL < 1 s MISSED)');
    console.log(
      `  into an empty database        ${fmt(first)}   ${synced.sync?.total ?? '?'} models (${embeddingOnly} of them from /embeddings/models), ${synced.sync?.added.length ?? '?'} added ${verdict(first)}`,
    );
    console.log(`  again, nothing changed        ${fmt(again)}   ${verdict(again)}`);
    console.log(`  baseline: node fetching /models ${fmt(fetchOnly)}   (${fetchOnly.stdout.trim()} models)`);
    if (synced.sync === null || synced.sync.total - embeddingOnly !== 371) {
      console.error(`the sync stored ${synced.sync === null ? 'nothing' : synced.sync.total - embeddingOnly} chat models, expected the simulator's 371`);
      process.exitCode = 1;
    }

    const importItems = Number(process.env.BENCH_IMPORT_ITEMS ?? 10_000);
    console.log(`\narb package import of ${importItems.toLocaleString('en-US')} items, dry run (median of ${runs}):`);
    const file = join(dir, 'import.json');
    const models = ['openai/gpt-4', 'openai/gpt-3.5-turbo', 'anthropic/claude-3-haiku'];
    writeFileSync(file, JSON.stringify(Array.from({ length: importItems }, (_, i) => ({ model: models[i % models.length], tokens: 1000 * (i + 1), description: `bench package ${i + 1}` }))));
    const importEnv = { ...env, DB_NAME: resyncDb };
    const all = timed(process.execPath, [...cli, 'package', 'import', file, '--dry-run', '--all'], { cwd: dir, env: importEnv });
    // the widest item number fills its column: no leading space
    const rows = all.stdout.split('\n').filter((l) => /^ *\d+ +would be created /.test(l)).length;
    if (rows !== importItems) {
      console.error(`the --all table shows ${rows} rows, expected ${importItems}`);
      process.exitCode = 1;
    }
    const asJson = median(runs, () => timed(process.execPath, [...cli, 'package', 'import', file, '--dry-run', '--json'], { cwd: dir, env: importEnv }));
    const asTable = median(runs, () => timed(process.execPath, [...cli, 'package', 'import', file, '--dry-run', '--all'], { cwd: dir, env: importEnv }));
    const firstRows = median(runs, () => timed(process.execPath, [...cli, 'package', 'import', file, '--dry-run'], { cwd: dir, env: importEnv }));
    console.log(`  --all (a table of every row)  ${fmt(asTable)}   ratio ${(cost(asTable) / cost(asJson)).toFixed(2)}× the --json path`);
    console.log(`  summary and the first rows    ${fmt(firstRows)}   ratio ${(cost(firstRows) / cost(asJson)).toFixed(2)}× the --json path`);
    console.log(`  baseline: --json              ${fmt(asJson)}`);
    console.log(`\nmachine: ${machineLoad()} at the end`);
  } finally {
    sim.child.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}
