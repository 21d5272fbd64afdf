/**
 * Admin features: 🤖 AI Token Arbitrage → 📊 Arbitrage Stats · 📦 Manage Packages (➕ Create Package,
 * enable/disable) · 🧹 Cleanup Expired; `/token_stats`, `/create_package`, `/add_balance`.
 * Every admin command and callback passes the admin gate first (ADMIN_ID_LIST checked each time).
 */
import { Composer, InlineKeyboard, InputFile } from 'grammy';
import { InputError } from '../../../src/errors.js';
import { creditUser } from '../../../src/ledger/ledger.js';
import { parseUsd } from '../../../src/money.js';
import { createPackage, setPackageAvailability } from '../../../src/packages/packages.js';
import { applyCleanup, planCleanup } from '../../../src/cleanup/cleanup.js';
import { computeStats, type Stats } from '../../../src/stats/stats.js';
import { listTickets } from '../../../src/support/tickets.js';
import { addDays, toDbTime } from '../../../src/time.js';
import type { ShopContext } from '../context.js';
import { cb, cbPattern } from '../callback-data.js';
import { listAllPackages } from '../data.js';
import { clip, MAX_TOAST_CHARS } from '../format.js';
import { paging, say, show } from '../screens.js';
import { adminOnly } from '../middlewares/admin-gate.js';
import { ADMIN_COMMANDS } from '../commands.js';
import { isUnreachableUser } from '../api-errors.js';
import type { StatsPeriodText } from '../locales/en.js';
import { fillDays, renderRevenueChart } from '../chart.js';
import { CREATE_PACKAGE } from './create-package.js';

export const ADMIN_PAGE_SIZE = 8;
export const TOP_MODELS = 5;

/** Splits command arguments on spaces, keeping "quoted text" (straight or curly quotes) together. */
export function splitArgs(text: string): { value: string; quoted: boolean }[] {
  const out: { value: string; quoted: boolean }[] = [];
  const re = /"([^"]*)"|“([^”]*)”|«([^»]*)»|'([^']*)'|(\S+)/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const quoted = m[5] === undefined;
    out.push({ value: (m[1] ?? m[2] ?? m[3] ?? m[4] ?? m[5]).trim(), quoted });
  }
  return out;
}

async function adminMenuKeyboard(ctx: ShopContext): Promise<InlineKeyboard> {
  const { btn } = ctx.t;
  const { total: openTickets } = await listTickets(ctx.shop.handle, { status: 'open', limit: 0 });
  return new InlineKeyboard()
    .text(btn.stats, cb.adminStats())
    .row()
    .text(btn.managePackages, cb.adminPackages(0))
    .row()
    .text(btn.tickets(openTickets), cb.adminTickets(0))
    .row()
    .text(btn.categories, cb.adminCategories())
    .row()
    .text(btn.cleanup, cb.adminCleanup())
    .row()
    .text(btn.mainMenu, cb.menu());
}

const backToAdmin = (ctx: ShopContext) => new InlineKeyboard().text(ctx.t.btn.back, cb.admin());

function period(s: Stats): StatsPeriodText {
  return {
    revenue: s.revenueMicros,
    cost: s.costMicros,
    profit: s.profitMicros,
    marginPercent: s.marginPercent,
    sales: s.sales,
    upstreamSpend: s.upstreamCostMicros,
    revenueOfTokensUsed: s.usedRevenueMicros,
    realisedMarginPercent: s.realisedMarginPercent,
    freeGrants: s.freeGrants,
    freeGrantTokens: s.freeGrantTokens,
    freeGrantCost: s.freeGrantCostMicros,
  };
}

/** Days on the 📊 chart. */
export const CHART_DAYS = 30;

/** The figures (today, 7 days, all time — as src/stats computes them) and, beside them, the chart per day. */
async function showStats(ctx: ShopContext): Promise<void> {
  const { handle } = ctx.shop;
  const now = ctx.shop.now();
  const midnight = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  const chartFrom = addDays(midnight, -(CHART_DAYS - 1));
  const today = await computeStats(handle, { since: midnight, now });
  const week = await computeStats(handle, { since: addDays(now, -7), now, rollUp: false });
  const month = await computeStats(handle, { since: chartFrom, now, rollUp: false });
  const all = await computeStats(handle, { since: null, now, rollUp: false });
  const top = all.byModel
    .filter((m) => m.sales > 0)
    .slice(0, TOP_MODELS)
    .map((m) => ({ model: m.model, sales: m.sales, revenue: m.revenueMicros, profit: m.profitMicros }));
  await show(ctx, ctx.t.admin.stats({ today: period(today), week: period(week), all: period(all), top }), backToAdmin(ctx));
  const days = fillDays(month.byDay, chartFrom.toISOString().slice(0, 10), midnight.toISOString().slice(0, 10));
  await ctx.replyWithPhoto(new InputFile(renderRevenueChart(days), 'arbitrage-stats.png'), { caption: ctx.t.admin.chartCaption(CHART_DAYS) });
}

async function showPackages(ctx: ShopContext, requestedPage: number): Promise<void> {
  const { handle } = ctx.shop;
  let { rows, total } = await listAllPackages(handle, requestedPage * ADMIN_PAGE_SIZE, ADMIN_PAGE_SIZE);
  const { page, pages, offset } = paging(total, ADMIN_PAGE_SIZE, requestedPage);
  if (offset !== requestedPage * ADMIN_PAGE_SIZE) ({ rows, total } = await listAllPackages(handle, offset, ADMIN_PAGE_SIZE));
  const kb = new InlineKeyboard();
  for (const p of rows) kb.text(ctx.t.btn.togglePackage(p.id, p.available, p.description), cb.adminToggle(p.id, page)).row();
  if (pages > 1) {
    if (page > 0) kb.text(ctx.t.btn.prev, cb.adminPackages(page - 1));
    if (page < pages - 1) kb.text(ctx.t.btn.next, cb.adminPackages(page + 1));
    kb.row();
  }
  kb.text(ctx.t.btn.createPackage, cb.adminCreate()).row().text(ctx.t.btn.back, cb.admin());
  const lines = rows.map((p) => ctx.t.admin.packageLine({ id: p.id, available: p.available, hold: p.holdReason, model: p.model, tokens: p.tokens, price: p.priceMicros, description: p.description }));
  const text = total === 0 ? ctx.t.admin.noPackages : `${ctx.t.admin.packages(page + 1, pages, total)}\n\n${lines.join('\n')}`;
  await show(ctx, text, kb);
}

/** Enabling happens at once; taking a package on sale off sale asks first. */
async function togglePackage(ctx: ShopContext, packageId: number, page: number): Promise<void> {
  const { handle } = ctx.shop;
  const current = await handle.db.selectFrom('ai_token_packages').selectAll().where('id', '=', packageId).executeTakeFirst();
  if (!current) return showPackages(ctx, page);
  if (current.is_available !== 1) return setAvailability(ctx, packageId, true, page);
  const { n } = await handle.db
    .selectFrom('ai_token_allocations')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('package_id', '=', packageId)
    .where('status', '=', 'active')
    .where('expires_at', '>', toDbTime(ctx.shop.now()))
    .executeTakeFirstOrThrow();
  const kb = new InlineKeyboard().text(ctx.t.btn.disablePackage(packageId), cb.adminDisable(packageId, page)).row().text(ctx.t.btn.back, cb.adminPackages(page));
  await show(ctx, ctx.t.admin.confirmDisable({ id: packageId, description: current.description, price: current.price, activeKeys: Number(n) }), kb);
}

async function setAvailability(ctx: ShopContext, packageId: number, enable: boolean, page: number): Promise<void> {
  try {
    await setPackageAvailability(ctx.shop.handle, packageId, enable, { logger: ctx.shop.logger });
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    await ctx.answerCallbackQuery({ text: clip(err.message, MAX_TOAST_CHARS), show_alert: true });
    return;
  }
  await ctx.answerCallbackQuery({ text: ctx.t.admin.toggled(packageId, enable) });
  await showPackages(ctx, page);
}

/** Expires keys past their expiry, like `arb cleanup` (log pruning stays with the CLI, where it is confirmed). */
async function cleanupExpired(ctx: ShopContext): Promise<void> {
  const { handle, config, logger } = ctx.shop;
  const plan = await planCleanup(handle, { logDir: config.logDir, logRetentionDays: 30, now: ctx.shop.now() });
  const { expiredKeys } = await applyCleanup(handle, { ...plan, logs: [] });
  logger.info({ business_event: true, event_type: 'keys_expired', count: expiredKeys, telegram_user_id: ctx.from?.id }, `expired ${expiredKeys} keys (bot cleanup)`);
  await show(ctx, ctx.t.admin.cleanupDone(expiredKeys), backToAdmin(ctx));
}

async function createPackageCommand(ctx: ShopContext): Promise<void> {
  const args = splitArgs(typeof ctx.match === 'string' ? ctx.match : '');
  if (args.length < 3) return say(ctx, ctx.t.admin.createUsage);
  const [model, tokens, ...rest] = args;
  let description: string;
  let priceUsd: string | undefined;
  if (rest[0].quoted) {
    description = rest[0].value;
    if (rest.length > 2) return say(ctx, ctx.t.admin.createUsage);
    priceUsd = rest[1]?.value.replace(/^\$/, '');
  } else {
    description = rest.map((a) => a.value).join(' ');
  }
  const { handle, logger, config } = ctx.shop;
  try {
    const { package: pkg, pricing } = await createPackage({ handle, logger, config }, { model: model.value, tokens: tokens.value, description, priceUsd });
    await say(
      ctx,
      ctx.t.admin.created({
        id: pkg.id,
        description: pkg.description,
        model: pkg.model,
        tokens: pkg.tokens,
        cost: pkg.costMicros,
        price: pkg.priceMicros,
        profit: pkg.priceMicros - pkg.costMicros,
        marginPercent: pricing.marginPercent,
        validityDays: pkg.validityDays,
      }),
      new InlineKeyboard().text(ctx.t.btn.managePackages, cb.adminPackages(0)),
    );
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    await say(ctx, ctx.t.admin.failed(err.message));
  }
}

async function addBalanceCommand(ctx: ShopContext): Promise<void> {
  const args = splitArgs(typeof ctx.match === 'string' ? ctx.match : '');
  if (args.length !== 2 || !/^\d{1,15}$/.test(args[0].value)) return say(ctx, ctx.t.admin.addBalanceUsage);
  const telegramId = Number(args[0].value);
  const { handle, logger } = ctx.shop;
  let result;
  try {
    const amountMicros = parseUsd(args[1].value, 'usd');
    result = await creditUser(
      { handle, logger },
      {
        telegramId,
        amountMicros,
        type: 'adjustment',
        // the admin's update id: a replayed command credits nothing even if the dedup table was lost
        reference: `tg-adm:${ctx.update.update_id}`,
        note: `by admin ${ctx.from!.id} via Telegram`,
      },
    );
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    return say(ctx, ctx.t.admin.failed(err.message));
  }
  if (result.duplicate) return say(ctx, ctx.t.admin.balanceAddedDuplicate);
  const amount = result.transaction.amountMicros;
  const balance = result.transaction.balanceAfterMicros;
  await say(ctx, ctx.t.admin.balanceAdded({ telegramId, amount, balance }));
  if (telegramId !== ctx.from!.id) {
    const t = ctx.shop.locales.pick(result.user.languageCode);
    try {
      await ctx.api.sendMessage(telegramId, t.admin.customerCredited({ amount, balance }), { parse_mode: 'HTML' });
    } catch (err) {
      // the customer may never have started the bot; the credit stands either way
      logger.info({ telegram_user_id: telegramId, reason: isUnreachableUser(err) ? 'unreachable' : (err as Error).message }, 'could not tell the customer about the adjustment');
    }
  }
}

export function adminFeature(): Composer<ShopContext> {
  const composer = new Composer<ShopContext>();
  const gated = composer.filter((ctx) => cbPattern.admin.test(ctx.callbackQuery?.data ?? '') || ctx.hasCommand([...ADMIN_COMMANDS]));
  gated.use(adminOnly);

  const menu = async (ctx: ShopContext) => show(ctx, ctx.t.admin.menu, await adminMenuKeyboard(ctx));
  gated.command('admin', menu);
  gated.callbackQuery(cbPattern.adminMenu, menu);
  gated.command('token_stats', showStats);
  gated.callbackQuery(cbPattern.adminStats, showStats);
  gated.callbackQuery(cbPattern.adminPackages, (ctx) => showPackages(ctx, Number(ctx.match[1])));
  gated.callbackQuery(cbPattern.adminToggle, (ctx) => togglePackage(ctx, Number(ctx.match[1]), Number(ctx.match[2])));
  gated.callbackQuery(cbPattern.adminDisable, (ctx) => setAvailability(ctx, Number(ctx.match[1]), false, Number(ctx.match[2])));
  gated.callbackQuery(cbPattern.adminCreate, (ctx) => ctx.conversation.enter(CREATE_PACKAGE));
  gated.callbackQuery(cbPattern.adminCleanup, cleanupExpired);
  gated.command('create_package', createPackageCommand);
  gated.command('add_balance', addBalanceCommand);
  return composer;
}
