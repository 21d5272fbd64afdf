/** Customer overview for `arb user list` (and the bot's admin views): one aggregate query. */
import { sql } from 'kysely';
import type { DbHandle } from '../db/dialect.js';
import { toDbTime } from '../time.js';

export interface CustomerRow {
  telegramId: number;
  username: string | null;
  firstName: string | null;
  balanceMicros: number;
  /** keys that are active and not past expiry */
  activeKeys: number;
  keys: number;
  /** Σ purchases − refunds, µ$ */
  spentMicros: number;
  /** Σ top-ups, µ$ */
  toppedUpMicros: number;
  createdAt: string;
}

export async function listCustomers(handle: DbHandle, options: { now?: Date; limit?: number } = {}): Promise<CustomerRow[]> {
  const now = toDbTime(options.now ?? new Date());
  const rows = await sql<{
    telegram_id: unknown;
    username: string | null;
    first_name: string | null;
    balance: unknown;
    active_keys: unknown;
    keys: unknown;
    spent: unknown;
    topped_up: unknown;
    created_at: string;
  }>`
    select u.telegram_id, u.username, u.first_name, u.balance, u.created_at,
           coalesce(k.active_keys, 0) as active_keys, coalesce(k.keys, 0) as keys,
           coalesce(t.spent, 0) as spent, coalesce(t.topped_up, 0) as topped_up
    from users u
    left join (select user_id, count(*) as keys,
                      sum(case when status = 'active' and expires_at > ${now} then 1 else 0 end) as active_keys
               from ai_token_allocations group by user_id) k on k.user_id = u.id
    left join (select user_id,
                      sum(case when type = 'purchase' then -amount when type = 'refund' then -amount else 0 end) as spent,
                      sum(case when type = 'topup' then amount else 0 end) as topped_up
               from transactions group by user_id) t on t.user_id = u.id
    order by u.id
    limit ${options.limit ?? 100_000}`.execute(handle.db);
  return rows.rows.map((r) => ({
    telegramId: Number(r.telegram_id),
    username: r.username,
    firstName: r.first_name,
    balanceMicros: Number(r.balance),
    activeKeys: Number(r.active_keys),
    keys: Number(r.keys),
    spentMicros: Number(r.spent),
    toppedUpMicros: Number(r.topped_up),
    createdAt: r.created_at,
  }));
}
