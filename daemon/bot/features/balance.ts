/**
 * 💰 Balance: the amount and the newest ledger rows, with a top-up button.
 */
import { Composer, InlineKeyboard } from 'grammy';
import { listTransactions } from '../../../src/ledger/ledger.js';
import type { ShopContext } from '../context.js';
import { cb, cbPattern } from '../callback-data.js';
import { show } from '../screens.js';

export const LEDGER_TAIL = 10;

async function showBalance(ctx: ShopContext): Promise<void> {
  const customer = ctx.customer;
  if (!customer) return;
  const rows = await listTransactions(ctx.shop.handle, customer.id, LEDGER_TAIL);
  const kb = new InlineKeyboard().text(ctx.t.btn.topUp, cb.topup()).row().text(ctx.t.btn.redeem, cb.redeem()).row().text(ctx.t.btn.mainMenu, cb.menu());
  await show(
    ctx,
    ctx.t.balance.show({
      balance: customer.balanceMicros,
      rows: rows.map((r) => ({ type: r.type, amount: r.amountMicros, balanceAfter: r.balanceAfterMicros, createdAt: r.createdAt, note: r.type === 'purchase' ? r.note : null })),
    }),
    kb,
  );
}

export function balanceFeature(): Composer<ShopContext> {
  const composer = new Composer<ShopContext>();
  composer.command('balance', showBalance);
  composer.callbackQuery(cbPattern.balance, showBalance);
  return composer;
}
