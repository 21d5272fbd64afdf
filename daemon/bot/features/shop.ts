/**
 * 🤖 AI Tokens: categories → paged packages → details (model, tokens, price, validity, weighting rule)
 * → Buy → Confirm → one ledger transaction → a receipt, and the key in a message of its own
 * (key-message.ts). Short of balance: "Pay N ⭐ and buy" pays exactly what is missing and buys once the
 * payment arrives (topup.ts), or a top-up that offers to continue with this package.
 *
 * Exactly once: the confirm button carries a random nonce that becomes the purchase reference, so a double
 * tap (or a replay of the callback) buys nothing twice — the ledger returns the first purchase as a duplicate.
 */
import { Composer, InlineKeyboard } from 'grammy';
import { purchasePackage } from '../../../src/ledger/ledger.js';
import { logPurchaseFailed } from '../../../src/alerts/alerts.js';
import { InsufficientBalanceError, NotFoundError } from '../../../src/errors.js';
import { meteringRule, type MeteringRule } from '../../../src/pricing.js';
import type { ShopContext } from '../context.js';
import { cb, cbPattern, newNonce, parseCategory, type CategoryRef } from '../callback-data.js';
import { getPackageView, listShopCategories, listShopPackages, type PackageView } from '../data.js';
import { backToMenu, paging, say, show } from '../screens.js';
import { isUnreachableUser } from '../api-errors.js';
import { sendKey } from '../key-message.js';
import type { PackageText } from '../locales/en.js';

export const SHOP_PAGE_SIZE = 6;

function ruleOf(pkg: Pick<PackageView, 'promptRate' | 'completionRate' | 'cacheReadRate' | 'cacheWriteRate'>): MeteringRule | null {
  try {
    return meteringRule(pkg.promptRate, pkg.completionRate, { cacheReadRate: pkg.cacheReadRate, cacheWriteRate: pkg.cacheWriteRate });
  } catch {
    return null;
  }
}

function packageText(pkg: PackageView): PackageText {
  return {
    id: pkg.id,
    description: pkg.description,
    model: pkg.model,
    modelName: pkg.modelName,
    tokens: pkg.tokens,
    price: pkg.priceMicros,
    validityDays: pkg.validityDays,
    rule: ruleOf(pkg),
    promptRate: pkg.promptRate,
    completionRate: pkg.completionRate,
  };
}

async function showShop(ctx: ShopContext): Promise<void> {
  const categories = await listShopCategories(ctx.shop.handle);
  const total = categories.reduce((s, c) => s + c.packages, 0);
  if (total === 0) return show(ctx, `${ctx.t.shop.title}\n\n${ctx.t.shop.empty}`, backToMenu(ctx));
  if (categories.length === 1) return showCategory(ctx, 'a', 0);
  const kb = new InlineKeyboard();
  for (const c of categories) kb.text(ctx.t.btn.category(c.id === 0 ? ctx.t.shop.otherCategory : c.name, c.packages), cb.category(c.id, 0)).row();
  kb.text(ctx.t.btn.allPackages(total), cb.category('a', 0)).row().text(ctx.t.btn.mainMenu, cb.menu());
  await show(ctx, `${ctx.t.shop.title}\n\n${ctx.t.shop.chooseCategory}`, kb);
}

async function showCategory(ctx: ShopContext, category: CategoryRef, requestedPage: number): Promise<void> {
  const { handle } = ctx.shop;
  const first = await listShopPackages(handle, category, requestedPage * SHOP_PAGE_SIZE, SHOP_PAGE_SIZE);
  if (first.total === 0) return showShop(ctx);
  const { page, pages, offset } = paging(first.total, SHOP_PAGE_SIZE, requestedPage);
  const { rows } = offset === requestedPage * SHOP_PAGE_SIZE ? first : await listShopPackages(handle, category, offset, SHOP_PAGE_SIZE);
  const categories = await listShopCategories(handle);
  let name: string | null = null;
  if (category !== 'a') name = category === 0 ? ctx.t.shop.otherCategory : (categories.find((c) => c.id === category)?.name ?? null);

  const kb = new InlineKeyboard();
  for (const pkg of rows) kb.text(ctx.t.btn.package(pkg.description, pkg.priceMicros), cb.package(pkg.id, category, page)).row();
  if (pages > 1) {
    if (page > 0) kb.text(ctx.t.btn.prev, cb.category(category, page - 1));
    if (page < pages - 1) kb.text(ctx.t.btn.next, cb.category(category, page + 1));
    kb.row();
  }
  kb.text(ctx.t.btn.back, categories.length > 1 ? cb.shop() : cb.menu());
  const items = rows.map((pkg, i) => ctx.t.shop.listItem(offset + i + 1, packageText(pkg))).join('\n\n');
  await show(ctx, `${ctx.t.shop.title}\n\n${items}\n\n${ctx.t.shop.page(name, page + 1, pages)}`, kb);
}

async function showPackage(ctx: ShopContext, packageId: number, category: CategoryRef, page: number): Promise<void> {
  const pkg = await getPackageView(ctx.shop.handle, packageId);
  const back = new InlineKeyboard().text(ctx.t.btn.back, cb.category(category, page));
  if (!pkg || !pkg.available) return show(ctx, ctx.t.shop.unavailable, back);
  const kb = new InlineKeyboard().text(ctx.t.btn.buy(pkg.priceMicros), cb.buy(pkg.id)).row().text(ctx.t.btn.back, cb.category(category, page));
  await show(ctx, ctx.t.shop.details(packageText(pkg)), kb);
}

/** Stars that cover `missingMicros` at the configured rate (Telegram's minimum is 1 ⭐). */
export function starsFor(missingMicros: number, microsPerStar: number): number {
  return Math.max(1, Math.ceil(missingMicros / microsPerStar));
}

function insufficientKeyboard(ctx: ShopContext, packageId: number, missingMicros: number): InlineKeyboard {
  const stars = starsFor(missingMicros, ctx.shop.config.starsMicrosPerStar);
  return new InlineKeyboard()
    .text(ctx.t.btn.payAndBuy(stars), cb.payAndBuy(packageId))
    .row()
    .text(ctx.t.btn.topUp, cb.topupFor(packageId))
    .row()
    .text(ctx.t.btn.back, cb.package(packageId, 'a', 0));
}

export async function showInsufficient(ctx: ShopContext, packageId: number, price: number, balance: number): Promise<void> {
  const stars = starsFor(price - balance, ctx.shop.config.starsMicrosPerStar);
  await show(ctx, ctx.t.shop.insufficient({ price, balance, stars }), insufficientKeyboard(ctx, packageId, price - balance));
}

export async function askConfirmation(ctx: ShopContext, packageId: number): Promise<void> {
  const pkg = await getPackageView(ctx.shop.handle, packageId);
  if (!pkg || !pkg.available) return show(ctx, ctx.t.shop.unavailable, backToMenu(ctx));
  const balance = ctx.customer?.balanceMicros ?? 0;
  if (balance < pkg.priceMicros) return showInsufficient(ctx, pkg.id, pkg.priceMicros, balance);
  const kb = new InlineKeyboard()
    .text(ctx.t.btn.confirm, cb.confirm(pkg.id, newNonce()))
    .row()
    .text(ctx.t.btn.cancel, cb.package(pkg.id, 'a', 0));
  await show(ctx, ctx.t.shop.confirm({ description: pkg.description, model: pkg.model, tokens: pkg.tokens, price: pkg.priceMicros, balance }), kb);
}

export type BuyOutcome = { kind: 'bought' } | { kind: 'duplicate' } | { kind: 'insufficient'; priceMicros: number; balanceMicros: number } | { kind: 'unavailable' };

/**
 * Buys a package for the customer with `reference` (a repeated reference buys nothing) and hands over the
 * key: the receipt (`show`: an edit of the confirmation screen, or a new message), then the key in a
 * message of its own. Refusals are returned for the caller to explain.
 */
export async function buyAndDeliver(ctx: ShopContext, packageId: number, reference: string, channel: string): Promise<BuyOutcome> {
  const { handle, logger, config } = ctx.shop;
  const telegramId = ctx.from!.id;
  let result;
  try {
    result = await purchasePackage({ handle, logger, config }, { telegramId, packageId, reference });
  } catch (err) {
    // counted by the "failed purchases > 10 %" alert rule
    logPurchaseFailed(logger, { user_id: telegramId, package_id: packageId, reason: err instanceof Error ? err.message : String(err), channel });
    if (err instanceof InsufficientBalanceError) return { kind: 'insufficient', priceMicros: err.neededMicros, balanceMicros: err.balanceMicros };
    if (err instanceof NotFoundError) return { kind: 'unavailable' };
    throw err;
  }
  if (result.duplicate || result.apiKey === null) return { kind: 'duplicate' };
  const pkg = await getPackageView(handle, packageId);
  const { allocation } = result;
  const receiptKb = new InlineKeyboard().text(ctx.t.btn.myKeys, cb.keys()).text(ctx.t.btn.mainMenu, cb.menu());
  const receipt = {
    description: pkg?.description ?? allocation.model,
    model: allocation.model,
    tokens: allocation.tokensTotal,
    price: allocation.pricePaidMicros,
    balance: result.transaction.balanceAfterMicros,
    expiresAt: allocation.expiresAt,
  };
  await show(ctx, ctx.t.shop.receipt(receipt), receiptKb);
  try {
    await sendKey(ctx, {
      key: result.apiKey,
      model: allocation.model,
      description: pkg?.description ?? null,
      tokens: allocation.tokensTotal,
      expiresAt: allocation.expiresAt,
      baseUrl: ctx.shop.apiBaseUrl,
    });
  } catch (err) {
    if (isUnreachableUser(err)) throw err;
    logger.error(
      { telegram_user_id: telegramId, allocation_id: allocation.id, error: (err as Error).message },
      'the message with the purchased key could not be sent; the customer can get a new key with 🔁 Replace key (or arb keys replace)',
    );
    await say(ctx, ctx.t.shop.keyNotDelivered, receiptKb);
  }
  return { kind: 'bought' };
}

async function completePurchase(ctx: ShopContext, packageId: number, nonce: string): Promise<void> {
  const outcome = await buyAndDeliver(ctx, packageId, `tg-buy:${ctx.from!.id}:${nonce}`, 'telegram');
  if (outcome.kind === 'duplicate') await ctx.answerCallbackQuery({ text: ctx.t.shop.alreadyPurchased, show_alert: true });
  else if (outcome.kind === 'insufficient') await showInsufficient(ctx, packageId, outcome.priceMicros, outcome.balanceMicros);
  else if (outcome.kind === 'unavailable') await show(ctx, ctx.t.shop.unavailable, backToMenu(ctx));
}

export function shopFeature(): Composer<ShopContext> {
  const composer = new Composer<ShopContext>();
  composer.command(['tokens', 'shop'], showShop);
  composer.callbackQuery(cbPattern.shop, showShop);
  composer.callbackQuery(cbPattern.category, (ctx) => showCategory(ctx, parseCategory(ctx.match[1]), Number(ctx.match[2])));
  composer.callbackQuery(cbPattern.package, (ctx) => showPackage(ctx, Number(ctx.match[1]), parseCategory(ctx.match[2]), Number(ctx.match[3])));
  composer.callbackQuery(cbPattern.buy, (ctx) => askConfirmation(ctx, Number(ctx.match[1])));
  composer.callbackQuery(cbPattern.confirm, (ctx) => completePurchase(ctx, Number(ctx.match[1]), ctx.match[2]));
  return composer;
}
