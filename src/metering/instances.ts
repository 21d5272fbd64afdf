/**
 * Daemon instances (METERING.md §4): each daemon process registers an instance id with its host and pid
 * and keeps a heartbeat. Holds are owned by an instance; when an instance is gone (same host and its pid
 * is dead, or its heartbeat is stale), its holds are released so the tokens become spendable again.
 */
import { hostname as osHostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { DbHandle } from '../db/dialect.js';
import { nowDb, toDbTime } from '../time.js';
import { releaseHolds } from './store.js';

export interface InstanceInfo {
  instanceId: string;
  pid: number;
  hostname: string;
}

/** A fresh instance id for this process: host, pid and randomness (unique across restarts). */
export function newInstanceId(pid = process.pid, host = osHostname()): InstanceInfo {
  return { instanceId: `${host}:${pid}:${randomBytes(4).toString('hex')}`, pid, hostname: host };
}

export async function registerInstance(handle: DbHandle, info: InstanceInfo): Promise<void> {
  const now = nowDb();
  await handle.db.insertInto('instances').values({ instance_id: info.instanceId, pid: info.pid, hostname: info.hostname, started_at: now, heartbeat_at: now }).execute();
}

/** Refreshes the heartbeat; re-registers when another instance took this one for dead and removed it. */
export async function heartbeatInstance(handle: DbHandle, info: InstanceInfo): Promise<void> {
  const r = await handle.db.updateTable('instances').set({ heartbeat_at: nowDb() }).where('instance_id', '=', info.instanceId).executeTakeFirst();
  if (Number(r.numUpdatedRows) === 0) await registerInstance(handle, info);
}

export async function unregisterInstance(handle: DbHandle, instanceId: string): Promise<void> {
  await handle.db.deleteFrom('instances').where('instance_id', '=', instanceId).execute();
}

/** true when a process with this pid exists on this host (EPERM means it exists but is not ours). */
export function isPidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface RecoverOptions {
  /** this process's instance (never treated as gone) */
  self: InstanceInfo;
  /** an instance whose heartbeat is older than this is gone, default 60 s */
  staleAfterMs?: number;
  /** pid check for instances on this host (tests inject it) */
  isAlive?: (pid: number) => boolean;
  now?: Date;
}

export interface RecoverResult {
  /** instance ids found gone (plus owners of holds without an instance row) */
  goneInstances: string[];
  reservations: number;
  tokens: number;
}

/**
 * Releases the holds of instances that are gone and removes their rows: on this host, instances whose
 * pid is dead; anywhere, instances whose heartbeat is stale; and holds whose owner has no row at all.
 */
export async function recoverOrphanedHolds(handle: DbHandle, options: RecoverOptions): Promise<RecoverResult> {
  const staleAfterMs = options.staleAfterMs ?? 60_000;
  const isAlive = options.isAlive ?? isPidAlive;
  const now = options.now ?? new Date();
  const staleBefore = toDbTime(new Date(now.getTime() - staleAfterMs));
  const rows = await handle.db.selectFrom('instances').select(['instance_id', 'pid', 'hostname', 'heartbeat_at']).execute();
  const known = new Set(rows.map((r) => r.instance_id));
  const gone: string[] = [];
  for (const r of rows) {
    if (r.instance_id === options.self.instanceId) continue;
    const deadHere = r.hostname === options.self.hostname && (r.pid === options.self.pid ? false : !isAlive(r.pid));
    if (deadHere || r.heartbeat_at < staleBefore) gone.push(r.instance_id);
  }
  const owners = await handle.db.selectFrom('reservations').select('instance_id').distinct().execute();
  for (const o of owners) {
    if (o.instance_id !== options.self.instanceId && !known.has(o.instance_id)) gone.push(o.instance_id);
  }
  if (gone.length === 0) return { goneInstances: [], reservations: 0, tokens: 0 };
  const released = await releaseHolds(handle, gone);
  await handle.db.deleteFrom('instances').where('instance_id', 'in', gone).execute();
  return { goneInstances: gone, ...released };
}
