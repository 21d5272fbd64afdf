/**
 * Help and discovery: every command is in a help group and has Examples (one registry, commands/help.ts),
 * `arb completion bash|zsh|fish` completes from the commander tree, and `arb config show` says where every
 * value came from without ever printing a secret.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildProgram } from '../../bin/main.js';
import { COMMAND_EXAMPLES, COMMAND_GROUPS, HELP_GROUPS, commandPath, walkCommands } from '../../commands/help.js';
import { tempDir } from '../support/db.js';
import { arbEnv, runArb } from './support.js';

const has = (shell: string) => spawnSync('sh', ['-c', `command -v ${shell}`]).status === 0;

test('every command has examples in the help registry and every top-level command a help group', () => {
  const program = buildProgram();
  const paths = walkCommands(program).map(commandPath);
  assert.ok(paths.includes('keys revoke') && paths.includes('logs errors') && paths.includes('completion'));
  const missing = paths.filter((p) => !COMMAND_EXAMPLES[p]?.length);
  assert.deepEqual(missing, [], 'add these to COMMAND_EXAMPLES in commands/help.ts');
  const ungrouped = program.commands.map((c) => c.name()).filter((n) => n !== 'help' && !COMMAND_GROUPS[n]);
  assert.deepEqual(ungrouped, [], 'add these to COMMAND_GROUPS in commands/help.ts');
});

test('arb --help lists the commands in Sales, Catalog, Customers, Logs and Operations, with examples; a command --help ends with Examples', async (t) => {
  const env = arbEnv(tempDir(t));
  const top = await runArb(['--help'], env);
  assert.equal(top.code, 0);
  const headings = top.stdout.split('\n').filter((l) => /^[A-Z][a-z]+:$/.test(l));
  assert.deepEqual(headings, ['Options:', ...HELP_GROUPS.map((g) => `${g}:`), 'Examples:']);
  const section = (name: string) => top.stdout.split(`\n${name}:\n`)[1].split('\n\n')[0];
  assert.match(section('Sales'), /^ {2}stats /m);
  assert.match(section('Catalog'), /^ {2}package /m);
  assert.match(section('Customers'), /^ {2}keys /m);
  assert.match(section('Logs'), /^ {2}logs /m);
  assert.match(section('Operations'), /^ {2}completion <shell>/m);
  const revoke = await runArb(['keys', 'revoke', '--help'], env);
  assert.match(revoke.stdout, /\nExamples:\n {2}# asks before revoking on a terminal\n {2}\$ arb keys revoke sk-arb-AbCd\n/);
  assert.match(revoke.stdout, /--yes/);
  const help = await runArb(['help', 'stats'], env);
  assert.match(help.stdout, /\$ arb stats --since 30d/);
});

test('arb completion bash completes commands, subcommands, options and option values from the command tree', async (t) => {
  const env = arbEnv(tempDir(t));
  const script = await runArb(['completion', 'bash'], env);
  assert.equal(script.code, 0, script.stderr);
  const file = join(env.dir, 'arb.bash');
  writeFileSync(file, script.stdout);
  const complete = (words: string[]) => {
    const cmd = `source '${file}'; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _arb; echo "\${COMPREPLY[*]}"`;
    const r = spawnSync('bash', ['-c', cmd], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim().split(' ').filter(Boolean);
  };
  assert.deepEqual(complete(['arb', 'st']), ['stats']);
  assert.ok(complete(['arb', '']).includes('completion'));
  assert.deepEqual(complete(['arb', 'keys', 'rev']), ['revoke']);
  assert.ok(complete(['arb', 'keys', 're']).includes('revoke'));
  assert.deepEqual(complete(['arb', 'keys', 'revoke', '--y']), ['--yes']);
  assert.deepEqual(complete(['arb', 'keys', 'list', '--output', '']), ['table', 'json', 'csv']);
  assert.deepEqual(complete(['arb', 'stats', '--since', '']), ['24h', '7d', '30d', 'all']);
  assert.deepEqual(complete(['arb', 'logs', 'errors', '--s']), ['--since']);
  assert.deepEqual(complete(['arb', 'completion', '']), ['bash', 'zsh', 'fish']);
  const bad = await runArb(['completion', 'powershell'], env);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /value 'powershell' is invalid for argument 'shell'\. Allowed choices are bash, zsh, fish\./);
});

test('arb completion zsh and fish: the same tree, valid scripts that complete', { skip: !has('zsh') && !has('fish') ? 'neither zsh nor fish is installed' : false }, async (t) => {
  const env = arbEnv(tempDir(t));
  if (has('zsh')) {
    const file = join(env.dir, '_arb');
    writeFileSync(file, (await runArb(['completion', 'zsh'], env)).stdout);
    // outside a completion widget: stub the completion builtins and ask the function directly
    const probe = `_describe() { print -l -- "\${(@P)\${@[-1]}}" }; compadd() { shift; print -l -- "$@" }; compdef() { : }; source '${file}'
words=(arb keys re); CURRENT=3; _arb; print -- ---; words=(arb stats --since ''); CURRENT=4; _arb`;
    const r = spawnSync('zsh', ['-c', probe], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const [subs, values] = r.stdout.split('---\n');
    assert.match(subs, /^revoke:revoke a key/m);
    assert.match(subs, /^list:list keys/m);
    assert.deepEqual(values.trim().split('\n'), ['24h', '7d', '30d', 'all']);
  }
  if (has('fish')) {
    const file = join(env.dir, 'arb.fish');
    writeFileSync(file, (await runArb(['completion', 'fish'], env)).stdout);
    const r = spawnSync('fish', ['-c', `source '${file}'; complete -C 'arb keys re'; complete -C 'arb keys list --output '`], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.match(r.stdout, /^revoke\trevoke a key/m);
    assert.match(r.stdout, /^csv\t/m);
  }
});

test('arb config show: every variable with its source (environment, .env, default), secrets masked, typos in .env noticed', async (t) => {
  const secret = '123456:ABCdefGHIjklMNOpqrSTUvwxYZ012345';
  const orKey = 'sk-or-v1-0123456789abcdef0123456789abcdef';
  const env = arbEnv(tempDir(t), { OPENROUTER_API_KEY: orKey, PORT: '9100' });
  writeFileSync(
    join(env.dir, '.env'),
    `TOKEN="${secret}"\nTOKEN_MARKUP_PERCENTAGE=30\nDATABASE_URL=postgres://arb:hunter2hunter2@db:5432/arb\nREDIS_PASSWORD=redis-secret-password\nPORT=8100\nTOKN=typo\n`,
  );
  const r = await runArb(['config', 'show', '--json'], env);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  const v = (name: string) => doc.variables.find((x: { name: string }) => x.name === name);
  assert.deepEqual(v('TOKEN_MARKUP_PERCENTAGE'), { name: 'TOKEN_MARKUP_PERCENTAGE', value: '30', source: '.env', secret: false });
  assert.deepEqual(v('PORT'), { name: 'PORT', value: '9100', source: 'environment', secret: false }, 'the environment wins over .env');
  assert.deepEqual(v('MIN_PROFIT_MARGIN'), { name: 'MIN_PROFIT_MARGIN', value: '0.10', source: 'default', secret: false });
  assert.equal(v('TOKEN').secret, true);
  assert.equal(v('TOKEN').value, '1234… (39 chars)');
  assert.equal(v('OPENROUTER_API_KEY').source, 'environment');
  assert.equal(v('DATABASE_URL').value, 'postgres://arb:****@db:5432/arb');
  assert.deepEqual(doc.unknown_in_env_file, ['TOKN']);
  const text = await runArb(['config', 'show'], env);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^TOKEN_MARKUP_PERCENTAGE +30 +\.env /m);
  assert.match(text.stdout, /^note: \.env sets TOKN, which arb does not read \(a typo\?\)$/m);
  for (const out of [r.stdout, text.stdout, r.stderr, text.stderr]) {
    for (const s of [secret, orKey, 'hunter2hunter2', 'redis-secret-password']) assert.ok(!out.includes(s), `${s} is never shown`);
  }
});
