/**
 * `--watch` redraws in place on a terminal until Ctrl-C, which ends with status 0; with --json it prints
 * one document per line per refresh; on a pipe without --json it is refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { stripVTControlCharacters } from 'node:util';
import { openAndMigrate } from '../../src/db/dialect.js';
import { tempDir } from '../support/db.js';
import { ARB, arbEnv, runArb, seedShop, type ArbEnv } from './support.js';

async function shop(t: Parameters<typeof tempDir>[0]): Promise<ArbEnv> {
  const env = arbEnv(tempDir(t));
  const handle = await openAndMigrate(env.db);
  await seedShop(handle);
  await handle.close();
  return env;
}

/** Runs on a pseudo-terminal until `frames` frames were drawn, then types Ctrl-C. */
function watchOnTty(args: readonly string[], env: ArbEnv, frames: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    // exec: Ctrl-C reaches arb itself, not an sh in between that would die of it
    const quoted = `exec ${[process.execPath, ARB, ...args].map((a) => `'${a}'`).join(' ')}`;
    const child = spawn('script', ['-qec', quoted, '/dev/null'], { cwd: env.dir, env: { ...env.env, TERM: 'xterm', COLUMNS: '100', LINES: '50' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    let sent = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no ${frames} frames within 90 s:\n${output}`));
    }, 90_000);
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      output += d;
      if (!sent && output.split('Ctrl-C to stop').length - 1 >= frames) {
        sent = true;
        child.stdin.write('\x03');
      }
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

test('arb stats --watch and arb alerts --watch redraw in place on a terminal; Ctrl-C ends them with status 0', async (t) => {
  const env = await shop(t);
  for (const [args, marker] of [
    [['stats', '--watch', '--interval', '1s', '--since', '7d'], /arb stats — last 7d/],
    [['alerts', '--watch', '--interval', '1s'], /revenue_today +ALERT/],
  ] as const) {
    const r = await watchOnTty(args, env, 3);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.output.slice(-300)}`);
    const plain = stripVTControlCharacters(r.output);
    assert.match(plain, marker);
    assert.match(plain, /updated \d\d:\d\d:\d\d UTC · every 1 s · Ctrl-C to stop/);
    // in place: Ink moves the cursor up and erases the previous frame before drawing the next
    // eslint-disable-next-line no-control-regex -- Ink's cursor movement is what this asserts
    assert.match(r.output, /\x1b\[2K\x1b\[1A/, `${args[0]}: frames are redrawn in place`);
    assert.doesNotMatch(plain, /internal error|Error:/);
  }
});

test('--watch with --json prints one document per refresh; on a pipe without --json it is refused; a bad --interval is exit 2', async (t) => {
  const env = await shop(t);
  const refused = await runArb(['stats', '--watch'], env);
  assert.equal(refused.code, 2);
  assert.equal(refused.stderr, 'error: --watch: arb stats --watch redraws a terminal and stdout is not one; add --json for one JSON document per refresh, or drop --watch\n');
  const bad = await runArb(['alerts', '--watch', '--interval', '100ms'], env);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^error: --interval: "100ms" is not a refresh interval between 1s and 60m; use e\.g\. --interval 5s/);

  const child = spawn(process.execPath, [ARB, 'stats', '--watch', '--json', '--interval', '1s'], { cwd: env.dir, env: env.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no two documents within 90 s: ${out}${err}`)), 90_000);
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.split('\n').filter(Boolean).length >= 2) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  child.kill('SIGINT');
  assert.equal(await exited, 0, err);
  const docs = out
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { sales: number; revenue_micros: number });
  assert.ok(docs.length >= 2);
  for (const d of docs) assert.deepEqual([d.sales, d.revenue_micros], [3, 7_820_000]);
});
