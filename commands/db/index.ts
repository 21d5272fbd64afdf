import type { Command } from 'commander';
import { withContext } from '../run.js';

export function registerDbCommands(program: Command): void {
  const db = program.command('db').description('database');
  db.command('migrate')
    .description('apply pending migrations (idempotent)')
    .option('--json', 'print one JSON document')
    .action((opts: { json?: boolean }) =>
      withContext(opts, async (ctx) => {
        const { migrate, openDb } = await import('../../src/db/dialect.js');
        const handle = openDb({ dbName: ctx.config.dbName, databaseUrl: ctx.config.databaseUrl });
        try {
          const applied = await migrate(handle);
          if (opts.json) process.stdout.write(`${JSON.stringify({ applied, dialect: handle.dialect }, null, 2)}\n`);
          else process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'database is up to date\n');
        } finally {
          await handle.close();
        }
      }),
    );
}
