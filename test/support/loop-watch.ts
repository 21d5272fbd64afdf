/**
 * Watching this process's event loop while something runs: the longest delay `monitorEventLoopDelay`
 * sees, and — since on a busy machine a loop can wait for a CPU without anything holding it — how much CPU
 * this process's main thread spent during its longest gap between two timer ticks. A loop held by code for 100 ms spends
 * ~100 ms of CPU in that gap; a loop waiting for the machine spends almost none. Run the load in another
 * process so this one's CPU is the server's.
 */
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const MAIN_THREAD_STAT = `/proc/self/task/${process.pid}/stat`;

/**
 * CPU time (ms) of the main thread alone — the one that runs the event loop — from Linux's per-thread
 * counters (10 ms ticks); elsewhere the whole process's, which also counts V8's parallel GC threads.
 */
function mainThreadCpuMs(): number {
  try {
    const fields = readFileSync(MAIN_THREAD_STAT, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  }
}

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
  let lastCpu = mainThreadCpuMs();
  let maxHeldMs = 0;
  const tick = setInterval(() => {
    const now = performance.now();
    const cpu = mainThreadCpuMs();
    if (now - lastAt > 20) maxHeldMs = Math.max(maxHeldMs, cpu - lastCpu);
    lastAt = now;
    lastCpu = cpu;
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
