import type { Command } from 'commander';
import { withContext } from '../run.js';
import { outputOption } from '../ui/output.js';

export function registerCodesCommands(program: Command): void {
  const codes = program.command('codes').description('gift codes for sales outside Telegram (customers redeem them with /redeem in the bot)');
  codes
    .command('create')
    .description('make codes worth an amount (--usd) or a package (--package); prints them once, stores only their hashes')
    .argument('<count>', 'how many codes, e.g. 10')
    .option('--usd <amount>', 'each code credits this much to the balance, e.g. 10')
    .option('--package <id>', 'each code grants this package (see arb package list)')
    .option('--expires <lifetime>', 'codes expire after e.g. 30d or 12h, or on a date like 2026-12-31 (default: never)')
    .option('--json', 'print one JSON document')
    .action((count: string, opts: { usd?: string; package?: string; expires?: string; json?: boolean }) =>
      withContext(opts, async (ctx) => {
        const { runCodesCreate } = await import('./codes.js');
        return runCodesCreate(ctx, count, opts);
      }),
    );
  codes
    .command('list')
    .description('codes with what they are worth and whether they were used (never the codes themselves)')
    .option('--batch <name>', 'only one batch (as printed by arb codes create)')
    .option('--json', 'print one JSON document')
    .addOption(outputOption('codes'))
    .action((opts: { batch?: string; json?: boolean }) =>
      withContext(opts, async (ctx) => {
        const { runCodesList } = await import('./codes.js');
        return runCodesList(ctx, opts);
      }),
    );
}
