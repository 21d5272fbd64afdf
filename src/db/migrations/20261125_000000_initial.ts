/**
 * Frozen: never edit, never import app code. Creates the SPEC §7 schema on SQLite or PostgreSQL.
 */
import { sql, type CreateTableBuilder, type Kysely, type Migration } from 'kysely';

export function initialMigration(dialect: 'sqlite' | 'postgres'): Migration {
  const pg = dialect === 'postgres';
  const now = pg ? sql`(to_char(now() at time zone 'utc', 'YYYY-MM-DD HH24:MI:SS'))` : sql`(datetime('now'))`;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  type Db = Kysely<any>;
  type Table = CreateTableBuilder<string, string>; // a table under construction, its columns by name
  const id = (t: Table): Table => (pg ? t.addColumn('id', 'bigserial', (c) => c.primaryKey()) : t.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement()));
  const stamps = (t: Table, ...names: string[]): Table => {
    for (const n of names) t = t.addColumn(n, 'text', (c) => c.notNull().defaultTo(now));
    return t;
  };

  return {
    async up(db: Db) {
      let t;
      t = id(db.schema.createTable('users'));
      t = t
        .addColumn('telegram_id', 'bigint', (c) => c.notNull().unique())
        .addColumn('username', 'text')
        .addColumn('first_name', 'text')
        .addColumn('language_code', 'text')
        .addColumn('balance', 'bigint', (c) => c.notNull().defaultTo(0));
      await stamps(t, 'created_at', 'updated_at').execute();

      t = id(db.schema.createTable('categories'));
      t = t.addColumn('name', 'text', (c) => c.notNull()).addColumn('parent_id', 'bigint', (c) => c.references('categories.id'));
      await stamps(t, 'created_at').execute();

      t = id(db.schema.createTable('transactions'));
      t = t
        .addColumn('user_id', 'bigint', (c) => c.notNull().references('users.id'))
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('amount', 'bigint', (c) => c.notNull())
        .addColumn('balance_after', 'bigint', (c) => c.notNull())
        .addColumn('reference', 'text', (c) => c.unique())
        .addColumn('package_id', 'bigint')
        .addColumn('allocation_id', 'bigint')
        .addColumn('note', 'text')
        .addCheckConstraint('transactions_type_check', sql`type in ('topup', 'purchase', 'refund', 'adjustment')`);
      await stamps(t, 'created_at').execute();
      await db.schema.createIndex('idx_transactions_user').on('transactions').columns(['user_id', 'id']).execute();
      await db.schema.createIndex('idx_transactions_created').on('transactions').column('created_at').execute();

      t = id(db.schema.createTable('ai_models'));
      t = t
        .addColumn('model_id', 'text', (c) => c.notNull().unique())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('prompt_rate', 'bigint')
        .addColumn('completion_rate', 'bigint')
        .addColumn('context_length', 'bigint')
        .addColumn('max_completion_tokens', 'bigint')
        .addColumn('is_active', 'integer', (c) => c.notNull().defaultTo(1));
      t = stamps(t, 'created_at', 'updated_at');
      await t.addColumn('synced_at', 'text').execute();

      t = id(db.schema.createTable('ai_token_packages'));
      t = t
        .addColumn('model', 'text', (c) => c.notNull())
        .addColumn('tokens', 'bigint', (c) => c.notNull())
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('category_id', 'bigint', (c) => c.references('categories.id'))
        .addColumn('subcategory_id', 'bigint', (c) => c.references('categories.id'))
        .addColumn('cost', 'bigint', (c) => c.notNull())
        .addColumn('price', 'bigint', (c) => c.notNull())
        .addColumn('validity_days', 'integer', (c) => c.notNull())
        .addColumn('is_available', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('hold_reason', 'text');
      await stamps(t, 'created_at', 'updated_at').execute();
      await db.schema.createIndex('idx_ai_token_packages_available').on('ai_token_packages').column('is_available').execute();

      t = id(db.schema.createTable('ai_token_allocations'));
      t = t
        .addColumn('user_id', 'bigint', (c) => c.notNull().references('users.id'))
        .addColumn('package_id', 'bigint', (c) => c.notNull().references('ai_token_packages.id'))
        .addColumn('api_key', 'text', (c) => c.notNull())
        .addColumn('api_key_hash', 'text', (c) => c.notNull().unique())
        .addColumn('model', 'text', (c) => c.notNull())
        .addColumn('tokens_total', 'bigint', (c) => c.notNull())
        .addColumn('tokens_reserved', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('tokens_used', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('price_paid', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull().defaultTo('active'))
        .addColumn('alerted_usage_at', 'text')
        .addColumn('alerted_expiry_at', 'text')
        .addCheckConstraint('allocations_tokens_check', sql`tokens_used >= 0 and tokens_reserved >= 0 and tokens_used + tokens_reserved <= tokens_total`);
      await stamps(t, 'created_at', 'updated_at').execute();
      await db.schema.createIndex('idx_ai_token_allocations_user').on('ai_token_allocations').column('user_id').execute();
      await db.schema.createIndex('idx_ai_token_allocations_expires').on('ai_token_allocations').column('expires_at').execute();

      t = id(db.schema.createTable('usage_events'));
      t = t
        .addColumn('request_id', 'text', (c) => c.notNull().unique())
        .addColumn('allocation_id', 'bigint', (c) => c.notNull().references('ai_token_allocations.id'))
        .addColumn('model', 'text', (c) => c.notNull())
        .addColumn('prompt_tokens', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('completion_tokens', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('weighted_tokens', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('loss_tokens', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('upstream_cost', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('latency_ms', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('status_code', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('estimated', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('stream', 'integer', (c) => c.notNull().defaultTo(0));
      await stamps(t, 'created_at').execute();
      await db.schema.createIndex('idx_usage_events_allocation').on('usage_events').column('allocation_id').execute();
      await db.schema.createIndex('idx_usage_events_created').on('usage_events').column('created_at').execute();

      t = id(db.schema.createTable('reservations'));
      t = t
        .addColumn('request_id', 'text', (c) => c.notNull().unique())
        .addColumn('allocation_id', 'bigint', (c) => c.notNull().references('ai_token_allocations.id'))
        .addColumn('tokens', 'bigint', (c) => c.notNull())
        .addColumn('instance_id', 'text', (c) => c.notNull());
      await stamps(t, 'created_at').execute();
      await db.schema.createIndex('idx_reservations_instance').on('reservations').column('instance_id').execute();

      t = id(db.schema.createTable('instances'));
      t = t
        .addColumn('instance_id', 'text', (c) => c.notNull().unique())
        .addColumn('pid', 'integer', (c) => c.notNull())
        .addColumn('hostname', 'text', (c) => c.notNull());
      await stamps(t, 'started_at', 'heartbeat_at').execute();

      t = id(db.schema.createTable('processed_updates'));
      t = t.addColumn('update_id', 'bigint', (c) => c.notNull().unique());
      await stamps(t, 'processed_at').execute();

      t = id(db.schema.createTable('settings'));
      t = t.addColumn('key', 'text', (c) => c.notNull().unique()).addColumn('value', 'text', (c) => c.notNull());
      await stamps(t, 'updated_at').execute();

      if (pg) {
        // Lets the operations manual's SQLite recipes (`expires_at < datetime('now')`) run unchanged on PostgreSQL.
        await sql`create or replace function datetime(text) returns text language sql stable as $$ select to_char(now() at time zone 'utc', 'YYYY-MM-DD HH24:MI:SS') $$`.execute(db);
      }
    },
    async down(db: Db) {
      for (const table of [
        'settings',
        'processed_updates',
        'instances',
        'reservations',
        'usage_events',
        'ai_token_allocations',
        'ai_token_packages',
        'ai_models',
        'transactions',
        'categories',
        'users',
      ]) {
        await db.schema.dropTable(table).ifExists().execute();
      }
    },
  };
}
