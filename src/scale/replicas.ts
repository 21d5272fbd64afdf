/** How many daemon replicas are alive right now, from the `instances` heartbeats (src/metering/instances.ts). */
import type { DbHandle } from '../db/dialect.js';
import { toDbTime } from '../time.js';

/** Instances whose heartbeat is younger than `staleAfterMs` (default 60 s, as hold recovery uses); at least 1. */
export async function countLiveInstances(handle: DbHandle, staleAfterMs = 60_000, now: Date = new Date()): Promise<number> {
  const fresh = toDbTime(new Date(now.getTime() - staleAfterMs));
  const row = await handle.db
    .selectFrom('instances')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('heartbeat_at', '>=', fresh)
    .executeTakeFirstOrThrow();
  return Math.max(1, Number(row.n));
}
