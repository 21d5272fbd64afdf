/** `arb category create|list|rename|delete`: thin wrappers over src/packages/categories.ts. */
import { createCategory, deleteCategory, listCategoryViews, renameCategory, type Category } from '../../src/packages/categories.js';
import type { CommandContext } from '../context.js';
import { writeJson } from '../ui/json.js';
import { parseIdArg } from '../ui/options.js';
import { renderTable } from '../ui/table.js';

const HINT = 'see arb category list';

function categoryJson(c: Category) {
  return { id: c.id, name: c.name, parent_id: c.parentId, created_at: c.createdAt };
}

export async function runCategoryCreate(ctx: CommandContext, name: string, opts: { parent?: string; json?: boolean }): Promise<number> {
  const parentId = opts.parent === undefined ? null : parseIdArg(opts.parent, 'parent', HINT);
  const created = await createCategory({ handle: await ctx.db(), logger: ctx.logger() }, { name, parentId });
  if (opts.json) writeJson(ctx.stdout, categoryJson(created));
  else ctx.stdout.write(`created category ${created.id} "${created.name}"${created.parentId === null ? '' : ` under ${created.parentId}`}\n`);
  return 0;
}

export async function runCategoryList(ctx: CommandContext, opts: { json?: boolean }): Promise<number> {
  const views = await listCategoryViews(await ctx.db());
  if (opts.json) {
    writeJson(ctx.stdout, {
      categories: views.map((v) => ({
        id: v.id,
        name: v.name,
        parent_id: v.parentId,
        parent_name: v.parentName,
        packages: v.packageCount,
        subcategories: v.subcategoryCount,
        created_at: v.createdAt,
      })),
    });
  } else if (views.length === 0) {
    ctx.stdout.write('no categories yet; create one with arb category create "OpenAI"\n');
  } else {
    ctx.stdout.write(
      `${renderTable(
        ['id', 'name', 'parent', 'packages', 'subcategories'],
        views.map((v) => [v.id, v.name, v.parentId === null ? '' : `${v.parentId} ${v.parentName ?? ''}`.trim(), v.packageCount, v.subcategoryCount]),
        { align: ['right', 'left', 'left', 'right', 'right'] },
      )}\n`,
    );
  }
  return 0;
}

export async function runCategoryRename(ctx: CommandContext, idText: string, name: string, opts: { json?: boolean }): Promise<number> {
  const { category, previousName } = await renameCategory({ handle: await ctx.db(), logger: ctx.logger() }, parseIdArg(idText, 'id', HINT), name);
  if (opts.json) writeJson(ctx.stdout, { ...categoryJson(category), previous_name: previousName });
  else ctx.stdout.write(`renamed category ${category.id}: "${previousName}" → "${category.name}"\n`);
  return 0;
}

export async function runCategoryDelete(ctx: CommandContext, idText: string, opts: { moveTo?: string; json?: boolean }): Promise<number> {
  const id = parseIdArg(idText, 'id', HINT);
  const moveTo = opts.moveTo === undefined ? null : parseIdArg(opts.moveTo, 'move_to', HINT);
  const { category, movedPackages } = await deleteCategory({ handle: await ctx.db(), logger: ctx.logger() }, id, { moveTo });
  if (opts.json) writeJson(ctx.stdout, { deleted: categoryJson(category), moved_packages: movedPackages, move_to: moveTo });
  else ctx.stdout.write(`deleted category ${category.id} "${category.name}"${movedPackages.length ? `; moved ${movedPackages.length} package(s) to ${moveTo}` : ''}\n`);
  return 0;
}
