/**
 * `arb demo`: a newcomer runs one command, gets a key, a base URL and a curl line — and the curl line
 * works as printed. Ctrl-C stops everything with exit 0.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../support/db.js';
import { CLI_FROM_SOURCE } from '../support/cli.js';
import { CLAUDE_CODE_MODEL_VARS } from '../../src/client-settings.js';

const ARB_BIN = fileURLToPath(new URL('../../bin/arb.js', import.meta.url));
const hasCurl = spawnSync('sh', ['-c', 'command -v curl']).status === 0;

test('arb demo prints a key and a curl line that works as printed; Ctrl-C stops it', { skip: hasCurl ? false : 'curl is not installed (.ci/run installs it)' }, async (t) => {
  const cwd = tempDir(t);
  const child = spawn(process.execPath, [ARB_BIN, 'demo', '--port', '0'], {
    cwd,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ARB_FROM_SOURCE: CLI_FROM_SOURCE } as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`demo did not come up:\n${out}\n${err}`)), 60_000);
    child.stdout.on('data', () => {
      if (out.includes('Press Ctrl-C')) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then((code) => reject(new Error(`demo exited with ${code}:\n${out}\n${err}`)));
  });

  const key = /API key:\s+(sk-arb-\S+)/.exec(out)?.[1];
  const baseUrl = /Base URL:\s+(http:\/\/127\.0\.0\.1:\d+\/v1)/.exec(out)?.[1];
  assert.ok(key && baseUrl, out);
  const lines = out.split('\n');
  const curl = lines[lines.indexOf('Try it:') + 1];
  assert.match(curl, /^curl /);
  assert.ok(curl.includes(key) && curl.includes(baseUrl));
  const database = /database\s+(\S+)/.exec(out)![1];

  // the printed line, run as printed by a shell
  const r = spawnSync('sh', ['-c', curl], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 0, r.stderr);
  const body = JSON.parse(r.stdout) as { choices: Array<{ message: { content: string } }>; usage: { completion_tokens: number } };
  assert.ok(body.choices[0].message.content.length > 0);
  assert.equal(body.usage.completion_tokens, 30);

  const streamCurl = lines[lines.indexOf('Stream it:') + 1];
  const s = spawnSync('sh', ['-c', streamCurl], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(s.status, 0, s.stderr);
  assert.match(s.stdout, /data: \[DONE\]/);

  const keyCurl = lines[lines.indexOf('What is left on the key:') + 1];
  const k = spawnSync('sh', ['-c', keyCurl], { encoding: 'utf8', timeout: 20_000 });
  const info = JSON.parse(k.stdout) as { data: { tokens_used: number; tokens_total: number } };
  assert.equal(info.data.tokens_total, 100_000);
  assert.ok(info.data.tokens_used > 60, 'both requests were metered');

  // the Claude Code setting: a second key on the Claude package, every model setting pinned to it,
  // exports that work as printed
  const header = lines.findIndex((l) => l.startsWith('Claude Code ('));
  assert.ok(header > 0, out);
  const exports = lines.slice(header + 1).filter((l) => l.startsWith('export '));
  const env = spawnSync('sh', ['-c', `${exports.join('\n')}\nenv`], { encoding: 'utf8' }).stdout;
  const value = (name: string) => new RegExp(`^${name}=(.*)$`, 'm').exec(env)?.[1];
  assert.equal(value('ANTHROPIC_BASE_URL'), baseUrl.replace(/\/v1$/, ''));
  const claudeKey = value('ANTHROPIC_AUTH_TOKEN');
  assert.match(claudeKey ?? '', /^sk-arb-/);
  assert.notEqual(claudeKey, key);
  for (const name of CLAUDE_CODE_MODEL_VARS) assert.equal(value(name), 'anthropic/claude-sonnet-4.6', name);
  const ck = spawnSync('sh', ['-c', `curl -sS ${baseUrl}/key -H 'Authorization: Bearer ${claudeKey}'`], { encoding: 'utf8', timeout: 20_000 });
  const claudeInfo = JSON.parse(ck.stdout) as { data: { model: string; tokens_total: number } };
  assert.deepEqual([claudeInfo.data.model, claudeInfo.data.tokens_total], ['anthropic/claude-sonnet-4.6', 200_000]);

  child.kill('SIGINT');
  assert.equal(await exited, 0, `${out}\n${err}`);
  assert.equal(existsSync(database), false, 'the temporary demo database is removed');
});
