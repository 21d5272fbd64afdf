import type { Command } from 'commander';
import { withContext } from '../run.js';
import { outputOption } from '../ui/output.js';

export function registerCategoryCommands(program: Command): void {
  const category = program.command('category').description('package categories: create, list, rename, delete (refused while packages use one)');
  category
    .command('create')
    .description('create a category (with --parent: a subcategory of it)')
    .argument('<name>', 'shown to customers, e.g. "OpenAI"')
    .option('--parent <id>', 'the category this one belongs to')
    .option('--json', 'print one JSON document')
    .action((name: string, opts: { parent?: string; json?: boolean }) =>
      withContext(opts, async (ctx) => {
        const { runCategoryCreate } = await import('./category.js');
        return runCategoryCreate(ctx, name, opts);
      }),
    );
  category
    .command('list')
    .description('every category with its parent and how many packages use it')
    .option('--json', 'print one JSON document')
    .addOption(outputOption('categories'))
    .action((opts: { json?: boolean }) =>
      withContext(opts, async (ctx) => {
        const { runCategoryList } = await import('./category.js');
        return runCategoryList(ctx, opts);
      }),
    );
  category
    .command('rename')
    .description('rename a category (packages keep it)')
    .argument('<id>', 'category id')
    .argument('<name>', 'the new name')
    .option('--json', 'print one JSON document')
    .action((id: string, name: string, opts: { json?: boolean }) =>
      withContext(opts, async (ctx) => {
        const { runCategoryRename } = await import('./category.js');
        return runCategoryRename(ctx, id, name, opts);
      }),
    );
  category
    .command('delete')
    .description('delete a category; refused while packages or subcategories use it (--move-to moves its packages first)')
    .argument('<id>', 'category id')
    .option('--move-to <id>', 'move the packages that use it to this category, then delete')
    .option('--json', 'print one JSON document')
    .action((id: string, opts: { moveTo?: string; json?: boolean }) =>
      withContext(opts, async (ctx) => {
        const { runCategoryDelete } = await import('./category.js');
        return runCategoryDelete(ctx, id, opts);
      }),
    );
}
