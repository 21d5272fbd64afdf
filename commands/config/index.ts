import type { Command } from 'commander';

export function registerConfigCommands(program: Command): void {
  const config = program.command('config').description('configuration');
  config
    .command('check')
    .description('validate .env and the environment; explains every problem')
    .option('--json', 'print one JSON document')
    .action(async (opts: { json?: boolean }) => {
      const { runConfigCheck } = await import('./check.js');
      process.exitCode = runConfigCheck(opts);
    });
}
