// Runs every test/**/*.test.ts file with node:test under tsx. Extra args filter files by substring.
// With ARB_TEST_DIALECT=postgres (CI's second pass) only the files whose database follows that setting run:
// the others do exactly what they did on the first pass.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';

function walk(dir, pattern = /\.test\.tsx?$/) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p, pattern));
    else if (pattern.test(name)) out.push(p);
  }
  return out;
}
/**
 * The test files whose database follows ARB_TEST_DIALECT: they read the setting, or call a test helper
 * whose database does — test/support/db.ts's tempDb, tempDbEnv and defaultTestDialect, and every top-level
 * function of a helper under test/ that calls one of those (to any depth: arbEnvDb, startStack, …).
 * Comments aside; a name is a name wherever it is defined, which can only count more files, never fewer.
 */
function followingDialect(files) {
  const code = (f) =>
    readFileSync(f, 'utf8')
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/(^|\s)\/\/.*$/gm, '$1');
  const names = new Set(['tempDb', 'tempDbEnv', 'defaultTestDialect']);
  const decls = [];
  for (const f of walk('test', /(?<!\.test)\.tsx?$/).filter((f) => resolve(f) !== resolve('test/support/db.ts'))) {
    const src = code(f);
    const starts = [...src.matchAll(/^(?:export )?(?:async )?(?:function\*? (\w+)|(?:const|let) (\w+) =|class (\w+))/gm)];
    starts.forEach((m, i) => decls.push({ name: m[1] ?? m[2] ?? m[3], body: src.slice(m.index + m[0].length, starts[i + 1]?.index ?? src.length) }));
  }
  const calls = () => new RegExp(`\\b(?:${[...names].join('|')})\\(|\\bARB_TEST_DIALECT\\b`);
  for (let grew = true; grew;) {
    grew = false;
    const re = calls();
    for (const d of decls.filter((d) => !names.has(d.name) && re.test(d.body))) {
      names.add(d.name);
      grew = true;
    }
  }
  const re = calls();
  return files.filter((f) => re.test(code(f)));
}

const filters = process.argv.slice(2);
let files = walk('test')
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (process.env.ARB_TEST_DIALECT === 'postgres') {
  const all = files.length;
  files = followingDialect(files);
  console.log(`ARB_TEST_DIALECT=postgres: the ${files.length} test files whose database follows it; ${all - files.length} others left out (they run as on SQLite)`);
}
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
// The `arb` processes the tests spawn run the compiled CLI operators run (dist/), built here from the
// sources under test: twice as fast to start as the sources through tsx. ARB_TEST_CLI=source keeps them on
// the sources (test/support/cli.ts).
const cli = process.env.ARB_TEST_CLI ?? 'dist';
if (cli === 'dist') {
  const build = spawnSync(process.execPath, [join('node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
  if (build.status !== 0) {
    console.error('building dist/ for the spawned CLI failed (see above); ARB_TEST_CLI=source runs the tests on the sources');
    process.exit(build.status ?? 1);
  }
}
const concurrency = process.env.TEST_CONCURRENCY ?? '2';
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-timeout=180000', ...files], {
  stdio: 'inherit',
  env: { ...process.env, ARB_FROM_SOURCE: '1', ARB_TEST_CLI: cli },
});
process.exit(r.status ?? 1);
