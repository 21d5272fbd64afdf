import type { Command } from 'commander';
import { withContext } from '../run.js';
import { outputOption } from '../ui/output.js';

export function registerUserCommands(program: Command): void {
  const user = program.command('user').description('customers and balances');
  user
    .command('credit')
    .description('credit a customer balance (money received outside Telegram); a negative amount corrects it downwards')
    .argument('<telegram_id>', 'customer Telegram id')
    .argument('<usd>', 'amount in USD, e.g. 10 or 2.50')
    .option('--note <text>', 'note stored on the ledger row')
    .option('--json', 'print one JSON document')
    .action((telegramId: string, usd: string, opts: { note?: string; json?: boolean }) =>
      withContext(opts, async (ctx) => {
        const { runUserCredit } = await import('./credit.js');
        return runUserCredit(ctx, telegramId, usd, opts);
      }),
    );
  user
    .command('list')
    .description('customers with balance, keys and money spent')
    .option('--json', 'print one JSON document')
    .addOption(outputOption('users'))
    .action((opts: { json?: boolean }) =>
      withContext(opts, async (ctx) => {
        const { runUserList } = await import('./list.js');
        return runUserList(ctx, opts);
      }),
    );
  user
    .command('refund')
    .description('refund a Telegram Stars payment (refundStarPayment) and take its credit back from the balance, once')
    .argument('<telegram_payment_charge_id>', "the payment's charge id (arb support show, or the balance_topup log line)")
    .option('--force', 'refund even when the credit was already spent; the spent part is recorded as a loss')
    .option('--yes', 'refund without asking (needed when not on a terminal)')
    .option('--json', 'print one JSON document')
    .action((chargeId: string, opts: { force?: boolean; yes?: boolean; json?: boolean }) =>
      withContext(opts, async (ctx) => {
        const { runUserRefund } = await import('./refund.js');
        return runUserRefund(ctx, chargeId, opts);
      }),
    );
}
