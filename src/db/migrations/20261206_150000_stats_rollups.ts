/**
 * Frozen: never edit, never import app code. Statistics that do not grow with history (issue 15.4):
 * - `usage_daily`: usage events summed per UTC day, model and key (allocation);
 * - `model_daily`: usage, sales, refunds and top-ups summed per UTC day and model ('' = no model: top-ups,
 *   refunds of no sale);
 * - `rollup_state`: per source table, the highest id summed into them (rows above it are read raw);
 * - `ai_token_allocations.cost_basis`: the package's cost when it was sold (a reprice never rewrites the
 *   cost of past sales), filled for existing rows from their package;
 * - indexes for the raw reads at a window's edge (allocations by created_at) and for counting active keys
 *   without visiting every allocation ever sold.
 */
import { sql, type CreateTableBuilder, type Kysely, type Migration } from 'kysely';

export function statsRollupsMigration(dialect: 'sqlite' | 'postgres'): Migration {
  const pg = dialect === 'postgres';
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  type Db = Kysely<any>;
  type Table = CreateTableBuilder<string, string>; // a table under construction, its columns by name
  const sums = ['requests', 'failed_requests', 'prompt_tokens', 'completion_tokens', 'weighted_tokens', 'loss_tokens', 'upstream_cost', 'used_revenue'];
  const salesSums = ['free_upstream_cost', 'sales', 'tokens_sold', 'gross_sales', 'cost', 'free_grants', 'free_grant_tokens', 'free_grant_cost', 'refunds', 'refund_count', 'topups', 'topup_count'];
  return {
    async up(db: Db) {
      const id = (t: Table): Table => (pg ? t.addColumn('id', 'bigserial', (c) => c.primaryKey()) : t.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement()));

      let t = id(db.schema.createTable('usage_daily'))
        .addColumn('day', 'text', (c) => c.notNull())
        .addColumn('model', 'text', (c) => c.notNull())
        .addColumn('allocation_id', 'bigint', (c) => c.notNull());
      for (const s of sums) t = t.addColumn(s, 'bigint', (c) => c.notNull().defaultTo(0));
      await t.addUniqueConstraint('usage_daily_day_key_model', ['day', 'allocation_id', 'model']).execute();
      await db.schema.createIndex('idx_usage_daily_allocation').on('usage_daily').column('allocation_id').execute();

      t = id(db.schema.createTable('model_daily'))
        .addColumn('day', 'text', (c) => c.notNull())
        .addColumn('model', 'text', (c) => c.notNull());
      for (const s of [...sums, ...salesSums]) t = t.addColumn(s, 'bigint', (c) => c.notNull().defaultTo(0));
      await t.addUniqueConstraint('model_daily_day_model', ['day', 'model']).execute();

      await id(db.schema.createTable('rollup_state'))
        .addColumn('source', 'text', (c) => c.notNull().unique())
        .addColumn('last_id', 'bigint', (c) => c.notNull().defaultTo(0))
        .execute();
      await db
        .insertInto('rollup_state')
        .values([{ source: 'usage_events' }, { source: 'ai_token_allocations' }, { source: 'transactions' }])
        .execute();

      await db.schema.alterTable('ai_token_allocations').addColumn('cost_basis', 'bigint').execute();
      await sql`update ai_token_allocations set cost_basis = (select p.cost from ai_token_packages p where p.id = ai_token_allocations.package_id)`.execute(db);
      await db.schema.createIndex('idx_ai_token_allocations_created').on('ai_token_allocations').column('created_at').execute();
      await db.schema.createIndex('idx_ai_token_allocations_active').on('ai_token_allocations').columns(['status', 'expires_at']).execute();
    },
    async down(db: Db) {
      await db.schema.dropIndex('idx_ai_token_allocations_active').ifExists().execute();
      await db.schema.dropIndex('idx_ai_token_allocations_created').ifExists().execute();
      await db.schema.alterTable('ai_token_allocations').dropColumn('cost_basis').execute();
      for (const table of ['rollup_state', 'model_daily', 'usage_daily']) await db.schema.dropTable(table).ifExists().execute();
    },
  };
}
