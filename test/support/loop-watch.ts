/**
 * Watching this process's event loop while something runs: the longest delay `monitorEventLoopDelay`
 * sees, and — since on a busy machine a loop can wait for a CPU without anything holding it — how much CPU
 * this process spent during its longest gap between two timer ticks. A loop held by code for 100 ms spends
 * ~100 ms of CPU in that gap; a loop waiting for the machine spends almost none. Run the load in another
 * process so this one's CPU is the server's.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';

export interface LoopReport {
  /** the longest event-loop delay seen (ms) */
  maxDelayMs: number;
  /** the most CPU this process spent within one gap between ticks (ms): the longest time code held the loop */
  maxHeldMs: number;
}

export function watchLoop(): { stop(): LoopReport } {
  const h = monitorEventLoopDelay({ resolution: 5 });
  h.enable();
  let lastAt = performance.now();
  let lastCpu = process.cpuUsage();
  let maxHeldMs = 0;
  const tick = setInterval(() => {
    const now = performance.now();
    const cpu = process.cpuUsage(lastCpu);
    if (now - lastAt > 20) maxHeldMs = Math.max(maxHeldMs, (cpu.user + cpu.system) / 1000);
    lastAt = now;
    lastCpu = process.cpuUsage();
  }, 5);
  return {
    stop() {
      clearInterval(tick);
      h.disable();
      return { maxDelayMs: h.max / 1e6, maxHeldMs };
    },
  };
}

/**
 * The loop was never held past `limitMs`: its delay stayed under the limit, or — on a machine too busy for
 * that to say anything — the CPU spent in its longest gap did.
 */
export function assertNeverHeld(r: LoopReport, limitMs = 100): void {
  if (r.maxDelayMs < limitMs) return;
  if (r.maxHeldMs < limitMs) return;
  throw new Error(`the event loop was held: delay up to ${r.maxDelayMs.toFixed(0)} ms, ${r.maxHeldMs.toFixed(0)} ms of CPU in one gap (limit ${limitMs} ms)`);
}
