/** `arb keys refund <key-prefix> [--pro-rata]`: the price back to the balance, the key revoked. */
import { findOneKey } from '../../src/keys/allocations.js';
import { refundAllocation } from '../../src/ledger/ledger.js';
import type { CommandContext } from '../context.js';
import { formatCount, formatUsd } from '../ui/format.js';
import { money, writeJson } from '../ui/json.js';
import { confirm } from '../ui/screens.js';

export async function runKeysRefund(ctx: CommandContext, prefix: string, opts: { proRata?: boolean; yes?: boolean; json?: boolean }): Promise<number> {
  const handle = await ctx.db();
  const key = await findOneKey(handle, prefix);
  const share = opts.proRata ? 'unused' : 'full';
  const ok = await confirm(ctx, {
    yes: opts.yes,
    action: `arb keys refund ${prefix}`,
    question: `Refund ${opts.proRata ? 'the unused share of' : 'the full price of'} ${key.maskedKey} to user ${key.telegramId}'s balance and revoke the key?`,
    details: [
      `key ${key.maskedKey} (id ${key.id}): ${key.model}, ${formatCount(key.tokensUsed)} of ${formatCount(key.tokensTotal)} tokens used, paid ${formatUsd(key.pricePaidMicros)}, ${key.status}`,
    ],
  });
  if (!ok) {
    ctx.stderr.write('not refunded; nothing was changed\n');
    return 1;
  }
  const result = await refundAllocation({ handle, logger: ctx.logger() }, { allocationId: key.id, share, note: `arb keys refund${opts.proRata ? ' --pro-rata' : ''}` });
  const already = result.transaction !== null && result.refundedMicros === 0;
  if (opts.json) {
    writeJson(ctx.stdout, {
      allocation_id: key.id,
      api_key: key.maskedKey,
      telegram_id: result.allocation.telegramId,
      share,
      already_refunded: already,
      ...money('refunded', result.refundedMicros),
      ...money('price_paid', key.pricePaidMicros),
      tokens_used: key.tokensUsed,
      tokens_total: key.tokensTotal,
      status: result.allocation.status,
    });
    return 0;
  }
  if (already) {
    ctx.stdout.write(`${key.maskedKey} (id ${key.id}) was refunded before; nothing changed\n`);
    return 0;
  }
  const basis = opts.proRata ? `the unused ${formatCount(key.tokensTotal - key.tokensUsed)} of ${formatCount(key.tokensTotal)} tokens` : 'the full price';
  ctx.stdout.write(
    result.refundedMicros > 0
      ? `refunded ${formatUsd(result.refundedMicros)} (${basis}) to user ${result.allocation.telegramId}'s balance and revoked ${key.maskedKey} (id ${key.id})\n`
      : `revoked ${key.maskedKey} (id ${key.id}); nothing to refund (${key.pricePaidMicros === 0 ? 'a free grant' : 'no unused tokens'})\n`,
  );
  return 0;
}
