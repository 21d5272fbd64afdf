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
    `Проблемы с оплатой: /paysupport`,
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
    insufficient: (p: { price: number; balance: number }) =>
      `❌ <b>Недостаточно средств.</b>\n\n` +
      `Пакет стоит ${usd(p.price)}, на балансе ${usd(p.balance)}. ` +
      `Пополните баланс минимум на ${usd(p.price - p.balance)} и попробуйте снова. Деньги не списаны.`,
    purchased: (p: { description: string; model: string; tokens: number; price: number; balance: number; expiresAt: string; key: string; baseUrl: string; rule: MeteringRule | null; curl: string }) =>
      `✅ <b>Покупка завершена</b>: ${esc(p.description)}\n` +
      `${num(p.tokens)} токенов <code>${esc(p.model)}</code> за ${usd(p.price)}; действует до ${formatDbTime(p.expiresAt)}. Баланс: ${usd(p.balance)}.\n\n` +
      `🔑 <b>Ваш API-ключ</b> — показывается только один раз. Нажмите, чтобы открыть, скопируйте и сохраните:\n` +
      `<tg-spoiler>${esc(p.key)}</tg-spoiler>\n\n` +
      `Базовый URL: <code>${esc(p.baseUrl)}</code>\n` +
      `Модель: <code>${esc(p.model)}</code>\n` +
      (p.rule ? `Учёт: ${esc(rule(p.rule))}\n` : '') +
      `\nПопробуйте (команда содержит ваш ключ):\n` +
      `<tg-spoiler>${esc(p.curl)}</tg-spoiler>`,
    alreadyPurchased: 'Эта покупка уже завершена — ключ в разделе 🔑 Мои ключи.',
    keyDeliveryNote: 'Ключ отправлен новым сообщением ниже.',
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
    footer: (baseUrl: string) => `Базовый URL: <code>${esc(baseUrl)}</code> · остаток токенов: <code>GET /key</code>`,
  },
  topup: {
    choose: (p: { microsPerStar: number }) =>
      `⭐ <b>Пополнение звёздами Telegram</b>\n\n1 ⭐ = ${formatUsd(p.microsPerStar, { precise: true })}. Выберите сумму — Telegram покажет форму оплаты.`,
    invoiceTitle: (micros: number) => `Пополнение на ${usd(micros)}`,
    invoiceDescription: (stars: number, micros: number) => `${num(stars)} звёзд Telegram добавят ${usd(micros)} на ваш баланс в этом магазине.`,
    priceLabel: 'Пополнение баланса',
    invalidInvoice: 'Этот счёт больше не действует. Откройте 💰 Баланс и создайте новый.',
    credited: (p: { stars: number; amount: number; balance: number }) =>
      `✅ Оплата получена: ${num(p.stars)} ⭐ → <b>${usd(p.amount)}</b> зачислено.\n💰 Баланс: <b>${usd(p.balance)}</b>`,
    paysupport:
      `💬 <b>Поддержка по оплате</b>\n\n` +
      `Оплата звёздами зачисляется на баланс автоматически и ровно один раз, через несколько секунд после оплаты.\n` +
      `Если платёж не дошёл или вы хотите вернуть неиспользованный остаток, опишите ситуацию после команды, например:\n` +
      `<code>/paysupport Оплатил 100 звёзд в 14:05, баланс не изменился</code>\n` +
      `Оператор магазина ответит вам здесь.`,
    paysupportSent: '✅ Сообщение отправлено оператору. Он ответит вам здесь.',
  },
  admin: {
    denied: '🚫 Извините, это доступно только администраторам магазина.',
    menu: '🤖 <b>AI Token Arbitrage</b>\n\nИнструменты администратора:',
    stats: (p: { today: StatsPeriodText; week: StatsPeriodText; all: StatsPeriodText; top: { model: string; sales: number; revenue: number; profit: number }[] }) => {
      const line = (label: string, s: StatsPeriodText) =>
        `<b>${label}</b>: выручка ${usd(s.revenue)} · себестоимость ${usd(s.cost)} · прибыль ${usd(s.profit)} · маржа ${s.marginPercent === null ? '—' : `${s.marginPercent.toFixed(1).replace('.', ',')} %`} · продаж: ${num(s.sales)}`;
      return (
        `📊 <b>Статистика арбитража</b>\n\n` +
        `${line('Сегодня', p.today)}\n${line('7 дней', p.week)}\n${line('Всё время', p.all)}\n\n` +
        `<b>Лучшие модели</b> (за всё время):\n` +
        (p.top.length === 0
          ? 'продаж пока нет'
          : p.top.map((m, i) => `${i + 1}. <code>${esc(m.model)}</code> — продаж: ${num(m.sales)} · выручка ${usd(m.revenue)} · прибыль ${usd(m.profit)}`).join('\n'))
      );
    },
    packages: (page: number, pages: number, total: number) => `📦 <b>Пакеты</b> (${num(total)}) · страница ${page} из ${pages}\nНажмите на пакет, чтобы включить или выключить его.`,
    packageLine: (p: { id: number; available: boolean; hold: string | null; model: string; tokens: number; price: number; description: string }) =>
      `${p.available ? '✅' : '⛔'} #${p.id} <code>${esc(p.model)}</code> · ${num(p.tokens)} токенов · ${usd(p.price)}${p.hold ? ` · приостановлен (${esc(p.hold)})` : ''}\n    ${esc(clip(p.description, 80))}`,
    noPackages: 'Пакетов пока нет. Создайте первый кнопкой ➕ Создать пакет.',
    toggled: (id: number, available: boolean) => `Пакет #${id} ${available ? 'включён' : 'выключен'}.`,
    createHelp:
      `➕ <b>Создание пакета</b>\n\n` +
      `Отправьте:\n<code>/create_package gpt-4 100000 "GPT-4 Premium Access - 100k tokens"</code>\n\n` +
      `модель (id OpenRouter или короткое имя), число токенов, описание в кавычках и, по желанию, цену в USD. ` +
      `Без цены она считается от цены модели с настроенной наценкой.`,
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
    supportRequest: (p: { telegramId: number; name: string; text: string }) => `💬 Запрос в поддержку по оплате от ${p.name} (id ${p.telegramId}):\n${p.text}`,
    operationalAlert: (text: string) => `⚠️ <b>arb alert</b>\n${esc(text)}`,
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
