import type { Command } from 'commander';
import { withContext } from '../run.js';
import { outputOption } from '../ui/output.js';

export function registerKeysCommands(program: Command): void {
  const keys = program.command('keys').description('customer API keys (masked; a full key is shown only when issued)');
  keys
    .command('list')
    .description('list keys with usage and expiry (masked keys only)')
    .option('--user <telegram_id>', "only this customer's keys")
    .option('--json', 'print one JSON document')
    .addOption(outputOption('keys'))
    .action((opts: { user?: string; json?: boolean }) =>
      withContext(opts, async (ctx) => {
        const { runKeysList } = await import('./keys.js');
        return runKeysList(ctx, opts);
      }),
    );
  keys
    .command('revoke')
    .description('revoke a key (no refund); the prefix may be of the masked form or of the full key')
    .argument('<key-prefix>', 'e.g. sk-arb-AbCd (as shown by arb keys list) or the whole key')
    .option('--yes', 'revoke without asking (needed when not on a terminal)')
    .option('--json', 'print one JSON document')
    .action((prefix: string, opts: { yes?: boolean; json?: boolean }) =>
      withContext(opts, async (ctx) => {
        const { runKeysRevoke } = await import('./keys.js');
        return runKeysRevoke(ctx, prefix, opts);
      }),
    );
  keys
    .command('issue')
    .description('sell a package to a customer from their balance (or grant it with --free); prints the key once')
    .argument('<telegram_id>', 'customer Telegram id')
    .argument('<package_id>', 'package id (see arb package list)')
    .option('--free', 'grant without payment (recorded as a zero adjustment; no revenue)')
    .option('--json', 'print one JSON document')
    .action((telegramId: string, packageId: string, opts: { free?: boolean; json?: boolean }) =>
      withContext(opts, async (ctx) => {
        const { runKeysIssue } = await import('./keys.js');
        return runKeysIssue(ctx, telegramId, packageId, opts);
      }),
    );
  keys
    .command('refund')
    .description("refund a purchase to the customer's balance and revoke its key (full price; --pro-rata: the unused share)")
    .argument('<key-prefix>', 'e.g. sk-arb-AbCd (as shown by arb keys list) or the whole key')
    .option('--pro-rata', 'refund only the share of the price for the tokens not used')
    .option('--yes', 'refund without asking (needed when not on a terminal)')
    .option('--json', 'print one JSON document')
    .action((prefix: string, opts: { proRata?: boolean; yes?: boolean; json?: boolean }) =>
      withContext(opts, async (ctx) => {
        const { runKeysRefund } = await import('./refund.js');
        return runKeysRefund(ctx, prefix, opts);
      }),
    );
  keys
    .command('replace')
    .description('issue a new key for the same allocation (tokens, expiry, usage carry over) and revoke the old one; prints the key once')
    .argument('<key-prefix>', 'e.g. sk-arb-AbCd (as shown by arb keys list) or the whole key')
    .option('--yes', 'replace without asking (needed when not on a terminal)')
    .option('--json', 'print one JSON document')
    .action((prefix: string, opts: { yes?: boolean; json?: boolean }) =>
      withContext(opts, async (ctx) => {
        const { runKeysReplace } = await import('./replace.js');
        return runKeysReplace(ctx, prefix, opts);
      }),
    );
}
