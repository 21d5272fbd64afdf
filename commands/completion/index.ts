import { Argument, type Command } from 'commander';

export function registerCompletionCommand(program: Command): void {
  program
    .command('completion')
    .description('print a shell completion script generated from the command tree (bash, zsh or fish)')
    .addArgument(new Argument('<shell>', 'the shell to complete in').choices(['bash', 'zsh', 'fish']))
    .action(async (shell: 'bash' | 'zsh' | 'fish', _opts: unknown, cmd: Command) => {
      const { completionScript } = await import('./completion.js');
      process.stdout.write(completionScript(shell, cmd.parent!));
    });
}
