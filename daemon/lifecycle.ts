/**
 * The daemon's ordered start and stop: `step(name, start, stop?)` runs one start step and remembers how to
 * undo it; `stopAll()` undoes the started steps in reverse order (STYLE §6: stop taking work → drain →
 * settle → close the database), each bounded so one stuck step cannot hold the shutdown. A step whose
 * start returns an object with `stop()` needs no explicit stop: adding a loop to the daemon is one line,
 * `await life.step('log pruning', () => startLogPruning(deps))`.
 */
import type { Logger } from '../src/logger.js';

export interface Lifecycle {
  /**
   * Runs a start step. `stop` (or else the started value's own `stop()`) runs at shutdown, in reverse
   * order of start. A failing start is thrown as is.
   */
  step<T>(name: string, start: () => T | Promise<T>, stop?: (started: T) => unknown, options?: { stopTimeoutMs?: number }): Promise<T>;
  /** Undoes every started step, last first; idempotent (a second call returns the same promise). */
  stopAll(): Promise<void>;
}

export interface LifecycleOptions {
  logger: Logger;
  /** longest one stop step may take before the shutdown goes on, default 5 s */
  stepTimeoutMs?: number;
}

/**
 * Waits for `p` at most `ms`; true when it settled. The timer keeps the process alive (a shutdown waits
 * its bounded time even when nothing else is pending) and is cleared as soon as `p` settles.
 */
export async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const settled = await Promise.race([p.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)))]);
  clearTimeout(timer);
  return settled;
}

function stopOf(value: unknown): (() => unknown) | undefined {
  const stop = (value as { stop?: unknown } | null | undefined)?.stop;
  return typeof stop === 'function' ? () => (stop as () => unknown).call(value) : undefined;
}

export function createLifecycle(options: LifecycleOptions): Lifecycle {
  const stepTimeoutMs = options.stepTimeoutMs ?? 5_000;
  const started: Array<{ name: string; stop: () => unknown; timeoutMs: number }> = [];
  let stopping: Promise<void> | undefined;
  return {
    async step(name, start, stop, stepOptions) {
      if (stopping) throw new Error(`daemon start step "${name}" after shutdown began`);
      const value = await start();
      const undo = stop ? () => stop(value) : stopOf(value);
      if (undo) started.push({ name, stop: undo, timeoutMs: stepOptions?.stopTimeoutMs ?? stepTimeoutMs });
      return value;
    },
    stopAll() {
      stopping ??= (async () => {
        for (const s of started.reverse()) {
          const step = Promise.resolve()
            .then(s.stop)
            .catch((err: unknown) => options.logger.error({ err, step: s.name }, 'shutdown step failed'));
          if (!(await within(step, s.timeoutMs))) options.logger.error({ step: s.name }, `shutdown step did not finish within ${s.timeoutMs} ms; going on`);
        }
      })();
      return stopping;
    },
  };
}
