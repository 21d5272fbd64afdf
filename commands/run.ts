/**
 * Runs a command body with a context and always closes it. Used by every action. The context (config,
 * database driver, logger) is imported when a command runs, so `arb --version` and `--help` stay fast.
 */
import { resolve } from 'node:path';
import type { CommandContext } from './context.js';
import { classifyDbError } from '../src/db/errors.js';
import { DatabaseCorruptError, DatabaseUnavailableError } from '../src/errors.js';

export async function withContext(opts: { json?: boolean }, body: (ctx: CommandContext) => Promise<number | void>): Promise<void> {
  const { createCommandContext } = await import('./context.js');
  const ctx = createCommandContext({ json: opts.json });
  try {
    const code = await body(ctx);
    if (typeof code === 'number' && code !== 0) process.exitCode = code;
  } catch (e) {
    throw asDatabaseError(e, ctx.config.databaseUrl ? 'PostgreSQL database (DATABASE_URL)' : resolve(ctx.config.dbName));
  } finally {
    await ctx.close().catch(() => {});
  }
}

/** A damaged or unwritable database is named as such (one line, exit 1), never as a bug. */
function asDatabaseError(e: unknown, where: string): unknown {
  if (e instanceof DatabaseUnavailableError) return e;
  for (let c: unknown = e, depth = 0; c && depth < 5; c = (c as { cause?: unknown }).cause, depth++) {
    const failure = classifyDbError(c);
    if (failure?.kind === 'corrupt') return new DatabaseCorruptError(where, (c as Error).message, { cause: e });
    // only SQLite's own codes: a refused connection here may as well be OpenRouter's
    if (failure && String((c as { code?: unknown }).code).startsWith('SQLITE_')) return new DatabaseUnavailableError(`${failure.reason} (${where})`, { cause: e });
  }
  return e;
}
