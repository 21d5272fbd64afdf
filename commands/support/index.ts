import type { Command } from 'commander';
import { withContext } from '../run.js';
import { outputOption } from '../ui/output.js';

export function registerSupportCommands(program: Command): void {
  const support = program.command('support').description('customer support tickets from the bot (/support, /paysupport, ✉️ Support)');
  support
    .command('list')
    .description('open tickets, newest first (--all: closed ones too)')
    .option('--all', 'include closed tickets')
    .option('--json', 'print one JSON document')
    .addOption(outputOption('tickets'))
    .action((opts: { all?: boolean; json?: boolean }) =>
      withContext(opts, async (ctx) => {
        const { runSupportList } = await import('./support.js');
        return runSupportList(ctx, opts);
      }),
    );
  support
    .command('show')
    .description('a ticket with its customer, payment and every reply')
    .argument('<ticket>', 'ticket number, e.g. 12')
    .option('--json', 'print one JSON document')
    .action((ticket: string, opts: { json?: boolean }) =>
      withContext(opts, async (ctx) => {
        const { runSupportShow } = await import('./support.js');
        return runSupportShow(ctx, ticket, opts);
      }),
    );
  support
    .command('close')
    .description('close a ticket (the customer reopens it by writing again)')
    .argument('<ticket>', 'ticket number, e.g. 12')
    .option('--json', 'print one JSON document')
    .action((ticket: string, opts: { json?: boolean }) =>
      withContext(opts, async (ctx) => {
        const { runSupportClose } = await import('./support.js');
        return runSupportClose(ctx, ticket, opts);
      }),
    );
}
