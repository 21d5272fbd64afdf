/**
 * /start, the main menu and help; and the fallback that answers any other text with the menu.
 */
import { Composer } from 'grammy';
import type { ShopContext } from '../context.js';
import { cbPattern } from '../callback-data.js';
import { backToMenu, show, showMainMenu } from '../screens.js';

export function menuFeature(): Composer<ShopContext> {
  const composer = new Composer<ShopContext>();
  composer.command(['start', 'menu'], showMainMenu);
  composer.callbackQuery(cbPattern.menu, showMainMenu);

  const help = (ctx: ShopContext) => show(ctx, ctx.t.help({ baseUrl: ctx.shop.apiBaseUrl, starsRate: ctx.shop.config.starsMicrosPerStar }), backToMenu(ctx));
  composer.command('help', help);
  composer.callbackQuery(cbPattern.help, help);
  return composer;
}

/** Last in the chain: text nobody handled gets the main menu. */
export function fallbackFeature(): Composer<ShopContext> {
  const composer = new Composer<ShopContext>();
  composer.on('message:text', showMainMenu);
  return composer;
}
