/**
 * `--json` and non-TTY runs must never load Ink or React (STYLE habit 7). A module-resolution hook
 * registered with --import records every ink/react module the CLI resolves; the TTY run (through
 * `script`, a pseudo-terminal) is the positive control proving the hook sees them when they load.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { tempDir } from '../support/db.js';
import { ARB, arbEnv, runArb } from './support.js';

function hooks(dir: string): { register: string; log: string } {
  const log = join(dir, 'loaded.txt');
  writeFileSync(
    join(dir, 'hooks.mjs'),
    `import { appendFileSync } from 'node:fs';
let out;
export async function initialize(data) { out = data.out; }
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  if (/\\/node_modules\\/(ink|react|react-reconciler)\\//.test(r.url)) appendFileSync(out, r.url + '\\n');
  return r;
}
`,
  );
  const register = join(dir, 'register.mjs');
  writeFileSync(register, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(join(dir, 'hooks.mjs')).href)}, { data: { out: ${JSON.stringify(log)} } });\n`);
  return { register, log };
}

const loaded = (log: string) => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : []);

test('--json and piped runs of starred commands never load ink or react; a terminal run does', async (t) => {
  const dir = tempDir(t);
  const env = arbEnv(dir);
  const { register, log } = hooks(dir);
  const runs = [
    ['--version'],
    ['stats', '--json'],
    ['stats'],
    ['backup', '--json'],
    ['backup'],
    ['cleanup', '--dry-run', '--json'],
    ['cleanup'],
    ['package', 'list', '--json'],
    ['package', 'import', 'missing.json', '--json'],
    ['models', '--json'],
    ['keys', 'list', '--json'],
    ['alerts', '--json'],
    ['restore', 'latest'],
  ];
  for (const args of runs) {
    const r = await runArb(args, env, { nodeArgs: ['--import', register] });
    assert.ok([0, 1, 2].includes(r.code) && !/internal error/.test(r.stderr), `${args.join(' ')}: ${r.stderr}`);
    assert.deepEqual(loaded(log), [], `arb ${args.join(' ')} loaded ${loaded(log).join(', ')}`);
  }
  execFileSync('script', ['-qec', `${process.execPath} --import ${register} ${ARB} stats`, '/dev/null'], { cwd: dir, env: env.env, encoding: 'utf8' });
  assert.ok(
    loaded(log).some((u) => u.includes('/node_modules/ink/')),
    'the TTY run loads ink (positive control)',
  );
  writeFileSync(log, '');
  execFileSync('script', ['-qec', `${process.execPath} --import ${register} ${ARB} backup`, '/dev/null'], { cwd: dir, env: env.env, encoding: 'utf8' });
  assert.ok(
    loaded(log).some((u) => u.includes('/node_modules/ink/')),
    'the TTY backup shows its progress with ink',
  );
});
