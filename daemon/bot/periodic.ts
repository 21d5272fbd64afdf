/**
 * A task run every `intervalMs` between start() and stop(), one run at a time: `run()` while a run is in
 * flight returns that run instead of starting a second one, and stop() waits for it.
 */
export interface Periodic<T> {
  /** runs the task now (or joins the run in flight) */
  run(): Promise<T>;
  /** starts the timer; 0 or less = never (run() still works) */
  start(): void;
  /** stops the timer and waits for a run in flight; idempotent */
  stop(): Promise<void>;
}

export function createPeriodic<T>(intervalMs: number, task: () => Promise<T>, onError: (err: unknown) => void): Periodic<T> {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<T> | undefined;
  const run = (): Promise<T> => {
    running ??= task().finally(() => {
      running = undefined;
    });
    return running;
  };
  return {
    run,
    start() {
      if (timer || intervalMs <= 0) return;
      timer = setInterval(() => {
        run().catch(onError);
      }, intervalMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      if (running) await running.catch(() => undefined);
    },
  };
}
