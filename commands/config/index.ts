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
  config
    .command('show')
    .description('the effective configuration: every variable, its value (secrets masked) and where it came from (environment, .env, default)')
    .option('--json', 'print one JSON document')
    .action(async (opts: { json?: boolean }) => {
      const { runConfigShow } = await import('./show.js');
      process.exitCode = runConfigShow(opts);
    });
}
