import type { Command } from 'commander';
import { withContext } from '../run.js';

export function registerAlertsCommands(program: Command): void {
  program
    .command('alerts')
    .description('evaluate the alert rules now (error rate, p95 latency, OpenRouter credit, revenue today, failed purchases); exit 1 when one fires')
    .option('--json', 'print one JSON document')
    .action((opts: { json?: boolean }) =>
      withContext(opts, async (ctx) => {
        const { runAlerts } = await import('./alerts.js');
        return runAlerts(ctx, opts);
      }),
    );
}
