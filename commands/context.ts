/**
 * What every command gets: the parsed config, a lazily opened (and migrated) database, the logger and
 * output helpers. Commands are thin: they parse flags, call a service in src/, and print.
 */
import type { Config } from '../src/config.js';
import { loadConfig } from '../src/config.js';
import type { DbHandle } from '../src/db/dialect.js';
import { createLogger, type Logger } from '../src/logger.js';

export interface CommandContext {
  readonly config: Config;
  db(): Promise<DbHandle>;
  logger(): Logger;
  /** true when stdout is a terminal and --json was not given (Ink screens allowed) */
  readonly interactive: boolean;
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  readonly stderr: NodeJS.WritableStream;
  close(): Promise<void>;
}

/** `stdout` replaces process.stdout (run.ts captures a JSON document there for `--output csv`). */
export function createCommandContext(opts: { json?: boolean; env?: NodeJS.ProcessEnv; stdout?: NodeJS.WritableStream } = {}): CommandContext {
  const config = loadConfig(opts.env ?? process.env);
  let handle: Promise<DbHandle> | undefined;
  let logger: Logger | undefined;
  return {
    config,
    db() {
      // loaded here, not at the top: kysely costs ~150 ms to load and `arb logs` never needs it
      handle ??= import('../src/db/dialect.js').then(({ openAndMigrate }) => openAndMigrate({ dbName: config.dbName, databaseUrl: config.databaseUrl }));
      return handle;
    },
    logger() {
      logger ??= createLogger({ logDir: config.logDir, level: config.logLevel, secrets: [config.token, config.openrouterApiKey, config.webhookSecretToken], process: 'cli' });
      return logger;
    },
    interactive: Boolean(process.stdout.isTTY) && !opts.json && process.env.ARB_NO_TTY !== '1',
    stdout: opts.stdout ?? process.stdout,
    stderr: process.stderr,
    async close() {
      if (handle) await (await handle).close();
      if (logger) await flushLogger(logger);
    },
  };
}

async function flushLogger(logger: Logger): Promise<void> {
  await new Promise<void>((resolve) => {
    try {
      logger.flush((() => resolve()) as never);
    } catch {
      resolve();
    }
    setTimeout(resolve, 200).unref();
  });
}

/** Prints one JSON document (snake_case keys are the caller's job). */
export function printJson(ctx: Pick<CommandContext, 'stdout'>, doc: unknown): void {
  ctx.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
}
