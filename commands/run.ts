/**
 * Runs a command body with a context and always closes it. Used by every action. The context (config,
 * database driver, logger) is imported when a command runs, so `arb --version` and `--help` stay fast.
 * The output format is settled here for every command (ui/output.ts): `--output json` is `--json`, and
 * `--output csv` runs the JSON path and prints the document's list as CSV.
 */
import { resolve } from 'node:path';
import { Writable } from 'node:stream';
import type { CommandContext } from './context.js';
import { classifyDbError } from '../src/db/errors.js';
import { DatabaseCorruptError, DatabaseUnavailableError, InputError } from '../src/errors.js';
import { documentToCsv, outputFormat, type OutputOptions } from './ui/output.js';

export async function withContext(opts: OutputOptions & { follow?: boolean }, body: (ctx: CommandContext) => Promise<number | void>): Promise<void> {
  const format = outputFormat(opts);
  if (format === 'json' || format === 'csv') opts.json = true;
  if (format === 'csv' && opts.follow) throw new InputError('--output csv: not with --follow (it never ends); use --json for one JSON object per line', 'output');
  let captured = '';
  const capture =
    format === 'csv'
      ? new Writable({
          write(chunk, _encoding, done) {
            captured += String(chunk);
            done();
          },
        })
      : undefined;
  const { createCommandContext } = await import('./context.js');
  const ctx = createCommandContext({ json: opts.json, stdout: capture });
  try {
    const code = await body(ctx);
    if (typeof code === 'number' && code !== 0) process.exitCode = code;
  } catch (e) {
    if (capture) process.stdout.write(captured); // a refusal's JSON document, as --json prints it
    throw asDatabaseError(e, ctx.config.databaseUrl ? 'PostgreSQL database (DATABASE_URL)' : resolve(ctx.config.dbName));
  } finally {
    await ctx.close().catch(() => {});
  }
  if (capture && captured.trim() !== '') process.stdout.write(documentToCsv(captured, opts.output!.rowsKey));
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
