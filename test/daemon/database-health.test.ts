/**
 * The daemon and a database that cannot record money:
 * - a real full disk (size-limited tmpfs) at run time: /health answers 503 with the reason while the
 *   database refuses writes, paid requests are not served, and everything works again once space returns;
 * - the operations manual's recovery by copying, done for real: a daemon serving requests, `arb backup`,
 *   more requests, `kill -9`, `cp backup/arbitrage_latest.db arbitrage.db`, start again — the daemon refuses
 *   to start (exit 1, the damaged file named, `arb restore` as the fix) and so does `arb audit`;
 * - a file damaged under a running daemon: /health 503 naming `arb restore`, paid requests refused before
 *   anything reaches the upstream.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI from 'openai';
import { startSimulator } from '../../src/catalog/simulator.js';
import { createConfig } from '../../src/config.js';
import { openAndMigrate, openDb } from '../../src/db/dialect.js';
import { auditLedger } from '../../src/ledger/audit.js';
import { creditUser, purchasePackage } from '../../src/ledger/ledger.js';
import { createSilentLogger } from '../../src/logger.js';
import { startDaemon } from '../../daemon/main.js';
import { tempDir } from '../support/db.js';
import { seedPackage } from '../support/seed.js';
import { fillDisk, mountTmpfs } from '../support/tmpfs.js';
import { ARB_BIN, CLI_FROM_SOURCE, runArb, spawnDaemon } from '../support/cli.js';
import { HELLO } from './harness.js';

async function health(url: string) {
  const r = await fetch(`${url}/health`);
  return { status: r.status, body: (await r.json()) as { status: string; checks: { database: string }; errors?: { database?: string }; pending_settles?: number } };
}

async function until<T>(what: string, check: () => Promise<T | false>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('a full disk at run time: /health is 503 with the reason, paid requests are not served; all is well once space returns', async (t) => {
  const fs = mountTmpfs(8 * 1024 * 1024);
  if ('skip' in fs) return t.skip(fs.skip);
  // one clean-up, registered before anything that may fail: a failed setup leaves no mount behind
  let daemon: Awaited<ReturnType<typeof startDaemon>> | undefined;
  let sim: Awaited<ReturnType<typeof startSimulator>> | undefined;
  let handle: Awaited<ReturnType<typeof openAndMigrate>> | undefined;
  t.after(async () => {
    await daemon?.stop();
    await handle?.close();
    await sim?.close();
    fs.unmount();
  });
  sim = await startSimulator({ chunkDelayMs: 1 });
  const dbName = join(fs.dir, 'arbitrage.db');
  const logDir = tempDir(t);
  handle = await openAndMigrate({ dbName });
  const config = createConfig({ OPENROUTER_BASE_URL: sim.baseUrl, DB_NAME: dbName, LOG_DIR: logDir, RATE_LIMIT_RPM: '100000' });
  daemon = await startDaemon({ config, handle, logger: createSilentLogger(), host: '127.0.0.1', port: 0, bot: false, alerts: false, defaultMetrics: false, backgroundCheckpoints: false });
  const pkg = await seedPackage(handle, { config });
  const { apiKey, allocation } = await purchasePackage({ handle, config }, { telegramId: 9090, packageId: pkg.id, free: true });
  const client = new OpenAI({ apiKey: apiKey!, baseURL: `${daemon.url}/v1`, maxRetries: 0 });
  await client.chat.completions.create({ model: 'gpt-4', messages: HELLO, max_tokens: 5 });
  assert.equal((await health(daemon.url)).status, 200);

  handle.sqlite!.pragma('wal_checkpoint(TRUNCATE)'); // the next write must grow the WAL
  const filler = join(fs.dir, 'filler');
  fillDisk(filler);
  const refused = await client.chat.completions.create({ model: 'gpt-4', messages: HELLO, max_tokens: 5 }).then(
    () => 'served',
    (e: unknown) => (e as { status?: number }).status,
  );
  assert.notEqual(refused, 'served', 'a paid request is not served while the database cannot record it');
  const down = await health(daemon.url);
  assert.equal(down.status, 503);
  assert.equal(down.body.status, 'error');
  assert.equal(down.body.checks.database, 'error');
  assert.match(down.body.errors?.database ?? '', /^disk full since .*: paid requests are refused until it accepts writes/);
  assert.equal(typeof down.body.pending_settles, 'number');

  rmSync(filler);
  // /health runs the write probe itself: it turns 200 without any paid traffic
  await until('/health back to 200', async () => (await health(daemon.url)).status === 200 || false);
  const ok = await client.chat.completions.create({ model: 'gpt-4', messages: HELLO, max_tokens: 5 });
  assert.ok(ok.choices[0].message.content);
  await until('nothing pending', async () => (await health(daemon.url)).body.pending_settles === 0 || false);
  assert.deepEqual((await auditLedger(handle)).problems, []);
  const used = await handle.db.selectFrom('ai_token_allocations').select('tokens_used').where('id', '=', allocation.id).executeTakeFirstOrThrow();
  assert.ok(used.tokens_used > 0);
});

test("the manual's recovery by copying after a crash, for real: the daemon and arb audit refuse the mixed files and name arb restore", async (t) => {
  const sim = await startSimulator({ chunkDelayMs: 1 });
  t.after(() => sim.close());
  const dir = tempDir(t);
  const env = { DB_NAME: join(dir, 'arbitrage.db'), LOG_DIR: join(dir, 'logs'), BACKUP_DIR: join(dir, 'backup'), OPENROUTER_BASE_URL: sim.baseUrl, RATE_LIMIT_RPM: '100000' };
  const children: ChildProcess[] = [];
  t.after(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });
  const first = await spawnDaemon(dir, env);
  children.push(first.child);
  const handle = await openAndMigrate({ dbName: env.DB_NAME });
  const config = createConfig({});
  const pkg = await seedPackage(handle, { config });
  await creditUser({ handle }, { telegramId: 7, amountMicros: pkg.priceMicros, type: 'topup', reference: 'cp-topup' });
  const { apiKey } = await purchasePackage({ handle, config }, { telegramId: 7, packageId: pkg.id });
  await handle.close();
  const client = new OpenAI({ apiKey: apiKey!, baseURL: `${first.url}/v1`, maxRetries: 0 });
  for (let i = 0; i < 5; i++) await client.chat.completions.create({ model: 'gpt-4', messages: HELLO, max_tokens: 5 });

  const backup = await runArb(['backup'], { cwd: dir, env });
  assert.equal(backup.code, 0, backup.stderr);
  for (let i = 0; i < 20; i++) await client.chat.completions.create({ model: 'gpt-4', messages: HELLO, max_tokens: 5 });
  first.child.kill('SIGKILL');
  await first.exited;
  assert.ok(existsSync(`${env.DB_NAME}-wal`), 'the crash left the WAL');

  // the manual, word for word
  const cp = spawnSync('cp', ['backup/arbitrage_latest.db', 'arbitrage.db'], { cwd: dir, encoding: 'utf8' });
  assert.equal(cp.status, 0, cp.stderr);

  const refused = spawnSync(process.execPath, [ARB_BIN, 'daemon', '--host', '127.0.0.1', '--port', '0'], {
    cwd: dir,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ARB_FROM_SOURCE: CLI_FROM_SOURCE, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(refused.status, 1, refused.stdout + refused.stderr);
  assert.match(refused.stderr, /^error: the database .*arbitrage\.db is damaged \(a WAL file from another database lies beside it.*arb restore/m);
  assert.doesNotMatch(refused.stderr + refused.stdout, /internal error|listening on/);

  const audit = await runArb(['audit'], { cwd: dir, env });
  assert.equal(audit.code, 1);
  assert.match(audit.stderr, /^error: the database .*arbitrage\.db is damaged .*arb restore/m);
  assert.ok(existsSync(`${env.DB_NAME}-wal`), 'nothing was applied: the evidence is intact for arb restore');
});

test('a database found damaged at run time: /health is 503 naming arb restore and a paid request is refused, never served unbilled', async (t) => {
  const sim = await startSimulator({ chunkDelayMs: 1 });
  t.after(() => sim.close());
  const dir = tempDir(t);
  const dbName = join(dir, 'arbitrage.db');
  const config = createConfig({ OPENROUTER_BASE_URL: sim.baseUrl, DB_NAME: dbName, LOG_DIR: join(dir, 'logs'), RATE_LIMIT_RPM: '100000' });
  const seeded = await openAndMigrate({ dbName });
  const pkg = await seedPackage(seeded, { config });
  const { apiKey } = await purchasePackage({ handle: seeded, config }, { telegramId: 4040, packageId: pkg.id, free: true });
  seeded.sqlite!.pragma('wal_checkpoint(TRUNCATE)');
  const pages = (seeded.sqlite!.prepare(`select pageno from dbstat where name = 'ai_token_allocations'`).all() as Array<{ pageno: number }>).map((r) => r.pageno);
  const pageSize = Number(seeded.sqlite!.pragma('page_size', { simple: true }));
  await seeded.close();
  // the allocations' pages overwritten on disk (a bad sector, a botched copy): the schema still reads
  const fd = openSync(dbName, 'r+');
  for (const p of pages) writeSync(fd, Buffer.alloc(pageSize, 0xa5), 0, pageSize, (p - 1) * pageSize);
  closeSync(fd);

  // handed the open file directly, so the start-up check does not stand in the way: the damage shows at run time
  const handle = openDb({ dbName });
  const daemon = await startDaemon({ config, handle, logger: createSilentLogger(), host: '127.0.0.1', port: 0, bot: false, alerts: false, defaultMetrics: false, backgroundCheckpoints: false });
  t.after(async () => {
    await daemon.stop();
    await handle.close();
  });
  const client = new OpenAI({ apiKey: apiKey!, baseURL: `${daemon.url}/v1`, maxRetries: 0 });
  const outcome = await client.chat.completions.create({ model: 'gpt-4', messages: HELLO, max_tokens: 5 }).then(
    () => 'served',
    (e: unknown) => (e as { status?: number }).status,
  );
  assert.notEqual(outcome, 'served', 'a paid request is not served on a damaged database');
  assert.ok(typeof outcome === 'number' && outcome >= 500, `refused with a server error: ${outcome}`);
  assert.equal(sim.requests.length, 0, 'nothing reached the upstream, so nothing was served unbilled');
  const down = await health(daemon.url);
  assert.equal(down.status, 503);
  assert.equal(down.body.checks.database, 'error');
  assert.match(down.body.errors?.database ?? '', /arb restore/);
});
