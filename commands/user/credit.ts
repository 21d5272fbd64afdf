import type { CommandContext } from '../context.js';
import { printJson } from '../context.js';
import { InputError } from '../../src/errors.js';
import { creditUser } from '../../src/ledger/ledger.js';
import { formatUsd, microsToUsd, parseUsd } from '../../src/money.js';

export function parseTelegramId(text: string): number {
  if (!/^\d{1,15}$/.test(text.trim())) {
    throw new InputError(`telegram_id: "${text}" is not a Telegram user id; use the numeric id, e.g. 123456789`, 'telegram_id');
  }
  return Number(text.trim());
}

export async function runUserCredit(ctx: CommandContext, telegramIdText: string, usd: string, opts: { note?: string; json?: boolean }): Promise<number> {
  const telegramId = parseTelegramId(telegramIdText);
  const amountMicros = parseUsd(usd, 'usd');
  if (amountMicros === 0) throw new InputError('usd: must not be zero; e.g. 10 or -2.50', 'usd');
  const handle = await ctx.db();
  const { user, transaction } = await creditUser({ handle, logger: ctx.logger() }, { telegramId, amountMicros, type: amountMicros > 0 ? 'topup' : 'adjustment', note: opts.note ?? 'arb user credit' });
  if (opts.json) {
    printJson(ctx, {
      telegram_id: user.telegramId,
      amount_usd: microsToUsd(amountMicros),
      amount_micros: amountMicros,
      balance_usd: microsToUsd(user.balanceMicros),
      balance_micros: user.balanceMicros,
      transaction_id: transaction.id,
      type: transaction.type,
    });
  } else {
    ctx.stdout.write(`credited ${formatUsd(amountMicros, { precise: true })} to ${user.telegramId}; balance now ${formatUsd(user.balanceMicros, { precise: true })} (ledger row ${transaction.id})\n`);
  }
  return 0;
}
