/**
 * Messages the bot sends on its own: customer alerts (80 % used, 3 days before expiry — each once per key)
 * and messages to every admin (operational alerts, payment-support requests).
 */
import type { Api } from 'grammy';
import type { DbHandle } from '../../src/db/dialect.js';
import type { Logger } from '../../src/logger.js';
import { addDays, toDbTime } from '../../src/time.js';
import { isUnreachableUser } from './api-errors.js';
import { claimAlert, expiryAlertCandidates, releaseAlert, usageAlertCandidates, type AlertCandidate } from './data.js';
import { MAX_MESSAGE_CHARS, renderedLength } from './format.js';
import type { Locale, Locales } from './locales/index.js';

export interface NotifierDeps {
  api: Api;
  handle: DbHandle;
  logger: Logger;
  locales: Locales;
  adminIds: () => readonly number[];
  now: () => Date;
}

/** Days before expiry at which a customer is told. */
export const EXPIRY_NOTICE_DAYS = 3;

/**
 * Tells customers about keys at ≥ 80 % used and keys expiring within 3 days. Each notice is claimed in the
 * database before it is sent (so replicas never double-send); a send that fails for a passing reason gives
 * the claim back so the next run retries; a user who blocked the bot is not retried. Returns notices sent.
 */
export async function runCustomerAlerts(deps: NotifierDeps): Promise<number> {
  const now = deps.now();
  const nowText = toDbTime(now);
  const horizon = toDbTime(addDays(now, EXPIRY_NOTICE_DAYS));
  let sent = 0;
  const kinds: { kind: 'usage' | 'expiry'; rows: AlertCandidate[] }[] = [
    { kind: 'usage', rows: await usageAlertCandidates(deps.handle, nowText) },
    { kind: 'expiry', rows: await expiryAlertCandidates(deps.handle, nowText, horizon) },
  ];
  for (const { kind, rows } of kinds) {
    for (const row of rows) {
      if (!(await claimAlert(deps.handle, row.id, kind, nowText))) continue;
      const t = deps.locales.pick(row.language_code);
      const key = { masked: row.api_key, model: row.model, total: row.tokens_total, used: row.tokens_used, expiresAt: row.expires_at };
      try {
        await deps.api.sendMessage(row.telegram_id, kind === 'usage' ? t.alerts.usage(key) : t.alerts.expiry(key), { parse_mode: 'HTML' });
        sent += 1;
        deps.logger.info({ business_event: true, event_type: `customer_alert_${kind}`, user_id: row.telegram_id, allocation_id: row.id, model: row.model }, `customer told: key ${kind === 'usage' ? '80 % used' : 'expires soon'}`);
      } catch (err) {
        if (isUnreachableUser(err)) {
          deps.logger.info({ telegram_user_id: row.telegram_id, allocation_id: row.id }, 'customer alert not delivered: the user blocked the bot or cannot be reached');
        } else {
          await releaseAlert(deps.handle, row.id, kind);
          deps.logger.warn({ telegram_user_id: row.telegram_id, allocation_id: row.id, error: (err as Error).message }, 'customer alert failed; will retry on the next run');
        }
      }
    }
  }
  return sent;
}

/** Sends an HTML message, rendered in each admin's language, to every admin. Returns how many received it. */
export async function messageAdmins(deps: NotifierDeps, render: (t: Locale) => string): Promise<number> {
  const ids = deps.adminIds();
  if (ids.length === 0) return 0;
  const rows = await deps.handle.db.selectFrom('users').select(['telegram_id', 'language_code']).where('telegram_id', 'in', [...ids]).execute();
  const language = new Map(rows.map((r) => [r.telegram_id, r.language_code]));
  let delivered = 0;
  for (const id of ids) {
    const html = render(deps.locales.pick(language.get(id)));
    try {
      await deps.api.sendMessage(id, html, { parse_mode: 'HTML', link_preview_options: { is_disabled: true } });
      delivered += 1;
    } catch (err) {
      deps.logger.warn({ telegram_user_id: id, error: (err as Error).message }, isUnreachableUser(err) ? 'admin cannot be messaged (blocked the bot or never started it)' : 'admin message failed');
    }
  }
  return delivered;
}

/** Operational alert text for admins, kept within Telegram's message limit. */
export function operationalAlert(t: Locale, text: string): string {
  let body = text;
  while (renderedLength(t.admin.operationalAlert(body)) > MAX_MESSAGE_CHARS) body = `${[...body].slice(0, Math.floor(body.length * 0.9)).join('')}…`;
  return t.admin.operationalAlert(body);
}
