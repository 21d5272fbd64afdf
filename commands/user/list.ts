/** `arb user list`: customers with balance, keys and money in/out. */
import { listCustomers } from '../../src/stats/customers.js';
import type { CommandContext } from '../context.js';
import { formatUsd } from '../ui/format.js';
import { money, writeJson } from '../ui/json.js';
import { renderTable } from '../ui/table.js';

export async function runUserList(ctx: CommandContext, opts: { json?: boolean }): Promise<number> {
  const users = await listCustomers(await ctx.db());
  if (opts.json) {
    writeJson(ctx.stdout, {
      users: users.map((u) => ({
        telegram_id: u.telegramId,
        username: u.username,
        first_name: u.firstName,
        ...money('balance', u.balanceMicros),
        active_keys: u.activeKeys,
        keys: u.keys,
        ...money('spent', u.spentMicros),
        ...money('topped_up', u.toppedUpMicros),
        created_at: u.createdAt,
      })),
    });
    return 0;
  }
  if (users.length === 0) {
    ctx.stdout.write('no customers yet\n');
    return 0;
  }
  ctx.stdout.write(
    `${renderTable(
      ['telegram_id', 'name', 'balance', 'keys (active)', 'spent', 'topped up', 'since (UTC)'],
      users.map((u) => [
        u.telegramId,
        u.username ? `@${u.username}` : (u.firstName ?? ''),
        formatUsd(u.balanceMicros),
        `${u.keys} (${u.activeKeys})`,
        formatUsd(u.spentMicros),
        formatUsd(u.toppedUpMicros),
        u.createdAt,
      ]),
      { align: ['right', 'left', 'right', 'right', 'right', 'right', 'left'], priority: [0, 2, 1, 3, 4, 5, 6] },
    )}\n`,
  );
  return 0;
}
