/**
 * Frozen once released: never import app code. On SQLite, `reservations` (the holds in flight: a row per
 * metered request, written by its hold and deleted by its settle) becomes one B-tree keyed by request_id
 * (`without rowid`), with no index on instance_id. Before, each hold and each settle changed three B-trees
 * (the rows by id, the unique request_id index and the instance_id index), so three WAL frames in every
 * commit; now one. The table holds only the requests in flight (and, after a crash, the dead instance's
 * until they are released at start-up), so the rare release by instance reads it whole. PostgreSQL keeps
 * its table: its cost per commit is not in the pages touched. Each way the move is one savepoint (kysely runs
 * SQLite migrations outside a transaction): a crash in the middle leaves the table as it was.
 */
import { sql, type Kysely, type Migration } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function atomically(db: Kysely<any>, steps: ReturnType<typeof sql>[]): Promise<void> {
  await db.connection().execute(async (conn) => {
    await sql`savepoint reservations_move`.execute(conn);
    try {
      for (const step of steps) await step.execute(conn);
    } catch (e) {
      await sql`rollback to reservations_move`.execute(conn);
      await sql`release reservations_move`.execute(conn);
      throw e;
    }
    await sql`release reservations_move`.execute(conn);
  });
}

export function reservationsByRequestMigration(dialect: 'sqlite' | 'postgres'): Migration {
  return {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    async up(db: Kysely<any>) {
      if (dialect !== 'sqlite') return;
      await atomically(db, [
        sql`create table reservations_by_request (
        request_id text primary key not null,
        allocation_id bigint not null references ai_token_allocations (id),
        tokens bigint not null,
        instance_id text not null,
        created_at text not null default (datetime('now'))
      ) without rowid`,
        sql`insert into reservations_by_request (request_id, allocation_id, tokens, instance_id, created_at)
          select request_id, allocation_id, tokens, instance_id, created_at from reservations`,
        sql`drop table reservations`,
        sql`alter table reservations_by_request rename to reservations`,
      ]);
    },
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    async down(db: Kysely<any>) {
      if (dialect !== 'sqlite') return;
      await atomically(db, [
        sql`create table reservations_by_id (
        id integer primary key autoincrement,
        request_id text not null unique,
        allocation_id bigint not null references ai_token_allocations (id),
        tokens bigint not null,
        instance_id text not null,
        created_at text not null default (datetime('now'))
      )`,
        sql`insert into reservations_by_id (request_id, allocation_id, tokens, instance_id, created_at)
          select request_id, allocation_id, tokens, instance_id, created_at from reservations order by created_at, request_id`,
        sql`drop table reservations`,
        sql`alter table reservations_by_id rename to reservations`,
        sql`create index idx_reservations_instance on reservations (instance_id)`,
      ]);
    },
  };
}
