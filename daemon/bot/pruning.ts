/**
 * Forgets processed update ids after `keepDays` (Telegram stops redelivering an update after 24 h), every
 * `intervalMs` (start/stop), so `processed_updates` stays small.
 */
import type { DbHandle } from '../../src/db/dialect.js';
import type { Logger } from '../../src/logger.js';
import { addDays, toDbTime } from '../../src/time.js';
import { describeBotError } from './api-errors.js';
import { pruneProcessedUpdates } from './data.js';
import { createPeriodic, type Periodic } from './periodic.js';

export interface UpdatePruningDeps {
  handle: DbHandle;
  logger: Logger;
  now: () => Date;
  intervalMs: number;
  /** default 7 */
  keepDays?: number;
}

export function createUpdatePruning(deps: UpdatePruningDeps): Periodic<number> {
  return createPeriodic(
    deps.intervalMs,
    () => pruneProcessedUpdates(deps.handle, toDbTime(addDays(deps.now(), -(deps.keepDays ?? 7)))),
    (err) => deps.logger.error({ error: describeBotError(err) }, 'pruning processed update ids failed'),
  );
}
