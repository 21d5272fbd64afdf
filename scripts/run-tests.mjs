// Runs every test/**/*.test.ts file with node:test under tsx. Extra args filter files by substring.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (/\.test\.tsx?$/.test(name)) out.push(p);
  }
  return out;
}
const filters = process.argv.slice(2);
const files = walk('test')
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
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
