import type { Command } from 'commander';
import { withContext } from '../run.js';
import { outputOption } from '../ui/output.js';

export interface LogsOptions {
  since: string;
  limit: string;
  minAmount: string;
  requestId?: string;
  key?: string;
  follow?: boolean;
  json?: boolean;
}

const QUERIES: readonly (readonly [string, string])[] = [
  ['errors', 'ERROR and CRITICAL lines, with the failure reason and the request id'],
  ['transactions', 'money movements ("transaction":true) with their total'],
  ['revenue', 'package purchases summed per day (UTC)'],
  ['high-value', 'transactions of at least --min-amount USD'],
  ['api-failures', 'API calls that failed ("api_call":true, success false)'],
  ['slow', 'operations over 2 s and API calls over 2000 ms'],
  ['security', 'security events (refused admin access, bad webhook secrets, …)'],
  ['tail', 'the last lines of any kind'],
];

function queryOptions(cmd: Command): Command {
  return cmd
    .option('--since <window>', 'only lines since: 30m, 24h, 7d, 2w, all or a date (UTC)', 'all')
    .option('--limit <n>', 'show the last N matching lines (totals always cover every match)', '50')
    .option('--min-amount <usd>', 'high-value threshold in USD', '100')
    .option('--request-id <id>', 'only the lines of this request (the x-request-id a customer reports)')
    .option('--key <masked-key>', 'only the lines of this customer key, as logs and arb keys list show it: sk-arb-AbCd…')
    .option('--follow', 'keep printing new matching lines (across rotations) until Ctrl-C')
    .option('--json', 'print one JSON document (with --follow: one JSON object per line)');
}

export function registerLogsCommands(program: Command): void {
  const logs = program
    .command('logs')
    .description('query LOG_DIR/arbitrage.log and its rotated files (arbitrage.log.YYYYMMDD-HHMMSS); `arb logs --request-id ID` or `--key sk-arb-AbCd…` alone: every line of that request or key');
  // `arb logs --request-id …` (no query named) runs the hidden default query: every line, filtered
  const commands: [string, string, { isDefault?: boolean; hidden?: boolean }][] = [['all', 'every line (use with --request-id or --key)', { isDefault: true, hidden: true }], ...QUERIES.map(([n, d]): [string, string, object] => [n, d, {}])];
  for (const [name, description, config] of commands) {
    queryOptions(logs.command(name, config).description(description))
      .addOption(outputOption(name === 'revenue' ? 'days' : 'entries'))
      .action((opts: LogsOptions) =>
      withContext(opts, async (ctx) => {
        const { runLogsQuery } = await import('./query.js');
        return runLogsQuery(ctx, name, opts);
      }),
    );
  }
}
