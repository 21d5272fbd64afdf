/** Catalog rows written by hand, for tests that need a model at rates they choose (or one the fixture lacks). */
import type { DbHandle } from '../../src/db/dialect.js';
import { toDbTime } from '../../src/time.js';

export interface ModelRow {
  /** the OpenRouter id, e.g. openai/text-embedding-3-small */
  model: string;
  /** the display name; the id when not given */
  name?: string;
  /** µ$/Mtok */
  promptRate: number;
  completionRate: number;
}

/** Inserts an active model (8192-token context, no output cap); a row already there under that id is kept. */
export async function insertModel(handle: DbHandle, m: ModelRow, now: string = toDbTime(new Date())): Promise<void> {
  await handle.db
    .insertInto('ai_models')
    .values({
      model_id: m.model,
      name: m.name ?? m.model,
      prompt_rate: m.promptRate,
      completion_rate: m.completionRate,
      context_length: 8192,
      max_completion_tokens: null,
      is_active: 1,
      created_at: now,
      updated_at: now,
      synced_at: now,
    })
    .onConflict((oc) => oc.column('model_id').doNothing())
    .execute();
}
