/**
 * A pause for the metering hot path's writes on one SQLite connection, so a WAL checkpoint can catch up
 * with the last frame without anyone waiting inside SQLite (daemon/sqlite-checkpointer.ts). While paused,
 * the group commit (src/metering/group-commit.ts) queues its batches instead of starting them; nothing
 * blocks the event loop. Other statements on the connection are not held.
 */
export interface WriteGate {
  readonly paused: boolean;
  pause(): void;
  resume(): void;
  /** resolves when the gate is open (at once if it is) */
  whenOpen(): Promise<void>;
}

export function createWriteGate(): WriteGate {
  let paused = false;
  let waiters: Array<() => void> = [];
  return {
    get paused() {
      return paused;
    },
    pause() {
      paused = true;
    },
    resume() {
      if (!paused) return;
      paused = false;
      const ready = waiters;
      waiters = [];
      for (const w of ready) w();
    },
    whenOpen() {
      return paused ? new Promise<void>((resolve) => waiters.push(resolve)) : Promise.resolve();
    },
  };
}
