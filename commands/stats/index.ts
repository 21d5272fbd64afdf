import type { Command } from 'commander';
import { withContext } from '../run.js';

export interface StatsOptions {
  since: string;
  watch?: boolean;
  interval?: string;
  json?: boolean;
}

export function registerStatsCommands(program: Command): void {
  program
    .command('stats')
    .description('revenue, cost, profit, margin, sales by model and day, active keys, tokens sold vs used, upstream cost, OpenRouter credit')
    .option('--since <window>', 'time window: 24h, 7d, 30d, all or a date (UTC)', 'all')
    .option('--watch', 'refresh in place until Ctrl-C (with --json: one JSON document per line per refresh)')
    .option('--interval <time>', 'refresh interval for --watch, e.g. 5s or 1m', '5s')
    .option('--json', 'print one JSON document')
    .action((opts: StatsOptions) =>
      withContext(opts, async (ctx) => {
        const { runStats } = await import('./stats.js');
        return runStats(ctx, opts);
      }),
    );
}
