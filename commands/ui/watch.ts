/**
 * `--watch [--interval 5s]`: refresh until Ctrl-C (or SIGTERM), which ends the command with status 0,
 * like watch(1). On a terminal the caller redraws a live screen in place (ui/screens.ts startLiveScreen);
 * with --json it prints one JSON document per line per refresh; anything else is refused.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { InputError } from '../../src/errors.js';
import type { CommandContext } from '../context.js';

export interface WatchOptions {
  watch?: boolean;
  interval?: string;
  json?: boolean;
}

/** `--interval 5s|30s|2m|10` (plain number = seconds), 1 s to 1 h. */
export function parseIntervalOption(text: string | undefined, fallbackMs = 5_000): number {
  if (text === undefined) return fallbackMs;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$/.exec(text);
  const ms = m ? Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 'm' ? 60_000 : 1_000) : NaN;
  if (!Number.isFinite(ms) || ms < 1_000 || ms > 3_600_000) {
    throw new InputError(`--interval: "${text}" is not a refresh interval between 1s and 60m; use e.g. --interval 5s`, 'interval');
  }
  return ms;
}

/** Refuses --watch where nothing can be redrawn (a pipe without --json). */
export function checkWatchable(ctx: Pick<CommandContext, 'interactive'>, opts: WatchOptions, command: string): void {
  if (opts.watch && !ctx.interactive && !opts.json) {
    throw new InputError(`--watch: ${command} --watch redraws a terminal and stdout is not one; add --json for one JSON document per refresh, or drop --watch`, 'watch');
  }
}

/** Runs `refresh` now and then every `intervalMs` until SIGINT/SIGTERM. */
export async function repeatUntilStopped(intervalMs: number, refresh: () => Promise<void>): Promise<void> {
  const ac = new AbortController();
  const stop = (): void => ac.abort();
  // `on`, not `once`: Ink's signal-exit re-raises the signal when it finds itself the last listener
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    while (!ac.signal.aborted) {
      await refresh();
      await sleep(intervalMs, undefined, { signal: ac.signal }).catch(() => undefined);
    }
  } finally {
    process.removeListener('SIGINT', stop);
    process.removeListener('SIGTERM', stop);
  }
}

/** "updated 12:00:05 UTC · every 5 s · Ctrl-C to stop" */
export function watchFooter(intervalMs: number, now: Date = new Date()): string {
  return `updated ${now.toISOString().slice(11, 19)} UTC · every ${intervalMs % 1000 === 0 ? `${intervalMs / 1000} s` : `${intervalMs} ms`} · Ctrl-C to stop`;
}
