/** `arb package create`: create, then show the pricing breakdown (Ink on a TTY). */
import { InputError } from '../../src/errors.js';
import { createPackage, packageToJson } from '../../src/packages/packages.js';
import type { CommandContext } from '../context.js';
import { writeJson } from '../ui/json.js';
import { printScreen } from '../ui/screens.js';
import type { PackageCreateOptions } from './index.js';
import { pricingJson, pricingView, renderPricing } from './view.js';

export async function runPackageCreate(ctx: CommandContext, model: string, tokens: string, description: string, opts: PackageCreateOptions, extra: readonly string[] = []): Promise<number> {
  for (const [name, value] of [['model', model], ['description', description], ...extra.map((e) => ['argument', e] as const)]) {
    if (value.startsWith('-')) throw new InputError(`${value.split('=')[0]}: unknown option; see arb package create --help`, name);
  }
  if (extra.length > 0) {
    throw new InputError(`description: too many arguments (${extra.length + 3}); put the description in quotes, e.g. "GPT-4 Premium Access - 100k tokens"`, 'description');
  }
  if (tokens.startsWith('-') && !/^-\d[\d_,]*$/.test(tokens)) throw new InputError(`${tokens.split('=')[0]}: unknown option; see arb package create --help`, 'tokens');
  const handle = await ctx.db();
  const { package: pkg, pricing } = await createPackage(
    { handle, logger: ctx.logger(), config: ctx.config },
    { model, tokens, description, priceUsd: opts.price, validityDays: opts.validityDays, categoryId: opts.category, subcategoryId: opts.subcategory },
  );
  const view = pricingView(`created package ${pkg.id}`, pkg, pricing, ctx.config);
  if (opts.json) writeJson(ctx.stdout, { ...packageToJson(pkg), pricing: pricingJson(pricing) });
  else if (ctx.interactive) await printScreen(ctx, async () => (await import('../screens/PackageScreen.js')).PackageScreen, view);
  else ctx.stdout.write(`${renderPricing(view)}\n`);
  return 0;
}
