// Runs every bench/*.bench.ts (or those matching the args) one after another. Arguments of the form
// NAME=VALUE are passed to the benches as environment variables, e.g.
//   npm run bench -- streams BENCH_STREAMS=10000     (the big many-streams run)
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const settings = Object.fromEntries(args.filter((a) => /^[A-Z_][A-Z0-9_]*=/.test(a)).map((a) => [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]));
const filters = args.filter((a) => !/^[A-Z_][A-Z0-9_]*=/.test(a));
const files = readdirSync('bench')
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error(
    `no bench matches ${filters.join(', ')}; the benches: ${readdirSync('bench')
      .filter((f) => f.endsWith('.bench.ts'))
      .map((f) => f.replace('.bench.ts', ''))
      .join(', ')}`,
  );
  process.exit(2);
}
let failed = 0;
for (const f of files) {
  console.log(`\n== bench/${f}`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', `bench/${f}`], { stdio: 'inherit', env: { ...process.env, ...settings } });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
