import type { Command } from 'commander';
import { withContext } from '../run.js';
import { outputOption } from '../ui/output.js';
import type { PackageImportOptions } from './import.js';

export interface PackageCreateOptions {
  price?: string;
  validityDays?: string;
  category?: string;
  subcategory?: string;
  json?: boolean;
}

export function registerPackageCommands(program: Command): void {
  const pkg = program.command('package').description('token packages: create, bulk import, list, enable/disable, reprice');
  pkg
    .command('create')
    .description('create a package priced by the markup rule (or --price); prints the pricing breakdown')
    .argument('<model>', 'model id or unambiguous short form, e.g. gpt-4')
    .argument('<tokens>', 'prompt-equivalent tokens in the package, e.g. 100000')
    .argument('<description>', 'shown to customers, e.g. "GPT-4 Premium Access - 100k tokens"')
    .option('--price <usd>', 'explicit price in USD (refused below the margin floor)')
    .option('--validity-days <n>', 'key lifetime in days (default PACKAGE_VALIDITY_DAYS)')
    .option('--category <id>', 'category id')
    .option('--subcategory <id>', 'subcategory id')
    .option('--json', 'print one JSON document')
    // so a negative token count reaches the validation (and its message) instead of "unknown option"
    .allowUnknownOption()
    .allowExcessArguments()
    .action((model: string, tokens: string, description: string, opts: PackageCreateOptions, cmd: Command) =>
      withContext(opts, async (ctx) => {
        const { runPackageCreate } = await import('./create.js');
        return runPackageCreate(ctx, model, tokens, description, opts, cmd.args.slice(3));
      }),
    );
  pkg
    .command('import')
    .description('bulk import from a JSON array; all or nothing (a bad item names its index and field); importing the same file again changes nothing')
    .argument('<file.json>', 'JSON array of {model, tokens, description, category_id?, subcategory_id?, price_usd?, validity_days?}')
    .option('--dry-run', 'say what would be created, updated or left unchanged; store nothing')
    .option('--upsert', "update packages that already exist (same model, tokens and description) to the file's price, validity and categories")
    .option('--all', `list every item (default: a summary and the first rows)`)
    .option('--json', 'print one JSON document')
    .action((file: string, opts: PackageImportOptions) =>
      withContext(opts, async (ctx) => {
        const { runPackageImport } = await import('./import.js');
        return runPackageImport(ctx, file, opts);
      }),
    );
  pkg
    .command('list')
    .description('packages on sale (--all: also disabled and on hold)')
    .option('--all', 'include unavailable packages')
    .option('--json', 'print one JSON document')
    .addOption(outputOption('packages'))
    .action((opts: { all?: boolean; json?: boolean }) =>
      withContext(opts, async (ctx) => {
        const { runPackageList } = await import('./manage.js');
        return runPackageList(ctx, opts);
      }),
    );
  for (const [name, available] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    pkg
      .command(name)
      .description(available ? 'put a package on sale (lifts a sync hold)' : 'take a package off sale')
      .argument('<id>', 'package id')
      .option('--json', 'print one JSON document')
      .action((id: string, opts: { json?: boolean }) =>
        withContext(opts, async (ctx) => {
          const { runPackageAvailability } = await import('./manage.js');
          return runPackageAvailability(ctx, id, available, opts);
        }),
      );
  }
  pkg
    .command('reprice')
    .description("recompute a package's cost and price at the model's current rates and settings and let it follow the formula (or set a fixed --price); --all: every package priced by the formula")
    .argument('[id]', 'package id (or --all)')
    .option('--price <usd>', 'explicit price in USD, kept when the settings change (refused below the margin floor)')
    .option('--formula', 'price the package by the formula from now on (also the default without --price): a fixed price goes back to following the settings')
    .option('--all', 'reprice every formula-priced package; list fixed-price ones with their margin; hold those below the floor')
    .option('--json', 'print one JSON document')
    .action((id: string | undefined, opts: { price?: string; formula?: boolean; all?: boolean; json?: boolean }) =>
      withContext(opts, async (ctx) => {
        const { runPackageReprice, runPackageRepriceAll } = await import('./manage.js');
        return opts.all ? runPackageRepriceAll(ctx, id, opts) : runPackageReprice(ctx, id, opts);
      }),
    );
}
