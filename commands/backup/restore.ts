/** `arb restore <file>`: verify, confirm (or --yes), keep the current DB as *.pre-restore, replace, migrate. */
import { hostname } from 'node:os';
import { basename, dirname, relative } from 'node:path';
import { openBackup, type OpenedBackup } from '../../src/backup/encryption.js';
import { checkCurrentDatabase, inspectBackup, liveInstances, resolveBackupFile, restoreBackup, RestoreRefusedError, RESTORE_STEPS, type RestoreStep } from '../../src/backup/restore.js';
import { tableCounts } from '../../src/backup/backup.js';
import { migrate, openDb } from '../../src/db/dialect.js';
import { migrationProvider } from '../../src/db/migrations/index.js';
import { InputError } from '../../src/errors.js';
import type { CommandContext } from '../context.js';
import { writeJson } from '../ui/json.js';
import { confirm, startProgress } from '../ui/screens.js';
import { sqliteFileOrRefuse } from './backup.js';
import type { RestoreCommandOptions } from './index.js';

const LABELS: Record<RestoreStep | 'migrate', string> = {
  copy: 'Copy and re-check the backup',
  'keep-current': 'Keep the current database (*.pre-restore)',
  replace: 'Replace the database',
  migrate: 'Migrate and check',
};

export async function runRestore(ctx: CommandContext, fileText: string, opts: RestoreCommandOptions): Promise<number> {
  if (ctx.config.databaseUrl) return (await import('./postgres.js')).runPgRestore(ctx, fileText, opts); // psql / pg_restore
  const dbFile = sqliteFileOrRefuse(ctx, 'arb restore');
  const file = resolveBackupFile(fileText, ctx.config.backupDir);
  const known = Object.keys(await migrationProvider('sqlite').getMigrations()).sort();
  const opened = await openBackup(file, { identityFile: ctx.config.backupEncryptionIdentity, workDir: dirname(dbFile), refuse: (m) => new RestoreRefusedError(m, 'file') });
  try {
    return await restoreOpened(ctx, dbFile, file, opened, known, opts);
  } finally {
    opened.cleanup();
  }
}

async function restoreOpened(ctx: CommandContext, dbFile: string, file: string, opened: OpenedBackup, known: string[], opts: RestoreCommandOptions): Promise<number> {
  const inspected = await inspectBackup(opened.plain, known);
  const backup = opened.encrypted ? { ...inspected, checksumListed: opened.checksumListed } : inspected;
  const live = liveInstances(dbFile, hostname());
  if (live.length > 0) {
    const l = live[0];
    throw new InputError(`the daemon is running on this database (pid ${l.pid} on ${l.hostname}, heartbeat ${l.heartbeatAt} UTC); stop it first (systemctl stop arb, or Ctrl-C npm start), then rerun arb restore (nothing was changed)`, 'daemon');
  }
  const current = checkCurrentDatabase(dbFile);
  const counts = (t: Record<string, number>) => `${t.users ?? 0} users, ${t.transactions ?? 0} ledger rows, ${t.ai_token_allocations ?? 0} keys, ${t.usage_events ?? 0} usage events`;
  const ok = await confirm(ctx, {
    yes: opts.yes,
    action: 'arb restore',
    question: `Replace ${relative(process.cwd(), dbFile) || dbFile} with ${basename(file)}?`,
    details: [
      `backup:  ${file}`,
      `         schema ${backup.schema}, ${counts(backup.tables)}`,
      opened.encrypted
        ? `         age-encrypted, opened with BACKUP_ENCRYPTION_IDENTITY${backup.checksumListed ? '; the file matches SHA256SUMS' : ''}`
        : `         sha256 ${backup.sha256}${backup.checksumListed ? ' (matches SHA256SUMS)' : ''}`,
      current.state === 'corrupt'
        ? `the current database is damaged (${current.detail}); it will be moved aside as *.corrupt-<time>, not copied`
        : 'the current database will be kept as *.pre-restore',
    ],
  });
  if (!ok) {
    ctx.stderr.write('restore cancelled; nothing was changed\n');
    return 1;
  }
  const steps = [...RESTORE_STEPS, 'migrate' as const];
  const progress = await startProgress(ctx, `arb restore ← ${basename(file)}`, steps.map((s) => LABELS[s]));
  let result;
  let applied: string[] = [];
  let tables: Record<string, number> = {};
  try {
    result = await restoreBackup({
      dbFile,
      backup,
      current,
      onStep: (step, state, detail) => {
        const i = steps.indexOf(step);
        if (state === 'start') progress.start(i, detail);
        else progress.finish(i, 'done', detail);
      },
    });
    progress.start(steps.indexOf('migrate'));
    const handle = openDb({ dbName: dbFile });
    try {
      applied = await migrate(handle);
      tables = tableCounts(handle.sqlite!);
    } finally {
      await handle.close();
    }
    progress.finish(steps.indexOf('migrate'), 'done', applied.length ? `applied ${applied.join(', ')}` : 'schema up to date');
  } finally {
    await progress.close();
  }
  ctx.logger().warn({ business_event: true, event_type: 'database_restored', file, encrypted: opened.encrypted, sha256: result.sha256, pre_restore: result.preRestore, ...(result.corrupt ? { corrupt_moved_to: result.corrupt.movedTo, corrupt_detail: result.corrupt.detail } : {}) }, 'database restored from backup');
  if (opts.json) {
    writeJson(ctx.stdout, { restored_from: file, encrypted: opened.encrypted, database: dbFile, pre_restore: result.preRestore, corrupt_moved_to: result.corrupt?.movedTo ?? null, sha256: result.sha256, schema: backup.schema, tables });
  } else {
    ctx.stdout.write(`restored ${basename(file)} over ${dbFile} (${counts(tables)})\n`);
    if (result.preRestore) ctx.stdout.write(`the previous database is kept as ${result.preRestore}\n`);
    if (result.corrupt) ctx.stdout.write(`the damaged database (${result.corrupt.detail}) was moved aside as ${result.corrupt.movedTo}\n`);
  }
  return 0;
}
