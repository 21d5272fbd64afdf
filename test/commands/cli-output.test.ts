/**
 * The terminal contract of every command, through the real binary: a reader that goes away ends the
 * command quietly with status 0; NO_COLOR and --no-color leave no colour codes (Ink screens, tables,
 * plain text), while a terminal without them is coloured; tables fit COLUMNS; `--output table|json|csv`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { openAndMigrate } from '../../src/db/dialect.js';
import { closeLogger, createLogger } from '../../src/logger.js';
import { tempDir } from '../support/db.js';
import { ARB, arbEnv, runArb, runArbOnTty, seedShop, type ArbEnv } from './support.js';

// eslint-disable-next-line no-control-regex -- an ANSI colour code is what these assertions look for
const SGR = /\x1b\[[0-9;]*m/;

async function shop(t: Parameters<typeof tempDir>[0]): Promise<ArbEnv> {
  const env = arbEnv(tempDir(t));
  const handle = await openAndMigrate(env.db);
  const logger = createLogger({ logDir: env.logDir });
  await seedShop(handle, logger);
  await closeLogger(logger);
  await handle.close();
  return env;
}

test('a reader that goes away (| head -3) ends the command with status 0 and no stack trace', async (t) => {
  const env = arbEnv(tempDir(t));
  mkdirSync(env.logDir, { recursive: true });
  // ~2 MB of output: far more than a pipe holds, so arb is still writing when head exits
  const line = (i: number) => JSON.stringify({ timestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, i % 60)).toISOString(), level: 'INFO', message: `line ${i} ${'x'.repeat(60)}` });
  writeFileSync(join(env.logDir, 'arbitrage.log'), `${Array.from({ length: 20_000 }, (_, i) => line(i)).join('\n')}\n`);
  for (const args of ['logs tail --limit 20000', 'logs tail --limit 20000 --json', 'logs tail --limit 20000 --output csv']) {
    const r = spawnSync('bash', ['-c', `'${process.execPath}' '${ARB}' ${args} | head -3; echo "arb exit \${PIPESTATUS[0]}" >&2`], { cwd: env.dir, env: env.env, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.stdout.split('\n').length, 4, `${args}: head printed 3 lines`);
    assert.equal(r.stderr, 'arb exit 0\n', `${args}: quiet, status 0`);
  }
});

test('NO_COLOR and --no-color: no colour codes on a terminal (Ink screen, table, plain text); colour without them', async (t) => {
  const env = await shop(t);
  const noColor: ArbEnv = { ...env, env: { ...env.env, NO_COLOR: '1' } };
  for (const args of [['stats'], ['keys', 'list'], ['alerts'], ['package', 'list']]) {
    const coloured = await runArbOnTty(args, env);
    assert.match(coloured.output, SGR, `arb ${args.join(' ')} is coloured on a terminal (positive control)`);
    const viaEnv = await runArbOnTty(args, noColor);
    assert.doesNotMatch(viaEnv.output, SGR, `NO_COLOR=1 arb ${args.join(' ')}`);
    const viaFlag = await runArbOnTty([...args, '--no-color'], env);
    assert.doesNotMatch(viaFlag.output, SGR, `arb ${args.join(' ')} --no-color`);
    assert.ok(viaFlag.output.length > 50, viaFlag.output);
    assert.equal(viaFlag.code, coloured.code);
  }
  const before = await runArbOnTty(['--no-color', 'keys', 'list'], env);
  assert.doesNotMatch(before.output, SGR, '--no-color before the command too');
  assert.match(before.output, /sk-arb-/);
  const piped = await runArb(['keys', 'list'], env);
  assert.doesNotMatch(piped.stdout, SGR, 'never coloured on a pipe');
});

test('tables fit COLUMNS (60, 80, 120) and keep every key and number whole', async (t) => {
  const env = await shop(t);
  const keys = JSON.parse((await runArb(['keys', 'list', '--json'], env)).stdout).keys as { api_key: string }[];
  for (const columns of [60, 80, 120]) {
    const r = await runArb(['keys', 'list'], { ...env, env: { ...env.env, COLUMNS: String(columns) } });
    assert.equal(r.code, 0, r.stderr);
    for (const line of r.stdout.trimEnd().split('\n')) assert.ok([...line].length <= columns, `${columns}: ${line}`);
    for (const k of keys) assert.ok(r.stdout.includes(k.api_key), `${columns}: ${k.api_key} whole`);
    assert.match(r.stdout, / 990,000 /, `${columns}: tokens remaining whole`);
    if (columns === 60) assert.match(r.stdout, /^\(model, used \/ total, expires \(UTC\) hidden to fit 60 column…$/m);
    if (columns === 120) assert.match(r.stdout, /expires \(UTC\)/, 'everything fits at 120');
  }
  const tty = await runArbOnTty(['user', 'list'], { ...env, env: { ...env.env } });
  for (const line of stripVTControlCharacters(tty.output).split(/\r?\n/)) assert.ok([...line].length <= 120, line);
  // the stats screen on a 60-column terminal: nothing wider, no number split over two lines
  const narrow = spawnSync('script', ['-qec', `'${process.execPath}' '${ARB}' stats --since 30d`, '/dev/null'], { cwd: env.dir, env: { ...env.env, TERM: 'xterm', COLUMNS: '60' }, encoding: 'utf8' });
  const screen = stripVTControlCharacters(narrow.stdout);
  assert.match(screen, /Revenue and profit per day/);
  for (const line of screen.split(/\r?\n/)) assert.ok([...line].length <= 60, `60: ${line}`);
  assert.match(screen, /^\$7\.82 +\$\d+\.\d\d +\$\d+\.\d\d +\d+\.\d %/m, 'the figures stay whole');
  assert.match(screen, /2,200,000|1,200,000/, 'tokens sold whole');
});

test('--output table|json|csv on list commands; --output json is --json; contradictions and unknown formats are exit 2', async (t) => {
  const env = await shop(t);
  const json = await runArb(['keys', 'list', '--json'], env);
  const viaOutput = await runArb(['keys', 'list', '--output', 'json'], env);
  assert.equal(viaOutput.code, 0, viaOutput.stderr);
  assert.equal(viaOutput.stdout, json.stdout);
  const table = await runArb(['keys', 'list', '--output', 'table'], env);
  assert.match(table.stdout, /^id +key +user/);

  const csv = await runArb(['keys', 'list', '--output', 'csv'], env);
  assert.equal(csv.code, 0, csv.stderr);
  const lines = csv.stdout.trimEnd().split('\n');
  assert.equal(lines[0], 'id,telegram_id,package_id,model,api_key,tokens_total,tokens_used,tokens_reserved,tokens_remaining,price_paid_usd,price_paid_micros,status,expires_at,created_at');
  assert.equal(lines.length, 5, 'a header and the four keys');
  assert.match(lines[1], /^\d+,\d+,\d+,[^,]+,sk-arb-.{4}….{4},\d+,/);

  for (const [args, rows] of [
    [['package', 'list'], 2],
    [['user', 'list'], 3],
    [['alerts'], 6],
    [['models'], 2],
  ] as const) {
    const r = await runArb([...args, '--output', 'csv'], env);
    assert.ok(r.code === 0 || (args[0] === 'alerts' && r.code === 1), `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stdout.trimEnd().split('\n').length, rows + 1, `${args.join(' ')} --output csv:\n${r.stdout}`);
  }

  const logCsv = (await runArb(['logs', 'transactions', '--output', 'csv'], env)).stdout.split('\n');
  assert.match(logCsv[0], /^timestamp,level,transaction,type,amount,amount_micros,user_id,/);
  assert.ok(logCsv.filter((l) => l.includes(',token_package_purchase,')).length === 3, logCsv.join('\n'));

  const both = await runArb(['keys', 'list', '--json', '--output', 'csv'], env);
  assert.equal(both.code, 2);
  assert.equal(both.stderr, 'error: --output: --json and --output csv ask for two formats; keep one of them\n');
  const xml = await runArb(['keys', 'list', '--output', 'xml'], env);
  assert.equal(xml.code, 2);
  assert.match(xml.stderr, /^error: option '--output <format>' argument 'xml' is invalid\. use one of table, json, csv\n/);
  const follow = await runArb(['logs', 'tail', '--follow', '--output', 'csv'], env);
  assert.equal(follow.code, 2);
  assert.match(follow.stderr, /^error: --output csv: not with --follow/);
});
