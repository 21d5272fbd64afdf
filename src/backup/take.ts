/**
 * One backup, the way `arb backup` and the daemon's schedule both take it: SQLite (VACUUM INTO, checked)
 * or PostgreSQL (pg_dump, read back, plus plain SQL), encrypted when BACKUP_ENCRYPTION_RECIPIENT is set,
 * and logged the same way (a `backup_created` business event and a performance line).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Config } from '../config.js';
import { openDb, type DbHandle } from '../db/dialect.js';
import { InputError } from '../errors.js';
import { logPerformance, type Logger } from '../logger.js';
import { BACKUP_STEPS, createBackup, type BackupStep } from './backup.js';
import type { PgBackupStep } from './postgres.js';

export type AnyBackupStep = BackupStep | PgBackupStep;

export interface BackupOutcome {
  dialect: 'sqlite' | 'postgres';
  file: string;
  latest: string;
  manifest: string;
  bytes: number;
  sha256: string;
  /** PostgreSQL: the dump format, and the plain-SQL companion */
  format?: string;
  sql?: string;
  sqlLatest?: string;
  integrity: 'ok';
  encrypted: boolean;
  tables: Record<string, number>;
  pruned: string[];
  kept: string[];
  /** seconds the whole backup took */
  seconds: number;
}

export interface TakeBackupOptions {
  config: Pick<Config, 'databaseUrl' | 'dbName' | 'backupEncryptionRecipients'>;
  /** the daemon's open SQLite database; otherwise DB_NAME is opened for the backup */
  handle?: DbHandle;
  dir: string;
  keep?: number;
  dirSource?: string;
  now?: Date;
  onStep?: (step: AnyBackupStep, state: 'start' | 'done', detail?: string) => void;
  onProgress?: (fraction: number) => void;
}

/** The steps a backup of this configuration goes through, in order (for progress screens). */
export async function backupSteps(config: Pick<Config, 'databaseUrl'>): Promise<readonly AnyBackupStep[]> {
  return config.databaseUrl ? (await import('./postgres.js')).PG_BACKUP_STEPS : BACKUP_STEPS;
}

export async function takeBackup(options: TakeBackupOptions): Promise<BackupOutcome> {
  const { config } = options;
  const started = performance.now();
  const recipients = config.backupEncryptionRecipients;
  const seconds = () => Math.round(performance.now() - started) / 1000;
  if (config.databaseUrl) {
    const { createPgBackup } = await import('./postgres.js');
    const r = await createPgBackup({ databaseUrl: config.databaseUrl, dir: options.dir, keep: options.keep, dirSource: options.dirSource, now: options.now, recipients, onStep: options.onStep });
    return { dialect: 'postgres', ...r, seconds: seconds() };
  }
  let handle = options.handle;
  const owned = !handle;
  if (!handle) {
    const dbFile = resolve(config.dbName);
    if (!existsSync(dbFile)) {
      throw new InputError(`DB_NAME: there is no database at ${dbFile}, so nothing to back up; check DB_NAME (or run arb where its .env is)`, 'DB_NAME');
    }
    handle = openDb({ dbName: dbFile });
  }
  try {
    const r = await createBackup(handle, { dir: options.dir, keep: options.keep, dirSource: options.dirSource, now: options.now, recipients, onStep: options.onStep, onProgress: options.onProgress });
    return { dialect: 'sqlite', ...r, seconds: seconds() };
  } finally {
    if (owned) await handle.close();
  }
}

/** The log lines of a backup: a `backup_created` business event and a performance line. */
export function logBackupCreated(logger: Logger, r: BackupOutcome, extra: { scheduled?: boolean } = {}): void {
  logger.info(
    {
      business_event: true,
      event_type: 'backup_created',
      file: r.file,
      bytes: r.bytes,
      sha256: r.sha256,
      encrypted: r.encrypted,
      pruned: r.pruned.length,
      ...(r.dialect === 'postgres' ? { dialect: 'postgres', sql: r.sql } : {}),
      ...(extra.scheduled ? { scheduled: true } : {}),
    },
    'backup created',
  );
  logPerformance(logger, 'backup', r.seconds, { file: r.file, bytes: r.bytes, ...(extra.scheduled ? { scheduled: true } : {}) });
}
