import type { Command } from 'commander';

export function registerDemoCommands(program: Command): void {
  program
    .command('demo')
    .description('run the whole loop locally with no accounts: OpenRouter simulator + daemon + a demo key, and a curl line to try')
    .option('--port <port>', 'daemon port on 127.0.0.1 (default 8000, or any free port when 8000 is taken; 0 = any free port)')
    .option('--db <file>', 'keep the demo database in this SQLite file (default: a temporary one, deleted on exit)')
    .option('--keep <dir>', 'keep the demo database and logs in this directory and print the line that explores them (arb stats)')
    .option('--json', 'print one JSON document {key, base_url, curl, …} instead of the text guide')
    .action(async (opts: { port?: string; db?: string; keep?: string; json?: boolean }) => {
      const { runDemo } = await import('./run.js');
      await runDemo(opts);
    });
}
