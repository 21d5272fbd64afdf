/**
 * Ledger reconciliation (SPEC §7 invariants): each balance = sum of its ledger; each ledger row's
 * balance_after = running sum; tokens_used = sum of usage events; reserved = sum of open holds; no
 * negative balance; no allocation over its total. Aggregate SQL only, so it stays fast on big ledgers.
 */
import { sql } from 'kysely';
import type { DbHandle } from '../db/dialect.js';

export interface AuditReport {
  ok: boolean;
  problems: string[];
  checked: { users: number; transactions: number; allocations: number; usage_events: number; reservations: number };
}

const MAX_LISTED = 50;

export async function auditLedger(handle: DbHandle): Promise<AuditReport> {
  const { db } = handle;
  const problems: string[] = [];
  const push = (list: string[]) => {
    for (const p of list) if (problems.length < MAX_LISTED) problems.push(p);
    if (list.length > 0 && problems.length >= MAX_LISTED && !problems[problems.length - 1].startsWith('…')) problems.push('… more problems not listed');
  };

  const balances = await sql<{ telegram_id: number; balance: number; ledger: number }>`
    select u.telegram_id, u.balance, coalesce(t.total, 0) as ledger
    from users u left join (select user_id, sum(amount) as total from transactions group by user_id) t on t.user_id = u.id
    where u.balance <> coalesce(t.total, 0)`.execute(db);
  push(balances.rows.map((r) => `user ${r.telegram_id}: balance ${r.balance} µ$ but ledger sums to ${r.ledger} µ$`));

  const negative = await db.selectFrom('users').select(['telegram_id', 'balance']).where('balance', '<', 0).execute();
  push(negative.map((r) => `user ${r.telegram_id}: negative balance ${r.balance} µ$`));

  const chain = await sql<{ id: number; user_id: number; balance_after: number; running: number }>`
    select id, user_id, balance_after, running from (
      select id, user_id, balance_after, sum(amount) over (partition by user_id order by id rows unbounded preceding) as running
      from transactions) x
    where balance_after <> running`.execute(db);
  push(chain.rows.map((r) => `transaction ${r.id}: balance_after ${r.balance_after} µ$ but the running sum is ${r.running} µ$`));

  const badTypes = await sql<{ id: number; type: string; amount: number }>`
    select id, type, amount from transactions
    where (type = 'topup' and amount <= 0) or (type = 'purchase' and amount > 0) or (type = 'refund' and amount < 0)`.execute(db);
  push(badTypes.rows.map((r) => `transaction ${r.id}: ${r.type} with amount ${r.amount} µ$ has the wrong sign`));

  const usage = await sql<{ id: number; tokens_used: number; events: number }>`
    select a.id, a.tokens_used, coalesce(e.total, 0) as events
    from ai_token_allocations a left join (select allocation_id, sum(weighted_tokens) as total from usage_events group by allocation_id) e on e.allocation_id = a.id
    where a.tokens_used <> coalesce(e.total, 0)`.execute(db);
  push(usage.rows.map((r) => `allocation ${r.id}: tokens_used ${r.tokens_used} but its usage events sum to ${r.events}`));

  const holds = await sql<{ id: number; tokens_reserved: number; held: number }>`
    select a.id, a.tokens_reserved, coalesce(r.total, 0) as held
    from ai_token_allocations a left join (select allocation_id, sum(tokens) as total from reservations group by allocation_id) r on r.allocation_id = a.id
    where a.tokens_reserved <> coalesce(r.total, 0)`.execute(db);
  push(holds.rows.map((r) => `allocation ${r.id}: tokens_reserved ${r.tokens_reserved} but open holds sum to ${r.held}`));

  const over = await db
    .selectFrom('ai_token_allocations')
    .select(['id', 'tokens_total', 'tokens_used', 'tokens_reserved'])
    .where((eb) => eb.or([eb(eb('tokens_used', '+', eb.ref('tokens_reserved')), '>', eb.ref('tokens_total')), eb('tokens_used', '<', 0), eb('tokens_reserved', '<', 0)]))
    .execute();
  push(over.map((r) => `allocation ${r.id}: used ${r.tokens_used} + reserved ${r.tokens_reserved} exceeds its total ${r.tokens_total}`));

  const purchases = await sql<{ id: number }>`
    select a.id from ai_token_allocations a
    where not exists (select 1 from transactions t where t.allocation_id = a.id and t.type in ('purchase', 'adjustment'))`.execute(db);
  push(purchases.rows.map((r) => `allocation ${r.id}: no purchase or grant in the ledger`));

  const count = async (table: 'users' | 'transactions' | 'ai_token_allocations' | 'usage_events' | 'reservations') =>
    Number((await db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
  return {
    ok: problems.length === 0,
    problems,
    checked: {
      users: await count('users'),
      transactions: await count('transactions'),
      allocations: await count('ai_token_allocations'),
      usage_events: await count('usage_events'),
      reservations: await count('reservations'),
    },
  };
}
