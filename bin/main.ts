/**
 * The CLI entry: builds the commander program and maps errors to exit codes (0 ok, 1 failure, 2 bad
 * input). No logic here; command groups register themselves and load their implementation lazily so
 * `arb --version` stays fast.
 */
import { Command, CommanderError } from 'commander';
import { ArbError, InputError } from '../src/errors.js';
import { VERSION } from '../src/version.js';
import { registerCommands } from '../commands/index.js';

export function buildProgram(): Command {
  const program = new Command('arb')
    .description('arb: resell AI model access — operator CLI')
    .version(VERSION, '-v, --version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerCommands(program);
  return program;
}

/** Runs the CLI and sets process.exitCode; the only place that decides exit codes. */
export async function runCli(argv: string[]): Promise<void> {
  process.umask(0o077); // the database, logs and backups hold money and keys: files 0600, directories 0700
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (e) {
    process.exitCode = exitCodeFor(e);
  }
  if (process.exitCode === undefined || process.exitCode === 0) return;
}

export function exitCodeFor(e: unknown): number {
  if (e instanceof CommanderError) {
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
    return e.exitCode === 0 ? 0 : 2;
  }
  if (e instanceof InputError) {
    process.stderr.write(`error: ${e.message}\n`);
    return 2;
  }
  if (e instanceof ArbError) {
    process.stderr.write(`error: ${e.message}\n`);
    return 1;
  }
  process.stderr.write(`internal error (a bug — please report it):\n${(e as Error)?.stack ?? String(e)}\n`);
  return 1;
}
