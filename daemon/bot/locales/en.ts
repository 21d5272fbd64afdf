/**
 * English bot texts (the reference locale: every other locale file has the same shape, checked by tsc
 * through `satisfies Locale`, and falls back to these for anything missing at run time).
 *
 * Texts are HTML (parse_mode HTML). Parameters arrive raw; every value that is not ours is escaped here
 * with `esc`. Money arrives as integer µ$ and is formatted with formatUsd.
 */
import { formatUsd } from '../../../src/money.js';
import { describeRule, type MeteringRule } from '../../../src/pricing.js';
import type { TransactionType } from '../../../src/db/database.js';
import { clip, esc, formatDbTime } from '../format.js';

const num = (n: number) => n.toLocaleString('en-US');
const usd = (micros: number) => formatUsd(micros);
const rate = (microsPerMtok: number | null) => (microsPerMtok === null ? '?' : formatUsd(microsPerMtok, { precise: true }));

export interface PackageText {
  id: number;
  description: string;
  model: string;
  modelName: string | null;
  tokens: number;
  price: number;
  validityDays: number;
  /** null when the model has no fixed rates in the catalog */
  rule: MeteringRule | null;
  promptRate: number | null;
  completionRate: number | null;
}

export interface KeyText {
  masked: string;
  model: string;
  description: string | null;
  total: number;
  used: number;
  reserved: number;
  expiresAt: string;
  status: string;
}

export interface LedgerRowText {
  type: TransactionType;
  amount: number;
  balanceAfter: number;
  createdAt: string;
  note: string | null;
}

export interface StatsPeriodText {
  revenue: number;
  cost: number;
  profit: number;
  marginPercent: number | null;
  sales: number;
}

export interface AlertKeyText {
  masked: string;
  model: string;
  total: number;
  used: number;
  expiresAt: string;
}

const TX_TYPES: Record<TransactionType, string> = { topup: 'Top-up', purchase: 'Purchase', refund: 'Refund', adjustment: 'Adjustment' };

const signed = (micros: number) => (micros > 0 ? `+${usd(micros)}` : usd(micros));

export const en = {
  /** BCP 47 language code this file serves */
  code: 'en',
  btn: {
    aiTokens: '🤖 AI Tokens',
    balance: '💰 Balance',
    myKeys: '🔑 My Keys',
    help: 'ℹ️ Help',
    mainMenu: '🏠 Main menu',
    back: '⬅️ Back',
    prev: '◀️ Previous',
    next: 'Next ▶️',
    buy: (price: number) => `🛒 Buy for ${usd(price)}`,
    confirm: '✅ Confirm purchase',
    cancel: '✖️ Cancel',
    topUp: '⭐ Top up with Stars',
    stars: (stars: number, micros: number) => `${num(stars)} ⭐ → ${usd(micros)}`,
    category: (name: string | null, count: number) => `${clip(name ?? 'Other', 40)} (${count})`,
    allPackages: (count: number) => `All packages (${count})`,
    package: (description: string, price: number) => `${clip(description, 38)} · ${usd(price)}`,
    admin: '🤖 AI Token Arbitrage',
    stats: '📊 Arbitrage Stats',
    managePackages: '📦 Manage Packages',
    createPackage: '➕ Create Package',
    cleanup: '🧹 Cleanup Expired',
    togglePackage: (id: number, available: boolean, description: string) => `${available ? '✅' : '⛔'} #${id} ${clip(description, 32)}`,
  },
  /** descriptions in Telegram's command menu (1-256 characters) */
  commands: {
    start: 'Main menu',
    shop: 'Buy AI tokens',
    balance: 'Balance and top-up',
    keys: 'My API keys',
    redeem: 'Redeem a gift code',
    support: 'Write to support',
    paysupport: 'Payment support',
    terms: 'Terms of service',
    help: 'How it works',
    admin: 'Admin menu',
    token_stats: 'Arbitrage stats',
    tickets: 'Open support tickets',
    create_package: 'Create a package',
    add_balance: 'Adjust a balance',
  },
  menu: {
    welcome: (p: { firstName: string; balance: number }) =>
      `👋 Hello, ${esc(clip(p.firstName, 64))}!\n\n` +
      `Buy access to AI models by the token and use it from any OpenAI-compatible app or library.\n\n` +
      `💰 Balance: <b>${usd(p.balance)}</b>`,
    fallback: 'Please use the buttons below.',
  },
  help: (p: { baseUrl: string; starsRate: number }) =>
    `ℹ️ <b>How it works</b>\n\n` +
    `1. Top up your balance with Telegram Stars under 💰 Balance (1 ⭐ = ${formatUsd(p.starsRate, { precise: true })}).\n` +
    `2. Pick a package under 🤖 AI Tokens and buy it. You get an API key, shown once — save it.\n` +
    `3. Point any OpenAI-compatible client at the base URL below with your key.\n\n` +
    `Base URL: <code>${esc(p.baseUrl)}</code>\n` +
    `Header: <code>Authorization: Bearer sk-arb-…</code>\n` +
    `Endpoints: <code>POST /chat/completions</code>, <code>GET /models</code>, <code>GET /key</code> (remaining tokens).\n\n` +
    `A package of N tokens covers N prompt-equivalent tokens: a prompt token counts 1 and a completion token counts the model's completion/prompt price ratio (shown on each package). ` +
    `Requests are capped so a key never goes over its tokens.\n\n` +
    `Payment problems: /paysupport`,
  shop: {
    title: '🤖 <b>AI Tokens</b>',
    chooseCategory: 'Choose a category:',
    page: (category: string | null, page: number, pages: number) =>
      `${category ? `<b>${esc(clip(category, 64))}</b> · ` : ''}page ${page} of ${pages}. Tap a package for details.`,
    otherCategory: 'Other',
    listItem: (n: number, p: PackageText) =>
      `<b>${n}.</b> ${esc(clip(p.description, 60))}\n` +
      `    <code>${esc(p.model)}</code> · ${num(p.tokens)} tokens · <b>${usd(p.price)}</b> · ${num(p.validityDays)} days · ` +
      (p.rule ? esc(describeRule(p.rule)) : 'rule pending'),
    empty: 'No packages are on sale right now. Please check back later.',
    details: (p: PackageText) =>
      `📦 <b>${esc(p.description)}</b>\n\n` +
      `Model: <code>${esc(p.model)}</code>${p.modelName ? ` (${esc(clip(p.modelName, 80))})` : ''}\n` +
      `Tokens: <b>${num(p.tokens)}</b>\n` +
      `Price: <b>${usd(p.price)}</b>\n` +
      `Valid for: ${num(p.validityDays)} days from purchase\n` +
      (p.rule
        ? `Metering: ${esc(describeRule(p.rule))}\n` + `Model rates: ${rate(p.promptRate)} per 1M prompt tokens, ${rate(p.completionRate)} per 1M completion tokens`
        : 'Metering: the rule is shown once the model has fixed prices'),
    unavailable: 'This package is no longer on sale.',
    confirm: (p: { description: string; model: string; tokens: number; price: number; balance: number }) =>
      `🛒 <b>Confirm your purchase</b>\n\n` +
      `${esc(p.description)}\n` +
      `${num(p.tokens)} tokens of <code>${esc(p.model)}</code> for <b>${usd(p.price)}</b>.\n\n` +
      `Balance: ${usd(p.balance)} → ${usd(p.balance - p.price)} after the purchase.`,
    insufficient: (p: { price: number; balance: number }) =>
      `❌ <b>Not enough balance.</b>\n\n` +
      `This package costs ${usd(p.price)}; your balance is ${usd(p.balance)}. ` +
      `Top up at least ${usd(p.price - p.balance)} and try again. Nothing was charged.`,
    purchased: (p: { description: string; model: string; tokens: number; price: number; balance: number; expiresAt: string; key: string; baseUrl: string; rule: MeteringRule | null; curl: string }) =>
      `✅ <b>Purchase complete</b>: ${esc(p.description)}\n` +
      `${num(p.tokens)} tokens of <code>${esc(p.model)}</code> for ${usd(p.price)}; valid until ${formatDbTime(p.expiresAt)}. Balance: ${usd(p.balance)}.\n\n` +
      `🔑 <b>Your API key</b> — shown only this once. Tap to reveal, copy it and keep it safe:\n` +
      `<tg-spoiler>${esc(p.key)}</tg-spoiler>\n\n` +
      `Base URL: <code>${esc(p.baseUrl)}</code>\n` +
      `Model: <code>${esc(p.model)}</code>\n` +
      (p.rule ? `Metering: ${esc(describeRule(p.rule))}\n` : '') +
      `\nTry it (the command contains your key):\n` +
      `<tg-spoiler>${esc(p.curl)}</tg-spoiler>`,
    alreadyPurchased: 'This purchase is already complete — your key is under 🔑 My Keys.',
    keyDeliveryNote: 'Your key was sent in a new message below.',
  },
  balance: {
    show: (p: { balance: number; rows: LedgerRowText[] }) =>
      `💰 <b>Balance: ${usd(p.balance)}</b>\n\n` +
      (p.rows.length === 0
        ? 'No activity yet. Top up with Telegram Stars to get started.'
        : `Recent activity:\n` +
          p.rows
            .map((r) => `${formatDbTime(r.createdAt).slice(0, 16)} · ${TX_TYPES[r.type]} · <b>${signed(r.amount)}</b> → ${usd(r.balanceAfter)}${r.note ? ` · ${esc(clip(r.note, 40))}` : ''}`)
            .join('\n')),
  },
  keys: {
    none: '🔑 You have no keys yet. Buy a package under 🤖 AI Tokens.',
    title: (total: number) => `🔑 <b>Your keys</b> (${total})`,
    key: (k: KeyText) => {
      const remaining = Math.max(0, k.total - k.used - k.reserved);
      const state = k.status === 'active' ? `expires ${formatDbTime(k.expiresAt)}` : k.status === 'expired' ? `<b>expired</b> ${formatDbTime(k.expiresAt)}` : '<b>revoked</b>';
      return `<code>${esc(k.masked)}</code> · ${esc(k.model)}\n${num(remaining)} of ${num(k.total)} tokens left · ${state}` + (k.description ? `\n<i>${esc(clip(k.description, 60))}</i>` : '');
    },
    more: (omitted: number) => `…and ${num(omitted)} more.`,
    footer: (baseUrl: string) => `Base URL: <code>${esc(baseUrl)}</code> · remaining tokens: <code>GET /key</code>`,
  },
  topup: {
    choose: (p: { microsPerStar: number }) =>
      `⭐ <b>Top up with Telegram Stars</b>\n\n1 ⭐ = ${formatUsd(p.microsPerStar, { precise: true })}. Choose an amount; Telegram shows the payment form.`,
    invoiceTitle: (micros: number) => `Balance top-up ${usd(micros)}`,
    invoiceDescription: (stars: number, micros: number) => `${num(stars)} Telegram Stars add ${usd(micros)} to your balance in this shop.`,
    priceLabel: 'Balance top-up',
    invalidInvoice: 'This invoice is no longer valid. Please open 💰 Balance and create a new one.',
    credited: (p: { stars: number; amount: number; balance: number }) =>
      `✅ Payment received: ${num(p.stars)} ⭐ → <b>${usd(p.amount)}</b> added.\n💰 Balance: <b>${usd(p.balance)}</b>`,
    paysupport:
      `💬 <b>Payment support</b>\n\n` +
      `Stars payments are added to your balance automatically, exactly once, a few seconds after you pay.\n` +
      `If a payment did not arrive, or you want unused balance back, describe it after the command, for example:\n` +
      `<code>/paysupport I paid 100 stars at 14:05 and my balance did not change</code>\n` +
      `The shop's operator will get back to you here.`,
    paysupportSent: '✅ Sent to the operator. They will get back to you here.',
  },
  admin: {
    denied: '🚫 Sorry, this is only for the shop’s administrators.',
    menu: '🤖 <b>AI Token Arbitrage</b>\n\nAdmin tools:',
    stats: (p: { today: StatsPeriodText; week: StatsPeriodText; all: StatsPeriodText; top: { model: string; sales: number; revenue: number; profit: number }[] }) => {
      const line = (label: string, s: StatsPeriodText) =>
        `<b>${label}</b>: revenue ${usd(s.revenue)} · cost ${usd(s.cost)} · profit ${usd(s.profit)} · margin ${s.marginPercent === null ? '—' : `${s.marginPercent.toFixed(1)} %`} · ${num(s.sales)} sale${s.sales === 1 ? '' : 's'}`;
      return (
        `📊 <b>Arbitrage stats</b>\n\n` +
        `${line('Today', p.today)}\n${line('7 days', p.week)}\n${line('All time', p.all)}\n\n` +
        `<b>Top models</b> (all time):\n` +
        (p.top.length === 0
          ? 'no sales yet'
          : p.top.map((m, i) => `${i + 1}. <code>${esc(m.model)}</code> — ${num(m.sales)} sale${m.sales === 1 ? '' : 's'} · revenue ${usd(m.revenue)} · profit ${usd(m.profit)}`).join('\n'))
      );
    },
    packages: (page: number, pages: number, total: number) => `📦 <b>Packages</b> (${num(total)}) · page ${page} of ${pages}\nTap a package to enable or disable it.`,
    packageLine: (p: { id: number; available: boolean; hold: string | null; model: string; tokens: number; price: number; description: string }) =>
      `${p.available ? '✅' : '⛔'} #${p.id} <code>${esc(p.model)}</code> · ${num(p.tokens)} tokens · ${usd(p.price)}${p.hold ? ` · on hold (${esc(p.hold)})` : ''}\n    ${esc(clip(p.description, 80))}`,
    noPackages: 'No packages yet. Create one with ➕ Create Package.',
    toggled: (id: number, available: boolean) => `Package #${id} ${available ? 'enabled' : 'disabled'}.`,
    createHelp:
      `➕ <b>Create a package</b>\n\n` +
      `Send:\n<code>/create_package gpt-4 100000 "GPT-4 Premium Access - 100k tokens"</code>\n\n` +
      `model (OpenRouter id or a short name), tokens, description in quotes, and optionally a price in USD. ` +
      `Without a price it is priced from the model's rate with the configured markup.`,
    created: (p: { id: number; description: string; model: string; tokens: number; cost: number; price: number; profit: number; marginPercent: number; validityDays: number }) =>
      `✅ <b>Package #${p.id} created</b>: ${esc(p.description)}\n` +
      `<code>${esc(p.model)}</code> · ${num(p.tokens)} tokens · valid ${num(p.validityDays)} days\n` +
      `Cost ${usd(p.cost)} · price <b>${usd(p.price)}</b> · profit ${usd(p.profit)} · margin ${p.marginPercent.toFixed(1)} %\n` +
      `It is on sale now.`,
    createUsage: `Usage: <code>/create_package &lt;model&gt; &lt;tokens&gt; "&lt;description&gt;" [price_usd]</code>\nExample: <code>/create_package gpt-4 100000 "GPT-4 Premium Access - 100k tokens"</code>`,
    failed: (message: string) => `❌ ${esc(clip(message, 1500))}`,
    addBalanceUsage: `Usage: <code>/add_balance &lt;telegram_id&gt; &lt;usd&gt;</code>\nExample: <code>/add_balance 123456789 10</code>`,
    balanceAdded: (p: { telegramId: number; amount: number; balance: number }) => `✅ ${signed(p.amount)} for <code>${p.telegramId}</code>. Their balance is now <b>${usd(p.balance)}</b>.`,
    balanceAddedDuplicate: 'This adjustment was already applied.',
    customerCredited: (p: { amount: number; balance: number }) => `💰 Your balance was adjusted by the shop: <b>${signed(p.amount)}</b>. Balance: <b>${usd(p.balance)}</b>.`,
    cleanupDone: (n: number) => (n === 0 ? '🧹 Nothing to clean up: no active key is past its expiry.' : `🧹 Marked ${num(n)} key${n === 1 ? '' : 's'} past expiry as expired.`),
    supportRequest: (p: { telegramId: number; name: string; text: string }) => `💬 Payment support request from ${p.name} (id ${p.telegramId}):\n${p.text}`,
    operationalAlert: (text: string) => `⚠️ <b>arb alert</b>\n${esc(text)}`,
  },
  alerts: {
    usage: (k: AlertKeyText) =>
      `⚠️ Your key <code>${esc(k.masked)}</code> (${esc(k.model)}) has used ${Math.floor((k.used * 100) / k.total)} % of its tokens: ${num(Math.max(0, k.total - k.used))} of ${num(k.total)} left.\nBuy another package under 🤖 AI Tokens to keep going without interruption.`,
    expiry: (k: AlertKeyText) =>
      `⏳ Your key <code>${esc(k.masked)}</code> (${esc(k.model)}) expires on ${formatDbTime(k.expiresAt)}, with ${num(Math.max(0, k.total - k.used))} tokens left. Use them before then.`,
  },
  errors: {
    generic: '⚠️ Something went wrong on our side. Please try again in a minute.',
    rateLimited: '⏳ Too many requests — please slow down a little.',
    privateOnly: 'Please talk to me in a private chat.',
  },
};

/** The shape every locale file's default export has. */
export type Locale = typeof en;

export default en;
