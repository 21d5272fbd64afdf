/**
 * Scheduled backups by the daemon (BACKUP_INTERVAL_HOURS, default 24; 0 = off), the same verified backup
 * as `arb backup` (src/backup/take.ts), keeping BACKUP_KEEP. `cp` of a live WAL database loses committed
 * rows; this never does.
 *
 * The schedule follows the backups on disk, not the process: a backup is due when the newest one in
 * BACKUP_DIR is older than the interval (so restarts neither skip nor repeat one). It looks every
 * min(interval, 1 min); with replicas only the leader (src/scale/leader.ts) takes them. A failure is
 * logged, reported to the admins, and retried after min(interval, 15 min).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Config } from '../config.js';
import type { DbHandle } from '../db/dialect.js';
import type { Logger } from '../logger.js';
import { logBackupCreated, takeBackup, type BackupOutcome } from './take.js';

const BACKUP_FILE = /^arbitrage_\d{8}-\d{6}(?:-\d+)?\.(?:db|dump)(?:\.age)?$/;

export interface BackupScheduleOptions {
  config: Pick<Config, 'databaseUrl' | 'dbName' | 'backupEncryptionRecipients' | 'backupDir' | 'backupKeep' | 'backupIntervalHours'>;
  handle: DbHandle;
  logger: Logger;
  /** true while this replica holds the leader lease */
  isLeader: () => boolean;
  /** tells the admins (the bot) that a scheduled backup failed */
  notify?: (text: string) => unknown;
  /** called after each attempt (tests wait on it) */
  onAttempt?: (outcome: { ok: true; backup: BackupOutcome } | { ok: false; error: Error }) => void;
}

export interface BackupSchedule {
  readonly enabled: boolean;
  /** stops looking; waits for a backup in progress */
  stop(): Promise<void>;
}

/** When the newest timestamped backup in `dir` was written (ms), or undefined when there is none. */
export function lastBackupAt(dir: string): number | undefined {
  if (!existsSync(dir)) return undefined;
  let newest: number | undefined;
  for (const name of readdirSync(dir)) {
    if (!BACKUP_FILE.test(name)) continue;
    const t = statSync(join(dir, name)).mtimeMs;
    if (newest === undefined || t > newest) newest = t;
  }
  return newest;
}

/** A backup is due when none is in `dir` or the newest is at least `intervalMs` old. */
export function isBackupDue(dir: string, intervalMs: number, now: number): boolean {
  const last = lastBackupAt(dir);
  return last === undefined || now - last >= intervalMs;
}

export function startBackupSchedule(options: BackupScheduleOptions): BackupSchedule {
  const { config, logger } = options;
  const intervalMs = Math.round(config.backupIntervalHours * 3_600_000);
  if (intervalMs <= 0) return { enabled: false, stop: async () => {} };
  const dir = resolve(config.backupDir);
  const checkMs = Math.min(intervalMs, 60_000);
  const retryMs = Math.min(intervalMs, 15 * 60_000);
  let failedAt: number | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;

  const due = (now: number): boolean => {
    if (failedAt !== undefined && now - failedAt < retryMs) return false;
    return isBackupDue(dir, intervalMs, now);
  };

  const attempt = async (): Promise<void> => {
    try {
      const backup = await takeBackup({ config, handle: options.handle, dir, keep: config.backupKeep, dirSource: 'BACKUP_DIR' });
      failedAt = undefined;
      logBackupCreated(logger, backup, { scheduled: true });
      options.onAttempt?.({ ok: true, backup });
    } catch (e) {
      const error = e as Error;
      failedAt = Date.now();
      logger.error({ err: error, business_event: true, event_type: 'backup_failed', scheduled: true }, `scheduled backup failed: ${error.message}`);
      try {
        await options.notify?.(`⚠️ Scheduled backup failed: ${error.message}`);
      } catch {
        /* the bot's own errors are logged by the bot */
      }
      options.onAttempt?.({ ok: false, error });
    }
  };

  const timer = setInterval(() => {
    if (stopped || running || !options.isLeader() || !due(Date.now())) return;
    running = attempt().finally(() => (running = undefined));
  }, checkMs);
  timer.unref();
  logger.info({ interval_hours: config.backupIntervalHours, keep: config.backupKeep, dir, encrypted: config.backupEncryptionRecipients.length > 0 }, 'scheduled backups on');

  return {
    enabled: true,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
