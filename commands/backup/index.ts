import type { Command } from 'commander';
import { withContext } from '../run.js';

export interface BackupCommandOptions {
  dir?: string;
  keep?: string;
  json?: boolean;
}

export interface RestoreCommandOptions {
  yes?: boolean;
  json?: boolean;
}

export function registerBackupCommands(program: Command): void {
  program
    .command('backup')
    .description('consistent online copy of the database (SQLite: VACUUM INTO; PostgreSQL: pg_dump), verified, with a SHA-256 manifest')
    .option('--dir <dir>', 'backup directory (default: BACKUP_DIR, "backup")')
    .option('--keep <n>', 'keep only the newest N timestamped backups')
    .option('--json', 'print one JSON document')
    .action((opts: BackupCommandOptions) =>
      withContext(opts, async (ctx) => {
        const { runBackup } = await import('./backup.js');
        return runBackup(ctx, opts);
      }),
    );
  program
    .command('restore')
    .description('verify a backup and replace the database with it; the current one is kept as *.pre-restore (PostgreSQL: psql, one transaction)')
    .argument('<file>', 'a backup file: a path, a name in BACKUP_DIR, or "latest"')
    .option('--yes', 'do not ask for confirmation')
    .option('--json', 'print one JSON document')
    .action((file: string, opts: RestoreCommandOptions) =>
      withContext(opts, async (ctx) => {
        const { runRestore } = await import('./restore.js');
        return runRestore(ctx, file, opts);
      }),
    );
}
