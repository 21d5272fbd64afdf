/**
 * Russian bot texts. Same shape as en.ts (checked by `satisfies Locale`); button labels of the main
 * menu stay recognisable with the same emoji.
 */
import { formatUsd } from '../../../src/money.js';
import type { MeteringRule } from '../../../src/pricing.js';
import type { TransactionType } from '../../../src/db/database.js';
import { clip, esc, formatDbTime } from '../format.js';
import type { AlertKeyText, KeyText, LedgerRowText, Locale, PackageText, StatsPeriodText } from './en.js';

const num = (n: number) => n.toLocaleString('ru-RU');
const usd = (micros: number) => formatUsd(micros);
const rate = (microsPerMtok: number | null) => (microsPerMtok === null ? '?' : formatUsd(microsPerMtok, { precise: true }));
const signed = (micros: number) => (micros > 0 ? `+${usd(micros)}` : usd(micros));

function rule(r: MeteringRule): string {
  if (r.completionWeightNum === r.completionWeightDen) return 'каждый токен запроса и ответа считается за 1';
  const w = r.completionWeightNum / r.completionWeightDen;
  const shown = Number.isInteger(w) ? String(w) : w.toFixed(3).replace(/0+$/, '');
  return `токен запроса считается за 1, токен ответа — за ${shown.replace('.', ',')}`;
}

const TX_TYPES: Record<TransactionType, string> = { topup: 'Пополнение', purchase: 'Покупка', refund: 'Возврат', adjustment: 'Корректировка' };

const ru = {
  code: 'ru',
  commands: {
    start: 'Главное меню',
    shop: 'Купить AI-токены',
    balance: 'Баланс и пополнение',
    keys: 'Мои API-ключи',
    redeem: 'Активировать подарочный код',
    support: 'Написать в поддержку',
    paysupport: 'Поддержка по платежам',
    terms: 'Условия использования',
    help: 'Как это работает',
    admin: 'Меню администратора',
    token_stats: 'Статистика',
    tickets: 'Открытые обращения',
    create_package: 'Создать пакет',
    add_balance: 'Изменить баланс',
  },
  btn: {
    aiTokens: '🤖 AI-токены',
    balance: '💰 Баланс',
    myKeys: '🔑 Мои ключи',
    help: 'ℹ️ Помощь',
    mainMenu: '🏠 Главное меню',
    back: '⬅️ Назад',
    prev: '◀️ Назад',
    next: 'Далее ▶️',
    buy: (price: number) => `🛒 Купить за ${usd(price)}`,
    confirm: '✅ Подтвердить покупку',
    cancel: '✖️ Отмена',
    topUp: '⭐ Пополнить звёздами',
    stars: (stars: number, micros: number) => `${num(stars)} ⭐ → ${usd(micros)}`,
    category: (name: string | null, count: number) => `${clip(name ?? 'Другое', 40)} (${count})`,
    allPackages: (count: number) => `Все пакеты (${count})`,
    package: (description: string, price: number) => `${clip(description, 38)} · ${usd(price)}`,
    admin: '🤖 AI Token Arbitrage',
    stats: '📊 Статистика',
    managePackages: '📦 Пакеты',
    createPackage: '➕ Создать пакет',
    cleanup: '🧹 Очистить просроченные',
    togglePackage: (id: number, available: boolean, description: string) => `${available ? '✅' : '⛔'} #${id} ${clip(description, 32)}`,
    support: '✉️ Поддержка',
    redeem: '🎁 Активировать код',
    disablePackage: (id: number) => `⛔ Снять #${id} с продажи`,
    createConfirm: '✅ Создать пакет',
    setPrice: '✏️ Задать цену',
    noCategory: 'Без категории',
    categories: '🗂 Категории',
    newCategory: '➕ Новая категория',
    newSubcategory: '➕ Новая подкатегория',
    renameCategory: '✏️ Переименовать',
    deleteCategory: '🗑 Удалить',
    deleteCategoryConfirm: '🗑 Да, удалить',
    copyKey: '📋 Скопировать ключ',
    payAndBuy: (stars: number) => `⭐ Оплатить ${num(stars)} ⭐ и купить`,
    continueBuy: (description: string, price: number) => `🛒 Купить ${clip(description, 24)} за ${usd(price)}`,
    replaceKey: (masked: string) => `🔁 Заменить ${masked}`,
    replaceConfirm: '✅ Заменить ключ',
    replyToSupport: '✉️ Ответить',
    tickets: (open: number) => `🎫 Обращения (${open})`,
    ticket: (id: number, name: string, text: string) => `#${id} ${clip(name, 16)}: ${clip(text.replace(/\s+/g, ' '), 30)}`,
    answerTicket: '↩️ Ответить',
    closeTicket: '✅ Закрыть обращение',
    refundStars: (stars: number) => `💸 Вернуть ${num(stars)} ⭐`,
    refundConfirm: (stars: number) => `✅ Вернуть ${num(stars)} ⭐`,
    refundAnyway: (loss: number) => `⚠️ Всё равно вернуть (убыток ${usd(loss)})`,
  },
  menu: {
    welcome: (p: { firstName: string; balance: number }) =>
      `👋 Здравствуйте, ${esc(clip(p.firstName, 64))}!\n\n` +
      `Покупайте доступ к AI-моделям потокенно и пользуйтесь им из любого OpenAI-совместимого приложения или библиотеки.\n\n` +
      `💰 Баланс: <b>${usd(p.balance)}</b>`,
    fallback: 'Пожалуйста, воспользуйтесь кнопками ниже.',
  },
  help: (p: { baseUrl: string; starsRate: number }) =>
    `ℹ️ <b>Как это работает</b>\n\n` +
    `1. Пополните баланс звёздами Telegram в разделе 💰 Баланс (1 ⭐ = ${formatUsd(p.starsRate, { precise: true })}).\n` +
    `2. Выберите пакет в разделе 🤖 AI-токены и купите его. Вы получите API-ключ — он показывается один раз, сохраните его.\n` +
    `3. Укажите в любом OpenAI-совместимом клиенте базовый URL ниже и свой ключ.\n\n` +
    `Базовый URL: <code>${esc(p.baseUrl)}</code>\n` +
    `Заголовок: <code>Authorization: Bearer sk-arb-…</code>\n` +
    `Методы: <code>POST /chat/completions</code>, <code>GET /models</code>, <code>GET /key</code> (остаток токенов).\n\n` +
    `Пакет на N токенов покрывает N токенов в пересчёте на токены запроса: токен запроса считается за 1, токен ответа — по отношению цен ответа и запроса модели (указано у каждого пакета). ` +
    `Запросы ограничиваются так, чтобы ключ никогда не превысил свой объём.\n\n` +
    `Вопросы: /support · проблемы с оплатой: /paysupport · подарочные коды: /redeem · условия: /terms`,
  terms: {
    title: '📄 <b>Условия использования</b>',
    none: '📄 Магазин пока не опубликовал условия. Вопросы: /support',
    unavailable: '📄 Условия сейчас не удаётся показать. Попробуйте позже или напишите в /support.',
  },
  fallback: {
    unknownCommand: '🤔 Я не знаю такой команды. /help — что я умею.',
    text: '🤔 Я не понял. /help — что я умею.',
  },
  shop: {
    title: '🤖 <b>AI-токены</b>',
    chooseCategory: 'Выберите категорию:',
    page: (category: string | null, page: number, pages: number) =>
      `${category ? `<b>${esc(clip(category, 64))}</b> · ` : ''}страница ${page} из ${pages}. Нажмите на пакет, чтобы увидеть подробности.`,
    otherCategory: 'Другое',
    listItem: (n: number, p: PackageText) =>
      `<b>${n}.</b> ${esc(clip(p.description, 60))}\n` +
      `    <code>${esc(p.model)}</code> · ${num(p.tokens)} токенов · <b>${usd(p.price)}</b> · ${num(p.validityDays)} дн. · ` +
      (p.rule ? esc(rule(p.rule)) : 'правило уточняется'),
    empty: 'Сейчас нет пакетов в продаже. Загляните позже.',
    details: (p: PackageText) =>
      `📦 <b>${esc(p.description)}</b>\n\n` +
      `Модель: <code>${esc(p.model)}</code>${p.modelName ? ` (${esc(clip(p.modelName, 80))})` : ''}\n` +
      `Токенов: <b>${num(p.tokens)}</b>\n` +
      `Цена: <b>${usd(p.price)}</b>\n` +
      `Срок действия: ${num(p.validityDays)} дн. с момента покупки\n` +
      (p.rule
        ? `Учёт: ${esc(rule(p.rule))}\n` + `Цены модели: ${rate(p.promptRate)} за 1M токенов запроса, ${rate(p.completionRate)} за 1M токенов ответа`
        : 'Учёт: правило появится, когда у модели будут фиксированные цены'),
    unavailable: 'Этот пакет больше не продаётся.',
    confirm: (p: { description: string; model: string; tokens: number; price: number; balance: number }) =>
      `🛒 <b>Подтвердите покупку</b>\n\n` +
      `${esc(p.description)}\n` +
      `${num(p.tokens)} токенов <code>${esc(p.model)}</code> за <b>${usd(p.price)}</b>.\n\n` +
      `Баланс: ${usd(p.balance)} → ${usd(p.balance - p.price)} после покупки.`,
    insufficient: (p: { price: number; balance: number; stars: number }) =>
      `❌ <b>Недостаточно средств.</b>\n\n` +
      `Пакет стоит ${usd(p.price)}, на балансе ${usd(p.balance)} — не хватает ${usd(p.price - p.balance)}. ` +
      `Оплатите ${num(p.stars)} ⭐, и пакет будет куплен сразу после оплаты, или сначала пополните баланс. Деньги не списаны.`,
    receipt: (p: { description: string; model: string; tokens: number; price: number; balance: number; expiresAt: string }) =>
      `✅ <b>Покупка завершена</b>: ${esc(p.description)}\n` +
      `${num(p.tokens)} токенов <code>${esc(p.model)}</code> за ${usd(p.price)}; действует до ${formatDbTime(p.expiresAt)}. Баланс: ${usd(p.balance)}.\n\n` +
      `🔑 Ваш API-ключ — в следующем сообщении: скопируйте его и сохраните.`,
    keyNotDelivered: `⚠️ Покупка завершена, но сообщение с ключом не удалось отправить. ` + `Откройте 🔑 Мои ключи и нажмите 🔁 Заменить — вы получите рабочий ключ, ничего не потеряно.`,
    alreadyPurchased: 'Эта покупка уже завершена — ключ в сообщении после чека (или 🔑 Мои ключи → 🔁 Заменить).',
  },
  balance: {
    show: (p: { balance: number; rows: LedgerRowText[] }) =>
      `💰 <b>Баланс: ${usd(p.balance)}</b>\n\n` +
      (p.rows.length === 0
        ? 'Операций пока нет. Пополните баланс звёздами Telegram, чтобы начать.'
        : `Последние операции:\n` +
          p.rows
            .map((r) => `${formatDbTime(r.createdAt).slice(0, 16)} · ${TX_TYPES[r.type]} · <b>${signed(r.amount)}</b> → ${usd(r.balanceAfter)}${r.note ? ` · ${esc(clip(r.note, 40))}` : ''}`)
            .join('\n')),
  },
  keys: {
    none: '🔑 У вас пока нет ключей. Купите пакет в разделе 🤖 AI-токены.',
    title: (total: number) => `🔑 <b>Ваши ключи</b> (${total})`,
    key: (k: KeyText) => {
      const remaining = Math.max(0, k.total - k.used - k.reserved);
      const state = k.status === 'active' ? `действует до ${formatDbTime(k.expiresAt)}` : k.status === 'expired' ? `<b>истёк</b> ${formatDbTime(k.expiresAt)}` : '<b>отозван</b>';
      return `<code>${esc(k.masked)}</code> · ${esc(k.model)}\nосталось ${num(remaining)} из ${num(k.total)} токенов · ${state}` + (k.description ? `\n<i>${esc(clip(k.description, 60))}</i>` : '');
    },
    more: (omitted: number) => `…и ещё ${num(omitted)}.`,
    footer: (baseUrl: string) => `Базовый URL: <code>${esc(baseUrl)}</code> · остаток токенов: <code>GET /key</code>\nПотеряли ключ? Нажмите 🔁, чтобы получить новый для тех же токенов.`,
    delivered: (p: { key: string; model: string; description: string | null; tokens: number; expiresAt: string; baseUrl: string; curl: string; openai: string; claudeCode: string | null }) =>
      `🔑 <b>Ваш API-ключ</b>${p.description ? ` · ${esc(clip(p.description, 80))}` : ''}\n` +
      `<tg-spoiler>${esc(p.key)}</tg-spoiler>\n` +
      `Полностью он показывается только здесь: скопируйте его кнопкой ниже и храните в секрете. Если потеряете — 🔑 Мои ключи → 🔁 Заменить.\n\n` +
      `Базовый URL: <code>${esc(p.baseUrl)}</code>\n` +
      `Модель: <code>${esc(p.model)}</code> · ${num(p.tokens)} токенов · действует до ${formatDbTime(p.expiresAt)}\n\n` +
      `<b>curl</b>\n<pre><code class="language-bash">${esc(p.curl)}</code></pre>\n` +
      `<b>OpenAI SDK</b> (Python, Node, Codex…)\n<pre><code class="language-bash">${esc(p.openai)}</code></pre>` +
      (p.claudeCode ? `\n<b>Claude Code</b>\n<pre><code class="language-bash">${esc(p.claudeCode)}</code></pre>` : ''),
    replaceConfirm: (masked: string) =>
      `🔁 <b>Заменить ключ</b> <code>${esc(masked)}</code>?\n\n` + `Вы сразу получите новый ключ, а старый перестанет работать. Токены, срок действия и расход сохранятся.`,
    replaced: (masked: string) => `✅ Ключ <code>${esc(masked)}</code> заменён и больше не работает. Новый ключ — в сообщении ниже.`,
    alreadyReplaced: 'Этот ключ уже заменён — новый в сообщении после того подтверждения.',
    cannotReplace: 'Этот ключ нельзя заменить: он истёк, отозван или не ваш.',
  },
  topup: {
    choose: (p: { microsPerStar: number }) => `⭐ <b>Пополнение звёздами Telegram</b>\n\n1 ⭐ = ${formatUsd(p.microsPerStar, { precise: true })}. Выберите сумму — Telegram покажет форму оплаты.`,
    invoiceTitle: (micros: number) => `Пополнение на ${usd(micros)}`,
    invoiceDescription: (stars: number, micros: number) => `${num(stars)} звёзд Telegram добавят ${usd(micros)} на ваш баланс в этом магазине.`,
    priceLabel: 'Пополнение баланса',
    invalidInvoice: 'Этот счёт больше не действует. Откройте 💰 Баланс и создайте новый.',
    credited: (p: { stars: number; amount: number; balance: number }) => `✅ Оплата получена: ${num(p.stars)} ⭐ → <b>${usd(p.amount)}</b> зачислено.\n💰 Баланс: <b>${usd(p.balance)}</b>`,
    continueWith: (p: { description: string; price: number; enough: boolean }) =>
      p.enough
        ? `\n\nПродолжите с выбранным пакетом: ${esc(clip(p.description, 80))} за ${usd(p.price)}.`
        : `\n\nДля выбранного пакета (${esc(clip(p.description, 80))}, ${usd(p.price)}) нужно ещё немного.`,
    buyInvoiceTitle: (description: string) => `Покупка: ${description}`,
    buyInvoiceDescription: (p: { stars: number; amount: number; description: string; price: number }) =>
      `${num(p.stars)} ⭐ добавят ${usd(p.amount)} на баланс, и пакет ${p.description} (${usd(p.price)}) будет сразу куплен.`,
    buyPriceLabel: 'Пополнение и покупка',
    purchaseChanged: 'Пакет или его цена изменились после выставления счёта. Деньги не списаны; откройте пакет снова.',
    buyFailed: (p: { amount: number; balance: number }) =>
      `✅ Оплата получена: <b>${usd(p.amount)}</b> зачислено (баланс ${usd(p.balance)}), но купить пакет сейчас не удалось — он снят с продажи или его цена изменилась. ` +
      `Деньги остаются на балансе; выберите пакет в разделе 🤖 AI-токены.`,
    notCredited: `⚠️ Этот платёж не удалось зачислить автоматически. Оператор магазина уже знает и разберётся здесь; ` + `при необходимости напишите в /paysupport.`,
  },
  support: {
    prompt: `✉️ <b>Написать в поддержку</b>\n\nОтветьте на это сообщение, описав вопрос или проблему одним сообщением. Оператор магазина ответит здесь.`,
    paymentPrompt:
      `✉️ ⭐ <b>Поддержка по оплате</b>\n\n` +
      `Оплата звёздами зачисляется на баланс автоматически и ровно один раз, через несколько секунд после оплаты. ` +
      `Если платёж не дошёл или вы хотите вернуть платёж, ответьте на это сообщение: когда вы платили и сколько ⭐. ` +
      `Оператор магазина ответит здесь.`,
    followUpPrompt: (id: number) => `✉️ #${id} · Ответьте на это сообщение, чтобы дополнить обращение.`,
    received: (id: number) => `✅ Мы получили ваше сообщение — обращение <b>#${id}</b>. Оператор магазина ответит здесь.`,
    savedNoAdmin: (id: number) =>
      `📝 Ваше сообщение сохранено как обращение <b>#${id}</b>, но связаться с оператором сейчас не удалось. ` +
      `Обращение остаётся открытым, оператор увидит его, когда проверит обращения, — отправлять заново не нужно.`,
    followUpReceived: (id: number) => `✅ Добавлено к обращению <b>#${id}</b>.`,
    answer: (p: { id: number; text: string }) => `💬 <b>Поддержка</b> · обращение #${p.id}\n\n${esc(clip(p.text, 3900))}`,
    closed: (id: number) => `✅ Обращение #${id} закрыто. Если понадобится что-то ещё, напишите в /support.`,
    notYours: 'Это не ваше обращение; сообщение сохранено как новое обращение.',
    adminTicket: (p: { id: number; name: string; telegramId: number; text: string; payment: { stars: number; amount: number; chargeId: string } | null }) =>
      `🎫 #${p.id} · <b>Обращение</b> от ${esc(clip(p.name, 80))} (<code>${p.telegramId}</code>)\n` +
      (p.payment ? `Платёж: ${num(p.payment.stars)} ⭐ (${usd(p.payment.amount)}) · <code>${esc(p.payment.chargeId)}</code>\n` : '') +
      `\n${esc(clip(p.text, 3000))}\n\n<i>Ответьте на это сообщение, чтобы ответить клиенту.</i>`,
    adminFollowUp: (p: { id: number; name: string; telegramId: number; text: string }) =>
      `🎫 #${p.id} · ${esc(clip(p.name, 80))} (<code>${p.telegramId}</code>) пишет:\n\n${esc(clip(p.text, 3000))}\n\n<i>Ответьте на это сообщение, чтобы ответить клиенту.</i>`,
    replyPrompt: (id: number) => `↩️ #${id} · Напишите ответ клиенту в ответ на это сообщение.`,
    replySent: (id: number) => `✅ Отправлено клиенту (обращение #${id}).`,
    replyNotDelivered: (id: number) => `⚠️ Сохранено в обращении #${id}, но клиент недоступен (заблокировал бота или удалил аккаунт).`,
    list: (p: { open: number; page: number; pages: number }) => `🎫 <b>Открытые обращения</b> (${num(p.open)}) · страница ${p.page} из ${p.pages}\nНажмите, чтобы прочитать, ответить или закрыть.`,
    none: '🎫 Открытых обращений нет.',
    view: (p: { id: number; name: string; telegramId: number; status: string; createdAt: string; payment: { stars: number; amount: number; chargeId: string; refunded: boolean } | null }) =>
      `🎫 #${p.id} · ${esc(clip(p.name, 80))} (<code>${p.telegramId}</code>) · ${p.status === 'open' ? 'открыто' : '<b>закрыто</b>'} · ${formatDbTime(p.createdAt)}` +
      (p.payment ? `\nПлатёж: ${num(p.payment.stars)} ⭐ (${usd(p.payment.amount)})${p.payment.refunded ? ' · <b>возвращён</b>' : ''} · <code>${esc(p.payment.chargeId)}</code>` : ''),
    message: (p: { who: 'customer' | 'admin' | 'operator'; at: string; text: string }) => `<b>${p.who === 'customer' ? '👤 Клиент' : '🛠 Поддержка'}</b> · ${formatDbTime(p.at)}\n${esc(p.text)}`,
    more: (n: number) => `…ещё ${num(n)} (arb support show).`,
    closedByAdmin: (id: number) => `Обращение #${id} закрыто.`,
    alreadyClosed: (id: number) => `Обращение #${id} уже было закрыто.`,
    gone: 'Такого обращения нет.',
  },
  redeem: {
    prompt: `🎁 <b>Активировать подарочный код</b>\n\nОтветьте на это сообщение кодом; он выглядит так: ARB-XXXX-XXXX-XXXX-XXXX.`,
    credited: (p: { amount: number; balance: number }) => `🎁 Код активирован: на баланс зачислено <b>+${usd(p.amount)}</b>.\n💰 Баланс: <b>${usd(p.balance)}</b>`,
    granted: (description: string) => `🎁 Код активирован: <b>${esc(clip(description, 120))}</b> — ваш. API-ключ — в следующем сообщении.`,
    grantedBefore: '🎁 Этот код уже активирован для вас; ключ был отправлен тогда (потеряли? 🔑 Мои ключи → 🔁 Заменить).',
    invalid: '❌ Это неверный подарочный код. Проверьте его и попробуйте снова.',
    used: '❌ Этот подарочный код уже использован.',
    usedByYou: '✅ Вы уже активировали этот код.',
    expired: (at: string) => `❌ Срок действия этого кода истёк ${formatDbTime(at)}.`,
    limited: (minutes: number) => `⏳ Слишком много неверных кодов. Попробуйте снова через ${num(minutes)} мин.`,
  },
  create: {
    intro:
      `➕ <b>Новый пакет</b> · шаг 1 из 5: модель\n\n` + `Введите часть названия или id модели для поиска, например <code>gpt-4</code> или <code>claude sonnet</code>. ✖️ Отмена или /cancel — выйти.`,
    matches: (query: string, models: { modelId: string; name: string; promptRate: number; completionRate: number }[]) =>
      `Модели по запросу «${esc(clip(query, 60))}» — нажмите нужную или введите другой запрос:\n\n` +
      models.map((m) => `<code>${esc(m.modelId)}</code> · ${esc(clip(m.name, 60))} · ${rate(m.promptRate)} / ${rate(m.completionRate)} за 1M`).join('\n'),
    noMatch: (query: string) => `Нет модели с ценой по запросу «${esc(clip(query, 60))}». Попробуйте другое слово (список — arb models).`,
    askTokens: (m: { modelId: string; promptRate: number; completionRate: number }) =>
      `➕ Шаг 2 из 5: токены\n\nМодель: <code>${esc(m.modelId)}</code> (${rate(m.promptRate)} за 1M токенов запроса, ${rate(m.completionRate)} за 1M токенов ответа).\n` +
      `Сколько токенов? Например <code>100000</code>, <code>100k</code> или <code>1M</code>.`,
    badTokens: (max: number) => `❌ Это не число токенов; отправьте, например, 100000, 100k или 1M (не больше ${num(max)}).`,
    askDescription: (max: number) => `➕ Шаг 3 из 5: описание\n\nТекст, который увидят клиенты, например «GPT-4 Premium Access - 100k tokens» (не больше ${num(max)} символов).`,
    badDescription: (max: number) => `❌ Отправьте описание текстом, от 1 до ${num(max)} символов.`,
    askCategory: '➕ Шаг 4 из 5: категория\n\nВ какой раздел магазина его поместить?',
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
      `➕ Шаг 5 из 5: проверьте и создайте\n\n` +
      `📦 <b>${esc(p.description)}</b>\n` +
      `Модель: <code>${esc(p.model)}</code> · ${num(p.tokens)} токенов · действует ${num(p.validityDays)} дн. · категория: ${p.category ? esc(p.category) : 'нет'}\n\n` +
      `Себестоимость токенов: ${usd(p.cost)} (${num(p.tokens)} × ${rate(p.unitRate)} за 1M)\n` +
      `Цена: <b>${usd(p.price)}</b> ` +
      (p.explicit ? '(задана вами)' : `(наценка ${p.markupPercent} %${p.bulkPercent > 0 ? `, скидка за объём ${p.bulkPercent} %` : ''})`) +
      `\nПрибыль: ${usd(p.profit)} · маржа <b>${p.marginPercent.toFixed(1).replace('.', ',')} %</b> · минимальная цена ${usd(p.floor)}`,
    askPrice: (floor: number) => `✏️ Отправьте цену в USD, не ниже ${usd(floor)} (минимальная маржа), например ${(floor / 1e6).toFixed(2)}.`,
    badPrice: (floor: number) => `❌ Отправьте сумму в USD не ниже ${usd(floor)}, например ${(floor / 1e6).toFixed(2)}.`,
    cancelled: 'Создание пакета отменено; ничего не создано.',
  },
  categories: {
    title: (n: number) => `🗂 <b>Категории</b> (${num(n)})\nОни группируют пакеты в магазине. Нажмите на категорию, чтобы переименовать или удалить её.`,
    none: '🗂 Категорий пока нет. Пакеты без категории показываются в магазине в разделе «Другое».',
    line: (p: { id: number; name: string; packages: number; subcategories: number }) =>
      `#${p.id} ${esc(clip(p.name, 80))} · пакетов: ${num(p.packages)}${p.subcategories ? ` · подкатегорий: ${num(p.subcategories)}` : ''}`,
    view: (p: { id: number; name: string; parent: string | null; packages: number; subcategories: number; createdAt: string }) =>
      `🗂 <b>${esc(p.name)}</b> (#${p.id})${p.parent ? `\nВ разделе: ${esc(p.parent)}` : ''}\n` +
      `пакетов: ${num(p.packages)} · подкатегорий: ${num(p.subcategories)} · создана ${formatDbTime(p.createdAt)}`,
    askName: '🗂 ➕ Новая категория: ответьте на это сообщение её названием, например OpenAI.',
    askSubName: (parentId: number) => `🗂 ➕ #${parentId} Новая подкатегория: ответьте на это сообщение её названием.`,
    askRename: (id: number) => `🗂 ✏️ #${id} Переименование: ответьте на это сообщение новым названием.`,
    created: (p: { id: number; name: string }) => `✅ Категория #${p.id} «${esc(p.name)}» создана. Выберите её при создании пакета.`,
    renamed: (p: { id: number; from: string; to: string }) => `✅ Категория #${p.id} переименована: «${esc(p.from)}» → «${esc(p.to)}».`,
    inUse: (p: { name: string; packages: { id: number; model: string; description: string }[]; morePackages: number; subcategories: string[] }) =>
      `🚫 <b>«${esc(clip(p.name, 80))}» используется</b>, удалить её нельзя.\n` +
      (p.packages.length
        ? `\nПакеты:\n${p.packages.map((x) => `#${x.id} <code>${esc(x.model)}</code> ${esc(clip(x.description, 60))}`).join('\n')}${p.morePackages ? `\n…и ещё ${num(p.morePackages)}` : ''}\n`
        : '') +
      (p.subcategories.length ? `\nПодкатегории: ${p.subcategories.map((x) => esc(clip(x, 40))).join(', ')}\n` : '') +
      `\nСначала перенесите их (arb category delete --move-to или другая категория у пакетов) или переименуйте категорию.`,
    confirmDelete: (p: { id: number; name: string }) => `🗑 Удалить категорию #${p.id} «${esc(clip(p.name, 80))}»? Ни один пакет её не использует.`,
    deleted: (name: string) => `Категория «${clip(name, 60)}» удалена.`,
  },
  refunds: {
    confirm: (p: { stars: number; amount: number; name: string; telegramId: number; balance: number; shortfall: number }) =>
      `💸 <b>Вернуть ${num(p.stars)} ⭐</b> (${usd(p.amount)}) клиенту ${esc(clip(p.name, 80))} (<code>${p.telegramId}</code>)?\n\n` +
      `Telegram вернёт звёзды, а ${usd(p.amount)} будет списано с баланса клиента (сейчас ${usd(p.balance)}).` +
      (p.shortfall > 0 ? `\n\n⚠️ Клиент уже потратил ${usd(p.shortfall)} из этой суммы: возврат всё равно будет записан как убыток <b>${usd(p.shortfall)}</b> (баланс станет $0.00).` : ''),
    done: (p: { stars: number; takenBack: number; loss: number }) =>
      `✅ Возвращено ${num(p.stars)} ⭐. С баланса списано ${usd(p.takenBack)}` + (p.loss > 0 ? `; записан убыток: <b>${usd(p.loss)}</b>.` : '.'),
    already: (at: string | null) => `Этот платёж уже возвращён${at ? ` (${formatDbTime(at)})` : ''}. Ничего не изменилось.`,
    failed: (message: string) => `❌ ${esc(clip(message, 1500))}`,
    customerNotice: (p: { stars: number; amount: number }) => `💸 Ваш платёж на ${num(p.stars)} ⭐ возвращён; с баланса списано ${usd(p.amount)}.`,
    gone: 'Такого платежа звёздами нет.',
  },
  admin: {
    denied: '🚫 Извините, это доступно только администраторам магазина.',
    menu: '🤖 <b>AI Token Arbitrage</b>\n\nИнструменты администратора:',
    stats: (p: { today: StatsPeriodText; week: StatsPeriodText; all: StatsPeriodText; top: { model: string; sales: number; revenue: number; profit: number }[] }) => {
      const pct = (v: number | null) => (v === null ? '—' : `${v.toFixed(1).replace('.', ',')} %`);
      const block = (label: string, s: StatsPeriodText) =>
        `<b>${label}</b>\n` +
        `Выручка ${usd(s.revenue)} · себестоимость проданных токенов ${usd(s.cost)} · прибыль ${usd(s.profit)} · маржа ${pct(s.marginPercent)} · продаж: ${num(s.sales)}\n` +
        `Расходы у OpenRouter ${usd(s.upstreamSpend)} · выручка за использованные токены ${usd(s.revenueOfTokensUsed)} · фактическая маржа ${pct(s.realisedMarginPercent)}` +
        (s.freeGrants > 0 ? `\nБесплатные выдачи: ${num(s.freeGrants)} (${num(s.freeGrantTokens)} токенов, себестоимость ${usd(s.freeGrantCost)}) — не продажи` : '');
      return (
        `📊 <b>Статистика арбитража</b>\n\n` +
        `${block('Сегодня', p.today)}\n\n${block('7 дней', p.week)}\n\n${block('Всё время', p.all)}\n\n` +
        `<b>Топ моделей</b> (всё время):\n` +
        (p.top.length === 0
          ? 'продаж пока нет'
          : p.top.map((m, i) => `${i + 1}. <code>${esc(m.model)}</code> — продаж: ${num(m.sales)} · выручка ${usd(m.revenue)} · прибыль ${usd(m.profit)}`).join('\n'))
      );
    },
    chartCaption: (days: number) => `📈 Выручка (синим) и прибыль (зелёным; красным — убыток) по дням, последние ${num(days)} дн. (UTC).`,
    packages: (page: number, pages: number, total: number) => `📦 <b>Пакеты</b> (${num(total)}) · страница ${page} из ${pages}\nНажмите на пакет, чтобы включить или выключить его.`,
    packageLine: (p: { id: number; available: boolean; hold: string | null; model: string; tokens: number; price: number; description: string }) =>
      `${p.available ? '✅' : '⛔'} #${p.id} <code>${esc(p.model)}</code> · ${num(p.tokens)} токенов · ${usd(p.price)}${p.hold ? ` · приостановлен (${esc(p.hold)})` : ''}\n    ${esc(clip(p.description, 80))}`,
    noPackages: 'Пакетов пока нет. Создайте первый кнопкой ➕ Создать пакет.',
    confirmDisable: (p: { id: number; description: string; price: number; activeKeys: number }) =>
      `⛔ <b>Снять пакет #${p.id} с продажи?</b>\n${esc(clip(p.description, 120))} · ${usd(p.price)}\n\n` +
      `Сейчас он продаётся: после этого клиенты не увидят и не смогут его купить. ` +
      `${p.activeKeys > 0 ? `Уже проданные активные ключи (${num(p.activeKeys)}) продолжат работать до истечения срока.` : 'Активных ключей с ним нет.'} Включить его снова можно в любой момент.`,
    toggled: (id: number, available: boolean) => `Пакет #${id} ${available ? 'включён' : 'выключен'}.`,
    created: (p: { id: number; description: string; model: string; tokens: number; cost: number; price: number; profit: number; marginPercent: number; validityDays: number }) =>
      `✅ <b>Пакет #${p.id} создан</b>: ${esc(p.description)}\n` +
      `<code>${esc(p.model)}</code> · ${num(p.tokens)} токенов · действует ${num(p.validityDays)} дн.\n` +
      `Себестоимость ${usd(p.cost)} · цена <b>${usd(p.price)}</b> · прибыль ${usd(p.profit)} · маржа ${p.marginPercent.toFixed(1).replace('.', ',')} %\n` +
      `Пакет уже в продаже.`,
    createUsage: `Формат: <code>/create_package &lt;модель&gt; &lt;токены&gt; "&lt;описание&gt;" [цена_usd]</code>\nПример: <code>/create_package gpt-4 100000 "GPT-4 Premium Access - 100k tokens"</code>`,
    failed: (message: string) => `❌ ${esc(clip(message, 1500))}`,
    addBalanceUsage: `Формат: <code>/add_balance &lt;telegram_id&gt; &lt;usd&gt;</code>\nПример: <code>/add_balance 123456789 10</code>`,
    balanceAdded: (p: { telegramId: number; amount: number; balance: number }) => `✅ ${signed(p.amount)} для <code>${p.telegramId}</code>. Баланс теперь <b>${usd(p.balance)}</b>.`,
    balanceAddedDuplicate: 'Эта корректировка уже применена.',
    customerCredited: (p: { amount: number; balance: number }) => `💰 Магазин скорректировал ваш баланс: <b>${signed(p.amount)}</b>. Баланс: <b>${usd(p.balance)}</b>.`,
    cleanupDone: (n: number) => (n === 0 ? '🧹 Очищать нечего: нет активных ключей с истёкшим сроком.' : `🧹 Помечено как истёкшие: ${num(n)}.`),
    operationalAlert: (text: string) => `⚠️ <b>arb alert</b>\n${esc(text)}`,
    paymentRejected: (p: { telegramId: number; currency: string; amount: unknown; chargeId: string; reason: string }) =>
      `⚠️ <b>Платёж не зачислен</b> от <code>${p.telegramId}</code>: ${esc(p.reason)}.\n` +
      `валюта ${esc(clip(String(p.currency), 16))}, сумма ${esc(clip(String(p.amount), 32))}, charge id <code>${esc(clip(p.chargeId || '(пусто)', 128))}</code>. ` +
      `Записано как security event; проверьте, прежде чем зачислять вручную.`,
  },
  alerts: {
    usage: (k: AlertKeyText) =>
      `⚠️ Ключ <code>${esc(k.masked)}</code> (${esc(k.model)}) израсходовал ${Math.floor((k.used * 100) / k.total)} % токенов: осталось ${num(Math.max(0, k.total - k.used))} из ${num(k.total)}.\nКупите ещё один пакет в разделе 🤖 AI-токены, чтобы продолжить без перерыва.`,
    expiry: (k: AlertKeyText) =>
      `⏳ Срок действия ключа <code>${esc(k.masked)}</code> (${esc(k.model)}) истекает ${formatDbTime(k.expiresAt)}; осталось ${num(Math.max(0, k.total - k.used))} токенов. Успейте их использовать.`,
  },
  errors: {
    generic: '⚠️ Что-то пошло не так на нашей стороне. Попробуйте ещё раз через минуту.',
    rateLimited: '⏳ Слишком много запросов — пожалуйста, помедленнее.',
    privateOnly: 'Пожалуйста, напишите мне в личном чате.',
  },
} satisfies Locale;

export default ru;
