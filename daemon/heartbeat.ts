/**
 * This daemon instance's heartbeat (METERING.md §4): every `intervalMs` it refreshes its row in
 * `instances` (re-registering if another instance took it for dead) and releases the holds of instances
 * that are gone (dead pid on this host, stale heartbeat anywhere, or no row at all).
 */
import type { DbHandle } from '../src/db/dialect.js';
import type { Logger } from '../src/logger.js';
import { heartbeatInstance, recoverOrphanedHolds, type InstanceInfo } from '../src/metering/instances.js';

export interface HeartbeatOptions {
  handle: DbHandle;
  instance: InstanceInfo;
  logger: Logger;
  /** default 15 s */
  intervalMs?: number;
  /** an instance whose heartbeat is older than this is gone, default 60 s */
  staleAfterMs?: number;
}

export interface Heartbeat {
  /** one beat now (what the timer does); never throws */
  beat(): Promise<void>;
  stop(): void;
}

export function startHeartbeat(options: HeartbeatOptions): Heartbeat {
  const { handle, instance, logger } = options;
  let stopped = false;
  const beat = async () => {
    if (stopped) return;
    try {
      await heartbeatInstance(handle, instance);
      const r = await recoverOrphanedHolds(handle, { self: instance, staleAfterMs: options.staleAfterMs });
      if (r.reservations > 0) logger.warn({ gone_instances: r.goneInstances, reservations: r.reservations, tokens: r.tokens }, 'released the holds of daemon instances that are gone');
    } catch (err) {
      if (!stopped) logger.error({ err }, 'instance heartbeat failed');
    }
  };
  const timer = setInterval(() => void beat(), options.intervalMs ?? 15_000);
  timer.unref();
  return {
    beat,
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
