/**
 * Customer alerts (SPEC §5): a key at ≥ 80 % used, and a key expiring within 3 days — each once per key.
 * Each notice is claimed in the database before it is sent (so replicas never double-send); a send that
 * fails for a passing reason gives the claim back so the next run retries; a user who blocked the bot is
 * not retried. `createCustomerAlerts` runs them every `intervalMs` (start/stop).
 */
import type { Api } from 'grammy';
import type { DbHandle } from '../../src/db/dialect.js';
import type { Logger } from '../../src/logger.js';
import { addDays, toDbTime } from '../../src/time.js';
import { describeBotError, isUnreachableUser } from './api-errors.js';
import { claimAlert, expiryAlertCandidates, releaseAlert, usageAlertCandidates, type AlertCandidate } from './data.js';
import type { Locales } from './locales/index.js';
import { createPeriodic, type Periodic } from './periodic.js';

export interface CustomerAlertDeps {
  api: Api;
  handle: DbHandle;
  logger: Logger;
  locales: Locales;
  now: () => Date;
}

/** Days before expiry at which a customer is told. */
export const EXPIRY_NOTICE_DAYS = 3;

/** Sends the notices that are due; returns how many were sent. */
export async function runCustomerAlerts(deps: CustomerAlertDeps): Promise<number> {
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
      const t = deps.locales.pick(row.languageCode);
      const key = { masked: row.maskedKey, model: row.model, total: row.tokensTotal, used: row.tokensUsed, expiresAt: row.expiresAt };
      try {
        await deps.api.sendMessage(row.telegramId, kind === 'usage' ? t.alerts.usage(key) : t.alerts.expiry(key), { parse_mode: 'HTML' });
        sent += 1;
        deps.logger.info(
          { business_event: true, event_type: `customer_alert_${kind}`, user_id: row.telegramId, allocation_id: row.id, model: row.model },
          `customer told: key ${kind === 'usage' ? '80 % used' : 'expires soon'}`,
        );
      } catch (err) {
        if (isUnreachableUser(err)) {
          deps.logger.info({ telegram_user_id: row.telegramId, allocation_id: row.id }, 'customer alert not delivered: the user blocked the bot or cannot be reached');
        } else {
          await releaseAlert(deps.handle, row.id, kind);
          deps.logger.warn({ telegram_user_id: row.telegramId, allocation_id: row.id, error: (err as Error).message }, 'customer alert failed; will retry on the next run');
        }
      }
    }
  }
  return sent;
}

/** The alerts every `intervalMs` (0 = only when run() is called). */
export function createCustomerAlerts(deps: CustomerAlertDeps & { intervalMs: number }): Periodic<number> {
  return createPeriodic(
    deps.intervalMs,
    () => runCustomerAlerts(deps),
    (err) => deps.logger.error({ error: describeBotError(err) }, 'customer alerts run failed'),
  );
}
