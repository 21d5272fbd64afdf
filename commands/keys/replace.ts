/** `arb keys replace <key-prefix>`: a new key for the same allocation, printed once; the old one stops working. */
import { findOneKey } from '../../src/keys/allocations.js';
import { replaceKey } from '../../src/keys/replace.js';
import type { CommandContext } from '../context.js';
import { writeJson } from '../ui/json.js';
import { confirm } from '../ui/screens.js';

export async function runKeysReplace(ctx: CommandContext, prefix: string, opts: { yes?: boolean; json?: boolean }): Promise<number> {
  const handle = await ctx.db();
  const key = await findOneKey(handle, prefix);
  // a key that cannot be replaced is refused by replaceKey with its reason; ask only when something will change
  if (key.status === 'active') {
    const ok = await confirm(ctx, {
      yes: opts.yes,
      action: `arb keys replace ${prefix}`,
      question: `Replace ${key.maskedKey}? The customer's current key stops working at once.`,
      details: [`key ${key.maskedKey} (id ${key.id}) of user ${key.telegramId}: ${key.model}, expires ${key.expiresAt} UTC`],
    });
    if (!ok) {
      ctx.stderr.write('not replaced; nothing was changed\n');
      return 1;
    }
  }
  const result = await replaceKey(handle, key.id, { logger: ctx.logger(), by: 'cli' });
  const a = result.allocation;
  // the one place this key reaches a screen: it is being handed over
  if (opts.json) {
    writeJson(ctx.stdout, {
      allocation_id: a.id,
      telegram_id: key.telegramId,
      old_api_key_masked: result.oldMasked,
      api_key: result.apiKey,
      api_key_masked: a.maskedKey,
      model: a.model,
      expires_at: a.expiresAt,
    });
    return 0;
  }
  ctx.stdout.write(`replaced ${result.oldMasked} (id ${a.id}, user ${key.telegramId}, ${a.model}); the old key now gets 401; tokens and expiry are unchanged\n`);
  ctx.stdout.write(`new API key (shown once — hand it over now; arb keeps only its hash):\n${result.apiKey}\n`);
  return 0;
}
