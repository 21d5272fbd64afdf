/**
 * A fake Telegram Bot API server on 127.0.0.1 (port 0) for driving the real grammY bot over real HTTP.
 *
 * It implements `/bot<token>/<method>` for the methods the shop bot uses, keeps each chat's messages the
 * way a user would see them (HTML parsed into plain text + entities, edits applied, keyboards attached),
 * records every call, and behaves like Telegram where it matters for correctness:
 * - HTML `parse_mode` is parsed strictly (unknown tags, stray `<`/`&`, bad nesting → 400 "can't parse entities");
 * - text over 4096 UTF-16 units → 400 "message is too long"; callback_data over 64 bytes → 400 BUTTON_DATA_INVALID;
 * - an edit that changes nothing → 400 "message is not modified";
 * - Stars invoices (currency XTR) must have an empty provider_token and exactly one price;
 * - getUpdates long-polls a queue of pushed updates and 409s while a webhook is set; like Telegram, a new
 *   getUpdates ends one still waiting with 409 "terminated by other getUpdates request" (two bot instances
 *   polling), counted in `getUpdatesConflicts`.
 * - inline buttons need exactly one action; `copy_text` texts are 1-256 characters;
 * - sendPhoto takes multipart/form-data (grammY's InputFile upload); captions over 1024 characters → 400;
 * - setMyCommands keeps one list per scope and language_code (getMyCommands reads them back);
 * - refundStarPayment refunds a Stars payment made through `pay`/`successfulPaymentUpdate` once
 *   (then 400 CHARGE_ALREADY_REFUNDED), and only to the user who paid.
 * Errors can be injected per method (429 with retry_after, 400, 403 …) and a chat can block the bot.
 *
 * Updates are delivered like Telegram does: POSTed to the webhook URL (with the secret header) when the
 * bot called setWebhook, else handed out by getUpdates; `deliver` resolves once the bot has handled the
 * update (webhook: the HTTP response; polling: the bot confirmed it with a higher getUpdates offset).
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BotCommand, InlineKeyboardButton, Message, MessageEntity, Update, User, UserFromGetMe } from 'grammy/types';

export interface TelegramApiError {
  error_code: number;
  description: string;
  parameters?: { retry_after?: number; migrate_to_chat_id?: number };
}

/** Errors Telegram really returns, for `failNext`. */
export const telegramErrors = {
  tooManyRequests: (retryAfter: number): TelegramApiError => ({
    error_code: 429,
    description: `Too Many Requests: retry after ${retryAfter}`,
    parameters: { retry_after: retryAfter },
  }),
  blocked: (): TelegramApiError => ({ error_code: 403, description: 'Forbidden: bot was blocked by the user' }),
  notModified: (): TelegramApiError => ({
    error_code: 400,
    description: 'Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message',
  }),
  badRequest: (what: string): TelegramApiError => ({ error_code: 400, description: `Bad Request: ${what}` }),
};

export interface RecordedCall {
  method: string;
  payload: Record<string, unknown>;
  ok: boolean;
  error?: TelegramApiError;
}

/** An entity plus the text it covers. */
export type ShownEntity = MessageEntity & { text: string };

/** A message in a chat as the user sees it. */
export interface ChatMessage {
  message_id: number;
  chat_id: number;
  /** true for messages the bot sent; false for what the user sent */
  fromBot: boolean;
  /** rendered text (HTML parsed away) */
  text: string;
  entities: ShownEntity[];
  /** the raw text the bot sent (HTML when parse_mode was HTML) */
  raw: string;
  parse_mode?: string;
  inline_keyboard?: InlineKeyboardButton[][];
  invoice?: { title: string; description: string; payload: string; currency: string; total_amount: number; prices: { label: string; amount: number }[] };
  /** sendPhoto: the uploaded bytes (the caption is `text`) */
  photo?: Buffer;
  /** the bot asked the user to reply to this message (reply_markup.force_reply) */
  forceReply?: boolean;
  /** for user messages: the message they replied to */
  replyTo?: number;
  edits: number;
  /** order of the last send or edit in this fake (what the user looked at last) */
  touched?: number;
}

/** A Stars payment the fake knows about (for refundStarPayment). */
export interface FakeStarPayment {
  user_id: number;
  charge_id: string;
  total_amount: number;
  refunded: boolean;
}

interface Failure {
  method: string;
  error: TelegramApiError;
  remaining: number;
  match?: (payload: Record<string, unknown>) => boolean;
}

interface PollWaiter {
  offset: number;
  limit: number;
  respond: (updates: Update[]) => void;
  /** ends the wait with 409: another getUpdates came in */
  conflict: () => void;
}

export interface FakeTelegramOptions {
  token?: string;
  botInfo?: Partial<UserFromGetMe>;
  /** how long `deliver` waits for the bot to handle an update, default 15 s */
  deliverTimeoutMs?: number;
}

export interface DeliverResult {
  /** webhook: the HTTP status the bot answered with; polling: 200 once confirmed */
  status: number;
  body: string;
}

export interface FakeTelegram {
  readonly apiRoot: string;
  readonly token: string;
  readonly botInfo: UserFromGetMe;
  readonly calls: RecordedCall[];
  /** how many waiting getUpdates were ended by another getUpdates (more than one bot instance polling) */
  readonly getUpdatesConflicts: number;
  /** getUpdates requests held open right now (a polling bot always has one; 0 once it stopped polling) */
  readonly waitingPolls: number;
  /** payloads of successful calls to `method` */
  callsOf(method: string): Record<string, unknown>[];
  /** the webhook the bot registered, if any */
  readonly webhook: { url: string; secret_token?: string; allowed_updates?: string[] } | undefined;
  /** makes the next `times` calls of `method` (optionally only those matching) fail with `error` */
  failNext(method: string, error: TelegramApiError, options?: { times?: number; match?: (payload: Record<string, unknown>) => boolean }): void;
  /** every send to this chat fails with 403 "bot was blocked by the user" */
  blockBot(chatId: number, blocked?: boolean): void;

  user(id: number, profile?: Partial<Omit<User, 'id' | 'is_bot'>>): User;
  nextUpdateId(): number;
  messageUpdate(from: User, text: string): Update;
  callbackUpdate(from: User, data: string, message?: ChatMessage): Update;
  preCheckoutUpdate(from: User, invoice: { payload: string; total_amount: number; currency?: string }): Update;
  successfulPaymentUpdate(from: User, payment: { payload: string; total_amount: number; charge_id: string; currency?: string }): Update;
  /** the user answers `to` (a bot message) with a Telegram reply */
  replyUpdate(from: User, text: string, to: ChatMessage): Update;

  /** hands an update to the bot (webhook POST or getUpdates) and waits until it was handled */
  deliver(update: Update, options?: { secretToken?: string | null }): Promise<DeliverResult>;
  /** the user types `text` */
  send(from: User, text: string): Promise<DeliverResult>;
  /** the user taps the button labelled `label` on the message sent or edited last that shows it */
  press(from: User, label: string | RegExp): Promise<DeliverResult>;
  /** the user pays the newest invoice in their chat: pre_checkout_query, then (if the bot said ok) successful_payment */
  pay(from: User, chargeId: string): Promise<{ preCheckoutOk: boolean; errorMessage?: string }>;
  /** the user replies (Telegram's reply) to the newest bot message that asked for one (force_reply), or to `to` */
  reply(from: User, text: string, to?: ChatMessage): Promise<DeliverResult>;
  /** Stars payments the fake has seen, by charge id */
  readonly starPayments: ReadonlyMap<string, FakeStarPayment>;
  /** the command list set for a scope (default: the default scope) and language code ('' = none) */
  commandsFor(scope?: Record<string, unknown>, languageCode?: string): BotCommand[] | undefined;

  messages(chatId: number): ChatMessage[];
  /** messages the bot sent to the chat */
  botMessages(chatId: number): ChatMessage[];
  /** the bot message sent or edited last: the screen the user is looking at */
  lastBotMessage(chatId: number): ChatMessage;
  /** labels of the buttons on the bot message with a keyboard that was sent or edited last */
  buttons(chatId: number): string[];
  /** the texts of every copy_text button the bot sent to the chat, oldest first, with their messages */
  copyTexts(chatId: number): { text: string; label: string; message: ChatMessage }[];
  /** the newest bot message whose text matches */
  findBotMessage(chatId: number, pattern: RegExp): ChatMessage | undefined;
  findButton(chatId: number, label: string | RegExp): { button: InlineKeyboardButton; message: ChatMessage } | undefined;
  /** answers to callback queries (toasts/alerts) in order */
  readonly callbackAnswers: { callback_query_id: string; text?: string; show_alert?: boolean }[];
  /** every message shown on a keyboard the bot ever sent (for limit checks) */
  allKeyboards(): InlineKeyboardButton[][][];
  close(): Promise<void>;
}

const MAX_TEXT = 4096;

// ---------------------------------------------------------------------------------------------- HTML

const TAG_TYPES: Record<string, MessageEntity['type']> = {
  b: 'bold',
  strong: 'bold',
  i: 'italic',
  em: 'italic',
  u: 'underline',
  ins: 'underline',
  s: 'strikethrough',
  strike: 'strikethrough',
  del: 'strikethrough',
  'tg-spoiler': 'spoiler',
  code: 'code',
  pre: 'pre',
  a: 'text_link',
  blockquote: 'blockquote',
  'tg-emoji': 'custom_emoji',
  span: 'spoiler',
};

export class EntityParseError extends Error {}

/** Parses Telegram's HTML subset into plain text + entities, strictly, as the Bot API does. */
export function parseTelegramHtml(html: string): { text: string; entities: MessageEntity[] } {
  let text = '';
  const entities: MessageEntity[] = [];
  const stack: { tag: string; offset: number; entity: Partial<MessageEntity> }[] = [];
  let i = 0;
  const byteOffset = (pos: number) => Buffer.byteLength(html.slice(0, pos));
  while (i < html.length) {
    const ch = html[i];
    if (ch === '<') {
      const m = /^<(\/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z-]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>"']+))?)*)\s*>/.exec(html.slice(i));
      if (!m) throw new EntityParseError(`can't parse entities: Unsupported start tag "" at byte offset ${byteOffset(i)}`);
      const [whole, closing, rawTag, attrs] = m;
      const tag = rawTag.toLowerCase();
      if (!(tag in TAG_TYPES)) throw new EntityParseError(`can't parse entities: Unsupported start tag "${tag}" at byte offset ${byteOffset(i)}`);
      if (closing) {
        const top = stack.pop();
        if (!top || top.tag !== tag) {
          throw new EntityParseError(`can't parse entities: Unmatched end tag at byte offset ${byteOffset(i)}, expected "</${top?.tag ?? ''}>", found "</${tag}>"`);
        }
        const length = text.length - top.offset;
        if (length > 0) entities.push({ ...top.entity, offset: top.offset, length } as MessageEntity);
      } else {
        const attr = (name: string) => new RegExp(`${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)'|([^\\s>"']+))`, 'i').exec(attrs);
        let entity: Partial<MessageEntity> = { type: TAG_TYPES[tag] };
        if (tag === 'a') {
          const href = attr('href');
          if (!href) throw new EntityParseError(`can't parse entities: Can't find "href" attribute of tag "a" at byte offset ${byteOffset(i)}`);
          entity = { type: 'text_link', url: decodeEntities(href[1] ?? href[2] ?? href[3] ?? '') } as Partial<MessageEntity>;
        }
        if (tag === 'span') {
          const cls = attr('class');
          if ((cls?.[1] ?? cls?.[2] ?? cls?.[3]) !== 'tg-spoiler') throw new EntityParseError(`can't parse entities: Tag "span" must have class "tg-spoiler" at byte offset ${byteOffset(i)}`);
        }
        // Telegram's nesting rules: pre/code neither contain nor sit inside other entities (except
        // <pre><code class="language-…">), blockquotes don't nest.
        const parent = stack[stack.length - 1];
        const codeLike = (t: string) => t === 'code' || t === 'pre';
        const allowed = parent?.tag === 'pre' && tag === 'code';
        if (parent && !allowed && (codeLike(parent.tag) || codeLike(tag) || (tag === 'blockquote' && stack.some((s) => s.tag === 'blockquote')))) {
          throw new EntityParseError(`can't parse entities: Can't nest "${tag}" inside "${parent.tag}" at byte offset ${byteOffset(i)}`);
        }
        stack.push({ tag, offset: text.length, entity });
      }
      i += whole.length;
    } else if (ch === '&') {
      const m = /^&(lt|gt|amp|quot|#(\d{1,7})|#x([0-9a-fA-F]{1,6}));/.exec(html.slice(i));
      if (!m) throw new EntityParseError(`can't parse entities: Character "&" must be escaped as "&amp;" at byte offset ${byteOffset(i)}`);
      text += decodeEntities(m[0]);
      i += m[0].length;
    } else if (ch === '>') {
      throw new EntityParseError(`can't parse entities: Character ">" must be escaped as "&gt;" at byte offset ${byteOffset(i)}`);
    } else {
      text += ch;
      i += 1;
    }
  }
  if (stack.length > 0) {
    throw new EntityParseError(`can't parse entities: Can't find end tag corresponding to start tag "${stack[stack.length - 1].tag}"`);
  }
  entities.sort((a, b) => a.offset - b.offset || b.length - a.length);
  return { text, entities };
}

function decodeEntities(s: string): string {
  return s.replace(/&(lt|gt|amp|quot|#(\d{1,7})|#x([0-9a-fA-F]{1,6}));/g, (_, name: string, dec?: string, hex?: string) => {
    if (dec) return String.fromCodePoint(Number(dec));
    if (hex) return String.fromCodePoint(parseInt(hex, 16));
    return ({ lt: '<', gt: '>', amp: '&', quot: '"' } as Record<string, string>)[name];
  });
}

// ---------------------------------------------------------------------------------------------- server

class ApiFailure extends Error {
  constructor(readonly apiError: TelegramApiError) {
    super(apiError.description);
  }
}

function bad(what: string): never {
  throw new ApiFailure(telegramErrors.badRequest(what));
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * multipart/form-data as grammY sends it for uploads: text fields (objects as JSON text) plus file parts
 * named by the `attach://<id>` strings in the fields; those fields get the file's bytes.
 */
export function parseMultipart(body: Buffer, contentType: string): Record<string, unknown> {
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
  if (!boundary) throw new Error('multipart body without a boundary');
  const delimiter = Buffer.from(`--${boundary[1] ?? boundary[2]}`);
  const fields: Record<string, string> = {};
  const files: Record<string, Buffer> = {};
  let pos = body.indexOf(delimiter);
  while (pos >= 0) {
    const start = pos + delimiter.length;
    if (body.subarray(start, start + 2).toString() === '--') break;
    const next = body.indexOf(delimiter, start);
    if (next < 0) break;
    const part = body.subarray(start + 2, next - 2); // skip the CRLF after the delimiter and before the next one
    const split = part.indexOf('\r\n\r\n');
    const head = part.subarray(0, split).toString('utf8');
    const content = part.subarray(split + 4);
    const name = /name="([^"]+)"/i.exec(head)?.[1];
    if (name) {
      if (/filename=/i.test(head)) files[name] = Buffer.from(content);
      else fields[name] = content.toString('utf8');
    }
    pos = next;
  }
  const out: Record<string, unknown> = { ...fields };
  for (const [key, value] of Object.entries(fields)) {
    const attach = /^attach:\/\/(.+)$/.exec(value);
    if (attach && files[attach[1]]) out[key] = files[attach[1]];
  }
  return out;
}

function postJson(url: string, body: string, headers: Record<string, string>): Promise<DeliverResult> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = httpRequest(
      { host: u.hostname, port: u.port, path: u.pathname + u.search, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Starts the fake Bot API server on 127.0.0.1:0. Close it in `t.after`. */
export async function startFakeTelegram(options: FakeTelegramOptions = {}): Promise<FakeTelegram> {
  const token = options.token ?? '123456789:TEST-fake-token-for-arb-tests-000';
  const botInfo: UserFromGetMe = {
    id: Number(token.split(':')[0]),
    is_bot: true,
    first_name: 'Arb Test Shop',
    username: 'arb_test_bot',
    can_join_groups: true,
    can_read_all_group_messages: false,
    supports_inline_queries: false,
    can_connect_to_business: false,
    has_main_web_app: false,
    has_topics_enabled: false,
    allows_users_to_create_topics: false,
    can_manage_bots: false,
    supports_join_request_queries: false,
    ...options.botInfo,
  } as UserFromGetMe;
  const deliverTimeoutMs = options.deliverTimeoutMs ?? 15_000;

  const calls: RecordedCall[] = [];
  const failures: Failure[] = [];
  const blocked = new Set<number>();
  const chats = new Map<number, ChatMessage[]>();
  const nextMessageId = new Map<number, number>();
  const callbackAnswers: { callback_query_id: string; text?: string; show_alert?: boolean }[] = [];
  const keyboards: InlineKeyboardButton[][][] = [];
  let webhook: { url: string; secret_token?: string; allowed_updates?: string[] } | undefined;
  let updateId = 500_000;
  let callbackSeq = 0;
  const queue: Update[] = [];
  const pollers = new Set<PollWaiter>();
  const ackWaiters: { updateId: number; resolve: () => void }[] = [];
  let closed = false;
  let getUpdatesConflicts = 0;
  const starPayments = new Map<string, FakeStarPayment>();
  const commandLists = new Map<string, BotCommand[]>();
  const scopeKey = (scope: unknown, languageCode: unknown) => `${JSON.stringify(scope ?? { type: 'default' })}|${typeof languageCode === 'string' ? languageCode : ''}`;

  let touches = 0;
  const touch = (m: ChatMessage) => {
    m.touched = ++touches;
    return m;
  };
  const chatOf = (chatId: number) => {
    let list = chats.get(chatId);
    if (!list) chats.set(chatId, (list = []));
    return list;
  };
  const newMessageId = (chatId: number) => {
    const n = (nextMessageId.get(chatId) ?? 0) + 1;
    nextMessageId.set(chatId, n);
    return n;
  };
  const asChatId = (v: unknown): number => {
    const n = typeof v === 'string' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isFinite(n)) bad('chat_id is empty');
    if (blocked.has(n)) throw new ApiFailure(telegramErrors.blocked());
    return n;
  };

  const render = (payload: Record<string, unknown>, field = 'text'): { text: string; entities: ShownEntity[]; raw: string } => {
    const raw = payload[field];
    if (typeof raw !== 'string' || raw.length === 0) bad(`${field === 'text' ? 'message' : field} text is empty`);
    let text = raw;
    let entities: MessageEntity[] = [];
    const mode = payload.parse_mode;
    if (mode === 'HTML') {
      try {
        ({ text, entities } = parseTelegramHtml(raw));
      } catch (e) {
        if (e instanceof EntityParseError) bad(e.message);
        throw e;
      }
    } else if (mode !== undefined) {
      bad(`unsupported parse_mode ${String(mode)} in this fake (the bot uses HTML)`);
    } else if (Array.isArray(payload.entities)) {
      entities = payload.entities as MessageEntity[];
    }
    if (text.trim().length === 0) bad('message text is empty');
    if (text.length > MAX_TEXT) bad('message is too long');
    return { text, raw, entities: entities.map((e) => ({ ...e, text: text.slice(e.offset, e.offset + e.length) })) };
  };

  const keyboardOf = (payload: Record<string, unknown>): InlineKeyboardButton[][] | undefined => {
    let markup = payload.reply_markup as unknown;
    if (markup === undefined) return undefined;
    if (typeof markup === 'string') markup = JSON.parse(markup);
    const rows = (markup as { inline_keyboard?: InlineKeyboardButton[][] }).inline_keyboard;
    if (!rows) return undefined;
    const actions = ['callback_data', 'url', 'copy_text', 'web_app', 'login_url', 'switch_inline_query', 'switch_inline_query_current_chat', 'pay'];
    for (const row of rows) {
      for (const button of row) {
        if (!button.text) bad('text buttons are unallowed in the inline keyboard');
        if (actions.filter((a) => a in button).length !== 1) bad(`BUTTON_TYPE_INVALID: button "${button.text}" needs exactly one action`);
        const data = (button as InlineKeyboardButton.CallbackButton).callback_data;
        if (data !== undefined && (Buffer.byteLength(data) > 64 || Buffer.byteLength(data) === 0)) bad('BUTTON_DATA_INVALID');
        const copy = (button as InlineKeyboardButton.CopyTextButtonButton).copy_text;
        if (copy !== undefined && (typeof copy.text !== 'string' || copy.text.length < 1 || copy.text.length > 256)) bad('BUTTON_COPY_TEXT_INVALID');
      }
    }
    keyboards.push(rows);
    return rows;
  };

  const forceReplyOf = (payload: Record<string, unknown>): boolean => {
    let markup = payload.reply_markup as unknown;
    if (typeof markup === 'string') markup = JSON.parse(markup);
    return (markup as { force_reply?: boolean } | undefined)?.force_reply === true;
  };

  const toMessage = (m: ChatMessage): Message => {
    const base = {
      message_id: m.message_id,
      date: Math.floor(Date.now() / 1000),
      chat: { id: m.chat_id, type: 'private' as const, first_name: 'Customer' },
      from: m.fromBot ? botInfo : undefined,
      ...(m.invoice
        ? { invoice: { title: m.invoice.title, description: m.invoice.description, start_parameter: '', currency: m.invoice.currency, total_amount: m.invoice.total_amount } }
        : m.photo
          ? { photo: [{ file_id: `photo-${m.message_id}`, file_unique_id: `p${m.message_id}`, width: 1, height: 1 }], caption: m.text }
          : { text: m.text }),
      ...(m.entities.length ? { [m.photo ? 'caption_entities' : 'entities']: m.entities.map(({ text: _t, ...e }) => e) } : {}),
      ...(m.inline_keyboard ? { reply_markup: { inline_keyboard: m.inline_keyboard } } : {}),
      ...(m.edits ? { edit_date: Math.floor(Date.now() / 1000) } : {}),
    };
    return base as unknown as Message;
  };

  const findMessage = (payload: Record<string, unknown>): ChatMessage => {
    const chatId = asChatId(payload.chat_id);
    const msg = chatOf(chatId).find((m) => m.message_id === Number(payload.message_id));
    if (!msg) bad('message to edit not found');
    if (!msg.fromBot) bad("message can't be edited");
    return msg;
  };

  const sameKeyboard = (a?: InlineKeyboardButton[][], b?: InlineKeyboardButton[][]) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

  const methods: Record<string, (payload: Record<string, unknown>, req: IncomingMessage, res: ServerResponse) => unknown> = {
    getMe: () => botInfo,
    logOut: () => true,
    close: () => true,
    setMyCommands: (p) => {
      const commands = (typeof p.commands === 'string' ? JSON.parse(p.commands) : p.commands) as BotCommand[];
      if (!Array.isArray(commands)) bad('commands is empty');
      if (commands.length > 100) bad('too many commands');
      for (const c of commands) {
        if (typeof c.command !== 'string' || !/^[a-z0-9_]{1,32}$/.test(c.command)) bad(`BOT_COMMAND_INVALID: "${c.command}"`);
        if (typeof c.description !== 'string' || c.description.length < 1 || c.description.length > 256) bad(`BOT_COMMAND_DESCRIPTION_INVALID for /${c.command}`);
      }
      const scope = p.scope as { type?: string; chat_id?: unknown } | undefined;
      if (scope?.type === 'chat') asChatId(scope.chat_id);
      if (p.language_code !== undefined && !/^[a-z]{2}$/.test(String(p.language_code))) bad('LANG_CODE_INVALID');
      commandLists.set(scopeKey(scope, p.language_code), commands);
      return true;
    },
    deleteMyCommands: (p) => {
      commandLists.delete(scopeKey(p.scope, p.language_code));
      return true;
    },
    getMyCommands: (p) => commandLists.get(scopeKey(p.scope, p.language_code)) ?? [],
    setWebhook: (p) => {
      if (typeof p.url !== 'string') bad('bad webhook: URL is empty');
      if (p.url === '') {
        webhook = undefined;
        return true;
      }
      if (p.secret_token !== undefined && !/^[A-Za-z0-9_-]{1,256}$/.test(String(p.secret_token))) bad('bad webhook: secret token contains unallowed characters');
      webhook = { url: p.url, secret_token: p.secret_token as string | undefined, allowed_updates: p.allowed_updates as string[] | undefined };
      return true;
    },
    deleteWebhook: () => {
      webhook = undefined;
      return true;
    },
    getWebhookInfo: () => ({ url: webhook?.url ?? '', has_custom_certificate: false, pending_update_count: queue.length, allowed_updates: webhook?.allowed_updates }),
    sendMessage: (p) => {
      const chatId = asChatId(p.chat_id);
      const shown = render(p);
      const inline_keyboard = keyboardOf(p);
      const msg: ChatMessage = {
        message_id: newMessageId(chatId),
        chat_id: chatId,
        fromBot: true,
        ...shown,
        parse_mode: p.parse_mode as string | undefined,
        inline_keyboard,
        forceReply: forceReplyOf(p),
        edits: 0,
      };
      chatOf(chatId).push(touch(msg));
      return toMessage(msg);
    },
    sendPhoto: (p) => {
      const chatId = asChatId(p.chat_id);
      const photo = p.photo;
      if (!Buffer.isBuffer(photo)) bad(typeof photo === 'string' ? 'wrong file identifier/HTTP URL specified' : 'there is no photo in the request');
      if (photo.length === 0) bad('IMAGE_PROCESS_FAILED');
      const shown = typeof p.caption === 'string' && p.caption.length > 0 ? render(p, 'caption') : { text: '', raw: '', entities: [] };
      if (shown.text.length > 1024) bad('message caption is too long');
      const inline_keyboard = keyboardOf(p);
      const msg: ChatMessage = { message_id: newMessageId(chatId), chat_id: chatId, fromBot: true, ...shown, parse_mode: p.parse_mode as string | undefined, inline_keyboard, photo, edits: 0 };
      chatOf(chatId).push(touch(msg));
      return toMessage(msg);
    },
    refundStarPayment: (p) => {
      const userId = Number(p.user_id);
      const chargeId = String(p.telegram_payment_charge_id ?? '');
      const payment = starPayments.get(chargeId);
      if (!payment) bad('CHARGE_NOT_FOUND');
      if (payment.user_id !== userId) bad('USER_ID_INVALID');
      if (payment.refunded) bad('CHARGE_ALREADY_REFUNDED');
      payment.refunded = true;
      return true;
    },
    editMessageText: (p) => {
      const msg = findMessage(p);
      const shown = render(p);
      const inline_keyboard = keyboardOf(p);
      if (shown.text === msg.text && JSON.stringify(shown.entities) === JSON.stringify(msg.entities) && sameKeyboard(inline_keyboard, msg.inline_keyboard)) {
        throw new ApiFailure(telegramErrors.notModified());
      }
      Object.assign(msg, shown, { parse_mode: p.parse_mode, inline_keyboard, edits: msg.edits + 1 });
      touch(msg);
      return toMessage(msg);
    },
    editMessageReplyMarkup: (p) => {
      const msg = findMessage(p);
      const inline_keyboard = keyboardOf(p);
      if (sameKeyboard(inline_keyboard, msg.inline_keyboard)) throw new ApiFailure(telegramErrors.notModified());
      msg.inline_keyboard = inline_keyboard;
      msg.edits += 1;
      touch(msg);
      return toMessage(msg);
    },
    deleteMessage: (p) => {
      const chatId = asChatId(p.chat_id);
      const list = chatOf(chatId);
      const idx = list.findIndex((m) => m.message_id === Number(p.message_id));
      if (idx < 0) bad('message to delete not found');
      list.splice(idx, 1);
      return true;
    },
    answerCallbackQuery: (p) => {
      if (typeof p.callback_query_id !== 'string') bad('query is too old and response timeout expired or query ID is invalid');
      if (typeof p.text === 'string' && p.text.length > 200) bad('MESSAGE_TOO_LONG');
      callbackAnswers.push({ callback_query_id: p.callback_query_id, text: p.text as string | undefined, show_alert: p.show_alert as boolean | undefined });
      return true;
    },
    sendInvoice: (p) => {
      const chatId = asChatId(p.chat_id);
      const title = String(p.title ?? '');
      const description = String(p.description ?? '');
      const payload = String(p.payload ?? '');
      if (title.length < 1 || title.length > 32) bad('INVOICE_TITLE_INVALID');
      if (description.length < 1 || description.length > 255) bad('INVOICE_DESCRIPTION_INVALID');
      if (Buffer.byteLength(payload) < 1 || Buffer.byteLength(payload) > 128) bad('INVOICE_PAYLOAD_INVALID');
      const prices = p.prices as { label: string; amount: number }[] | undefined;
      if (!Array.isArray(prices) || prices.length === 0) bad('PRICES_EMPTY');
      if (p.currency === 'XTR') {
        if (p.provider_token !== undefined && p.provider_token !== '') bad('PAYMENT_PROVIDER_INVALID: Stars invoices need an empty provider_token');
        if (prices.length !== 1) bad('STARS_INVOICE_INVALID: exactly one price is required for Stars');
      } else if (!p.provider_token) bad('PAYMENT_PROVIDER_INVALID');
      for (const price of prices) if (!Number.isSafeInteger(price.amount) || price.amount <= 0) bad('CURRENCY_TOTAL_AMOUNT_INVALID');
      const inline_keyboard = keyboardOf(p);
      const msg: ChatMessage = {
        message_id: newMessageId(chatId),
        chat_id: chatId,
        fromBot: true,
        text: `${title}\n${description}`,
        raw: '',
        entities: [],
        inline_keyboard,
        invoice: { title, description, payload, currency: String(p.currency), total_amount: prices.reduce((s, x) => s + x.amount, 0), prices },
        edits: 0,
      };
      chatOf(chatId).push(touch(msg));
      return toMessage(msg);
    },
    answerPreCheckoutQuery: (p) => {
      if (typeof p.pre_checkout_query_id !== 'string') bad('QUERY_ID_INVALID');
      if (p.ok === false && !p.error_message) bad('error_message is required when ok is false');
      return true;
    },
    getUpdates: (p, req, res) => {
      if (webhook) {
        throw new ApiFailure({ error_code: 409, description: "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first" });
      }
      const offset = Number(p.offset ?? 0);
      const limit = Math.min(Math.max(Number(p.limit ?? 100), 1), 100);
      const timeout = Math.min(Number(p.timeout ?? 0), 50);
      for (const other of [...pollers]) other.conflict();
      confirmBelow(offset);
      const ready = queue.filter((u) => u.update_id >= offset).slice(0, limit);
      if (ready.length > 0 || timeout <= 0 || closed) return ready;
      return new Promise<Update[]>((resolve, reject) => {
        const waiter: PollWaiter = {
          offset,
          limit,
          respond: (updates) => {
            clearTimeout(timer);
            pollers.delete(waiter);
            resolve(updates);
          },
          conflict: () => {
            clearTimeout(timer);
            pollers.delete(waiter);
            getUpdatesConflicts += 1;
            reject(new ApiFailure({ error_code: 409, description: 'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running' }));
          },
        };
        const timer = setTimeout(() => waiter.respond([]), timeout * 1000);
        pollers.add(waiter);
        res.on('close', () => {
          clearTimeout(timer);
          pollers.delete(waiter);
        });
        void req;
      });
    },
  };

  function confirmBelow(offset: number) {
    if (offset <= 0) return;
    for (let i = queue.length - 1; i >= 0; i--) if (queue[i].update_id < offset) queue.splice(i, 1);
    for (let i = ackWaiters.length - 1; i >= 0; i--) {
      if (ackWaiters[i].updateId < offset) {
        ackWaiters[i].resolve();
        ackWaiters.splice(i, 1);
      }
    }
  }

  function wakePollers() {
    for (const waiter of [...pollers]) {
      const ready = queue.filter((u) => u.update_id >= waiter.offset).slice(0, waiter.limit);
      if (ready.length > 0) waiter.respond(ready);
    }
  }

  const server: Server = createServer((req, res) => {
    serve(req, res).catch(() => res.destroy());
  });
  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const send = (status: number, body: unknown) => {
      if (res.headersSent || res.destroyed) return;
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    const m = /^\/bot([^/]+)\/([A-Za-z]+)$/.exec((req.url ?? '').split('?')[0]);
    if (!m) return send(404, { ok: false, error_code: 404, description: 'Not Found' });
    const [, gotToken, method] = m;
    let payload: Record<string, unknown> = {};
    try {
      const raw = await readBody(req);
      const type = req.headers['content-type'] ?? '';
      if (/^multipart\/form-data/i.test(type)) payload = parseMultipart(raw, type);
      else if (raw.toString('utf8').trim()) payload = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
    } catch {
      return send(400, { ok: false, error_code: 400, description: 'Bad Request: invalid JSON or form data in the fake Bot API' });
    }
    if (gotToken !== token) return send(401, { ok: false, error_code: 401, description: 'Unauthorized' });
    const impl = methods[method];
    if (!impl) return send(404, { ok: false, error_code: 404, description: `Not Found: method ${method} is not implemented by the fake Bot API` });
    const failure = failures.find((f) => f.method === method && f.remaining > 0 && (!f.match || f.match(payload)));
    if (failure) {
      failure.remaining -= 1;
      calls.push({ method, payload, ok: false, error: failure.error });
      return send(failure.error.error_code, { ok: false, ...failure.error });
    }
    // recorded on arrival (a long poll is visible while it waits); flipped to failed if it fails
    const record: RecordedCall = { method, payload, ok: true };
    calls.push(record);
    try {
      const result = await impl(payload, req, res);
      send(200, { ok: true, result });
    } catch (e) {
      record.ok = false;
      if (e instanceof ApiFailure) {
        record.error = e.apiError;
        return send(e.apiError.error_code, { ok: false, ...e.apiError });
      }
      record.error = { error_code: 500, description: String(e) };
      send(500, { ok: false, error_code: 500, description: `Internal Server Error: ${(e as Error).message}` });
    }
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  /** the bot's messages, the one sent or edited last first */
  const byTouch = (chatId: number) =>
    chatOf(chatId)
      .filter((m) => m.fromBot)
      .sort((a, b) => (b.touched ?? 0) - (a.touched ?? 0));

  const chatFor = (user: User) => ({ id: user.id, type: 'private' as const, first_name: user.first_name, username: user.username });

  const fake: FakeTelegram = {
    apiRoot: `http://127.0.0.1:${port}`,
    token,
    botInfo,
    calls,
    callbackAnswers,
    get getUpdatesConflicts() {
      return getUpdatesConflicts;
    },
    get waitingPolls() {
      return pollers.size;
    },
    get webhook() {
      return webhook;
    },
    callsOf: (method) => calls.filter((c) => c.method === method && c.ok).map((c) => c.payload),
    failNext(method, error, opts = {}) {
      failures.push({ method, error, remaining: opts.times ?? 1, match: opts.match });
    },
    blockBot(chatId, on = true) {
      if (on) blocked.add(chatId);
      else blocked.delete(chatId);
    },
    user: (id, profile = {}) => ({ id, is_bot: false, first_name: profile.first_name ?? `User${id}`, language_code: 'en', ...profile }),
    nextUpdateId: () => ++updateId,
    messageUpdate(from, text) {
      const chatId = from.id;
      const msg: ChatMessage = { message_id: newMessageId(chatId), chat_id: chatId, fromBot: false, text, raw: text, entities: [], edits: 0 };
      chatOf(chatId).push(msg);
      const command = /^\/[A-Za-z0-9_]+(@[A-Za-z0-9_]+)?/.exec(text);
      return {
        update_id: fake.nextUpdateId(),
        message: {
          message_id: msg.message_id,
          date: Math.floor(Date.now() / 1000),
          chat: chatFor(from),
          from,
          text,
          ...(command ? { entities: [{ type: 'bot_command', offset: 0, length: command[0].length }] } : {}),
        },
      } as Update;
    },
    callbackUpdate(from, data, message) {
      return {
        update_id: fake.nextUpdateId(),
        callback_query: {
          id: `cbq-${from.id}-${++callbackSeq}`,
          from,
          chat_instance: `ci-${from.id}`,
          data,
          ...(message ? { message: toMessage(message) } : {}),
        },
      } as Update;
    },
    preCheckoutUpdate(from, invoice) {
      return {
        update_id: fake.nextUpdateId(),
        pre_checkout_query: {
          id: `pcq-${from.id}-${++callbackSeq}`,
          from,
          currency: invoice.currency ?? 'XTR',
          total_amount: invoice.total_amount,
          invoice_payload: invoice.payload,
        },
      } as Update;
    },
    successfulPaymentUpdate(from, payment) {
      const chatId = from.id;
      const messageId = newMessageId(chatId);
      if (payment.charge_id && !starPayments.has(payment.charge_id) && (payment.currency ?? 'XTR') === 'XTR') {
        starPayments.set(payment.charge_id, { user_id: from.id, charge_id: payment.charge_id, total_amount: payment.total_amount, refunded: false });
      }
      return {
        update_id: fake.nextUpdateId(),
        message: {
          message_id: messageId,
          date: Math.floor(Date.now() / 1000),
          chat: chatFor(from),
          from,
          successful_payment: {
            currency: payment.currency ?? 'XTR',
            total_amount: payment.total_amount,
            invoice_payload: payment.payload,
            telegram_payment_charge_id: payment.charge_id,
            provider_payment_charge_id: '',
          },
        },
      } as Update;
    },
    replyUpdate(from, text, to) {
      const update = fake.messageUpdate(from, text);
      const mine = chatOf(from.id)[chatOf(from.id).length - 1];
      mine.replyTo = to.message_id;
      (update.message as unknown as Record<string, unknown>).reply_to_message = toMessage(to);
      return update;
    },
    async deliver(update, opts = {}) {
      if (webhook) {
        const secret = opts.secretToken === undefined ? webhook.secret_token : opts.secretToken;
        const headers: Record<string, string> = secret === null || secret === undefined ? {} : { 'x-telegram-bot-api-secret-token': secret };
        return postJson(webhook.url, JSON.stringify(update), headers);
      }
      const acked = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`update ${update.update_id} was not confirmed by getUpdates within ${deliverTimeoutMs} ms (is the bot polling?)`)), deliverTimeoutMs);
        ackWaiters.push({
          updateId: update.update_id,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
      queue.push(update);
      queue.sort((a, b) => a.update_id - b.update_id);
      wakePollers();
      await acked;
      return { status: 200, body: '' };
    },
    send(from, text) {
      return fake.deliver(fake.messageUpdate(from, text));
    },
    async press(from, label) {
      const found = fake.findButton(from.id, label);
      if (!found) {
        throw new Error(`no button ${String(label)} in chat ${from.id}; buttons on screen: ${JSON.stringify(fake.buttons(from.id))}`);
      }
      const data = (found.button as InlineKeyboardButton.CallbackButton).callback_data;
      if (data === undefined) throw new Error(`button ${String(label)} is not a callback button`);
      return fake.deliver(fake.callbackUpdate(from, data, found.message));
    },
    async pay(from, chargeId) {
      const invoiceMsg = [...chatOf(from.id)].reverse().find((m) => m.invoice);
      if (!invoiceMsg?.invoice) throw new Error(`no invoice in chat ${from.id}`);
      const { payload, total_amount, currency } = invoiceMsg.invoice;
      const pcq = fake.preCheckoutUpdate(from, { payload, total_amount, currency });
      await fake.deliver(pcq);
      const answer = fake.callsOf('answerPreCheckoutQuery').find((p) => p.pre_checkout_query_id === pcq.pre_checkout_query!.id);
      if (!answer) throw new Error('the bot did not answer the pre_checkout_query');
      if (!answer.ok) return { preCheckoutOk: false, errorMessage: answer.error_message as string };
      await fake.deliver(fake.successfulPaymentUpdate(from, { payload, total_amount, charge_id: chargeId, currency }));
      return { preCheckoutOk: true };
    },
    async reply(from, text, to) {
      const target = to ?? [...chatOf(from.id)].reverse().find((m) => m.fromBot && m.forceReply);
      if (!target) throw new Error(`no bot message asking for a reply in chat ${from.id}`);
      return fake.deliver(fake.replyUpdate(from, text, target));
    },
    starPayments,
    commandsFor: (scope, languageCode) => commandLists.get(scopeKey(scope, languageCode)),
    messages: (chatId) => [...chatOf(chatId)],
    botMessages: (chatId) => chatOf(chatId).filter((m) => m.fromBot),
    lastBotMessage(chatId) {
      const list = fake.botMessages(chatId);
      if (list.length === 0) throw new Error(`the bot sent nothing to chat ${chatId}`);
      return list.reduce((a, b) => ((b.touched ?? 0) >= (a.touched ?? 0) ? b : a));
    },
    buttons(chatId) {
      const withKeyboard = byTouch(chatId).find((m) => m.inline_keyboard?.length);
      return withKeyboard?.inline_keyboard?.flat().map((b) => b.text) ?? [];
    },
    copyTexts(chatId) {
      return fake.botMessages(chatId).flatMap((message) =>
        (message.inline_keyboard ?? []).flat().flatMap((b) => {
          const copy = (b as InlineKeyboardButton.CopyTextButtonButton).copy_text;
          return copy ? [{ text: copy.text, label: b.text, message }] : [];
        }),
      );
    },
    findBotMessage: (chatId, pattern) => [...fake.botMessages(chatId)].reverse().find((m) => pattern.test(m.text)),
    findButton(chatId, label) {
      const matches = (text: string) => (typeof label === 'string' ? text === label : label.test(text));
      for (const message of byTouch(chatId)) {
        if (!message.inline_keyboard) continue;
        const button = message.inline_keyboard.flat().find((b) => matches(b.text));
        if (button) return { button, message };
      }
      return undefined;
    },
    allKeyboards: () => [...keyboards],
    async close() {
      closed = true;
      for (const waiter of [...pollers]) waiter.respond([]);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return fake;
}
