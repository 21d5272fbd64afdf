/**
 * The one `Database` interface (SPEC §7). Money columns are integer µ$; timestamps are UTC text
 * `YYYY-MM-DD HH:MM:SS` on both SQLite and PostgreSQL so the manual's SQL works as written.
 */
import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

type Id = Generated<number>;
/** UTC `YYYY-MM-DD HH:MM:SS`. */
export type Timestamp = string;

export interface UsersTable {
  id: Id;
  telegram_id: number;
  username: string | null;
  first_name: string | null;
  language_code: string | null;
  /** µ$ */
  balance: ColumnType<number, number | undefined, number>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export type TransactionType = 'topup' | 'purchase' | 'refund' | 'adjustment';

export interface TransactionsTable {
  id: Id;
  user_id: number;
  type: TransactionType;
  /** signed µ$ */
  amount: number;
  balance_after: number;
  /** unique where external (telegram_payment_charge_id, purchase request id, …) */
  reference: string | null;
  package_id: number | null;
  allocation_id: number | null;
  note: string | null;
  created_at: Timestamp;
}

export interface CategoriesTable {
  id: Id;
  name: string;
  parent_id: number | null;
  created_at: Timestamp;
}

export interface AiModelsTable {
  id: Id;
  /** OpenRouter id, e.g. openai/gpt-4 */
  model_id: string;
  name: string;
  /** µ$ per million prompt tokens; null = unknown/variable upstream price (not sellable) */
  prompt_rate: number | null;
  completion_rate: number | null;
  context_length: number | null;
  max_completion_tokens: number | null;
  /** µ$ per million cache-read / cache-write prompt tokens; null = none listed (billed as prompt tokens) */
  input_cache_read_rate: ColumnType<number | null, number | null | undefined, number | null>;
  input_cache_write_rate: ColumnType<number | null, number | null | undefined, number | null>;
  /** 1 while the model is listed upstream */
  is_active: number;
  created_at: Timestamp;
  updated_at: Timestamp;
  synced_at: Timestamp | null;
}

/** 'unknown': stored before price modes were recorded; the next reprice decides it (see the price-mode migration) */
export type PackagePriceMode = 'formula' | 'fixed' | 'unknown';

export interface AiTokenPackagesTable {
  id: Id;
  model: string;
  tokens: number;
  description: string;
  category_id: number | null;
  subcategory_id: number | null;
  /** µ$ */
  cost: number;
  /** µ$ */
  price: number;
  validity_days: number;
  is_available: number;
  /** why a sync put it on hold: 'margin' | 'gone' | null */
  hold_reason: string | null;
  /** 'formula': priced by the settings, repriced when they or the rates change; 'fixed': the operator's explicit price; 'unknown': not decided yet */
  price_mode: ColumnType<PackagePriceMode, PackagePriceMode | undefined, PackagePriceMode>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export type AllocationStatus = 'active' | 'expired' | 'revoked';

export interface AiTokenAllocationsTable {
  id: Id;
  user_id: number;
  package_id: number;
  /** masked display form sk-arb-AbCd…wxyz */
  api_key: string;
  /** hex SHA-256 of the full key */
  api_key_hash: string;
  model: string;
  tokens_total: number;
  tokens_reserved: ColumnType<number, number | undefined, number>;
  tokens_used: ColumnType<number, number | undefined, number>;
  /** µ$ paid (0 for free grants) */
  price_paid: number;
  expires_at: Timestamp;
  status: AllocationStatus;
  /** set when the 80 % alert was sent */
  alerted_usage_at: Timestamp | null;
  /** set when the 3-days-before-expiry alert was sent */
  alerted_expiry_at: Timestamp | null;
  /** µ$: the package's cost when sold (null on rows written before it existed: the package's cost then) */
  cost_basis: number | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** `withheld`: the response was not delivered because its charge could not be recorded (503, nothing charged) */
export type UsageOutcome = 'ok' | 'upstream_error' | 'client_abort' | 'upstream_cut' | 'timeout' | 'shutdown' | 'withheld';

export interface UsageEventsTable {
  id: Id;
  request_id: string;
  allocation_id: number;
  model: string;
  prompt_tokens: number;
  completion_tokens: number;
  /** prompt-equivalent tokens charged to the key */
  weighted_tokens: number;
  /** weighted tokens served beyond what the key could pay (operator loss) */
  loss_tokens: number;
  /** µ$ the upstream reported (usage.cost), 0 when unknown */
  upstream_cost: number;
  /** cache reads and writes (parts of prompt_tokens), reasoning (a part of completion_tokens) */
  cache_read_tokens: ColumnType<number, number | undefined, number>;
  cache_write_tokens: ColumnType<number, number | undefined, number>;
  reasoning_tokens: ColumnType<number, number | undefined, number>;
  /** the model the upstream said answered (null when it named none) */
  answered_model: ColumnType<string | null, string | null | undefined, string | null>;
  /** µ$ the upstream reported above the cost basis of the tokens charged (operator loss) */
  cost_loss: ColumnType<number, number | undefined, number>;
  latency_ms: number;
  status_code: number;
  outcome: UsageOutcome;
  estimated: number;
  stream: number;
  created_at: Timestamp;
}

/** Open holds: one row per in-flight request, owned by a daemon instance, keyed by request_id (on SQLite the table has no other column or index). */
export interface ReservationsTable {
  request_id: string;
  allocation_id: number;
  tokens: number;
  instance_id: string;
  created_at: Timestamp;
}

export interface InstancesTable {
  id: Id;
  instance_id: string;
  pid: number;
  hostname: string;
  started_at: Timestamp;
  heartbeat_at: Timestamp;
}

export interface ProcessedUpdatesTable {
  id: Id;
  update_id: number;
  processed_at: Timestamp;
}

/** Small key/value store: last sync time, alert state, … */
export interface SettingsTable {
  id: Id;
  key: string;
  value: string;
  updated_at: Timestamp;
}

/** Usage events summed per UTC day, model and key (src/stats/rollup.ts). */
export interface UsageDailyTable {
  id: Id;
  /** UTC YYYY-MM-DD */
  day: string;
  model: string;
  allocation_id: number;
  requests: number;
  failed_requests: number;
  prompt_tokens: number;
  completion_tokens: number;
  weighted_tokens: number;
  loss_tokens: number;
  /** µ$ */
  upstream_cost: number;
  /** µ$: Σ per request ⌊weighted × price_paid / tokens_total⌋ (the revenue of the tokens used) */
  used_revenue: number;
}

/** Usage, sales, refunds and top-ups summed per UTC day and model ('' = none). */
export interface ModelDailyTable extends Omit<UsageDailyTable, 'allocation_id'> {
  free_upstream_cost: number;
  sales: number;
  tokens_sold: number;
  gross_sales: number;
  cost: number;
  free_grants: number;
  free_grant_tokens: number;
  free_grant_cost: number;
  refunds: number;
  refund_count: number;
  topups: number;
  topup_count: number;
}

/** Per source table, the highest id summed into the rollups. */
export interface RollupStateTable {
  id: Id;
  source: string;
  last_id: number;
}

export type TicketStatus = 'open' | 'closed';

/** A customer's support request from the bot (/support, /paysupport, ✉️ Support). */
export interface SupportTicketsTable {
  id: Id;
  user_id: number;
  text: string;
  /** telegram_payment_charge_id the customer named (payment support), if any */
  charge_id: string | null;
  status: TicketStatus;
  /** admins the ticket reached when it was filed */
  admins_reached: number;
  created_at: Timestamp;
  closed_at: Timestamp | null;
  /** who closed it: `telegram:<id>` or `cli` */
  closed_by: string | null;
}

/** Replies on a ticket: an admin's answer, or the customer's follow-up. */
export interface SupportMessagesTable {
  id: Id;
  ticket_id: number;
  author: 'customer' | 'admin' | 'operator';
  author_telegram_id: number | null;
  text: string;
  /** 1 when it reached the other side */
  delivered: number;
  created_at: Timestamp;
}

/** A Stars payment given back through refundStarPayment, once per charge id. */
export interface StarRefundsTable {
  id: Id;
  charge_id: string;
  user_id: number;
  stars: number;
  /** µ$ the payment had credited */
  credited: number;
  /** µ$ taken back from the balance */
  taken_back: number;
  /** µ$ already spent and refunded anyway (--force): the operator's loss */
  loss: number;
  /** 'pending' between the claim and the ledger rows (a retry resumes it) */
  status: 'pending' | 'done';
  requested_by: string;
  created_at: Timestamp;
  completed_at: Timestamp | null;
}

/** Gift codes: only the hash of a code is stored; `amount` (µ$) or `package_id`, never both. */
export interface GiftCodesTable {
  id: Id;
  code_hash: string;
  /** codes made by one `arb codes create` share a batch name */
  batch: string;
  amount: number | null;
  package_id: number | null;
  expires_at: Timestamp | null;
  created_at: Timestamp;
  redeemed_at: Timestamp | null;
  redeemed_by: number | null;
  transaction_id: number | null;
}

/** State of the bot's guided conversations (grammY conversations plugin), shared by the replicas. */
export interface BotConversationsTable {
  id: Id;
  key: string;
  value: string;
  updated_at: Timestamp;
}

export interface Database {
  users: UsersTable;
  transactions: TransactionsTable;
  categories: CategoriesTable;
  ai_models: AiModelsTable;
  ai_token_packages: AiTokenPackagesTable;
  ai_token_allocations: AiTokenAllocationsTable;
  usage_events: UsageEventsTable;
  reservations: ReservationsTable;
  instances: InstancesTable;
  processed_updates: ProcessedUpdatesTable;
  settings: SettingsTable;
  usage_daily: UsageDailyTable;
  model_daily: ModelDailyTable;
  rollup_state: RollupStateTable;
  support_tickets: SupportTicketsTable;
  support_messages: SupportMessagesTable;
  star_refunds: StarRefundsTable;
  gift_codes: GiftCodesTable;
  bot_conversations: BotConversationsTable;
}

export type UserRow = Selectable<UsersTable>;
export type TransactionRow = Selectable<TransactionsTable>;
export type CategoryRow = Selectable<CategoriesTable>;
export type AiModelRow = Selectable<AiModelsTable>;
export type NewAiModel = Insertable<AiModelsTable>;
export type PackageRow = Selectable<AiTokenPackagesTable>;
export type AllocationRow = Selectable<AiTokenAllocationsTable>;
export type NewUsageEvent = Insertable<UsageEventsTable>;
