import type { Command } from 'commander';
import { withContext } from '../run.js';

export interface CleanupCommandOptions {
  dryRun?: boolean;
  /** default LOG_RETENTION_DAYS */
  logRetentionDays?: string;
  yes?: boolean;
  json?: boolean;
}

export function registerCleanupCommands(program: Command): void {
  program
    .command('cleanup')
    .description('expire keys past their expiry (money stays) and delete rotated logs older than the retention')
    .option('--dry-run', 'show what would change; change nothing')
    .option('--log-retention-days <days>', 'delete rotated log files last written more than this many days ago (default LOG_RETENTION_DAYS, 30)')
    .option('--yes', 'delete old log files without asking (needed when not on a terminal)')
    .option('--json', 'print one JSON document')
    .action((opts: CleanupCommandOptions) =>
      withContext(opts, async (ctx) => {
        const { runCleanup } = await import('./cleanup.js');
        return runCleanup(ctx, opts);
      }),
    );
}
