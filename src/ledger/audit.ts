/**
 * Ledger reconciliation (SPEC §7 invariants): each balance = sum of its ledger; each ledger row's
 * balance_after = running sum; tokens_used = sum of usage events; reserved = sum of open holds; no
 * negative balance; no allocation over its total. Aggregate SQL only, so it stays fast on big ledgers.
 *
 * Served means billed — a request that was served but not charged cannot hide from the audit:
 * - a usage event that served something (status 2xx, prompt or completion tokens counted) but charged
 *   nothing (weighted_tokens 0) and recorded no operator loss (loss_tokens 0, cost_loss 0) is a problem;
 * - a hold whose daemon instance is gone (not registered; on this host a dead pid; anywhere a heartbeat
 *   older than `staleAfterMs`) is a request that never settled: it may have delivered output;
 * - settles the database refused and the daemon keeps for later (its pending-settles file) are listed.
 */
import { hostname as osHostname } from 'node:os';
import { sql } from 'kysely';
import type { DbHandle } from '../db/dialect.js';
import { isPidAlive } from '../metering/instances.js';
import { pendingSettlesFiles, readPendingSettles } from '../metering/pending-settles.js';
import type { SettleInput } from '../metering/store.js';
import { toDbTime } from '../time.js';

export interface AuditReport {
  ok: boolean;
  problems: string[];
  checked: {
    users: number;
    transactions: number;
    allocations: number;
    usage_events: number;
    reservations: number;
    /** open holds whose daemon instance is gone */
    orphaned_holds: number;
    /** usage events that served output and charged nothing, with no recorded loss (tokens or µ$) */
    served_unbilled: number;
    /** settles waiting in the pending-settles file */
    pending_settles: number;
  };
}

export interface AuditOptions {
  /** where the daemons keep their pending-settles files (pendingSettlesLocation(config)); unset = not checked */
  pendingSettlesAt?: string;
  /** an instance whose heartbeat is older than this is gone, default 60 s (as the daemon decides) */
  staleAfterMs?: number;
  /** the host this audit runs on (pids are checked only for instances of this host) */
  hostname?: string;
  isAlive?: (pid: number) => boolean;
  now?: Date;
}

const MAX_LISTED = 50;

export async function auditLedger(handle: DbHandle, options: AuditOptions = {}): Promise<AuditReport> {
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

  const unbilled = await sql<{ request_id: string; allocation_id: number; prompt_tokens: number; completion_tokens: number; status_code: number; created_at: string }>`
    select request_id, allocation_id, prompt_tokens, completion_tokens, status_code, created_at from usage_events
    where status_code between 200 and 299 and prompt_tokens + completion_tokens > 0 and weighted_tokens = 0 and loss_tokens = 0 and cost_loss = 0
    order by id`.execute(db);
  push(
    unbilled.rows.map(
      (r) =>
        `usage event ${r.request_id} (allocation ${r.allocation_id}, ${r.created_at}): served (status ${r.status_code}, ${r.prompt_tokens} prompt + ${r.completion_tokens} completion tokens) but charged nothing and recorded no operator loss`,
    ),
  );

  const orphaned = await orphanedHolds(handle, options);
  push(
    orphaned.map(
      (h) =>
        `allocation ${h.allocation_id}: hold of ${h.tokens} tokens for request ${h.request_id} (since ${h.created_at}) belongs to daemon instance ${h.instance_id}, which is ${h.why}: the request never settled and may have delivered output; the next daemon start releases the hold`,
    ),
  );

  const pending: Array<SettleInput & { file: string }> = [];
  for (const file of options.pendingSettlesAt ? pendingSettlesFiles(options.pendingSettlesAt) : []) {
    try {
      for (const p of readPendingSettles(file)) pending.push({ ...p, file });
    } catch (e) {
      push([`${file}: unreadable pending-settles file (${(e as Error).message})`]);
    }
  }
  push(
    pending.map(
      (p) =>
        `request ${p.requestId} (allocation ${p.allocationId}): a charge of ${p.weightedTokens} tokens served at ${p.now ?? '?'} is pending in ${p.file} (the database refused it); the daemon applies it when it starts or the database accepts writes`,
    ),
  );

  const count = async (table: 'users' | 'transactions' | 'ai_token_allocations' | 'usage_events' | 'reservations') =>
    Number(
      (
        await db
          .selectFrom(table)
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
  return {
    ok: problems.length === 0,
    problems,
    checked: {
      users: await count('users'),
      transactions: await count('transactions'),
      allocations: await count('ai_token_allocations'),
      usage_events: await count('usage_events'),
      reservations: await count('reservations'),
      orphaned_holds: orphaned.length,
      served_unbilled: unbilled.rows.length,
      pending_settles: pending.length,
    },
  };
}

/** Open holds whose owner is gone, by the daemon's own rule (src/metering/instances.ts recoverOrphanedHolds). */
async function orphanedHolds(handle: DbHandle, options: AuditOptions) {
  const host = options.hostname ?? osHostname();
  const isAlive = options.isAlive ?? isPidAlive;
  const now = options.now ?? new Date();
  const staleBefore = toDbTime(new Date(now.getTime() - (options.staleAfterMs ?? 60_000)));
  const instances = new Map((await handle.db.selectFrom('instances').select(['instance_id', 'pid', 'hostname', 'heartbeat_at']).execute()).map((i) => [i.instance_id, i]));
  const holds = await handle.db.selectFrom('reservations').select(['request_id', 'allocation_id', 'tokens', 'instance_id', 'created_at']).orderBy('created_at').orderBy('request_id').execute();
  const out: Array<(typeof holds)[number] & { why: string }> = [];
  for (const h of holds) {
    const i = instances.get(h.instance_id);
    let why: string | undefined;
    if (!i) why = 'not registered';
    else if (i.hostname === host && i.pid !== process.pid && !isAlive(Number(i.pid))) why = `dead (pid ${i.pid} on ${host})`;
    else if (i.heartbeat_at < staleBefore) why = `silent since ${i.heartbeat_at}`;
    if (why) out.push({ ...h, why });
  }
  return out;
}
