/**
 * Exactly-once handling: every update id is recorded in `processed_updates` before the update is handled
 * (insert-or-ignore), so a redelivered or replayed update — also after a restart, and across replicas
 * sharing the database — does nothing the second time. Sits outside the error boundary: when the database
 * cannot record the id, the update fails (webhook: HTTP 500) and Telegram delivers it again later.
 */
import type { Context, MiddlewareFn } from 'grammy';
import type { DbHandle } from '../../../src/db/dialect.js';
import type { Logger } from '../../../src/logger.js';
import { toDbTime } from '../../../src/time.js';
import { claimUpdate } from '../data.js';

export function dedupUpdates(deps: { handle: DbHandle; logger: Logger; now: () => Date }): MiddlewareFn<Context> {
  return async (ctx, next) => {
    const updateId = ctx.update.update_id;
    if (!(await claimUpdate(deps.handle, updateId, toDbTime(deps.now())))) {
      deps.logger.info({ update_id: updateId }, 'telegram update already processed; ignored');
      return;
    }
    await next();
  };
}
