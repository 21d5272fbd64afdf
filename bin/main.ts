/**
 * The CLI entry: builds the commander program and maps errors to exit codes (0 ok, 1 failure, 2 bad
 * input). No logic here; command groups register themselves and load their implementation lazily so
 * `arb --version` stays fast. The process-wide terminal policy lives here, once: a reader that goes away
 * (`arb models | head -3`) ends the command quietly with status 0, and the colour policy
 * (commands/ui/terminal.ts) is applied before anything that colours is loaded.
 */
import { Command, CommanderError } from 'commander';
import { ArbError, InputError } from '../src/errors.js';
import { VERSION } from '../src/version.js';
import { registerCommands } from '../commands/index.js';
import { applyColorPolicy } from '../commands/ui/terminal.js';

export function buildProgram(): Command {
  const program = new Command('arb')
    .description('arb: resell AI model access — operator CLI')
    .version(VERSION, '-v, --version')
    .option('--no-color', 'no colours (also NO_COLOR=1); output is coloured only on a terminal')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerCommands(program);
  return program;
}

/** EPIPE on stdout/stderr means the reader is gone (`| head`, a closed pager): nothing left to do. */
function exitQuietlyWhenTheReaderGoes(stream: NodeJS.WriteStream): void {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED') process.exit(0);
    throw e;
  });
}

/** Runs the CLI and sets process.exitCode; the only place that decides exit codes. */
export async function runCli(argv: string[]): Promise<void> {
  exitQuietlyWhenTheReaderGoes(process.stdout);
  exitQuietlyWhenTheReaderGoes(process.stderr);
  applyColorPolicy(argv.slice(2));
  process.umask(0o077); // the database, logs and backups hold money and keys: files 0600, directories 0700
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (e) {
    process.exitCode = exitCodeFor(e);
  }
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
