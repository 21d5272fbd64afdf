import type { Command } from 'commander';
import { withContext } from '../run.js';
import { outputOption } from '../ui/output.js';

export function registerModelsCommands(program: Command): void {
  program
    .command('models')
    .description('market analysis: upstream $/Mtok next to our prices; --sync refreshes the catalog from OpenRouter first')
    .argument('[query]', 'filter: part of a model id or name, e.g. gpt-4 or claude')
    .option('--sync', 'fetch the model list from OpenRouter; print a summary and only the price changes and holds')
    .option('--all', 'include models no longer listed upstream')
    .option('--json', 'print one JSON document')
    .addOption(outputOption('models'))
    .action((query: string | undefined, opts: { sync?: boolean; all?: boolean; json?: boolean }) =>
      withContext(opts, async (ctx) => {
        const { runModels } = await import('./models.js');
        return runModels(ctx, query, opts);
      }),
    );
}
