/**
 * `arb restore` when DATABASE_URL points at PostgreSQL: pg_restore / psql through src/backup/postgres.ts,
 * with the same progress screen, confirmation and JSON shape as the SQLite path (`arb backup` takes both
 * through src/backup/take.ts).
 */
import { hostname } from 'node:os';
import { basename } from 'node:path';
import { migrate, openDb } from '../../src/db/dialect.js';
import { migrationProvider } from '../../src/db/migrations/index.js';
import { InputError } from '../../src/errors.js';
import { ensureWritableDir } from '../../src/backup/backup.js';
import { openBackup } from '../../src/backup/encryption.js';
import { RestoreRefusedError } from '../../src/backup/restore.js';
import {
  inspectPgBackup,
  pgConnection,
  pgLiveInstances,
  pgTableCounts,
  PG_RESTORE_STEPS,
  resolvePgBackupFile,
  restorePgBackup,
  type PgBackupInspection,
  type PgRestoreStep,
} from '../../src/backup/postgres.js';
import { rmSync } from 'node:fs';
import type { CommandContext } from '../context.js';
import { writeJson } from '../ui/json.js';
import { confirm, startProgress } from '../ui/screens.js';
import type { RestoreCommandOptions } from './index.js';

const RESTORE_LABELS: Record<PgRestoreStep | 'verify' | 'migrate', string> = {
  verify: 'Verify the dump (header, checksum, contents, schema)',
  'keep-current': 'Keep the current database (*.pre-restore.dump)',
  replace: 'Load the backup in one transaction (psql)',
  migrate: 'Migrate and check',
};

export async function runPgRestore(ctx: CommandContext, fileText: string, opts: RestoreCommandOptions): Promise<number> {
  const databaseUrl = ctx.config.databaseUrl!;
  const target = pgConnection(databaseUrl).shown;
  const file = resolvePgBackupFile(fileText, ctx.config.backupDir);
  const backupDir = ensureWritableDir(ctx.config.backupDir, 'BACKUP_DIR');
  const known = Object.keys(await migrationProvider('postgres').getMigrations()).sort();
  const opened = await openBackup(file, { identityFile: ctx.config.backupEncryptionIdentity, workDir: backupDir, refuse: (m) => new RestoreRefusedError(m, 'file') });
  let backup: PgBackupInspection;
  try {
    const inspected = await inspectPgBackup(opened.plain, known, backupDir);
    backup = opened.encrypted ? { ...inspected, checksumListed: opened.checksumListed } : inspected;
  } catch (e) {
    opened.cleanup();
    throw e;
  }
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
        opened.encrypted
          ? `         age-encrypted, opened with BACKUP_ENCRYPTION_IDENTITY${backup.checksumListed ? '; the file matches SHA256SUMS' : ''}`
          : `         sha256 ${backup.sha256}${backup.checksumListed ? ' (matches SHA256SUMS)' : ''}`,
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
        recipients: ctx.config.backupEncryptionRecipients,
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
    ctx.logger().warn({ business_event: true, event_type: 'database_restored', file, encrypted: opened.encrypted, sha256: result.sha256, pre_restore: result.preRestore, dialect: 'postgres' }, 'database restored from backup');
    if (opts.json) {
      writeJson(ctx.stdout, { restored_from: file, encrypted: opened.encrypted, database: target, pre_restore: result.preRestore, sha256: result.sha256, schema: backup.schema, tables });
    } else {
      ctx.stdout.write(`restored ${basename(file)} into ${target} (${counts(tables)})\n`);
      ctx.stdout.write(`the previous data is kept as ${result.preRestore} (arb restore it to go back)\n`);
    }
    return 0;
  } finally {
    rmSync(backup.sqlFile, { force: true });
    opened.cleanup();
  }
}
