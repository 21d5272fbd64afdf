/** `arb package list|enable|disable|reprice`. */
import { listPackages, packageToJson, repricePackage, setPackageAvailability } from '../../src/packages/packages.js';
import type { CommandContext } from '../context.js';
import { formatUsd } from '../ui/format.js';
import { money, writeJson } from '../ui/json.js';
import { parseIdArg } from '../ui/options.js';
import { packageRowsTable, pricingJson, pricingView, renderPricing } from './view.js';

const parseId = (id: string) => parseIdArg(id, 'id', 'see arb package list --all');

export async function runPackageList(ctx: CommandContext, opts: { all?: boolean; json?: boolean }): Promise<number> {
  const pkgs = await listPackages(await ctx.db(), { all: opts.all });
  if (opts.json) writeJson(ctx.stdout, { packages: pkgs.map(packageToJson) });
  else if (pkgs.length === 0) ctx.stdout.write(opts.all ? 'no packages yet; create one with arb package create\n' : 'no packages on sale (arb package list --all shows the others)\n');
  else ctx.stdout.write(`${packageRowsTable(pkgs)}\n`);
  return 0;
}

export async function runPackageAvailability(ctx: CommandContext, idText: string, available: boolean, opts: { json?: boolean }): Promise<number> {
  const pkg = await setPackageAvailability(await ctx.db(), parseId(idText), available, { logger: ctx.logger() });
  if (opts.json) writeJson(ctx.stdout, packageToJson(pkg));
  else ctx.stdout.write(`package ${pkg.id} (${pkg.model}, ${pkg.tokens.toLocaleString('en-US')} tokens) is ${available ? 'on sale' : 'off sale'}\n`);
  return 0;
}

export async function runPackageReprice(ctx: CommandContext, idText: string, opts: { price?: string; json?: boolean }): Promise<number> {
  const result = await repricePackage({ handle: await ctx.db(), logger: ctx.logger(), config: ctx.config }, parseId(idText), { priceUsd: opts.price });
  const pkg = result.package;
  if (opts.json) {
    writeJson(ctx.stdout, { ...packageToJson(pkg), pricing: pricingJson(result.pricing), previous: { ...money('cost', result.previous.costMicros), ...money('price', result.previous.priceMicros) } });
  } else {
    ctx.stdout.write(`${renderPricing(pricingView(`repriced package ${pkg.id}: price ${formatUsd(result.previous.priceMicros)} → ${formatUsd(pkg.price)}, cost ${formatUsd(result.previous.costMicros)} → ${formatUsd(pkg.cost)}`, pkg, result.pricing, ctx.config))}\n`);
    ctx.stdout.write(pkg.is_available ? 'on sale\n' : `off sale${pkg.hold_reason ? ` (hold: ${pkg.hold_reason})` : ''}; arb package enable ${pkg.id} puts it on sale\n`);
  }
  return 0;
}
