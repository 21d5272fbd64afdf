/** `arb user refund <telegram_payment_charge_id> [--force]`: src/ledger/stars-refunds.ts through the Bot API. */
import { botApiStarRefunder, refundStarsPayment } from '../../src/ledger/stars-refunds.js';
import type { CommandContext } from '../context.js';
import { formatUsd } from '../ui/format.js';
import { money, writeJson } from '../ui/json.js';
import { confirm } from '../ui/screens.js';

export async function runUserRefund(ctx: CommandContext, chargeId: string, opts: { force?: boolean; yes?: boolean; json?: boolean }): Promise<number> {
  const refund = botApiStarRefunder(ctx.config);
  const ok = await confirm(ctx, {
    yes: opts.yes,
    action: `arb user refund ${chargeId}`,
    question: `Refund Stars payment ${chargeId} to the customer and take its credit back from their balance?`,
  });
  if (!ok) {
    ctx.stderr.write('not refunded; nothing was changed\n');
    return 1;
  }
  const result = await refundStarsPayment({ handle: await ctx.db(), logger: ctx.logger(), refund }, { chargeId, force: opts.force, requestedBy: 'cli' });
  const p = result.payment;
  if (opts.json) {
    writeJson(ctx.stdout, {
      refunded: !result.alreadyRefunded,
      already_refunded: result.alreadyRefunded,
      charge_id: p.chargeId,
      telegram_id: p.telegramId,
      stars: p.stars,
      ...money('credited', p.creditedMicros),
      ...money('taken_back', result.takenBackMicros),
      ...money('loss', result.lossMicros),
      ...money('balance_after', result.balanceAfterMicros),
    });
    return 0;
  }
  if (result.alreadyRefunded) {
    ctx.stdout.write(`${p.chargeId} was already refunded (${p.stars} ⭐ to user ${p.telegramId}); nothing changed\n`);
    return 0;
  }
  ctx.stdout.write(
    `refunded ${p.stars} ⭐ to user ${p.telegramId} (charge ${p.chargeId}); took back ${formatUsd(result.takenBackMicros)} of the ${formatUsd(p.creditedMicros)} credited; balance now ${formatUsd(result.balanceAfterMicros)}\n`,
  );
  if (result.lossMicros > 0) {
    ctx.stdout.write(
      `loss recorded: ${formatUsd(result.lossMicros)} (already spent; counted as a refund in arb stats). The customer keeps what they bought: arb keys refund/revoke if you want it back\n`,
    );
  }
  return 0;
}
