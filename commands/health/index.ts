import type { Command } from 'commander';
import { withContext } from '../run.js';

export function registerHealthCommands(program: Command): void {
  program
    .command('health')
    .description("ask the running daemon's GET /health (127.0.0.1:PORT, or --url); exit 1 when it is down or unhealthy")
    .option('--url <url>', 'a daemon elsewhere: its base URL (https://shop.example.com, 10.0.0.5:8000) or its /health URL')
    .option('--json', 'print one JSON document, also when the daemon is down ({"reachable":false,…})')
    .action((opts: { url?: string; json?: boolean }) =>
      withContext(opts, async (ctx) => {
        const { runHealth } = await import('./health.js');
        return runHealth(ctx, opts);
      }),
    );
}
