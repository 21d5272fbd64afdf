/**
 * ➕ Create Package as a guided conversation (grammY's conversations plugin, state in the database):
 * 1. model — typed words search the priced models, a tap picks one; 2. tokens (100000, 100k, 1M);
 * 3. description; 4. category (when there are any); 5. a preview with the cost of the tokens, the price the
 * markup rule gives (or one the admin sets, never below the margin floor), profit and margin → ✅ Create.
 *
 * The package is made by the same service as `/create_package` and `arb package create`. A command or a
 * button from another screen leaves the conversation and is handled as usual; ✖️ Cancel or /cancel stops
 * it; so does losing admin rights. Everything read from the database goes through `conversation.external`,
 * as the plugin replays the function on every update.
 */
import type { Conversation } from '@grammyjs/conversations';
import { createConversation } from '@grammyjs/conversations';
import { InlineKeyboard } from 'grammy';
import { InputError } from '../../../src/errors.js';
import { parseUsd } from '../../../src/money.js';
import { createPackage, MAX_DESCRIPTION_LENGTH, MAX_PACKAGE_TOKENS } from '../../../src/packages/packages.js';
import { priceForPackage } from '../../../src/pricing.js';
import { cb, cbPattern } from '../callback-data.js';
import type { ShopBaseContext, ShopContext, ShopServices } from '../context.js';
import { searchModels, type ModelChoice } from '../data.js';
import { say } from '../screens.js';

export const CREATE_PACKAGE = 'createPackage';
/** An unfinished conversation is dropped after this long. */
export const CREATE_PACKAGE_TIMEOUT_MS = 30 * 60_000;

type CreateConversation = Conversation<ShopContext, ShopBaseContext>;

/** "100000", "100,000", "100_000", "100k", "1.5M" → tokens; null when it is not a count. */
export function parseTokensTyped(text: string): number | null {
  const m = /^(\d+(?:[.,]\d+)?)\s*([kKmM]?)$/.exec(
    text
      .trim()
      .replace(/[_\s]/g, '')
      .replace(/,(?=\d{3}\b)/g, ''),
  );
  if (!m) return null;
  const n = Number(m[1].replace(',', '.')) * (m[2] === '' ? 1 : /k/i.test(m[2]) ? 1_000 : 1_000_000);
  return Number.isSafeInteger(n) && n > 0 && n <= MAX_PACKAGE_TOKENS ? n : null;
}

function modelKeyboard(t: ShopBaseContext['t'], models: readonly ModelChoice[]): InlineKeyboard {
  const kb = new InlineKeyboard();
  for (const m of models) kb.text(m.modelId, cb.createModel(m.id)).row();
  return kb.text(t.btn.cancel, cb.createCancel());
}

export function createPackageFlow(services: Pick<ShopServices, 'handle' | 'logger' | 'config' | 'isAdmin'>) {
  return async function createPackageConversation(conversation: CreateConversation, ctx: ShopBaseContext): Promise<void> {
    const t = ctx.t;
    const cancel = new InlineKeyboard().text(t.btn.cancel, cb.createCancel());

    /** the next update of this flow; anything else leaves the conversation and is handled as usual */
    const next = async (): Promise<ShopBaseContext> => {
      const u = await conversation.wait();
      const data = u.callbackQuery?.data;
      const text = u.message?.text;
      if (!services.isAdmin(u.from?.id)) return conversation.halt({ next: true });
      if (data !== undefined && cbPattern.createCancel.test(data)) {
        await u.reply(t.create.cancelled);
        return conversation.halt();
      }
      if (text !== undefined && /^\/cancel(?:@\w+)?$/.test(text.trim())) {
        await u.reply(t.create.cancelled);
        return conversation.halt();
      }
      if (text?.startsWith('/') || (data !== undefined && !cbPattern.createAny.test(data))) return conversation.halt({ next: true });
      return u;
    };

    // 1. model
    await say(ctx, t.create.intro, cancel);
    let model: ModelChoice | undefined;
    while (!model) {
      const u = await next();
      const picked = cbPattern.createModel.exec(u.callbackQuery?.data ?? '');
      if (picked) {
        const id = Number(picked[1]);
        model = await conversation.external(() => searchModels(services.handle, { id }).then((rows) => rows[0]));
        if (!model) await say(u, t.create.noMatch(''), cancel);
        continue;
      }
      const query = u.message?.text?.trim();
      if (!query) {
        await say(u, t.create.intro, cancel);
        continue;
      }
      const found = await conversation.external(() => searchModels(services.handle, { query, limit: 8 }));
      if (found.length === 0) await say(u, t.create.noMatch(query), cancel);
      else await say(u, t.create.matches(query, found), modelKeyboard(t, found));
    }

    // 2. tokens
    await say(ctx, t.create.askTokens(model), cancel);
    let tokens: number | null = null;
    while (tokens === null) {
      const u = await next();
      tokens = parseTokensTyped(u.message?.text ?? '');
      if (tokens === null) await say(u, t.create.badTokens(MAX_PACKAGE_TOKENS), cancel);
    }

    // 3. description
    await say(ctx, t.create.askDescription(MAX_DESCRIPTION_LENGTH), cancel);
    let description: string | null = null;
    while (description === null) {
      const u = await next();
      const text = (u.message?.text ?? '').trim();
      if (text && [...text].length <= MAX_DESCRIPTION_LENGTH) description = text;
      else await say(u, t.create.badDescription(MAX_DESCRIPTION_LENGTH), cancel);
    }

    // 4. category
    const categories = await conversation.external(() => services.handle.db.selectFrom('categories').select(['id', 'name', 'parent_id']).orderBy('name').orderBy('id').limit(40).execute());
    let category: { id: number; name: string } | null = null;
    if (categories.length > 0) {
      const kb = new InlineKeyboard();
      for (const c of categories) kb.text(c.name, cb.createCategory(c.id)).row();
      kb.text(t.btn.noCategory, cb.createCategory(0)).row().text(t.btn.cancel, cb.createCancel());
      await say(ctx, t.create.askCategory, kb);
      for (;;) {
        const u = await next();
        const m = cbPattern.createCategory.exec(u.callbackQuery?.data ?? '');
        if (!m) {
          await say(u, t.create.askCategory, kb);
          continue;
        }
        const id = Number(m[1]);
        category = id === 0 ? null : (categories.find((c) => c.id === id) ?? null);
        break;
      }
    }

    // 5. preview → create
    let priceMicros: number | undefined;
    for (;;) {
      const pricing = priceForPackage({ tokens, promptRate: model.promptRate, completionRate: model.completionRate, explicitPriceMicros: priceMicros }, services.config);
      const kb = new InlineKeyboard().text(t.btn.createConfirm, cb.createConfirm()).row().text(t.btn.setPrice, cb.createSetPrice()).row().text(t.btn.cancel, cb.createCancel());
      await say(
        ctx,
        t.create.preview({
          model: model.modelId,
          tokens,
          description,
          category: category?.name ?? null,
          unitRate: pricing.unitRate,
          cost: pricing.costMicros,
          price: pricing.priceMicros,
          profit: pricing.profitMicros,
          marginPercent: pricing.marginPercent,
          floor: pricing.floorMicros,
          explicit: pricing.explicit,
          markupPercent: services.config.markupBp / 100,
          bulkPercent: pricing.bulkDiscountApplied ? services.config.bulkDiscountBp / 100 : 0,
          validityDays: services.config.packageValidityDays,
        }),
        kb,
      );
      let u = await next();
      if (cbPattern.createSetPrice.test(u.callbackQuery?.data ?? '')) {
        await say(u, t.create.askPrice(pricing.floorMicros), cancel);
        for (;;) {
          u = await next();
          try {
            const typed = parseUsd(u.message?.text ?? '', 'price');
            priceForPackage({ tokens, promptRate: model.promptRate, completionRate: model.completionRate, explicitPriceMicros: typed }, services.config);
            priceMicros = typed;
            break;
          } catch (err) {
            if (!(err instanceof InputError)) throw err;
            await say(u, t.create.badPrice(pricing.floorMicros), cancel);
          }
        }
        continue;
      }
      if (!cbPattern.createConfirm.test(u.callbackQuery?.data ?? '')) continue;
      const created = await conversation.external(async () => {
        try {
          const r = await createPackage(
            { handle: services.handle, logger: services.logger, config: services.config },
            { model: model!.modelId, tokens: tokens!, description: description!, priceUsd: priceMicros === undefined ? undefined : (priceMicros / 1e6).toFixed(6), categoryId: category?.id ?? null },
          );
          return { ok: true as const, id: r.package.id, cost: r.package.costMicros, price: r.package.priceMicros, validityDays: r.package.validityDays, marginPercent: r.pricing.marginPercent };
        } catch (err) {
          if (err instanceof InputError) return { ok: false as const, message: err.message };
          throw err;
        }
      });
      if (!created.ok) {
        await say(u, t.admin.failed(created.message), cancel);
        continue;
      }
      await say(
        u,
        t.admin.created({
          id: created.id,
          description,
          model: model.modelId,
          tokens,
          cost: created.cost,
          price: created.price,
          profit: created.price - created.cost,
          marginPercent: created.marginPercent,
          validityDays: created.validityDays,
        }),
        new InlineKeyboard().text(t.btn.managePackages, cb.adminPackages(0)),
      );
      return;
    }
  };
}

/** The conversation middleware for the bot's chain (after `conversations()`). */
export function createPackageConversation(services: Pick<ShopServices, 'handle' | 'logger' | 'config' | 'isAdmin'>) {
  return createConversation<ShopContext, ShopBaseContext>(createPackageFlow(services), { id: CREATE_PACKAGE, maxMillisecondsToWait: CREATE_PACKAGE_TIMEOUT_MS });
}
