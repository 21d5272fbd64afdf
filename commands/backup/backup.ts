/** `arb backup`: a verified online copy (progress screen on a TTY, text or JSON otherwise); SQLite or PostgreSQL. */
import { relative, resolve } from 'node:path';
import { ensureWritableDir } from '../../src/backup/backup.js';
import { backupSteps, logBackupCreated, takeBackup, type AnyBackupStep, type BackupOutcome } from '../../src/backup/take.js';
import { InputError } from '../../src/errors.js';
import type { CommandContext } from '../context.js';
import { writeJson } from '../ui/json.js';
import { parseIntegerOption } from '../ui/options.js';
import { startProgress } from '../ui/screens.js';
import type { BackupCommandOptions } from './index.js';

const SQLITE_LABELS: Partial<Record<AnyBackupStep, string>> = {
  snapshot: 'Snapshot (VACUUM INTO)',
  verify: 'Integrity check of the copy',
};
const PG_LABELS: Partial<Record<AnyBackupStep, string>> = {
  dump: 'pg_dump (custom format, one snapshot)',
  verify: 'Read the whole dump back (pg_restore) + plain SQL',
};
const COMMON_LABELS: Partial<Record<AnyBackupStep, string>> = {
  encrypt: 'Encrypt (age)',
  checksum: 'SHA-256',
  prune: 'Prune old backups',
};

export function sqliteFileOrRefuse(ctx: CommandContext, command: string): string {
  if (ctx.config.databaseUrl) {
    throw new InputError(`DATABASE_URL: ${command} works on the SQLite database only for now; for PostgreSQL use pg_dump / pg_restore`, 'DATABASE_URL');
  }
  return resolve(ctx.config.dbName);
}

export async function runBackup(ctx: CommandContext, opts: BackupCommandOptions): Promise<number> {
  const pg = Boolean(ctx.config.databaseUrl);
  const keep = opts.keep === undefined ? undefined : parseIntegerOption(opts.keep, '--keep', 1, 100_000, '--keep 7');
  const dirSource = opts.dir !== undefined ? '--dir' : 'BACKUP_DIR';
  const dir = ensureWritableDir(opts.dir ?? ctx.config.backupDir, dirSource);
  const steps = await backupSteps(ctx.config);
  const encrypted = ctx.config.backupEncryptionRecipients.length > 0;
  const labels: Partial<Record<AnyBackupStep, string>> = {
    ...COMMON_LABELS,
    ...(pg ? PG_LABELS : SQLITE_LABELS),
    publish: `Publish + arbitrage_latest.${pg ? 'dump' : 'db'}${encrypted ? '.age' : ''}`,
  };
  const progress = await startProgress(ctx, `arb backup${pg ? ' (PostgreSQL)' : ''} → ${dir}`, steps.map((s) => labels[s] ?? s));
  let result: BackupOutcome;
  try {
    result = await takeBackup({
      config: ctx.config,
      dir,
      keep,
      dirSource,
      onStep: (step, state, detail) => {
        const i = steps.indexOf(step);
        if (state === 'start') progress.start(i, detail);
        else progress.finish(i, 'done', detail);
      },
      onProgress: (f) => progress.advance(f),
    });
  } finally {
    await progress.close();
  }
  reportBackup(ctx, result, {
    json: opts.json,
    summary: (bytes) => `${pg ? 'pg_dump custom format, ' : ''}${bytes} bytes, ${pg ? 'read back ok' : 'integrity ok'}${result.encrypted ? ', age-encrypted' : ''}`,
  });
  return 0;
}

/** What both backup paths (SQLite and PostgreSQL) report: one JSON document or a few lines, and the log lines. */
export function reportBackup(ctx: CommandContext, result: BackupOutcome, opts: { json?: boolean; summary: (bytes: string) => string }): void {
  if (opts.json) {
    writeJson(ctx.stdout, {
      file: result.file,
      latest: result.latest,
      manifest: result.manifest,
      bytes: result.bytes,
      sha256: result.sha256,
      ...(result.format === undefined ? {} : { format: result.format, sql: result.sql, sql_latest: result.sqlLatest }),
      integrity: result.integrity,
      encrypted: result.encrypted,
      tables: result.tables,
      pruned: result.pruned,
      kept: result.kept,
    });
  } else {
    const shown = (f: string) => relative(process.cwd(), f) || f;
    ctx.stdout.write(`backup written: ${shown(result.file)} (${opts.summary(result.bytes.toLocaleString('en-US'))})\n`);
    ctx.stdout.write(`sha256 ${result.sha256}  (listed in ${shown(result.manifest)})\n`);
    ctx.stdout.write(`latest: ${shown(result.latest)}\n`);
    if (result.sqlLatest) ctx.stdout.write(`plain SQL: ${shown(result.sqlLatest)}  (${result.encrypted ? `age -d -i KEY ${shown(result.sqlLatest)} | psql DB` : `psql DB < ${shown(result.sqlLatest)}`} restores it in one transaction)\n`);
    if (result.encrypted) ctx.stdout.write('encrypted for BACKUP_ENCRYPTION_RECIPIENT (age); arb restore decrypts with BACKUP_ENCRYPTION_IDENTITY\n');
    if (result.pruned.length) ctx.stdout.write(`pruned: ${result.pruned.join(', ')}\n`);
  }
  logBackupCreated(ctx.logger(), result);
}
