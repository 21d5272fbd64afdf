/**
 * Scheduled backups by the daemon: every BACKUP_INTERVAL_HOURS the same verified backup as `arb backup`,
 * pruned to BACKUP_KEEP; with replicas only the leader takes them; 0 turns them off.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createConfig, type Config } from '../../src/config.js';
import { openAndMigrate } from '../../src/db/dialect.js';
import { isBackupDue, lastBackupAt, startBackupSchedule } from '../../src/backup/schedule.js';
import { startDaemon, type Daemon } from '../../daemon/main.js';
import { captureLogger } from '../daemon/harness.js';
import { createPgDatabase, PG_SKIP_REASON, tempDir } from '../support/db.js';
import { ageKey } from './age-key.js';
import { until } from '../support/wait.js';

type Lines = ReturnType<typeof captureLogger>;

const created = (logs: Lines) => logs.lines().filter((l) => l.event_type === 'backup_created' && l.scheduled === true);

function daemonConfig(dir: string, extra: Record<string, string> = {}): Config {
  return createConfig({
    DB_NAME: join(dir, 'arbitrage.db'),
    BACKUP_DIR: join(dir, 'backup'),
    LOG_DIR: join(dir, 'logs'),
    OPENROUTER_BASE_URL: 'http://127.0.0.1:9/api/v1',
    PORT: '0',
    BACKUP_INTERVAL_HOURS: '0.0004', // 1.44 s
    BACKUP_KEEP: '2',
    ...extra,
  });
}

async function daemon(t: { after: (fn: () => Promise<void>) => void }, config: Config, logs: Lines, leaderLeaseMs?: number): Promise<Daemon> {
  const d = await startDaemon({ config, logger: logs.logger, host: '127.0.0.1', port: 0, bot: false, alerts: false, defaultMetrics: false, leaderLeaseMs });
  t.after(() => d.stop());
  return d;
}

test('the daemon takes verified backups every BACKUP_INTERVAL_HOURS and keeps BACKUP_KEEP', async (t) => {
  const dir = tempDir(t);
  const logs = captureLogger();
  await daemon(t, daemonConfig(dir), logs);
  await until('three scheduled backups', () => created(logs).length >= 3, 60_000, 50);
  const backups = readdirSync(join(dir, 'backup')).filter((f) => /^arbitrage_\d{8}/.test(f));
  assert.equal(backups.length, 2, `pruned to BACKUP_KEEP: ${backups.join(' ')}`);
  assert.equal(spawnSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: join(dir, 'backup') }).status, 0);
  const line = created(logs)[0];
  assert.match(String(line.file), /arbitrage_\d{8}-\d{6}\.db$/);
  assert.ok(logs.lines().some((l) => l.performance === true && l.operation === 'backup' && typeof l.execution_time === 'number'), 'a performance line per backup');
});

test('with two replicas only the leader takes the scheduled backups', async (t) => {
  const dir = tempDir(t);
  const config = daemonConfig(dir);
  const first = captureLogger();
  const second = captureLogger();
  await daemon(t, config, first, 60_000);
  await daemon(t, config, second, 60_000);
  await until('two backups by the leader', () => created(first).length >= 2, 60_000, 50);
  assert.equal(created(second).length, 0, 'the standby took none while the leader took two');
});

test('BACKUP_INTERVAL_HOURS=0 turns the schedule off; a standby never backs up; the newest backup on disk decides when the next is due', async (t) => {
  const dir = tempDir(t);
  const handle = await openAndMigrate({ dbName: join(dir, 'arbitrage.db') });
  t.after(() => handle.close());
  const logs = captureLogger();
  const off = startBackupSchedule({ config: daemonConfig(dir, { BACKUP_INTERVAL_HOURS: '0' }), handle, logger: logs.logger, isLeader: () => true });
  assert.equal(off.enabled, false);
  assert.throws(() => daemonConfig(dir, { BACKUP_INTERVAL_HOURS: 'daily' }), /BACKUP_INTERVAL_HOURS="daily": expected hours between 0 \(off\) and 8760/);

  // hourly: the first look finds no backup and takes one; a second schedule (a restart) finds it fresh
  const attempts: boolean[] = [];
  const config = daemonConfig(dir, { BACKUP_INTERVAL_HOURS: '0.0003' }); // 1.08 s
  const s1 = startBackupSchedule({ config, handle, logger: logs.logger, isLeader: () => true, onAttempt: (o) => attempts.push(o.ok) });
  await until('the first backup', () => attempts.length === 1, 60_000, 50);
  await s1.stop();
  assert.deepEqual(attempts, [true]);
  const standby: boolean[] = [];
  const s2 = startBackupSchedule({ config, handle, logger: logs.logger, isLeader: () => false, onAttempt: (o) => standby.push(o.ok) });
  const s3 = startBackupSchedule({ config, handle, logger: logs.logger, isLeader: () => true, onAttempt: (o) => attempts.push(o.ok) });
  await until('the next backup, one interval after the last', () => attempts.length === 2, 60_000, 50);
  await Promise.all([s2.stop(), s3.stop()]);
  assert.deepEqual(standby, [], 'a standby never takes one');
  // what a restart sees: the newest backup on disk decides, not the process's start
  const backupDir = join(dir, 'backup');
  const last = lastBackupAt(backupDir)!;
  assert.equal(isBackupDue(backupDir, 24 * 3_600_000, last + 23 * 3_600_000), false);
  assert.equal(isBackupDue(backupDir, 24 * 3_600_000, last + 24 * 3_600_000), true);
  assert.equal(isBackupDue(join(dir, 'empty'), 24 * 3_600_000, last), true);
});

test('scheduled backups on PostgreSQL, encrypted: a .dump.age and its .sql.age', { skip: process.env.TEST_DATABASE_URL ? false : PG_SKIP_REASON }, async (t) => {
  const dir = tempDir(t);
  const url = await createPgDatabase(t as never);
  const handle = await openAndMigrate({ databaseUrl: url, poolSize: 2 });
  t.after(() => handle.close());
  const logs = captureLogger();
  const key = await ageKey(dir);
  const config = daemonConfig(dir, { DATABASE_URL: url, BACKUP_INTERVAL_HOURS: '0.0003', BACKUP_ENCRYPTION_RECIPIENT: key.recipient });
  const attempts: { ok: boolean; error?: Error }[] = [];
  const schedule = startBackupSchedule({ config, handle, logger: logs.logger, isLeader: () => true, onAttempt: (o) => attempts.push(o) });
  await until('a scheduled PostgreSQL backup', () => attempts.length === 1, 60_000, 50);
  await schedule.stop();
  assert.equal(attempts[0].ok, true, attempts[0].error?.message);
  const files = readdirSync(join(dir, 'backup')).sort();
  assert.ok(files.some((f) => /^arbitrage_\d{8}-\d{6}\.dump\.age$/.test(f)) && files.some((f) => /^arbitrage_\d{8}-\d{6}\.sql\.age$/.test(f)), files.join(' '));
  assert.ok(files.every((f) => f.endsWith('.age') || f === 'SHA256SUMS'), files.join(' '));
});
