/** `arb package import <file.json> [--dry-run]`: all or nothing; progress on a TTY. */
import { importedItemToJson, importPackages, PackageImportError, readImportFile } from '../../src/packages/packages.js';
import { withPerformanceLog } from '../../src/logger.js';
import type { CommandContext } from '../context.js';
import { writeJson } from '../ui/json.js';
import { startProgress } from '../ui/screens.js';
import { packageRowsTable } from './view.js';

export async function runPackageImport(ctx: CommandContext, file: string, opts: { dryRun?: boolean; json?: boolean }): Promise<number> {
  const items = readImportFile(file);
  const count = Array.isArray(items) ? items.length : 0;
  const handle = await ctx.db();
  const progress = await startProgress(ctx, `arb package import ${file}${opts.dryRun ? ' (dry run)' : ''}`, [
    `Read ${file}`,
    `Validate and price ${count} item(s)`,
    opts.dryRun ? 'Store (skipped: dry run)' : 'Store all in one transaction',
  ]);
  progress.finish(0, 'done', `${count} item(s)`);
  progress.start(1);
  let result;
  try {
    result = await withPerformanceLog(ctx.logger(), 'package_import', () => importPackages({ handle, logger: ctx.logger(), config: ctx.config }, items, { dryRun: opts.dryRun }), { dry_run: Boolean(opts.dryRun) });
    progress.finish(1, 'done');
    progress.finish(2, opts.dryRun ? 'skipped' : 'done', opts.dryRun ? 'nothing stored' : `${result.items.length} stored`);
  } catch (e) {
    progress.finish(1, 'failed', e instanceof PackageImportError ? `${new Set(e.problems.map((p) => p.index)).size} invalid item(s)` : undefined);
    progress.finish(2, 'skipped', 'nothing imported');
    await progress.close();
    if (e instanceof PackageImportError && opts.json) {
      writeJson(ctx.stdout, { imported: false, dry_run: Boolean(opts.dryRun), problems: e.problems.map((p) => ({ item: p.index + 1, index: p.index, model: p.model, field: p.field, message: p.message })) });
    }
    throw e;
  }
  await progress.close();
  const rows = result.items.map(importedItemToJson);
  if (opts.json) {
    writeJson(ctx.stdout, { imported: !result.dryRun, dry_run: result.dryRun, count: rows.length, packages: rows });
  } else {
    const shown = result.items.map((i) => (i.package ? i.package : { id: null, ...i.values, is_available: 1, hold_reason: null }));
    ctx.stdout.write(`${packageRowsTable(shown)}\n`);
    ctx.stdout.write(result.dryRun ? `dry run: ${rows.length} package(s) valid and priced; nothing was stored\n` : `imported ${rows.length} package(s)\n`);
  }
  return 0;
}
