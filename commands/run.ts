/**
 * Runs a command body with a context and always closes it. Used by every action. The context (config,
 * database driver, logger) is imported when a command runs, so `arb --version` and `--help` stay fast.
 */
import type { CommandContext } from './context.js';

export async function withContext(opts: { json?: boolean }, body: (ctx: CommandContext) => Promise<number | void>): Promise<void> {
  const { createCommandContext } = await import('./context.js');
  const ctx = createCommandContext({ json: opts.json });
  try {
    const code = await body(ctx);
    if (typeof code === 'number' && code !== 0) process.exitCode = code;
  } finally {
    await ctx.close();
  }
}
