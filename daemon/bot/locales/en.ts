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
  /** cost of tokens sold (cost basis of the paid sales) */
  cost: number;
  profit: number;
  marginPercent: number | null;
  sales: number;
  /** what OpenRouter actually charged */
  upstreamSpend: number;
  revenueOfTokensUsed: number;
  realisedMarginPercent: number | null;
  freeGrants: number;
  freeGrantTokens: number;
  freeGrantCost: number;
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
    support: '✉️ Support',
    redeem: '🎁 Redeem a code',
    disablePackage: (id: number) => `⛔ Take #${id} off sale`,
    createConfirm: '✅ Create package',
    setPrice: '✏️ Set a price',
    noCategory: 'No category',
    categories: '🗂 Categories',
    newCategory: '➕ New category',
    newSubcategory: '➕ New subcategory',
    renameCategory: '✏️ Rename',
    deleteCategory: '🗑 Delete',
    deleteCategoryConfirm: '🗑 Delete it',
    copyKey: '📋 Copy key',
    payAndBuy: (stars: number) => `⭐ Pay ${num(stars)} ⭐ and buy`,
    continueBuy: (description: string, price: number) => `🛒 Buy ${clip(description, 24)} for ${usd(price)}`,
    replaceKey: (masked: string) => `🔁 Replace ${masked}`,
    replaceConfirm: '✅ Replace key',
    replyToSupport: '✉️ Reply',
    tickets: (open: number) => `🎫 Support tickets (${open})`,
    ticket: (id: number, name: string, text: string) => `#${id} ${clip(name, 16)}: ${clip(text.replace(/\s+/g, ' '), 30)}`,
    answerTicket: '↩️ Answer',
    closeTicket: '✅ Close ticket',
    refundStars: (stars: number) => `💸 Refund ${num(stars)} ⭐`,
    refundConfirm: (stars: number) => `✅ Refund ${num(stars)} ⭐`,
    refundAnyway: (loss: number) => `⚠️ Refund anyway (loss ${usd(loss)})`,
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
      `👋 Hello, ${esc(clip(p.firstName, 64))}!\n\n` + `Buy access to AI models by the token and use it from any OpenAI-compatible app or library.\n\n` + `💰 Balance: <b>${usd(p.balance)}</b>`,
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
    `Questions: /support · payment problems: /paysupport · gift codes: /redeem · terms: /terms`,
  terms: {
    title: '📄 <b>Terms of service</b>',
    none: '📄 This shop has not published terms yet. Questions: /support',
    unavailable: '📄 The terms cannot be shown right now. Please try again later or ask /support.',
  },
  fallback: {
    unknownCommand: "🤔 I don't know that command. /help lists what I can do.",
    text: "🤔 I didn't understand that. /help lists what I can do.",
  },
  shop: {
    title: '🤖 <b>AI Tokens</b>',
    chooseCategory: 'Choose a category:',
    page: (category: string | null, page: number, pages: number) => `${category ? `<b>${esc(clip(category, 64))}</b> · ` : ''}page ${page} of ${pages}. Tap a package for details.`,
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
    insufficient: (p: { price: number; balance: number; stars: number }) =>
      `❌ <b>Not enough balance.</b>\n\n` +
      `This package costs ${usd(p.price)}; your balance is ${usd(p.balance)}, ${usd(p.price - p.balance)} short. ` +
      `Pay ${num(p.stars)} ⭐ and the package is bought as soon as the payment arrives, or top up first. Nothing was charged.`,
    receipt: (p: { description: string; model: string; tokens: number; price: number; balance: number; expiresAt: string }) =>
      `✅ <b>Purchase complete</b>: ${esc(p.description)}\n` +
      `${num(p.tokens)} tokens of <code>${esc(p.model)}</code> for ${usd(p.price)}; valid until ${formatDbTime(p.expiresAt)}. Balance: ${usd(p.balance)}.\n\n` +
      `🔑 Your API key is in the next message — copy it and keep it safe.`,
    keyNotDelivered: `⚠️ The purchase is complete, but the message with your key could not be sent. ` + `Open 🔑 My Keys and tap 🔁 Replace key to get a working key; nothing is lost.`,
    alreadyPurchased: 'This purchase is already complete — your key is in the message after the receipt (or 🔑 My Keys → 🔁 Replace key).',
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
    footer: (baseUrl: string) => `Base URL: <code>${esc(baseUrl)}</code> · remaining tokens: <code>GET /key</code>\nLost a key? Tap 🔁 to get a new one for the same tokens.`,
    delivered: (p: { key: string; model: string; description: string | null; tokens: number; expiresAt: string; baseUrl: string; curl: string; openai: string; claudeCode: string | null }) =>
      `🔑 <b>Your API key</b>${p.description ? ` · ${esc(clip(p.description, 80))}` : ''}\n` +
      `<tg-spoiler>${esc(p.key)}</tg-spoiler>\n` +
      `Shown in full only here: copy it with the button below and keep it secret. If you lose it, 🔑 My Keys → 🔁 Replace key.\n\n` +
      `Base URL: <code>${esc(p.baseUrl)}</code>\n` +
      `Model: <code>${esc(p.model)}</code> · ${num(p.tokens)} tokens · valid until ${formatDbTime(p.expiresAt)}\n\n` +
      `<b>curl</b>\n<pre><code class="language-bash">${esc(p.curl)}</code></pre>\n` +
      `<b>OpenAI SDK</b> (Python, Node, Codex…)\n<pre><code class="language-bash">${esc(p.openai)}</code></pre>` +
      (p.claudeCode ? `\n<b>Claude Code</b>\n<pre><code class="language-bash">${esc(p.claudeCode)}</code></pre>` : ''),
    replaceConfirm: (masked: string) => `🔁 <b>Replace key</b> <code>${esc(masked)}</code>?\n\n` + `You get a new key at once and the old one stops working. Tokens, expiry and usage carry over.`,
    replaced: (masked: string) => `✅ Key <code>${esc(masked)}</code> was replaced and no longer works. Your new key is in the message below.`,
    alreadyReplaced: 'This key was already replaced — the new one is in the message after that confirmation.',
    cannotReplace: 'This key cannot be replaced: it is expired or revoked, or not yours.',
  },
  topup: {
    choose: (p: { microsPerStar: number }) => `⭐ <b>Top up with Telegram Stars</b>\n\n1 ⭐ = ${formatUsd(p.microsPerStar, { precise: true })}. Choose an amount; Telegram shows the payment form.`,
    invoiceTitle: (micros: number) => `Balance top-up ${usd(micros)}`,
    invoiceDescription: (stars: number, micros: number) => `${num(stars)} Telegram Stars add ${usd(micros)} to your balance in this shop.`,
    priceLabel: 'Balance top-up',
    invalidInvoice: 'This invoice is no longer valid. Please open 💰 Balance and create a new one.',
    credited: (p: { stars: number; amount: number; balance: number }) => `✅ Payment received: ${num(p.stars)} ⭐ → <b>${usd(p.amount)}</b> added.\n💰 Balance: <b>${usd(p.balance)}</b>`,
    continueWith: (p: { description: string; price: number; enough: boolean }) =>
      p.enough
        ? `\n\nContinue with the package you picked: ${esc(clip(p.description, 80))} for ${usd(p.price)}.`
        : `\n\nThe package you picked (${esc(clip(p.description, 80))}, ${usd(p.price)}) needs a little more.`,
    buyInvoiceTitle: (description: string) => `Buy: ${description}`,
    buyInvoiceDescription: (p: { stars: number; amount: number; description: string; price: number }) =>
      `${num(p.stars)} ⭐ add ${usd(p.amount)} to your balance, and ${p.description} (${usd(p.price)}) is bought with it at once.`,
    buyPriceLabel: 'Top-up and purchase',
    purchaseChanged: 'The package or its price changed since this invoice was made. Nothing was charged; please open it again.',
    buyFailed: (p: { amount: number; balance: number }) =>
      `✅ Payment received: <b>${usd(p.amount)}</b> added (balance ${usd(p.balance)}), but the package could not be bought now — it is no longer on sale or its price changed. ` +
      `Your balance keeps the money; pick a package under 🤖 AI Tokens.`,
    notCredited: `⚠️ This payment could not be credited automatically. The shop's operator has been told and will sort it out here; ` + `if you need to, write to /paysupport.`,
  },
  /**
   * Support tickets. The first characters of the prompts and of the ticket messages are markers the bot
   * recognises when someone replies to them: keep `✉️ `, `✉️ ⭐ `, `✉️ #N `, `🎫 #N ` and `↩️ #N ` at the start.
   */
  support: {
    prompt: `✉️ <b>Write to support</b>\n\n` + `Reply to this message with your question or problem, in one message. The shop's operator answers here.`,
    paymentPrompt:
      `✉️ ⭐ <b>Payment support</b>\n\n` +
      `Stars payments are added to your balance automatically, exactly once, a few seconds after you pay. ` +
      `If a payment did not arrive, or you want a payment refunded, reply to this message saying when you paid and how many ⭐. ` +
      `The shop's operator answers here.`,
    followUpPrompt: (id: number) => `✉️ #${id} · Reply to this message to add to your ticket.`,
    received: (id: number) => `✅ We got your message — ticket <b>#${id}</b>. The shop's operator will answer here.`,
    savedNoAdmin: (id: number) =>
      `📝 Your message is saved as ticket <b>#${id}</b>, but no operator could be reached right now. ` + `It stays open and they will see it when they check their tickets — no need to send it again.`,
    followUpReceived: (id: number) => `✅ Added to ticket <b>#${id}</b>.`,
    answer: (p: { id: number; text: string }) => `💬 <b>Support</b> · ticket #${p.id}\n\n${esc(clip(p.text, 3900))}`,
    closed: (id: number) => `✅ Ticket #${id} is closed. If you need anything else, write to /support.`,
    notYours: 'That ticket is not yours; your message was filed as a new ticket.',
    adminTicket: (p: { id: number; name: string; telegramId: number; text: string; payment: { stars: number; amount: number; chargeId: string } | null }) =>
      `🎫 #${p.id} · <b>Support ticket</b> from ${esc(clip(p.name, 80))} (<code>${p.telegramId}</code>)\n` +
      (p.payment ? `Payment: ${num(p.payment.stars)} ⭐ (${usd(p.payment.amount)}) · <code>${esc(p.payment.chargeId)}</code>\n` : '') +
      `\n${esc(clip(p.text, 3000))}\n\n<i>Reply to this message to answer.</i>`,
    adminFollowUp: (p: { id: number; name: string; telegramId: number; text: string }) =>
      `🎫 #${p.id} · ${esc(clip(p.name, 80))} (<code>${p.telegramId}</code>) writes:\n\n${esc(clip(p.text, 3000))}\n\n<i>Reply to this message to answer.</i>`,
    replyPrompt: (id: number) => `↩️ #${id} · Write your answer to the customer as a reply to this message.`,
    replySent: (id: number) => `✅ Sent to the customer (ticket #${id}).`,
    replyNotDelivered: (id: number) => `⚠️ Saved on ticket #${id}, but the customer cannot be reached (they blocked the bot or deleted their account).`,
    list: (p: { open: number; page: number; pages: number }) => `🎫 <b>Open support tickets</b> (${num(p.open)}) · page ${p.page} of ${p.pages}\nTap one to read, answer or close it.`,
    none: '🎫 No open support tickets.',
    view: (p: { id: number; name: string; telegramId: number; status: string; createdAt: string; payment: { stars: number; amount: number; chargeId: string; refunded: boolean } | null }) =>
      `🎫 #${p.id} · ${esc(clip(p.name, 80))} (<code>${p.telegramId}</code>) · ${p.status === 'open' ? 'open' : '<b>closed</b>'} · ${formatDbTime(p.createdAt)}` +
      (p.payment ? `\nPayment: ${num(p.payment.stars)} ⭐ (${usd(p.payment.amount)})${p.payment.refunded ? ' · <b>refunded</b>' : ''} · <code>${esc(p.payment.chargeId)}</code>` : ''),
    message: (p: { who: 'customer' | 'admin' | 'operator'; at: string; text: string }) => `<b>${p.who === 'customer' ? '👤 Customer' : '🛠 Support'}</b> · ${formatDbTime(p.at)}\n${esc(p.text)}`,
    more: (n: number) => `…${num(n)} more (arb support show).`,
    closedByAdmin: (id: number) => `Ticket #${id} closed.`,
    alreadyClosed: (id: number) => `Ticket #${id} was already closed.`,
    gone: 'That ticket does not exist.',
  },
  redeem: {
    prompt: `🎁 <b>Redeem a gift code</b>\n\nReply to this message with your code; it looks like ARB-XXXX-XXXX-XXXX-XXXX.`,
    credited: (p: { amount: number; balance: number }) => `🎁 Code redeemed: <b>+${usd(p.amount)}</b> added to your balance.\n💰 Balance: <b>${usd(p.balance)}</b>`,
    granted: (description: string) => `🎁 Code redeemed: <b>${esc(clip(description, 120))}</b> is yours. Your API key is in the next message.`,
    grantedBefore: '🎁 This code was already redeemed for you; the key was sent then (lost it? 🔑 My Keys → 🔁 Replace key).',
    invalid: '❌ That is not a valid gift code. Check it and try again.',
    used: '❌ This gift code has already been used.',
    usedByYou: '✅ You already redeemed this code.',
    expired: (at: string) => `❌ This gift code expired on ${formatDbTime(at)}.`,
    limited: (minutes: number) => `⏳ Too many wrong codes. Please try again in ${num(minutes)} min.`,
  },
  create: {
    intro: `➕ <b>New package</b> · step 1 of 5: the model\n\n` + `Type part of the model's name or id to search, e.g. <code>gpt-4</code> or <code>claude sonnet</code>. ✖️ Cancel or /cancel stops.`,
    matches: (query: string, models: { modelId: string; name: string; promptRate: number; completionRate: number }[]) =>
      `Models matching “${esc(clip(query, 60))}” — tap one, or type another search:\n\n` +
      models.map((m) => `<code>${esc(m.modelId)}</code> · ${esc(clip(m.name, 60))} · ${rate(m.promptRate)} / ${rate(m.completionRate)} per 1M`).join('\n'),
    noMatch: (query: string) => `No priced model matches “${esc(clip(query, 60))}”. Try another word (arb models lists them).`,
    askTokens: (m: { modelId: string; promptRate: number; completionRate: number }) =>
      `➕ Step 2 of 5: tokens\n\nModel: <code>${esc(m.modelId)}</code> (${rate(m.promptRate)} per 1M prompt tokens, ${rate(m.completionRate)} per 1M completion tokens).\n` +
      `How many tokens? e.g. <code>100000</code>, <code>100k</code> or <code>1M</code>.`,
    badTokens: (max: number) => `❌ That is not a number of tokens; send e.g. 100000, 100k or 1M (at most ${num(max)}).`,
    askDescription: (max: number) => `➕ Step 3 of 5: description\n\nThe text customers see, e.g. “GPT-4 Premium Access - 100k tokens” (at most ${num(max)} characters).`,
    badDescription: (max: number) => `❌ Send the description as text, 1 to ${num(max)} characters.`,
    askCategory: '➕ Step 4 of 5: category\n\nWhere does it go in the shop?',
    preview: (p: {
      model: string;
      tokens: number;
      description: string;
      category: string | null;
      unitRate: number;
      cost: number;
      price: number;
      profit: number;
      marginPercent: number;
      floor: number;
      explicit: boolean;
      markupPercent: number;
      bulkPercent: number;
      validityDays: number;
    }) =>
      `➕ Step 5 of 5: check and create\n\n` +
      `📦 <b>${esc(p.description)}</b>\n` +
      `Model: <code>${esc(p.model)}</code> · ${num(p.tokens)} tokens · valid ${num(p.validityDays)} days · category: ${p.category ? esc(p.category) : 'none'}\n\n` +
      `Cost of the tokens: ${usd(p.cost)} (${num(p.tokens)} × ${rate(p.unitRate)} per 1M)\n` +
      `Price: <b>${usd(p.price)}</b> ` +
      (p.explicit ? '(set by you)' : `(markup ${p.markupPercent} %${p.bulkPercent > 0 ? `, bulk discount ${p.bulkPercent} %` : ''})`) +
      `\nProfit: ${usd(p.profit)} · margin <b>${p.marginPercent.toFixed(1)} %</b> · lowest allowed price ${usd(p.floor)}`,
    askPrice: (floor: number) => `✏️ Send the price in USD, at least ${usd(floor)} (the margin floor), e.g. ${(floor / 1e6).toFixed(2)}.`,
    badPrice: (floor: number) => `❌ Send a USD amount of at least ${usd(floor)}, e.g. ${(floor / 1e6).toFixed(2)}.`,
    cancelled: 'Package creation cancelled; nothing was created.',
  },
  categories: {
    title: (n: number) => `🗂 <b>Categories</b> (${num(n)})\nThey group the packages in the shop. Tap one to rename or delete it.`,
    none: '🗂 No categories yet. Packages without one are listed under “Other” in the shop.',
    line: (p: { id: number; name: string; packages: number; subcategories: number }) =>
      `#${p.id} ${esc(clip(p.name, 80))} · ${num(p.packages)} package${p.packages === 1 ? '' : 's'}${p.subcategories ? ` · ${num(p.subcategories)} subcategor${p.subcategories === 1 ? 'y' : 'ies'}` : ''}`,
    view: (p: { id: number; name: string; parent: string | null; packages: number; subcategories: number; createdAt: string }) =>
      `🗂 <b>${esc(p.name)}</b> (#${p.id})${p.parent ? `\nUnder: ${esc(p.parent)}` : ''}\n` +
      `${num(p.packages)} package${p.packages === 1 ? '' : 's'} · ${num(p.subcategories)} subcategor${p.subcategories === 1 ? 'y' : 'ies'} · created ${formatDbTime(p.createdAt)}`,
    askName: '🗂 ➕ New category: reply to this message with its name, e.g. OpenAI.',
    askSubName: (parentId: number) => `🗂 ➕ #${parentId} New subcategory: reply to this message with its name.`,
    askRename: (id: number) => `🗂 ✏️ #${id} Rename: reply to this message with the new name.`,
    created: (p: { id: number; name: string }) => `✅ Category #${p.id} “${esc(p.name)}” created. Pick it when you create a package.`,
    renamed: (p: { id: number; from: string; to: string }) => `✅ Category #${p.id} renamed: “${esc(p.from)}” → “${esc(p.to)}”.`,
    inUse: (p: { name: string; packages: { id: number; model: string; description: string }[]; morePackages: number; subcategories: string[] }) =>
      `🚫 <b>“${esc(clip(p.name, 80))}” is in use</b> and cannot be deleted.\n` +
      (p.packages.length
        ? `\nPackages:\n${p.packages.map((x) => `#${x.id} <code>${esc(x.model)}</code> ${esc(clip(x.description, 60))}`).join('\n')}${p.morePackages ? `\n…and ${num(p.morePackages)} more` : ''}\n`
        : '') +
      (p.subcategories.length ? `\nSubcategories: ${p.subcategories.map((x) => esc(clip(x, 40))).join(', ')}\n` : '') +
      `\nMove them first (arb category delete --move-to, or give the packages another category), or rename the category instead.`,
    confirmDelete: (p: { id: number; name: string }) => `🗑 Delete category #${p.id} “${esc(clip(p.name, 80))}”? No package uses it.`,
    deleted: (name: string) => `Category “${clip(name, 60)}” deleted.`,
  },
  refunds: {
    confirm: (p: { stars: number; amount: number; name: string; telegramId: number; balance: number; shortfall: number }) =>
      `💸 <b>Refund ${num(p.stars)} ⭐</b> (${usd(p.amount)}) to ${esc(clip(p.name, 80))} (<code>${p.telegramId}</code>)?\n\n` +
      `Telegram gives the Stars back and ${usd(p.amount)} is taken from their balance (now ${usd(p.balance)}).` +
      (p.shortfall > 0 ? `\n\n⚠️ They already spent ${usd(p.shortfall)} of it: refunding anyway records a loss of <b>${usd(p.shortfall)}</b> (their balance goes to $0.00).` : ''),
    done: (p: { stars: number; takenBack: number; loss: number }) =>
      `✅ Refunded ${num(p.stars)} ⭐. ${usd(p.takenBack)} taken back from the balance` + (p.loss > 0 ? `; loss recorded: <b>${usd(p.loss)}</b>.` : '.'),
    already: (at: string | null) => `This payment was already refunded${at ? ` (${formatDbTime(at)})` : ''}. Nothing changed.`,
    failed: (message: string) => `❌ ${esc(clip(message, 1500))}`,
    customerNotice: (p: { stars: number; amount: number }) => `💸 Your payment of ${num(p.stars)} ⭐ was refunded; ${usd(p.amount)} was taken from your balance.`,
    gone: 'No such Stars payment.',
  },
  admin: {
    denied: '🚫 Sorry, this is only for the shop’s administrators.',
    menu: '🤖 <b>AI Token Arbitrage</b>\n\nAdmin tools:',
    stats: (p: { today: StatsPeriodText; week: StatsPeriodText; all: StatsPeriodText; top: { model: string; sales: number; revenue: number; profit: number }[] }) => {
      const pct = (v: number | null) => (v === null ? '—' : `${v.toFixed(1)} %`);
      const block = (label: string, s: StatsPeriodText) =>
        `<b>${label}</b>\n` +
        `Revenue ${usd(s.revenue)} · cost of tokens sold ${usd(s.cost)} · profit ${usd(s.profit)} · margin ${pct(s.marginPercent)} · ${num(s.sales)} sale${s.sales === 1 ? '' : 's'}\n` +
        `Upstream spend ${usd(s.upstreamSpend)} · revenue of tokens used ${usd(s.revenueOfTokensUsed)} · realised margin ${pct(s.realisedMarginPercent)}` +
        (s.freeGrants > 0 ? `\nFree grants: ${num(s.freeGrants)} (${num(s.freeGrantTokens)} tokens, cost basis ${usd(s.freeGrantCost)}) — not sales` : '');
      return (
        `📊 <b>Arbitrage stats</b>\n\n` +
        `${block('Today', p.today)}\n\n${block('7 days', p.week)}\n\n${block('All time', p.all)}\n\n` +
        `<b>Top models</b> (all time):\n` +
        (p.top.length === 0
          ? 'no sales yet'
          : p.top.map((m, i) => `${i + 1}. <code>${esc(m.model)}</code> — ${num(m.sales)} sale${m.sales === 1 ? '' : 's'} · revenue ${usd(m.revenue)} · profit ${usd(m.profit)}`).join('\n'))
      );
    },
    chartCaption: (days: number) => `📈 Revenue (blue) and profit (green; red when negative) per day, last ${num(days)} days (UTC).`,
    packages: (page: number, pages: number, total: number) => `📦 <b>Packages</b> (${num(total)}) · page ${page} of ${pages}\nTap a package to enable or disable it.`,
    packageLine: (p: { id: number; available: boolean; hold: string | null; model: string; tokens: number; price: number; description: string }) =>
      `${p.available ? '✅' : '⛔'} #${p.id} <code>${esc(p.model)}</code> · ${num(p.tokens)} tokens · ${usd(p.price)}${p.hold ? ` · on hold (${esc(p.hold)})` : ''}\n    ${esc(clip(p.description, 80))}`,
    noPackages: 'No packages yet. Create one with ➕ Create Package.',
    confirmDisable: (p: { id: number; description: string; price: number; activeKeys: number }) =>
      `⛔ <b>Take package #${p.id} off sale?</b>\n${esc(clip(p.description, 120))} · ${usd(p.price)}\n\n` +
      `It is on sale now: customers will no longer see or buy it. ` +
      `${p.activeKeys > 0 ? `The ${num(p.activeKeys)} active key${p.activeKeys === 1 ? ' already sold keeps' : 's already sold keep'} working until ${p.activeKeys === 1 ? 'it expires' : 'they expire'}.` : 'No active keys use it.'} You can enable it again any time.`,
    toggled: (id: number, available: boolean) => `Package #${id} ${available ? 'enabled' : 'disabled'}.`,
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
    operationalAlert: (text: string) => `⚠️ <b>arb alert</b>\n${esc(text)}`,
    paymentRejected: (p: { telegramId: number; currency: string; amount: unknown; chargeId: string; reason: string }) =>
      `⚠️ <b>Payment not credited</b> from <code>${p.telegramId}</code>: ${esc(p.reason)}.\n` +
      `currency ${esc(clip(String(p.currency), 16))}, amount ${esc(clip(String(p.amount), 32))}, charge id <code>${esc(clip(p.chargeId || '(empty)', 128))}</code>. ` +
      `Logged as a security event; check it before crediting by hand.`,
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
