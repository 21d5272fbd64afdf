/**
 * Frozen: never edit, never import app code. Token classes (SPEC §3): the catalog's cache rates on
 * `ai_models` (µ$ per million tokens, null when OpenRouter lists none), and on `usage_events` the classes of
 * each request (cache reads and writes are parts of prompt_tokens, reasoning a part of completion_tokens),
 * the model the upstream says answered, and the upstream cost above the cost basis of what was charged
 * (`cost_loss`, µ$: operator loss).
 */
import type { Kysely, Migration } from 'kysely';

export function tokenClassesMigration(): Migration {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  type Db = Kysely<any>;
  return {
    async up(db: Db) {
      await db.schema.alterTable('ai_models').addColumn('input_cache_read_rate', 'bigint').execute();
      await db.schema.alterTable('ai_models').addColumn('input_cache_write_rate', 'bigint').execute();
      for (const column of ['cache_read_tokens', 'cache_write_tokens', 'reasoning_tokens', 'cost_loss']) {
        await db.schema
          .alterTable('usage_events')
          .addColumn(column, 'bigint', (c) => c.notNull().defaultTo(0))
          .execute();
      }
      await db.schema.alterTable('usage_events').addColumn('answered_model', 'text').execute();
    },
    async down(db: Db) {
      for (const column of ['answered_model', 'cost_loss', 'reasoning_tokens', 'cache_write_tokens', 'cache_read_tokens']) {
        await db.schema.alterTable('usage_events').dropColumn(column).execute();
      }
      await db.schema.alterTable('ai_models').dropColumn('input_cache_write_rate').execute();
      await db.schema.alterTable('ai_models').dropColumn('input_cache_read_rate').execute();
    },
  };
}
