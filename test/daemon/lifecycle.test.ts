/**
 * Daemon lifecycle: graceful shutdown drains in-flight streams (and aborts them after the drain time,
 * charging what was delivered); a real `kill -9` of a spawned `arb daemon` mid-stream leaves a hold
 * that the next start releases; SIGTERM exits 0; the systemd unit verifies.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync, copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { startSimulator, simulatedText } from '../../src/catalog/simulator.js';
import { createConfig } from '../../src/config.js';
import { openAndMigrate } from '../../src/db/dialect.js';
import { auditLedger } from '../../src/ledger/audit.js';
import { creditUser, purchasePackage } from '../../src/ledger/ledger.js';
import { tempDbEnv, tempDir, defaultTestDialect } from '../support/db.js';
import { seedPackage } from '../support/seed.js';
import { ARB_BIN, spawnDaemon } from '../support/cli.js';
import { allocation, HELLO, openReservations, startStack, usageEvents } from './harness.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

test('stop() lets an in-flight stream finish, refuses new work, settles, unregisters; idempotent', async (t) => {
  const stack = await startStack(t, { sim: { chunkDelayMs: 10, completionTokens: 30 } });
  const { key, allocationId } = await stack.buyKey();
  const client = stack.client(key);
  const stream = await client.chat.completions.create({ model: 'gpt-4', messages: HELLO, stream: true });
  let text = '';
  let stopping: Promise<void> | undefined;
  for await (const c of stream) {
    text += c.choices[0]?.delta?.content ?? '';
    if (!stopping && text.length > 0) {
      stopping = stack.daemon.stop();
      assert.equal(stack.daemon.stop(), stopping, 'stop() is idempotent');
      // a new request on a new connection is not accepted any more
      const refused = await fetch(`${stack.baseURL}/models`, { headers: { authorization: `Bearer ${key}` } }).then(
        (r) => r.status,
        () => 'refused',
      );
      assert.ok(refused === 'refused' || refused === 503, String(refused));
    }
  }
  await stopping;
  assert.equal(text, simulatedText(30), 'the stream finished during the drain');
  const [ev] = await usageEvents(stack.handle, allocationId);
  assert.equal(ev.outcome, 'ok');
  assert.equal(await openReservations(stack.handle), 0);
  const inst = await stack.handle.db.selectFrom('instances').selectAll().execute();
  assert.deepEqual(inst, [], 'the instance unregistered');
  assert.ok(stack.logs.lines().some((l) => l.message === 'arb daemon stopped'));
});

test('after the drain time, streams still running are aborted and charged for what they delivered', async (t) => {
  const stack = await startStack(t, { sim: { chunkDelayMs: 5, completionTokens: 2000 }, daemon: { drainTimeoutMs: 150 } });
  const { key, allocationId } = await stack.buyKey();
  const stream = await stack.client(key).chat.completions.create({ model: 'gpt-4', messages: HELLO, stream: true, max_tokens: 2000 });
  let got = 0;
  let stopping: Promise<void> | undefined;
  const err = await (async () => {
    for await (const c of stream) {
      if (c.choices[0]?.delta?.content) got++;
      if (got === 3 && !stopping) stopping = stack.daemon.stop();
    }
  })().catch((e: unknown) => e);
  await stopping;
  assert.ok(err instanceof OpenAI.APIError, 'the client is told the stream was cut by the shutdown');
  assert.match(err.message, /shutting down/);
  const [ev] = await usageEvents(stack.handle, allocationId);
  assert.equal(ev.outcome, 'shutdown');
  assert.equal(ev.estimated, 1);
  assert.ok(ev.completion_tokens >= got && ev.completion_tokens < 2000);
  assert.equal(ev.weighted_tokens, ev.prompt_tokens + 2 * ev.completion_tokens);
  const a = await allocation(stack.handle, allocationId);
  assert.equal(a.tokens_reserved, 0);
  assert.equal(a.tokens_used, ev.weighted_tokens);
  assert.equal((await auditLedger(stack.handle)).ok, true);
});

test('kill -9 mid-stream leaves a hold; the next start releases it; SIGTERM stops cleanly with exit 0', async (t) => {
  const sim = await startSimulator({ chunkDelayMs: 20, completionTokens: 1000 });
  t.after(() => sim.close());
  const dir = tempDir(t);
  const dbEnv = await tempDbEnv(t as never, dir);
  const env = { ...dbEnv, OPENROUTER_BASE_URL: sim.baseUrl, LOG_DIR: join(dir, 'logs') };
  const children: ChildProcess[] = [];
  t.after(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });

  const first = await spawnDaemon(dir, env);
  children.push(first.child);
  assert.match(first.output(), /proxy-only/);

  // a customer with a key, bought through the ledger in the same database
  const handle = await openAndMigrate(dbEnv.DATABASE_URL ? { databaseUrl: dbEnv.DATABASE_URL, poolSize: 2 } : { dbName: dbEnv.DB_NAME });
  t.after(() => handle.close());
  const config = createConfig({});
  const pkg = await seedPackage(handle, { config });
  await creditUser({ handle }, { telegramId: 4242, amountMicros: pkg.priceMicros, type: 'topup', reference: 'crash-topup' });
  const { apiKey, allocation: alloc } = await purchasePackage({ handle, config }, { telegramId: 4242, packageId: pkg.id });

  const client = new OpenAI({ apiKey: apiKey!, baseURL: `${first.url}/v1`, maxRetries: 0 });
  const stream = await client.chat.completions.create({ model: 'gpt-4', messages: HELLO, stream: true });
  let chunks = 0;
  const streamDone = (async () => {
    for await (const c of stream) {
      if (c.choices[0]?.delta?.content) chunks++;
      if (chunks === 3) {
        first.child.kill('SIGKILL');
      }
    }
  })().catch((e: unknown) => e);
  assert.ok((await streamDone) instanceof Error, 'the client saw the connection die');
  await first.exited;
  assert.equal(first.child.signalCode, 'SIGKILL');

  // the dead process's hold is still there
  assert.equal(await openReservations(handle), 1);
  const held = await allocation(handle, alloc.id);
  assert.ok(held.tokens_reserved > 0);
  assert.equal(held.tokens_used, 0);
  const audit = await auditLedger(handle);
  assert.equal(audit.checked.orphaned_holds, 1, 'the audit names the open hold of the dead daemon');
  assert.match(audit.problems.join('\n'), /belongs to daemon instance \S+, which is dead \(pid \d+/);

  const second = await spawnDaemon(dir, env);
  children.push(second.child);
  assert.equal(await openReservations(handle), 0, 'the restart released the dead instance’s hold');
  const after = await allocation(handle, alloc.id);
  assert.equal(after.tokens_reserved, 0);
  assert.deepEqual((await auditLedger(handle)).problems, []);
  const instances = await handle.db.selectFrom('instances').select(['pid']).execute();
  assert.deepEqual(
    instances.map((i) => i.pid),
    [second.child.pid],
  );

  // the restarted daemon serves the same key
  const ok = await new OpenAI({ apiKey: apiKey!, baseURL: `${second.url}/v1`, maxRetries: 0 }).chat.completions.create({ model: 'gpt-4', messages: HELLO, max_tokens: 3 });
  assert.equal(ok.choices[0].message.content, simulatedText(3));

  second.child.kill('SIGTERM');
  assert.equal(await second.exited, 0, second.output());
  assert.match(second.output(), /arb daemon stopped/);
  assert.equal((await handle.db.selectFrom('instances').selectAll().execute()).length, 0);
  assert.deepEqual((await auditLedger(handle)).problems, []);
  void defaultTestDialect;
});

test('daemon/arb.service: the unit systemd runs (verified with systemd-analyze when available)', (t) => {
  const unit = readFileSync(join(ROOT, 'daemon', 'arb.service'), 'utf8');
  const directive = (name: string) => new RegExp(`^${name}=(.*)$`, 'm').exec(unit)?.[1];
  assert.equal(directive('Type'), 'simple');
  assert.equal(directive('Restart'), 'on-failure');
  assert.equal(directive('KillSignal'), 'SIGTERM');
  assert.ok(Number(directive('TimeoutStopSec')) >= 15);
  assert.equal(directive('EnvironmentFile'), undefined, 'arb reads .env itself: systemd would keep inline comments in values');
  assert.ok(directive('WorkingDirectory'));
  assert.match(directive('ExecStart') ?? '', /bin\/arb\.js daemon$/);

  const which = spawnSync('sh', ['-c', 'command -v systemd-analyze'], { encoding: 'utf8' });
  const node = spawnSync('sh', ['-c', 'command -v node'], { encoding: 'utf8' }).stdout.trim();
  if (which.status !== 0) {
    t.skip('systemd-analyze is not installed (install systemd to verify the unit)');
    return;
  }
  // verify a copy whose paths point at this machine (verify checks that ExecStart exists)
  const dir = tempDir(t);
  const app = join(dir, 'opt', 'arb');
  mkdirSync(join(app, 'bin'), { recursive: true });
  copyFileSync(ARB_BIN, join(app, 'bin', 'arb.js'));
  writeFileSync(join(app, '.env'), '');
  const local = unit.replaceAll('/opt/arb', app).replace('/usr/bin/node', existsSync('/usr/bin/node') ? '/usr/bin/node' : node);
  const file = join(dir, 'arb.service');
  writeFileSync(file, local);
  const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr.trim(), '', `systemd-analyze warnings:\n${r.stderr}`);
});

test('SIGTERM the moment the daemon says it is listening still drains and stops cleanly (exit 0)', async (t) => {
  const dir = tempDir(t);
  const dbEnv = await tempDbEnv(t as never, dir);
  const env = { ...dbEnv, OPENROUTER_BASE_URL: 'http://127.0.0.1:9', LOG_DIR: join(dir, 'logs') };
  for (let round = 0; round < 3; round++) {
    const d = await spawnDaemon(dir, env);
    t.after(() => {
      if (d.child.exitCode === null && d.child.signalCode === null) d.child.kill('SIGKILL');
    });
    d.child.kill('SIGTERM'); // no grace period after the banner
    const deadline = new Promise<string>((resolve) => setTimeout(() => resolve('still running 20 s after SIGTERM'), 20_000).unref());
    assert.equal(await Promise.race([d.exited, deadline]), 0, `round ${round}: ${d.output()}`);
    assert.equal(d.child.signalCode, null, 'not killed by the default action of the signal');
    assert.match(d.output(), /arb daemon stopped/);
  }
});
