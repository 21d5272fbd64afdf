/**
 * 🗂 Categories in the admin menu (the same services as `arb category create|list|rename|delete`): a list
 * with what uses each category, one category's screen, ➕ new (top level or under a category), ✏️ rename and
 * 🗑 delete — refused, with the packages named, while packages or subcategories use it; asked first
 * otherwise. Names are typed as a reply to the bot's prompt (whose first characters say what it is for:
 * `🗂 ➕`, `🗂 ➕ #N`, `🗂 ✏️ #N`), so nothing is kept between updates.
 */
import { Composer, InlineKeyboard } from 'grammy';
import { InputError } from '../../../src/errors.js';
import { createCategory, deleteCategory, listCategoryViews, renameCategory, type CategoryView } from '../../../src/packages/categories.js';
import { cb, cbPattern } from '../callback-data.js';
import type { ShopContext } from '../context.js';
import { fitBlocks, MAX_MESSAGE_CHARS } from '../format.js';
import { adminOnly } from '../middlewares/admin-gate.js';
import { say, show } from '../screens.js';

const FORCE_REPLY = { force_reply: true as const };
/** Buttons on the list (Telegram allows 100; the rest are named in the text). */
const LIST_BUTTONS = 40;

export type CategoryPrompt = { kind: 'new'; parentId: number | null } | { kind: 'rename'; id: number };

export function categoryPrompt(text: string | undefined): CategoryPrompt | undefined {
  const m = /^🗂 (➕|✏️)(?: #(\d+))?/u.exec(text ?? '');
  if (!m) return undefined;
  if (m[1] === '➕') return { kind: 'new', parentId: m[2] ? Number(m[2]) : null };
  return m[2] ? { kind: 'rename', id: Number(m[2]) } : undefined;
}

function label(c: Pick<CategoryView, 'name' | 'parentName'>): string {
  return c.parentName ? `${c.parentName} › ${c.name}` : c.name;
}

async function showCategories(ctx: ShopContext): Promise<void> {
  const views = await listCategoryViews(ctx.shop.handle);
  const kb = new InlineKeyboard();
  for (const c of views.slice(0, LIST_BUTTONS)) kb.text(ctx.t.btn.category(label(c), c.packageCount), cb.adminCategory(c.id)).row();
  kb.text(ctx.t.btn.newCategory, cb.adminCategoryNew(0)).row().text(ctx.t.btn.back, cb.admin());
  if (views.length === 0) return show(ctx, ctx.t.categories.none, kb);
  const lines = views.map((c) => ctx.t.categories.line({ id: c.id, name: label(c), packages: c.packageCount, subcategories: c.subcategoryCount }));
  await show(ctx, `${ctx.t.categories.title(views.length)}\n\n${fitBlocks(lines, '\n', (n) => ctx.t.keys.more(n), MAX_MESSAGE_CHARS - 200)}`, kb);
}

async function showCategory(ctx: ShopContext, id: number): Promise<void> {
  const c = (await listCategoryViews(ctx.shop.handle)).find((v) => v.id === id);
  if (!c) return showCategories(ctx);
  const kb = new InlineKeyboard().text(ctx.t.btn.renameCategory, cb.adminCategoryRename(id)).text(ctx.t.btn.deleteCategory, cb.adminCategoryDelete(id));
  if (c.parentId === null) kb.row().text(ctx.t.btn.newSubcategory, cb.adminCategoryNew(id));
  kb.row().text(ctx.t.btn.back, cb.adminCategories());
  await show(ctx, ctx.t.categories.view({ id: c.id, name: c.name, parent: c.parentName, packages: c.packageCount, subcategories: c.subcategoryCount, createdAt: c.createdAt }), kb);
}

async function askDelete(ctx: ShopContext, id: number): Promise<void> {
  const c = (await listCategoryViews(ctx.shop.handle)).find((v) => v.id === id);
  if (!c) return showCategories(ctx);
  const back = new InlineKeyboard().text(ctx.t.btn.back, cb.adminCategory(id));
  if (c.packageCount > 0 || c.subcategoryCount > 0) {
    const db = ctx.shop.handle.db;
    const packages = await db
      .selectFrom('ai_token_packages')
      .select(['id', 'model', 'description'])
      .where((eb) => eb.or([eb('category_id', '=', id), eb('subcategory_id', '=', id)]))
      .orderBy('id')
      .limit(10)
      .execute();
    const subcategories = await db.selectFrom('categories').select(['id', 'name']).where('parent_id', '=', id).orderBy('id').limit(10).execute();
    return show(
      ctx,
      ctx.t.categories.inUse({
        name: label(c),
        packages: packages.map((p) => ({ id: p.id, model: p.model, description: p.description })),
        morePackages: Math.max(0, c.packageCount - packages.length),
        subcategories: subcategories.map((x) => x.name),
      }),
      back,
    );
  }
  await show(
    ctx,
    ctx.t.categories.confirmDelete({ id, name: label(c) }),
    new InlineKeyboard().text(ctx.t.btn.deleteCategoryConfirm, cb.adminCategoryDeleteDo(id)).row().text(ctx.t.btn.back, cb.adminCategory(id)),
  );
}

async function doDelete(ctx: ShopContext, id: number): Promise<void> {
  try {
    const { category } = await deleteCategory({ handle: ctx.shop.handle, logger: ctx.shop.logger }, id);
    await ctx.answerCallbackQuery({ text: ctx.t.categories.deleted(category.name) });
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    return show(ctx, ctx.t.admin.failed(err.message), new InlineKeyboard().text(ctx.t.btn.back, cb.adminCategories()));
  }
  await showCategories(ctx);
}

async function answerPrompt(ctx: ShopContext, prompt: CategoryPrompt, text: string): Promise<void> {
  const deps = { handle: ctx.shop.handle, logger: ctx.shop.logger };
  const back = new InlineKeyboard().text(ctx.t.btn.categories, cb.adminCategories());
  try {
    if (prompt.kind === 'new') {
      const c = await createCategory(deps, { name: text, parentId: prompt.parentId });
      return say(ctx, ctx.t.categories.created({ id: c.id, name: c.name }), new InlineKeyboard().text(ctx.t.btn.categories, cb.adminCategories()).text(ctx.t.btn.createPackage, cb.adminCreate()));
    }
    const { category, previousName } = await renameCategory(deps, prompt.id, text);
    return say(ctx, ctx.t.categories.renamed({ id: category.id, from: previousName, to: category.name }), back);
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    await say(ctx, ctx.t.admin.failed(err.message), back);
  }
}

export function categoriesFeature(): Composer<ShopContext> {
  const composer = new Composer<ShopContext>();
  const admin = composer.filter((ctx) => cbPattern.admin.test(ctx.callbackQuery?.data ?? ''));
  admin.use(adminOnly);
  admin.callbackQuery(cbPattern.adminCategories, showCategories);
  admin.callbackQuery(cbPattern.adminCategory, (ctx) => showCategory(ctx, Number(ctx.match[1])));
  admin.callbackQuery(cbPattern.adminCategoryNew, (ctx) => {
    const parent = Number(ctx.match[1]);
    return ctx.reply(parent === 0 ? ctx.t.categories.askName : ctx.t.categories.askSubName(parent), { parse_mode: 'HTML', reply_markup: FORCE_REPLY });
  });
  admin.callbackQuery(cbPattern.adminCategoryRename, (ctx) => ctx.reply(ctx.t.categories.askRename(Number(ctx.match[1])), { parse_mode: 'HTML', reply_markup: FORCE_REPLY }));
  admin.callbackQuery(cbPattern.adminCategoryDelete, (ctx) => askDelete(ctx, Number(ctx.match[1])));
  admin.callbackQuery(cbPattern.adminCategoryDeleteDo, (ctx) => doDelete(ctx, Number(ctx.match[1])));

  // a reply to one of the prompts above
  composer.on('message:text').filter(
    (ctx) => ctx.message.reply_to_message?.from?.id === ctx.me.id && categoryPrompt(ctx.message.reply_to_message.text) !== undefined,
    (ctx) => adminOnly(ctx, () => answerPrompt(ctx, categoryPrompt(ctx.message.reply_to_message!.text)!, ctx.message.text)),
  );
  return composer;
}
