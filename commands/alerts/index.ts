import type { Command } from 'commander';
import { withContext } from '../run.js';
import type { WatchOptions } from '../ui/watch.js';
import { outputOption } from '../ui/output.js';

export function registerAlertsCommands(program: Command): void {
  program
    .command('alerts')
    .description('evaluate the alert rules now (error rate, p95 latency, OpenRouter credit, revenue today, failed purchases); exit 1 when one fires')
    .option('--watch', 'refresh in place until Ctrl-C (with --json: one JSON document per line per refresh)')
    .option('--interval <time>', 'refresh interval for --watch, e.g. 5s or 1m', '5s')
    .option('--json', 'print one JSON document')
    .addOption(outputOption('alerts'))
    .action((opts: WatchOptions) =>
      withContext(opts, async (ctx) => {
        const { runAlerts } = await import('./alerts.js');
        return runAlerts(ctx, opts);
      }),
    );
}
