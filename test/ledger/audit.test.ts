/**
 * The audit sees everything: a request served and never charged (a usage event that served tokens,
 * charged none and recorded no loss), holds of daemon instances that are gone (dead pid, silent heartbeat,
 * never registered) and settles still pending in the daemon's file; `arb audit` exits 1 listing them. A
 * damaged database is named as such by `arb audit` and `arb stats`: one line naming `arb restore`, exit 1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { closeSync, openSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { createConfig } from '../../src/config.js';
import { openAndMigrate, type DbHandle } from '../../src/db/dialect.js';
import type { NewUsageEvent } from '../../src/db/database.js';
import { DatabaseUnavailableError } from '../../src/errors.js';
import { auditLedger } from '../../src/ledger/audit.js';
import { purchasePackage } from '../../src/ledger/ledger.js';
import { registerInstance } from '../../src/metering/instances.js';
import { createSettleQueue, pendingSettlesFiles, pendingSettlesLocation } from '../../src/metering/pending-settles.js';
import { createMeteringStore } from '../../src/metering/store.js';
import { toDbTime } from '../../src/time.js';
import { tempDb, tempDir } from '../support/db.js';
import { seedPackage } from '../support/seed.js';
import { arbEnv, runArb } from '../commands/support.js';

async function shop(handle: DbHandle) {
  const config = createConfig({});
  const pkg = await seedPackage(handle, { config, tokens: 10_000 });
  const { allocation } = await purchasePackage({ handle, config }, { telegramId: 555, packageId: pkg.id, free: true });
  return allocation.id;
}

function event(allocationId: number, requestId: string, e: Partial<NewUsageEvent>): NewUsageEvent {
  return {
    request_id: requestId,
    allocation_id: allocationId,
    model: 'openai/gpt-4',
    prompt_tokens: 0,
    completion_tokens: 0,
    weighted_tokens: 0,
    loss_tokens: 0,
    upstream_cost: 0,
    cost_loss: 0,
    latency_ms: 1,
    status_code: 200,
    outcome: 'ok',
    estimated: 0,
    stream: 1,
    created_at: toDbTime(new Date()),
    ...e,
  };
}

test('served but never charged: a usage event that served tokens with no charge and no loss is a problem; refusals, losses and held-back responses are not', async (t) => {
  const handle = await tempDb(t);
  const a = await shop(handle);
  await handle.db
    .insertInto('usage_events')
    .values([
      // the bug the audit must catch: a stream delivered 40 tokens, nothing charged, no loss recorded
      event(a, 'served-free', { prompt_tokens: 12, completion_tokens: 40 }),
      // upstream failed before any output: costs nothing, served nothing
      event(a, 'upstream-failed', { status_code: 502, outcome: 'upstream_error' }),
      // a response held back because the database refused the charge: 503, zero-charge release
      event(a, 'held-back', { status_code: 503, prompt_tokens: 12, completion_tokens: 40, upstream_cost: 900 }),
      // served beyond the quota: all of it recorded as operator loss
      event(a, 'loss', { prompt_tokens: 12, completion_tokens: 40, loss_tokens: 92 }),
      // what the upstream charged is recorded as operator loss in µ$
      event(a, 'cost-loss', { prompt_tokens: 12, completion_tokens: 40, cost_loss: 1_500 }),
    ])
    .execute();
  const report = await auditLedger(handle);
  assert.equal(report.ok, false);
  assert.equal(report.checked.served_unbilled, 1);
  assert.equal(report.problems.length, 1, report.problems.join('\n'));
  assert.match(report.problems[0], /usage event served-free .*served \(status 200, 12 prompt \+ 40 completion tokens\) but charged nothing and recorded no operator loss/);
});

test('holds of gone daemon instances: dead pid here, silent heartbeat elsewhere, never registered — live ones are fine', async (t) => {
  const handle = await tempDb(t);
  const a = await shop(handle);
  const here = hostname();
  const now = new Date();
  await registerInstance(handle, { instanceId: 'live-here', pid: process.pid, hostname: here });
  await registerInstance(handle, { instanceId: 'dead-here', pid: 999_999, hostname: here });
  await registerInstance(handle, { instanceId: 'live-there', pid: 1, hostname: 'replica-2' });
  await registerInstance(handle, { instanceId: 'silent-there', pid: 1, hostname: 'replica-3' });
  await handle.db
    .updateTable('instances')
    .set({ heartbeat_at: toDbTime(new Date(now.getTime() - 5 * 60_000)) })
    .where('instance_id', '=', 'silent-there')
    .execute();
  const store = createMeteringStore(handle);
  for (const owner of ['live-here', 'dead-here', 'live-there', 'silent-there', 'never-registered']) {
    assert.equal(await store.reserve({ allocationId: a, requestId: `req-${owner}`, instanceId: owner, tokens: 100 }), true);
  }
  const report = await auditLedger(handle, { isAlive: (pid) => pid !== 999_999, now });
  assert.equal(report.checked.orphaned_holds, 3);
  assert.equal(report.checked.reservations, 5);
  const text = report.problems.join('\n');
  assert.match(text, /request req-dead-here .* instance dead-here, which is dead \(pid 999999 on /);
  assert.match(text, /request req-silent-there .* instance silent-there, which is silent since /);
  assert.match(text, /request req-never-registered .* instance never-registered, which is not registered/);
  assert.doesNotMatch(text, /req-live-/);
});

test("arb audit lists the settles still pending in the daemon's file and exits 1; clean once they are applied", async (t) => {
  const dir = tempDir(t);
  const env = arbEnv(dir);
  const handle = await openAndMigrate(env.db);
  const a = await shop(handle);
  await registerInstance(handle, { instanceId: 'daemon-1', pid: process.pid, hostname: hostname() });
  const store = createMeteringStore(handle);
  assert.equal(await store.reserve({ allocationId: a, requestId: 'req-pending', instanceId: 'daemon-1', tokens: 300 }), true);
  // the daemon's queue, with the database refusing: it saves its file beside the database
  const location = pendingSettlesLocation({ dbName: env.dbFile, databaseUrl: undefined, logDir: env.logDir });
  const queue = createSettleQueue({
    location,
    owner: 'daemon-1',
    settle: async () => {
      throw new DatabaseUnavailableError('disk full');
    },
    retryMs: 60_000,
  });
  queue.add({
    requestId: 'req-pending',
    allocationId: a,
    model: 'openai/gpt-4',
    promptTokens: 20,
    completionTokens: 80,
    weightedTokens: 180,
    upstreamCostMicros: 0,
    latencyMs: 9,
    statusCode: 200,
    outcome: 'ok',
    estimated: false,
    stream: true,
    now: '2026-12-06 10:00:00',
  });
  assert.equal(statSync(queue.file!).mode & 0o777, 0o600);
  await queue.close();

  const failed = await runArb(['audit'], env);
  assert.equal(failed.code, 1, failed.stderr);
  assert.match(failed.stdout, /request req-pending \(allocation \d+\): a charge of 180 tokens served at 2026-12-06 10:00:00 is pending in .*arbitrage\.db\.pending-settles\.daemon-1\.json/);
  const json = JSON.parse((await runArb(['audit', '--json'], env)).stdout) as { ok: boolean; checked: Record<string, number> };
  assert.equal(json.ok, false);
  assert.equal(json.checked.pending_settles, 1);

  // the next start applies the file
  const next = createMeteringStore(handle, { pendingSettlesAt: location });
  assert.deepEqual(await next.applyPendingSettles(), { loaded: 1, applied: 1 });
  assert.deepEqual(pendingSettlesFiles(location), []);
  await next.close();
  await handle.close();
  const ok = await runArb(['audit'], env);
  assert.equal(ok.code, 0, ok.stdout);
  assert.match(ok.stdout, /audit OK/);
});

test('a damaged database: arb audit and arb stats name it and point to arb restore (exit 1), never "internal error"', async (t) => {
  const dir = tempDir(t);
  const env = arbEnv(dir);
  const handle = await openAndMigrate(env.db);
  await shop(handle);
  const pages = (handle.sqlite!.prepare(`select pageno from dbstat where name in ('users', 'ai_token_allocations', 'transactions', 'usage_events')`).all() as Array<{ pageno: number }>).map(
    (r) => r.pageno,
  );
  await handle.close();
  const fd = openSync(env.dbFile, 'r+');
  for (const p of pages) writeSync(fd, Buffer.alloc(4096, 0x5a), 0, 4096, (p - 1) * 4096);
  closeSync(fd);
  for (const args of [['audit'], ['stats', '--json']]) {
    const r = await runArb(args, env);
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.doesNotMatch(r.stderr, /internal error/);
    assert.match(r.stderr, new RegExp(`^error: the database ${join(dir, 'arbitrage.db').replace(/[.]/g, '\\.')} is damaged .*arb restore`, 'm'), args.join(' '));
  }
});
