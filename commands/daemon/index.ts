import type { Command } from 'commander';

export function registerDaemonCommands(program: Command): void {
  program
    .command('daemon')
    .description('run the daemon: metering proxy (/v1), /health, /metrics and, with TOKEN, the Telegram bot; SIGTERM drains and stops')
    .option('--host <address>', 'interface to listen on (default: HOST from .env, 127.0.0.1; 0.0.0.0 = every interface)')
    .option('--port <port>', 'port to listen on (default: PORT from .env, 8000; 0 = any free port)')
    .action(async (opts: { host?: string; port?: string }) => {
      const { runDaemon } = await import('./run.js');
      await runDaemon(opts);
    });
}
