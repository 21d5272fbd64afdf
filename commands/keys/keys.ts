/** `arb keys list|revoke|issue`. */
import { InputError, InsufficientBalanceError, NotFoundError } from '../../src/errors.js';
import { logPurchaseFailed } from '../../src/alerts/alerts.js';
import { findOneKey, listKeys, revokeKey, type KeyAllocation } from '../../src/keys/allocations.js';
import { purchasePackage } from '../../src/ledger/ledger.js';
import type { CommandContext } from '../context.js';
import { formatCount, formatUsd } from '../ui/format.js';
import { money, writeJson } from '../ui/json.js';
import { renderTable } from '../ui/table.js';
import { parseIdArg, parseTelegramIdArg } from '../ui/options.js';
import { confirm } from '../ui/screens.js';

/** Tokens neither used nor held (as stored: a hand-edited row may show less than 0). */
const remaining = (k: KeyAllocation) => k.tokensTotal - k.tokensUsed - k.tokensReserved;

export function keyToJson(k: KeyAllocation) {
  return {
    id: k.id,
    telegram_id: k.telegramId,
    package_id: k.packageId,
    model: k.model,
    api_key: k.maskedKey,
    tokens_total: k.tokensTotal,
    tokens_used: k.tokensUsed,
    tokens_reserved: k.tokensReserved,
    tokens_remaining: remaining(k),
    ...money('price_paid', k.pricePaidMicros),
    status: k.status,
    expires_at: k.expiresAt,
    created_at: k.createdAt,
  };
}

export async function runKeysList(ctx: CommandContext, opts: { user?: string; json?: boolean }): Promise<number> {
  const telegramId = opts.user === undefined ? undefined : parseTelegramIdArg(opts.user, '--user');
  const keys = await listKeys(await ctx.db(), { telegramId });
  if (opts.json) {
    writeJson(ctx.stdout, { keys: keys.map(keyToJson) });
    return 0;
  }
  if (keys.length === 0) {
    ctx.stdout.write(telegramId === undefined ? 'no keys yet\n' : `user ${telegramId} has no keys\n`);
    return 0;
  }
  ctx.stdout.write(
    `${renderTable(
      ['id', 'key', 'user', 'model', 'used / total', 'remaining', 'status', 'expires (UTC)'],
      keys.map((k) => [k.id, k.maskedKey, k.telegramId, k.model, `${formatCount(k.tokensUsed)} / ${formatCount(k.tokensTotal)}`, formatCount(remaining(k)), k.status, k.expiresAt]),
      // the key, who holds it and what is left matter most; the expiry is the first to go on a narrow terminal
      { align: ['right', 'left', 'right', 'left', 'right', 'right', 'left', 'left'], priority: [1, 0, 2, 5, 6, 3, 4, 7] },
    )}\n`,
  );
  return 0;
}

export async function runKeysRevoke(ctx: CommandContext, prefix: string, opts: { yes?: boolean; json?: boolean }): Promise<number> {
  const handle = await ctx.db();
  const key = await findOneKey(handle, prefix);
  if (key.status !== 'revoked') {
    const ok = await confirm(ctx, {
      yes: opts.yes,
      action: `arb keys revoke ${prefix}`,
      question: `Revoke ${key.maskedKey}? Requests with it will get 401; nothing is refunded.`,
      details: [
        `key ${key.maskedKey} (id ${key.id}) of user ${key.telegramId}: ${key.model}, ${formatCount(remaining(key))} of ${formatCount(key.tokensTotal)} tokens left, paid ${formatUsd(key.pricePaidMicros)}, expires ${key.expiresAt} UTC`,
      ],
    });
    if (!ok) {
      ctx.stderr.write('not revoked; nothing was changed\n');
      return 1;
    }
  }
  const result = await revokeKey(handle, prefix, { logger: ctx.logger() });
  if (opts.json) writeJson(ctx.stdout, { revoked: !result.alreadyRevoked, already_revoked: result.alreadyRevoked, key: keyToJson(result.key) });
  else if (result.alreadyRevoked) ctx.stdout.write(`${result.key.maskedKey} (id ${result.key.id}) was already revoked; nothing changed\n`);
  else ctx.stdout.write(`revoked ${result.key.maskedKey} (id ${result.key.id}, user ${result.key.telegramId}, ${result.key.model}); requests with it now get 401\n`);
  return 0;
}

export async function runKeysIssue(ctx: CommandContext, telegramIdText: string, packageIdText: string, opts: { free?: boolean; json?: boolean }): Promise<number> {
  const telegramId = parseTelegramIdArg(telegramIdText);
  const packageId = parseIdArg(packageIdText, 'package_id', 'see arb package list');
  const handle = await ctx.db();
  let result;
  try {
    result = await purchasePackage({ handle, logger: ctx.logger(), config: ctx.config }, { telegramId, packageId, free: opts.free });
  } catch (e) {
    if (e instanceof InsufficientBalanceError || e instanceof NotFoundError) {
      logPurchaseFailed(ctx.logger(), { user_id: telegramId, package_id: packageId, reason: e instanceof NotFoundError ? 'package unavailable' : 'insufficient balance', via: 'cli' });
    }
    if (e instanceof InsufficientBalanceError) {
      throw new InputError(`${e.message} for user ${telegramId}; credit the balance first (arb user credit ${telegramId} <usd>) or grant it with --free (nothing was changed)`, 'telegram_id');
    }
    throw e;
  }
  const a = result.allocation;
  // the one place a full key reaches the operator's screen: it is the key being handed over
  if (opts.json) {
    writeJson(ctx.stdout, {
      allocation_id: a.id,
      telegram_id: telegramId,
      package_id: a.packageId,
      model: a.model,
      tokens: a.tokensTotal,
      free: Boolean(opts.free),
      ...money('price', a.pricePaidMicros),
      api_key: result.apiKey,
      api_key_masked: a.maskedKey,
      expires_at: a.expiresAt,
    });
  } else {
    ctx.stdout.write(
      `${opts.free ? 'granted' : `sold for ${formatUsd(a.pricePaidMicros)}`}: package ${a.packageId} (${a.model}, ${formatCount(a.tokensTotal)} tokens) to user ${telegramId}, key id ${a.id}, expires ${a.expiresAt} UTC\n`,
    );
    ctx.stdout.write(`API key (shown once — hand it over now; arb keeps only its hash):\n${result.apiKey}\n`);
  }
  return 0;
}
