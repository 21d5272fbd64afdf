/**
 * `arb backup` / `arb restore` when DATABASE_URL points at PostgreSQL: pg_dump / pg_restore / psql
 * through src/backup/postgres.ts, with the same progress screen, confirmation and JSON shape as the
 * SQLite path.
 */
import { hostname } from 'node:os';
import { basename } from 'node:path';
import { migrate, openDb } from '../../src/db/dialect.js';
import { migrationProvider } from '../../src/db/migrations/index.js';
import { InputError } from '../../src/errors.js';
import { ensureWritableDir } from '../../src/backup/backup.js';
import { reportBackup } from './backup.js';
import {
  createPgBackup,
  inspectPgBackup,
  pgConnection,
  pgLiveInstances,
  pgTableCounts,
  PG_BACKUP_STEPS,
  PG_RESTORE_STEPS,
  resolvePgBackupFile,
  restorePgBackup,
  type PgBackupStep,
  type PgRestoreStep,
} from '../../src/backup/postgres.js';
import { rmSync } from 'node:fs';
import type { CommandContext } from '../context.js';
import { writeJson } from '../ui/json.js';
import { parseIntegerOption } from '../ui/options.js';
import { confirm, startProgress } from '../ui/screens.js';
import type { BackupCommandOptions, RestoreCommandOptions } from './index.js';

const BACKUP_LABELS: Record<PgBackupStep, string> = {
  dump: 'pg_dump (custom format, one snapshot)',
  verify: 'Read the whole dump back (pg_restore)',
  checksum: 'SHA-256',
  publish: 'Publish + arbitrage_latest.dump',
  prune: 'Prune old backups',
};

const RESTORE_LABELS: Record<PgRestoreStep | 'verify' | 'migrate', string> = {
  verify: 'Verify the dump (header, checksum, contents, schema)',
  'keep-current': 'Keep the current database (*.pre-restore.dump)',
  replace: 'Load the backup in one transaction (psql)',
  migrate: 'Migrate and check',
};

export async function runPgBackup(ctx: CommandContext, opts: BackupCommandOptions): Promise<number> {
  const databaseUrl = ctx.config.databaseUrl!;
  const keep = opts.keep === undefined ? undefined : parseIntegerOption(opts.keep, '--keep', 1, 100_000, '--keep 7');
  const dirSource = opts.dir !== undefined ? '--dir' : 'BACKUP_DIR';
  const dir = ensureWritableDir(opts.dir ?? ctx.config.backupDir, dirSource);
  const progress = await startProgress(ctx, `arb backup (PostgreSQL) → ${dir}`, PG_BACKUP_STEPS.map((s) => BACKUP_LABELS[s]));
  let result;
  try {
    result = await createPgBackup({
      databaseUrl,
      dir,
      keep,
      dirSource,
      onStep: (step, state, detail) => {
        const i = PG_BACKUP_STEPS.indexOf(step);
        if (state === 'start') progress.start(i, detail);
        else progress.finish(i, 'done', detail);
      },
    });
  } finally {
    await progress.close();
  }
  reportBackup(ctx, result, { json: opts.json, summary: (bytes) => `pg_dump custom format, ${bytes} bytes, read back ok`, dialect: 'postgres' });
  return 0;
}

export async function runPgRestore(ctx: CommandContext, fileText: string, opts: RestoreCommandOptions): Promise<number> {
  const databaseUrl = ctx.config.databaseUrl!;
  const target = pgConnection(databaseUrl).shown;
  const file = resolvePgBackupFile(fileText, ctx.config.backupDir);
  const backupDir = ensureWritableDir(ctx.config.backupDir, 'BACKUP_DIR');
  const known = Object.keys(await migrationProvider('postgres').getMigrations()).sort();
  const backup = await inspectPgBackup(file, known, backupDir);
  try {
    const live = await pgLiveInstances(databaseUrl, hostname());
    if (live.length > 0) {
      const l = live[0];
      throw new InputError(
        `the daemon is running on this database (${live.length} replica${live.length > 1 ? 's' : ''}; pid ${l.pid} on ${l.hostname}, heartbeat ${l.heartbeatAt} UTC); stop every replica first, then rerun arb restore (nothing was changed)`,
        'daemon',
      );
    }
    const counts = (t: Record<string, number>) => `${t.users ?? 0} users, ${t.transactions ?? 0} ledger rows, ${t.ai_token_allocations ?? 0} keys, ${t.usage_events ?? 0} usage events`;
    const ok = await confirm(ctx, {
      yes: opts.yes,
      action: 'arb restore',
      question: `Replace the PostgreSQL database ${target} with ${basename(file)}?`,
      details: [
        `backup:  ${file}`,
        `         schema ${backup.schema}, ${counts(backup.tables)}`,
        `         sha256 ${backup.sha256}${backup.checksumListed ? ' (matches SHA256SUMS)' : ''}`,
        'the current data will be kept as a *.pre-restore.dump in BACKUP_DIR',
      ],
    });
    if (!ok) {
      ctx.stderr.write('restore cancelled; nothing was changed\n');
      return 1;
    }
    const steps = ['verify' as const, ...PG_RESTORE_STEPS, 'migrate' as const];
    const progress = await startProgress(ctx, `arb restore (PostgreSQL) ← ${basename(file)}`, steps.map((s) => RESTORE_LABELS[s]));
    progress.finish(0, 'done', backup.checksumListed ? 'checksum listed and matching' : 'contents ok');
    let result;
    let applied: string[] = [];
    let tables: Record<string, number> = {};
    try {
      result = await restorePgBackup({
        databaseUrl,
        backup,
        dir: backupDir,
        onStep: (step, state, detail) => {
          const i = steps.indexOf(step);
          if (state === 'start') progress.start(i, detail);
          else progress.finish(i, 'done', detail);
        },
      });
      progress.start(steps.indexOf('migrate'));
      const handle = openDb({ databaseUrl, poolSize: 1 });
      try {
        applied = await migrate(handle);
      } finally {
        await handle.close();
      }
      tables = await pgTableCounts(databaseUrl);
      progress.finish(steps.indexOf('migrate'), 'done', applied.length ? `applied ${applied.join(', ')}` : 'schema up to date');
    } finally {
      await progress.close();
    }
    ctx.logger().warn({ business_event: true, event_type: 'database_restored', file, sha256: result.sha256, pre_restore: result.preRestore, dialect: 'postgres' }, 'database restored from backup');
    if (opts.json) {
      writeJson(ctx.stdout, { restored_from: file, database: target, pre_restore: result.preRestore, sha256: result.sha256, schema: backup.schema, tables });
    } else {
      ctx.stdout.write(`restored ${basename(file)} into ${target} (${counts(tables)})\n`);
      ctx.stdout.write(`the previous data is kept as ${result.preRestore} (arb restore it to go back)\n`);
    }
    return 0;
  } finally {
    rmSync(backup.sqlFile, { force: true });
  }
}
