/**
 * `arb demo --keep DIR`: the demo's database and logs stay in DIR after Ctrl-C, and the printed
 * `DB_NAME=… LOG_DIR=… arb stats` line, run as printed, shows the demo's sale.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../support/db.js';
import { CLI_FROM_SOURCE } from '../support/cli.js';

const ARB_BIN = fileURLToPath(new URL('../../bin/arb.js', import.meta.url));

test('arb demo --keep DIR keeps the database and logs and prints the line that explores them', async (t) => {
  const cwd = tempDir(t);
  const keep = join(cwd, 'demo shop');
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, ARB_FROM_SOURCE: CLI_FROM_SOURCE } as NodeJS.ProcessEnv;
  const child = spawn(process.execPath, [ARB_BIN, 'demo', '--port', '0', '--keep', keep], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`demo did not come up:\n${out}\n${err}`)), 90_000);
    child.stdout.on('data', () => {
      if (out.includes('Press Ctrl-C')) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then((code) => reject(new Error(`demo exited with ${code}:\n${out}\n${err}`)));
  });
  const lines = out.split('\n');
  const at = lines.findIndex((l) => l.startsWith(`Kept in ${keep} after the demo stops`));
  assert.ok(at > 0, out);
  const explore = lines[at + 1].trim();
  assert.equal(explore, `DB_NAME='${join(keep, 'arbitrage.db')}' LOG_DIR='${join(keep, 'logs')}' arb stats`);
  child.kill('SIGINT');
  assert.equal(await exited, 0, `${out}\n${err}`);
  assert.ok(existsSync(join(keep, 'arbitrage.db')), 'the database is kept');
  assert.ok(existsSync(join(keep, 'logs', 'arbitrage.log')), 'the log is kept');

  // the line as printed, in another shell, with `arb` on the PATH
  const bin = join(cwd, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'arb'), `#!/bin/sh\nexec '${process.execPath}' '${ARB_BIN}' "$@"\n`, { mode: 0o755 });
  const r = spawnSync('sh', ['-c', `${explore} --json`], { cwd, env: { ...env, PATH: `${bin}:${env.PATH}` }, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  const stats = JSON.parse(r.stdout) as { sales: number; revenue_micros: number };
  assert.equal(stats.sales, 2, "the demo's two sales (GPT-4 and the Claude Code package)");
  assert.ok(stats.revenue_micros > 3_750_000, String(stats.revenue_micros));
});
