import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/db.js';
import { closeLogger, createLogger, createSilentLogger, listLogFiles, logTransaction } from '../../src/logger.js';
import type { PruneResult } from '../../src/logs/files.js';
import { startLogRetention } from '../../src/logs/retention.js';
import { arbEnv, runArb } from '../commands/support.js';

const DAY = 86_400_000;

function age(path: string, days: number): void {
  const at = new Date(Date.now() - days * DAY);
  utimesSync(path, at, at);
}

test("the manual's `find logs/ -name \"*.log.*\" -mtime +30 -delete` deletes the rotated files older than 30 days, and only them", async (t) => {
  const cwd = tempDir(t);
  const logDir = join(cwd, 'logs');
  const logger = createLogger({ logDir, rotateBytes: 1500 });
  for (let i = 0; i < 60; i++) logTransaction(logger, { type: 'token_package_purchase', amount: 1, user_id: i });
  await closeLogger(logger);
  const rotated = readdirSync(logDir).filter((n) => n !== 'arbitrage.log').sort();
  assert.ok(rotated.length >= 3, `rotations happened: ${rotated.join(', ')}`);
  for (const n of rotated) assert.match(n, /^arbitrage\.log\.\d{8}-\d{6}(_\d{2})?$/);
  const [oldest, older, ...recent] = rotated;
  age(join(logDir, oldest), 45);
  age(join(logDir, older), 31);
  age(join(logDir, 'arbitrage.log'), 60); // the live file is not matched by "*.log.*"

  const r = spawnSync('bash', ['-c', 'find logs/ -name "*.log.*" -mtime +30 -delete'], { cwd, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(readdirSync(logDir).sort(), ['arbitrage.log', ...recent].sort());
});

test('readers list rotated files of both namings (arbitrage.log.YYYYMMDD-HHMMSS and the older arbitrage-YYYYMMDD-HHMMSS.log) in time order; arb logs reads them all', async (t) => {
  const cwd = tempDir(t);
  const env = arbEnv(cwd);
  const line = (ts: string, amount: number) => `${JSON.stringify({ timestamp: ts, level: 'INFO', transaction: true, type: 'token_package_purchase', amount, amount_micros: amount * 1e6, user_id: 1, package_id: 1, message: 'transaction token_package_purchase' })}\n`;
  mkdirSync(env.logDir, { recursive: true });
  writeFileSync(join(env.logDir, 'arbitrage-20260101-000000.log'), line('2025-12-31T10:00:00.000Z', 1));
  writeFileSync(join(env.logDir, 'arbitrage.log.20260201-000000'), line('2026-01-31T10:00:00.000Z', 2));
  writeFileSync(join(env.logDir, 'arbitrage-20260301-000000.log'), line('2026-02-28T10:00:00.000Z', 4));
  writeFileSync(join(env.logDir, 'arbitrage.log.20260401-000000_01'), line('2026-03-31T10:00:00.000Z', 8));
  writeFileSync(join(env.logDir, 'arbitrage.log'), line(new Date().toISOString(), 16));
  assert.deepEqual(
    listLogFiles(env.logDir).map((f) => f.name),
    ['arbitrage-20260101-000000.log', 'arbitrage.log.20260201-000000', 'arbitrage-20260301-000000.log', 'arbitrage.log.20260401-000000_01', 'arbitrage.log'],
  );
  const r = await runArb(['logs', 'transactions', '--since', 'all', '--json'], env);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.equal(doc.total, 5);
  assert.equal(doc.amount_usd, 31);
});

test('the daemon prunes rotated logs past LOG_RETENTION_DAYS at start and then on its interval; the live file and recent files stay', async (t) => {
  const dir = tempDir(t);
  for (const [name, days] of [
    ['arbitrage-20240101-000000.log', 90],
    ['arbitrage.log.20240201-000000', 40],
    ['arbitrage.log.1', 35],
    ['arbitrage.log.20240301-000000', 5],
    ['arbitrage.log', 60],
    ['notes.log.txt', 60],
  ] as const) {
    writeFileSync(join(dir, name), '{"a":1}\n');
    age(join(dir, name), days);
  }
  const passes: PruneResult[] = [];
  let notify: (() => void) | undefined;
  const retention = startLogRetention({
    logDir: dir,
    retentionDays: 30,
    logger: createSilentLogger(),
    intervalMs: 50,
    onPass: (r) => {
      passes.push(r);
      notify?.();
    },
  });
  t.after(() => retention.stop());
  assert.equal(retention.enabled, true);
  assert.deepEqual(passes[0].removed.map((f) => f.name).sort(), ['arbitrage-20240101-000000.log', 'arbitrage.log.1', 'arbitrage.log.20240201-000000']);
  assert.deepEqual(readdirSync(dir).sort(), ['arbitrage.log', 'arbitrage.log.20240301-000000', 'notes.log.txt']);

  // a file that ages past the retention is removed by a later pass
  age(join(dir, 'arbitrage.log.20240301-000000'), 31);
  // the retention timer is unref'd (it never holds the daemon open): this deadline keeps the test alive
  let deadline: NodeJS.Timeout | undefined;
  await Promise.race([
    new Promise<void>((resolve) => {
      notify = () => {
        if (!existsSync(join(dir, 'arbitrage.log.20240301-000000'))) resolve();
      };
    }),
    new Promise<never>((_, reject) => (deadline = setTimeout(() => reject(new Error('no later pass pruned the file within 10 s')), 10_000))),
  ]);
  clearTimeout(deadline);
  assert.ok(passes.some((p) => p.removed.some((f) => f.name === 'arbitrage.log.20240301-000000')));
  assert.deepEqual(readdirSync(dir).sort(), ['arbitrage.log', 'notes.log.txt']);

  const off = startLogRetention({ logDir: dir, retentionDays: 0, logger: createSilentLogger() });
  assert.equal(off.enabled, false, 'LOG_RETENTION_DAYS=0 keeps every rotated log');
  off.stop();
});
