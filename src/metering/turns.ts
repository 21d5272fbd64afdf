/**
 * Turns of the event loop for CPU-heavy request work (counting tokens, parsing a large body). Awaiting
 * `nextTurn()` queues the caller; one waiter runs per turn of the loop, in arrival order, so timers, I/O
 * and the other requests get the loop between two slices of such work. (`setImmediate` alone is not
 * enough: every callback queued for the check phase runs in the same phase, so twenty requests that each
 * yield run their twenty slices back to back.)
 */
const waiting: Array<() => void> = [];
let scheduled = false;

function release(): void {
  scheduled = false;
  const next = waiting.shift();
  if (waiting.length > 0) {
    scheduled = true;
    setImmediate(release);
  }
  next?.();
}

/** Resolves in a later turn of the event loop, after the work queued before it had its turn. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => {
    waiting.push(resolve);
    if (!scheduled) {
      scheduled = true;
      setImmediate(release);
    }
  });
}
