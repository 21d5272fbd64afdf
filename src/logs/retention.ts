/**
 * Log retention (SPEC §2 LOG_RETENTION_DAYS): the daemon deletes rotated log files last written more than
 * the retention ago — at start, then once a day — so the logs never fill a disk unattended. The live
 * `arbitrage.log` is never touched. 0 days keeps everything.
 */
import { pruneLogFiles, type PruneResult } from './files.js';
import { logBusinessEvent, type Logger } from '../logger.js';

export const LOG_RETENTION_INTERVAL_MS = 24 * 60 * 60_000;

export interface LogRetentionOptions {
  logDir: string;
  /** rotated files older than this many days are deleted; 0 = never */
  retentionDays: number;
  logger: Logger;
  /** default once a day */
  intervalMs?: number;
  now?: () => Date;
  /** called after each pass (tests wait for it) */
  onPass?: (result: PruneResult) => void;
}

export interface LogRetention {
  /** false when LOG_RETENTION_DAYS is 0 */
  readonly enabled: boolean;
  /** runs one pass now */
  runOnce(): PruneResult | undefined;
  stop(): void;
}

/** Starts the daily pruning (first pass now). */
export function startLogRetention(options: LogRetentionOptions): LogRetention {
  const { logDir, retentionDays, logger } = options;
  if (retentionDays <= 0) return { enabled: false, runOnce: () => undefined, stop: () => {} };
  const runOnce = (): PruneResult | undefined => {
    let result: PruneResult;
    try {
      result = pruneLogFiles(logDir, retentionDays, { now: options.now?.() });
    } catch (err) {
      logger.error({ err, log_dir: logDir }, 'log retention: rotated logs could not be pruned');
      return undefined;
    }
    if (result.removed.length > 0) {
      logBusinessEvent(
        logger,
        { event_type: 'logs_pruned', count: result.removed.length, freed_bytes: result.freedBytes, retention_days: retentionDays, files: result.removed.map((f) => f.name).join(',') },
        `deleted ${result.removed.length} rotated log file(s) older than ${retentionDays} days`,
      );
    }
    options.onPass?.(result);
    return result;
  };
  runOnce();
  const timer = setInterval(runOnce, options.intervalMs ?? LOG_RETENTION_INTERVAL_MS);
  timer.unref();
  return { enabled: true, runOnce, stop: () => clearInterval(timer) };
}
