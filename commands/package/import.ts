/**
 * `arb package import <file.json> [--dry-run] [--upsert] [--all]`: all or nothing, idempotent (an item
 * matching a stored package by model, tokens and description is left unchanged, or updated with
 * --upsert); progress on a TTY. Prints a summary and the first rows (every row with --all or --json).
 */
import { importedItemToJson, importPackages, PackageImportError, readImportFile, type ImportedItem, type ImportResult } from '../../src/packages/packages.js';
import { packageMarginPercent } from '../../src/packages/packages.js';
import { withPerformanceLog } from '../../src/logger.js';
import type { CommandContext } from '../context.js';
import { formatCount, formatPercent, formatUsd } from '../ui/format.js';
import { writeJson } from '../ui/json.js';
import { startProgress } from '../ui/screens.js';
import { renderTable } from '../ui/table.js';

export interface PackageImportOptions {
  dryRun?: boolean;
  upsert?: boolean;
  all?: boolean;
  json?: boolean;
}

/** Rows shown without --all. */
export const FIRST_ROWS = 20;

export async function runPackageImport(ctx: CommandContext, file: string, opts: PackageImportOptions): Promise<number> {
  const items = readImportFile(file);
  const count = Array.isArray(items) ? items.length : 0;
  const handle = await ctx.db();
  const progress = await startProgress(ctx, `arb package import ${file}${opts.dryRun ? ' (dry run)' : ''}`, [
    `Read ${file}`,
    `Validate and price ${formatCount(count)} item(s)`,
    opts.dryRun ? 'Store (skipped: dry run)' : 'Store all in one transaction',
  ]);
  progress.finish(0, 'done', `${formatCount(count)} item(s)`);
  progress.start(1);
  let result: ImportResult;
  try {
    result = await withPerformanceLog(ctx.logger(), 'package_import', () => importPackages({ handle, logger: ctx.logger(), config: ctx.config }, items, { dryRun: opts.dryRun, upsert: opts.upsert }), {
      dry_run: Boolean(opts.dryRun),
    });
    progress.finish(1, 'done');
    progress.finish(2, opts.dryRun ? 'skipped' : 'done', opts.dryRun ? 'nothing stored' : summary(result));
  } catch (e) {
    progress.finish(1, 'failed', e instanceof PackageImportError ? `${new Set(e.problems.map((p) => p.index)).size} invalid item(s)` : undefined);
    progress.finish(2, 'skipped', 'nothing imported');
    await progress.close();
    if (e instanceof PackageImportError && opts.json) {
      writeJson(ctx.stdout, {
        imported: false,
        dry_run: Boolean(opts.dryRun),
        problems: e.problems.map((p) => ({ item: p.index + 1, index: p.index, model: p.model, field: p.field, message: p.message })),
      });
    }
    throw e;
  }
  await progress.close();
  if (opts.json) {
    const rows = result.items.map(importedItemToJson);
    writeJson(ctx.stdout, { imported: !result.dryRun, dry_run: result.dryRun, upsert: result.upsert, count: rows.length, ...result.counts, packages: rows });
    return 0;
  }
  const shown = opts.all ? result.items : result.items.slice(0, FIRST_ROWS);
  ctx.stdout.write(`${importTable(shown, result.dryRun)}\n`);
  if (shown.length < result.items.length) ctx.stdout.write(`… and ${formatCount(result.items.length - shown.length)} more (--all lists every item, --json prints them all)\n`);
  ctx.stdout.write(`${result.dryRun ? 'dry run: ' : ''}${summary(result)}${result.dryRun ? '; nothing was stored' : ''}\n`);
  const differing = result.items.filter((i) => i.status === 'unchanged' && i.changes.length > 0).length;
  if (differing > 0) ctx.stdout.write(`${formatCount(differing)} existing package(s) differ from the file; --upsert updates them\n`);
  return 0;
}

const VERB = { created: ['created', 'would be created'], updated: ['updated', 'would be updated'], unchanged: ['unchanged', 'unchanged'] } as const;

/** "3 created, 1 updated, 6 unchanged (10 items)" */
function summary(r: ImportResult): string {
  const parts = (['created', 'updated', 'unchanged'] as const).map((s) => `${formatCount(r.counts[s])} ${VERB[s][r.dryRun ? 1 : 0]}`);
  return `${parts.join(', ')} (${formatCount(r.items.length)} item${r.items.length === 1 ? '' : 's'})`;
}

function importTable(items: readonly ImportedItem[], dryRun: boolean): string {
  return renderTable(
    [
      { header: 'item', align: 'right', priority: 1 },
      { header: dryRun ? 'would be' : 'status', priority: 0 },
      { header: 'id', align: 'right', priority: 2 },
      { header: 'model', priority: 3 },
      { header: 'tokens', align: 'right', priority: 4 },
      { header: 'price', align: 'right', priority: 5 },
      { header: 'margin', align: 'right', priority: 8 },
      { header: 'days', align: 'right', priority: 9 },
      { header: 'description', priority: 7 },
      { header: 'changes', priority: 6 },
    ],
    items.map((i) => {
      const p = i.package ?? { id: null, ...i.values };
      return [
        i.index + 1,
        VERB[i.status][dryRun ? 1 : 0],
        p.id ?? '-',
        p.model,
        formatCount(p.tokens),
        formatUsd(p.priceMicros),
        formatPercent(packageMarginPercent(p.costMicros, p.priceMicros)),
        p.validityDays,
        p.description,
        i.changes.join('; '),
      ];
    }),
  );
}
