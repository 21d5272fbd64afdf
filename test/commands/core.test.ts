import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { CLI_FROM_SOURCE, runArb } from '../support/cli.js';
import { tempDir } from '../support/db.js';
import { VERSION } from '../../src/version.js';
import { openDb } from '../../src/db/dialect.js';

test('arb --version matches package.json; config check names every bad value and exits 2', async (t) => {
  const cwd = tempDir(t);
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  assert.equal(VERSION, pkg.version);
  const v = await runArb(['--version'], { cwd });
  assert.equal(v.code, 0);
  assert.equal(v.stdout.trim(), pkg.version);

  // `npx arb` in the project resolves package.json's bin
  const npx = spawnSync('npx', ['--no-install', 'arb', '--version'], { cwd: new URL('../..', import.meta.url).pathname, encoding: 'utf8', env: { ...process.env, ARB_FROM_SOURCE: CLI_FROM_SOURCE } });
  assert.equal(npx.status, 0, npx.stderr);
  assert.equal(npx.stdout.trim(), pkg.version);

  const ok = await runArb(['config', 'check'], { cwd });
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /configuration OK/);
  assert.match(ok.stdout, /proxy-only/);

  const secret = '123456:ABCdefGHIjklMNOpqrSTUvwxYZ012345';
  writeFileSync(join(cwd, '.env'), `TOKEN=${secret}\nPORT=eighty\nMIN_PROFIT_MARGIN=lots\nWEBHOOK_URL=https://shop.example.com\n`);
  const bad = await runArb(['config', 'check'], { cwd });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /PORT="eighty": expected a port number/);
  assert.match(bad.stderr, /MIN_PROFIT_MARGIN="lots": expected a fraction like 0.10/);
  assert.match(bad.stderr, /WEBHOOK_SECRET_TOKEN: required when WEBHOOK_URL is set/);
  assert.ok(!bad.stderr.includes(secret) && !bad.stdout.includes(secret), 'the bot token is never printed');
});

test('arb db migrate is idempotent; user credit and audit work on the SQLite file; bad input exits 2 and changes nothing', async (t) => {
  const cwd = tempDir(t);
  const env = { DB_NAME: join(cwd, 'shop.db'), LOG_DIR: join(cwd, 'logs') };
  const first = await runArb(['db', 'migrate', '--json'], { cwd, env });
  assert.equal(first.code, 0, first.stderr);
  assert.deepEqual(JSON.parse(first.stdout).applied.slice(0, 1), ['20261125_000000_initial']);
  const second = await runArb(['db', 'migrate'], { cwd, env });
  assert.match(second.stdout, /up to date/);

  const credit = await runArb(['user', 'credit', '4242', '12.50', '--note', 'paid by bank transfer', '--json'], { cwd, env });
  assert.equal(credit.code, 0, credit.stderr);
  const doc = JSON.parse(credit.stdout);
  assert.equal(doc.balance_micros, 12_500_000);
  assert.equal(doc.balance_usd, 12.5);

  for (const [args, pattern] of [
    [['user', 'credit', 'bob', '5'], /telegram_id: "bob" is not a Telegram user id/],
    [['user', 'credit', '4242', '5.1234567'], /usd: "5.1234567" is not a USD amount/],
    [['user', 'credit', '4242', '-100'], /insufficient balance/],
  ] as const) {
    const r = await runArb([...args], { cwd, env });
    assert.equal(r.code, pattern.source.includes('insufficient') ? 1 : 2, r.stderr);
    assert.match(r.stderr, pattern);
  }

  const audit = await runArb(['audit', '--json'], { cwd, env });
  assert.equal(audit.code, 0, audit.stdout);
  assert.equal(JSON.parse(audit.stdout).checked.transactions, 1);

  // tamper with the balance: audit fails with a readable line and exit 1
  const h = openDb({ dbName: env.DB_NAME });
  await h.db.updateTable('users').set({ balance: 1 }).execute();
  await h.close();
  const broken = await runArb(['audit'], { cwd, env });
  assert.equal(broken.code, 1);
  assert.match(broken.stdout, /audit FAILED: 1 discrepancies/);
  assert.match(broken.stdout, /user 4242: balance 1 µ\$ but ledger sums to 12500000 µ\$/);

  const log = readFileSync(join(cwd, 'logs', 'arbitrage.log'), 'utf8');
  assert.match(log, /"business_event":true,"event_type":"balance_topup","user_id":4242,"amount":12.5/);
  assert.doesNotMatch(log, /"transaction":true/, 'a top-up is not revenue');
});
