/**
 * Frozen: never edit, never import app code. Support tickets (and their replies), Stars refunds, gift codes,
 * and the bot's conversation state (shared by daemon replicas).
 */
import { sql, type CreateTableBuilder, type Kysely, type Migration } from 'kysely';

export function supportRefundsCodesMigration(dialect: 'sqlite' | 'postgres'): Migration {
  const pg = dialect === 'postgres';
  const now = pg ? sql`(to_char(now() at time zone 'utc', 'YYYY-MM-DD HH24:MI:SS'))` : sql`(datetime('now'))`;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  type Db = Kysely<any>;
  type Table = CreateTableBuilder<string, string>; // a table under construction, its columns by name
  const table = (db: Db, name: string): Table => {
    const t: Table = db.schema.createTable(name);
    return pg ? t.addColumn('id', 'bigserial', (c) => c.primaryKey()) : t.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
  };

  return {
    async up(db: Db) {
      await table(db, 'support_tickets')
        .addColumn('user_id', 'bigint', (c) => c.notNull().references('users.id'))
        .addColumn('text', 'text', (c) => c.notNull())
        .addColumn('charge_id', 'text')
        .addColumn('status', 'text', (c) => c.notNull().defaultTo('open'))
        .addColumn('admins_reached', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'text', (c) => c.notNull().defaultTo(now))
        .addColumn('closed_at', 'text')
        .addColumn('closed_by', 'text')
        .addCheckConstraint('support_tickets_status_check', sql`status in ('open', 'closed')`)
        .execute();
      await db.schema.createIndex('idx_support_tickets_status').on('support_tickets').columns(['status', 'id']).execute();

      await table(db, 'support_messages')
        .addColumn('ticket_id', 'bigint', (c) => c.notNull().references('support_tickets.id'))
        .addColumn('author', 'text', (c) => c.notNull())
        .addColumn('author_telegram_id', 'bigint')
        .addColumn('text', 'text', (c) => c.notNull())
        .addColumn('delivered', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'text', (c) => c.notNull().defaultTo(now))
        .addCheckConstraint('support_messages_author_check', sql`author in ('customer', 'admin', 'operator')`)
        .execute();
      await db.schema.createIndex('idx_support_messages_ticket').on('support_messages').columns(['ticket_id', 'id']).execute();

      await table(db, 'star_refunds')
        .addColumn('charge_id', 'text', (c) => c.notNull().unique())
        .addColumn('user_id', 'bigint', (c) => c.notNull().references('users.id'))
        .addColumn('stars', 'bigint', (c) => c.notNull())
        .addColumn('credited', 'bigint', (c) => c.notNull())
        .addColumn('taken_back', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('loss', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('requested_by', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull().defaultTo(now))
        .addColumn('completed_at', 'text')
        .addCheckConstraint('star_refunds_status_check', sql`status in ('pending', 'done')`)
        .execute();

      await table(db, 'gift_codes')
        .addColumn('code_hash', 'text', (c) => c.notNull().unique())
        .addColumn('batch', 'text', (c) => c.notNull())
        .addColumn('amount', 'bigint')
        .addColumn('package_id', 'bigint', (c) => c.references('ai_token_packages.id'))
        .addColumn('expires_at', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull().defaultTo(now))
        .addColumn('redeemed_at', 'text')
        .addColumn('redeemed_by', 'bigint', (c) => c.references('users.id'))
        .addColumn('transaction_id', 'bigint')
        .addCheckConstraint('gift_codes_kind_check', sql`(amount is null) <> (package_id is null)`)
        .execute();
      await db.schema.createIndex('idx_gift_codes_batch').on('gift_codes').columns(['batch', 'id']).execute();

      await table(db, 'bot_conversations')
        .addColumn('key', 'text', (c) => c.notNull().unique())
        .addColumn('value', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull().defaultTo(now))
        .execute();
    },
    async down(db: Db) {
      for (const name of ['bot_conversations', 'gift_codes', 'star_refunds', 'support_messages', 'support_tickets']) await db.schema.dropTable(name).ifExists().execute();
    },
  };
}
