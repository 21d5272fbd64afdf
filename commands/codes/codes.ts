/** `arb codes create|list`: thin views over src/codes/gift-codes.ts. */
import { createCodes, listCodes, parseExpiry, type CodeRow } from '../../src/codes/gift-codes.js';
import type { CommandContext } from '../context.js';
import { formatCount, formatUsd } from '../ui/format.js';
import { parseIdArg, parseIntegerOption } from '../ui/options.js';
import { writeJson } from '../ui/json.js';
import { renderTable } from '../ui/table.js';
import { microsToUsd } from '../../src/money.js';

function worth(amountMicros: number | null, packageId: number | null): string {
  return amountMicros !== null ? formatUsd(amountMicros) : `package ${packageId}`;
}

export async function runCodesCreate(ctx: CommandContext, countText: string, opts: { usd?: string; package?: string; expires?: string; json?: boolean }): Promise<number> {
  const count = parseIntegerOption(countText, 'count', 1, 10_000, '10');
  const packageId = opts.package === undefined ? undefined : parseIdArg(opts.package, '--package', 'see arb package list');
  const expiresAt = opts.expires === undefined ? null : parseExpiry(opts.expires);
  const created = await createCodes({ handle: await ctx.db(), logger: ctx.logger() }, { count, usd: opts.usd, packageId, expiresAt });
  if (opts.json) {
    writeJson(ctx.stdout, {
      batch: created.batch,
      count: created.codes.length,
      amount_usd: created.amountMicros === null ? null : microsToUsd(created.amountMicros),
      amount_micros: created.amountMicros,
      package_id: created.packageId,
      expires_at: created.expiresAt,
      codes: created.codes,
    });
    return 0;
  }
  ctx.stdout.write(
    `${formatCount(created.codes.length)} gift code${created.codes.length === 1 ? '' : 's'} worth ${worth(created.amountMicros, created.packageId)} each, batch ${created.batch}` +
      `${created.expiresAt ? `, valid until ${created.expiresAt} UTC` : ', no expiry'}. Shown only now — arb keeps only their hashes; customers redeem them with /redeem in the bot:\n`,
  );
  ctx.stdout.write(`${created.codes.join('\n')}\n`);
  return 0;
}

function rowToJson(c: CodeRow) {
  return {
    id: c.id,
    batch: c.batch,
    amount_usd: c.amountMicros === null ? null : microsToUsd(c.amountMicros),
    amount_micros: c.amountMicros,
    package_id: c.packageId,
    state: c.state,
    created_at: c.createdAt,
    expires_at: c.expiresAt,
    redeemed_at: c.redeemedAt,
    redeemed_by: c.redeemedByTelegramId,
  };
}

export async function runCodesList(ctx: CommandContext, opts: { batch?: string; json?: boolean }): Promise<number> {
  const rows = await listCodes(await ctx.db(), { batch: opts.batch });
  if (opts.json) {
    writeJson(ctx.stdout, { codes: rows.map(rowToJson) });
    return 0;
  }
  if (rows.length === 0) {
    ctx.stdout.write(opts.batch ? `no codes in batch ${opts.batch}\n` : 'no gift codes yet (arb codes create 10 --usd 5)\n');
    return 0;
  }
  ctx.stdout.write(
    `${renderTable(
      ['id', 'batch', 'worth', 'state', 'created (UTC)', 'expires (UTC)', 'redeemed by', 'redeemed (UTC)'],
      rows.map((c) => [c.id, c.batch, worth(c.amountMicros, c.packageId), c.state, c.createdAt, c.expiresAt ?? 'never', c.redeemedByTelegramId ?? '', c.redeemedAt ?? '']),
      { align: ['right', 'left', 'right', 'left', 'left', 'left', 'right', 'left'] },
    )}\n`,
  );
  const used = rows.filter((c) => c.state === 'used').length;
  const expired = rows.filter((c) => c.state === 'expired').length;
  ctx.stdout.write(`${formatCount(rows.length)} codes: ${formatCount(rows.length - used - expired)} unused, ${formatCount(used)} used, ${formatCount(expired)} expired\n`);
  return 0;
}
