/**
 * Runs a command body with a context and always closes it. Used by every action. The context (config,
 * database driver, logger) is imported when a command runs, so `arb --version` and `--help` stay fast.
 * The output format is settled here for every command (ui/output.ts): `--output json` is `--json`, and
 * `--output csv` runs the JSON path and prints the document's list as CSV.
 */
import { Writable } from 'node:stream';
import { InputError } from '../src/errors.js';
import type { CommandContext } from './context.js';
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
    throw e;
  } finally {
    await ctx.close();
  }
  if (capture && captured.trim() !== '') process.stdout.write(documentToCsv(captured, opts.output!.rowsKey));
}
