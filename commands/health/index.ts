import type { Command } from 'commander';
import { withContext } from '../run.js';

export function registerHealthCommands(program: Command): void {
  program
    .command('health')
    .description("ask the running daemon's GET /health (on 127.0.0.1:PORT); exit 1 when it is down or unhealthy")
    .option('--json', 'print one JSON document')
    .action((opts: { json?: boolean }) =>
      withContext(opts, async (ctx) => {
        const { runHealth } = await import('./health.js');
        return runHealth(ctx, opts);
      }),
    );
}
