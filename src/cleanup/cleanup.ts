/**
 * Housekeeping (SPEC §6 `arb cleanup`, the bot's 🧹 Cleanup Expired): marks keys past `expires_at` as
 * 'expired' — only the status changes; balances, the ledger and token counts stay as they are — and
 * removes rotated log files older than the retention. `planCleanup` only looks; `applyCleanup` acts.
 */
import { unlinkSync } from 'node:fs';
import { sql } from 'kysely';
import type { DbHandle } from '../db/dialect.js';
import { transact } from '../db/dialect.js';
import { pruneLogFiles, type LogFileInfo } from '../logs/files.js';
import { toDbTime } from '../time.js';

export interface ExpiringKey {
  id: number;
  /** masked form */
  apiKey: string;
  telegramId: number;
  model: string;
  expiresAt: string;
  tokensUnused: number;
}

export interface CleanupPlan {
  /** stored form of the moment the plan was made */
  now: string;
  keys: ExpiringKey[];
  logDir: string;
  /** null: rotated logs are kept (LOG_RETENTION_DAYS=0 and no --log-retention-days) */
  logRetentionDays: number | null;
  logCutoff: Date | null;
  logs: LogFileInfo[];
  logBytes: number;
}

export interface CleanupOptions {
  logDir: string;
  /** null keeps every rotated log */
  logRetentionDays: number | null;
  now?: Date;
}

/** What a cleanup would do now; changes nothing. */
export async function planCleanup(handle: DbHandle, options: CleanupOptions): Promise<CleanupPlan> {
  const nowDate = options.now ?? new Date();
  const now = toDbTime(nowDate);
  const rows = await sql<{ id: number; api_key: string; telegram_id: number; model: string; expires_at: string; unused: number }>`
    select a.id, a.api_key, u.telegram_id, a.model, a.expires_at, a.tokens_total - a.tokens_used as unused
    from ai_token_allocations a join users u on u.id = a.user_id
    where a.status = 'active' and a.expires_at < ${now}
    order by a.expires_at, a.id`.execute(handle.db);
  const logs = options.logRetentionDays === null ? null : pruneLogFiles(options.logDir, options.logRetentionDays, { dryRun: true, now: nowDate });
  return {
    now,
    keys: rows.rows.map((r) => ({ id: Number(r.id), apiKey: r.api_key, telegramId: Number(r.telegram_id), model: r.model, expiresAt: r.expires_at, tokensUnused: Number(r.unused) })),
    logDir: options.logDir,
    logRetentionDays: options.logRetentionDays,
    logCutoff: logs?.cutoff ?? null,
    logs: logs?.removed ?? [],
    logBytes: logs?.freedBytes ?? 0,
  };
}

export interface CleanupResult {
  expiredKeys: number;
  removedLogs: LogFileInfo[];
  freedBytes: number;
}

/** Expires the keys of the plan that are still active and past expiry, then prunes the logs. */
export async function applyCleanup(handle: DbHandle, plan: CleanupPlan, hooks: { onStep?: (step: 'keys' | 'logs', state: 'start' | 'done', detail?: string) => void } = {}): Promise<CleanupResult> {
  const step = hooks.onStep ?? (() => {});
  step('keys', 'start');
  let expiredKeys = 0;
  if (plan.keys.length > 0) {
    const ids = plan.keys.map((k) => k.id);
    expiredKeys = await transact(handle, async (trx) => {
      let changed = 0;
      for (let i = 0; i < ids.length; i += 500) {
        const r = await trx
          .updateTable('ai_token_allocations')
          .set({ status: 'expired', updated_at: plan.now })
          .where('id', 'in', ids.slice(i, i + 500))
          .where('status', '=', 'active')
          .where('expires_at', '<', plan.now)
          .executeTakeFirst();
        changed += Number(r.numUpdatedRows);
      }
      return changed;
    });
  }
  step('keys', 'done', `${expiredKeys} expired`);
  // exactly the files the plan listed (and the operator confirmed), never more
  step('logs', 'start');
  const removedLogs: LogFileInfo[] = [];
  for (const f of plan.logs) {
    try {
      unlinkSync(f.path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      continue;
    }
    removedLogs.push(f);
  }
  step('logs', 'done', `${removedLogs.length} removed`);
  return { expiredKeys, removedLogs, freedBytes: removedLogs.reduce((a, f) => a + f.bytes, 0) };
}
