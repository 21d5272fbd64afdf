/**
 * Served means billed, through the proxy, on a real full disk (a size-limited tmpfs; skipped with the
 * reason where mounting is not allowed): requests already forwarded when the disk fills — a whole answer
 * is held back (503 service_unavailable, nothing charged, its hold released later), a stream is delivered
 * and its charge kept until the disk has room; new paid requests get 503; once space returns every
 * delivered answer has its usage row and charge, and the audit is clean. (/health on a full disk is the
 * store's test.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { createConfig } from '../../src/config.js';
import { openAndMigrate } from '../../src/db/dialect.js';
import { startSimulator, simulatedText } from '../../src/catalog/simulator.js';
import { creditUser, purchasePackage } from '../../src/ledger/ledger.js';
import { auditLedger } from '../../src/ledger/audit.js';
import { startDaemon } from '../../daemon/main.js';
import { seedPackage } from '../support/seed.js';
import { tempDir } from '../support/db.js';
import { fillDisk, mountTmpfs } from '../support/tmpfs.js';
import { captureLogger, HELLO } from './harness.js';
import { until } from '../support/wait.js';

test('a full disk: a held-back answer is 503 and free, a delivered stream is charged once there is room, new requests 503', async (t) => {
  const fs = mountTmpfs(8 * 1024 * 1024);
  if ('skip' in fs) return t.skip(fs.skip);
  // one clean-up, registered before anything that may fail: a failed setup leaves no mount behind
  let daemon: Awaited<ReturnType<typeof startDaemon>> | undefined;
  let sim: Awaited<ReturnType<typeof startSimulator>> | undefined;
  let handle: Awaited<ReturnType<typeof openAndMigrate>> | undefined;
  t.after(async () => {
    await daemon?.stop();
    await sim?.close();
    await handle?.close();
    fs.unmount();
  });
  const file = join(fs.dir, 'arbitrage.db');
  handle = await openAndMigrate({ dbName: file });
  sim = await startSimulator({ chunkDelayMs: 1 });
  const config = createConfig({
    OPENROUTER_BASE_URL: sim.baseUrl,
    OPENROUTER_API_KEY: 'sk-or-v1-test-upstream-key-000000000000',
    RATE_LIMIT_RPM: '100000',
    LOG_DIR: tempDir(t),
    PORT: '0',
    DB_NAME: file,
  });
  const pkg = await seedPackage(handle, { config, tokens: 100_000 });
  await creditUser({ handle }, { telegramId: 77, amountMicros: pkg.priceMicros, type: 'topup', reference: 'disk-topup' });
  const { apiKey: key, allocation: alloc } = await purchasePackage({ handle, config }, { telegramId: 77, packageId: pkg.id });
  const logs = captureLogger();
  daemon = await startDaemon({ config, handle, logger: logs.logger, host: '127.0.0.1', port: 0, bot: false, alerts: false, defaultMetrics: false, backgroundCheckpoints: false });
  const post = (body: Record<string, unknown>) =>
    fetch(`${daemon.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4', messages: HELLO, max_tokens: 20, ...body }),
    });

  // what was forwarded to the model (the simulator also records the daemon's own calls, /key for /health)
  const forwarded = () => sim.requests.filter((r) => r.endpoint === 'chat');

  // two requests held and forwarded; the upstream takes its time; meanwhile the disk fills
  handle.sqlite!.pragma('wal_checkpoint(TRUNCATE)');
  sim.setFault({ kind: 'slow', delayMs: 800 });
  const whole = post({});
  const stream = post({ stream: true });
  await until('both forwarded', () => forwarded().length === 2, 15_000);
  handle.sqlite!.pragma('wal_checkpoint(TRUNCATE)');
  const filler = join(fs.dir, 'filler');
  fillDisk(filler);
  fillDisk(join(fs.dir, 'filler-2'));

  const held = await whole;
  assert.equal(held.status, 503);
  const body = (await held.json()) as { error: { code: string; message: string } };
  assert.equal(body.error.code, 'service_unavailable');
  assert.match(body.error.message, /nothing was charged/);
  const streamed = await stream;
  assert.equal(streamed.status, 200);
  const text = await streamed.text();
  assert.ok(text.includes('data: [DONE]'), 'the stream was delivered');
  const deltas = text
    .split('\n\n')
    .filter((e) => e.startsWith('data: {'))
    .map((e) => (JSON.parse(e.slice(6)) as { choices: Array<{ delta?: { content?: string } }> }).choices[0]?.delta?.content ?? '')
    .join('');
  assert.equal(deltas, simulatedText(20));

  // new paid requests are refused while the database cannot record, even once a probe is due (500 ms) and
  // the kept settle may have gone into the room the ballast gave back: the disk is still full
  sim.setFault(null);
  await new Promise((r) => setTimeout(r, 600));
  assert.equal((await fetch(`${daemon.url}/health`)).status, 503, '/health probed the still-full disk');
  const refused = await post({});
  assert.equal(refused.status, 503);
  assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'service_unavailable');
  assert.equal(forwarded().length, 2, 'nothing more was forwarded');

  // room again: the kept settles are applied; every delivered answer is charged, the held-back one is not
  rmSync(filler);
  rmSync(join(fs.dir, 'filler-2'));
  await until('the kept settles applied', async () => (await handle.db.selectFrom('usage_events').select('id').execute()).length === 2, 15_000);
  const events = await handle.db.selectFrom('usage_events').selectAll().where('allocation_id', '=', alloc.id).orderBy('id').execute();
  const delivered = events.filter((e) => e.weighted_tokens > 0);
  assert.equal(delivered.length, 1, 'one answer delivered, one charged');
  assert.equal(delivered[0].stream, 1);
  assert.equal(delivered[0].weighted_tokens, forwarded()[1].promptTokens + 2 * 20);
  const released = events.find((e) => e.weighted_tokens === 0)!;
  assert.equal(released.status_code, 503);
  assert.equal(released.outcome, 'withheld');
  assert.ok(released.upstream_cost > 0, 'the release records what the operator paid upstream');
  const a = await handle.db.selectFrom('ai_token_allocations').select(['tokens_used', 'tokens_reserved']).where('id', '=', alloc.id).executeTakeFirstOrThrow();
  assert.deepEqual(a, { tokens_used: delivered[0].weighted_tokens, tokens_reserved: 0 });
  // paid requests are served again once the store's write probe (at most one per 500 ms, /health runs it
  // when due) finds room: the kept settles may have gone in before, into the room the WAL file already had
  await until('the database accepts writes again', async () => (await fetch(`${daemon.url}/health`)).status === 200, 15_000);
  const ok = await post({});
  assert.equal(ok.status, 200);
  await daemon.idle();
  assert.deepEqual((await auditLedger(handle)).problems, []);
});
