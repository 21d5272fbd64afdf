/**
 * Leader election for the work only one daemon replica may do (Telegram long polling — Telegram answers
 * a second concurrent getUpdates with 409 Conflict — and the operational alert rules, so admins are not
 * told N times). The leader holds a lease: a row in `settings` (`key` = `lease:<name>`, `value` = the
 * holder's instance id, `updated_at` = its last renewal), taken and renewed with conditional statements,
 * so it works the same on SQLite and PostgreSQL and needs no Redis.
 *
 * The holder renews every `renewMs`; the others try every `renewMs` and take the lease when it is free,
 * when its last renewal is older than `ttlMs` (the holder died or lost the database), or at once when
 * the holder is an instance on this host whose pid is dead (kill -9). A holder that fails to renew for
 * `ttlMs` steps down by itself before anyone can take over, so two leaders never overlap while clocks
 * agree (hosts are expected to run NTP). Stopping releases the lease, so a graceful restart hands over
 * within one `renewMs`.
 */
import type { DbHandle } from '../db/dialect.js';
import type { Logger } from '../logger.js';
import { toDbTime } from '../time.js';
import { isPidAlive } from '../metering/instances.js';

export interface LeaseOptions {
  /** what the lease is for, e.g. "daemon-leader" */
  name: string;
  /** this process's instance id (`host:pid:random`, see newInstanceId) */
  holder: string;
  /** a lease not renewed for this long is free, default 15 s */
  ttlMs?: number;
  now?: () => Date;
  /** pid check for holders on this host (tests inject it) */
  isAlive?: (pid: number) => boolean;
  hostname?: string;
}

export interface Lease {
  readonly key: string;
  /** takes the lease when free/expired/dead, renews it when held; true when this process holds it now */
  acquire(): Promise<boolean>;
  /** gives the lease up when this process holds it */
  release(): Promise<void>;
  /** the current holder (undefined when nobody holds a valid lease) */
  holder(): Promise<string | undefined>;
}

export const LEASE_PREFIX = 'lease:';

/** Parses `host:pid:random` instance ids; undefined for anything else. */
function holderProcess(holder: string): { hostname: string; pid: number } | undefined {
  const m = /^(.*):(\d+):[0-9a-f]+$/.exec(holder);
  return m ? { hostname: m[1], pid: Number(m[2]) } : undefined;
}

/** A lease row in `settings`; see the module comment. */
export function createLease(handle: DbHandle, options: LeaseOptions): Lease {
  const key = `${LEASE_PREFIX}${options.name}`;
  const ttlMs = options.ttlMs ?? 15_000;
  const now = options.now ?? (() => new Date());
  const isAlive = options.isAlive ?? isPidAlive;
  const me = options.holder;
  const myHost = options.hostname ?? holderProcess(me)?.hostname;
  const { db } = handle;

  const staleBefore = () => toDbTime(new Date(now().getTime() - ttlMs));

  async function tryTake(expectedHolder: string | undefined): Promise<boolean> {
    const stamp = toDbTime(now());
    if (expectedHolder === undefined) {
      const inserted = await db
        .insertInto('settings')
        .values({ key, value: me, updated_at: stamp })
        .onConflict((oc) => oc.column('key').doNothing())
        .returning('id')
        .executeTakeFirst();
      return inserted !== undefined;
    }
    // compare-and-swap on the holder we saw, so two standbys cannot both win
    const r = await db.updateTable('settings').set({ value: me, updated_at: stamp }).where('key', '=', key).where('value', '=', expectedHolder).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  return {
    key,
    async acquire() {
      const stamp = toDbTime(now());
      // renew (or take an expired lease) in one conditional statement
      const renewed = await db
        .updateTable('settings')
        .set({ value: me, updated_at: stamp })
        .where('key', '=', key)
        .where((eb) => eb.or([eb('value', '=', me), eb('updated_at', '<', staleBefore())]))
        .executeTakeFirst();
      if (Number(renewed.numUpdatedRows) > 0) return true;
      const row = await db.selectFrom('settings').select(['value', 'updated_at']).where('key', '=', key).executeTakeFirst();
      if (!row) return tryTake(undefined);
      const other = holderProcess(row.value);
      if (other && myHost !== undefined && other.hostname === myHost && other.pid !== process.pid && !isAlive(other.pid)) {
        return tryTake(row.value);
      }
      return false;
    },
    async release() {
      await db.deleteFrom('settings').where('key', '=', key).where('value', '=', me).execute();
    },
    async holder() {
      const row = await db.selectFrom('settings').select(['value', 'updated_at']).where('key', '=', key).executeTakeFirst();
      if (!row || row.updated_at < staleBefore()) return undefined;
      return row.value;
    },
  };
}

export interface LeaderElectionOptions extends LeaseOptions {
  /** how often the holder renews and the others try, default ttlMs / 3 */
  renewMs?: number;
  logger?: Logger;
}

export type LeadershipListener = (leader: boolean) => void | Promise<void>;

/** This process's view of the election. */
export interface Leadership {
  readonly name: string;
  /** true while this process holds the lease */
  readonly isLeader: boolean;
  /**
   * `fn(true)` when this process becomes the leader, `fn(false)` when it steps down; listeners run one
   * at a time, in order. Returns an unsubscribe function.
   */
  onChange(fn: LeadershipListener): () => void;
  /** stops trying, steps down (listeners get false) and releases the lease; idempotent */
  stop(): Promise<void>;
}

/**
 * Runs an election on a lease: the first attempt is awaited, so a lone daemon is the leader as soon as
 * this resolves; after that it renews/tries every `renewMs` in the background.
 */
export async function startLeaderElection(handle: DbHandle, options: LeaderElectionOptions): Promise<Leadership> {
  const lease = createLease(handle, options);
  const ttlMs = options.ttlMs ?? 15_000;
  const renewMs = options.renewMs ?? Math.max(100, Math.floor(ttlMs / 3));
  const logger = options.logger;
  const listeners = new Set<LeadershipListener>();
  let leader = false;
  let lastRenewal = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  // listener calls are chained so "elected" and "deposed" never interleave
  let notifying: Promise<void> = Promise.resolve();

  const setLeader = (value: boolean, why = 'lost the lease') => {
    if (leader === value) return notifying;
    leader = value;
    if (value) logger?.info({ lease: lease.key, holder: options.holder }, `this replica is now the leader (${options.name})`);
    else if (stopped) logger?.info({ lease: lease.key, holder: options.holder }, `this replica is no longer the leader (${options.name}: ${why})`);
    else logger?.warn({ lease: lease.key, holder: options.holder }, `this replica is no longer the leader (${options.name}: ${why})`);
    for (const fn of [...listeners]) {
      notifying = notifying.then(async () => {
        try {
          await fn(value);
        } catch (err) {
          logger?.error({ err, lease: lease.key }, 'a leadership listener failed');
        }
      });
    }
    return notifying;
  };

  const attempt = async () => {
    let held = false;
    try {
      held = await lease.acquire();
      if (held) lastRenewal = Date.now();
    } catch (err) {
      logger?.warn({ err: { message: (err as Error).message }, lease: lease.key }, 'leader lease: the database did not answer');
      // keep leading only while the last renewal is fresh: before anyone else may take the lease over
      held = leader && Date.now() - lastRenewal < ttlMs - renewMs;
    }
    if (!stopped) await setLeader(held);
  };

  let inFlight: Promise<void> | undefined;
  const loop = () => {
    timer = setTimeout(() => {
      inFlight = attempt().finally(() => {
        inFlight = undefined;
        if (!stopped) loop();
      });
    }, renewMs);
    timer.unref();
  };

  await attempt();
  loop();

  let stopping: Promise<void> | undefined;
  return {
    name: options.name,
    get isLeader() {
      return leader;
    },
    onChange(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    stop() {
      stopping ??= (async () => {
        stopped = true;
        if (timer) clearTimeout(timer);
        await inFlight; // a renewal in flight must not re-take the lease after the release
        const was = leader;
        await setLeader(false, 'stopping');
        if (was) {
          try {
            await lease.release();
          } catch (err) {
            logger?.warn({ err: { message: (err as Error).message }, lease: lease.key }, 'could not release the leader lease (it expires by itself)');
          }
        }
      })();
      return stopping;
    },
  };
}
