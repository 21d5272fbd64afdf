/**
 * Big logs are scanned on several cores: the files are opened here (so a rotation during the query
 * cannot swap one), cut into ranges at line boundaries, and the ranges are scanned by this thread and
 * worker threads that read the same file descriptors. Results come back per range and merge in file
 * order, so the answer is the one a single pass gives (test/logs/query.test.ts compares them).
 */
import { availableParallelism, loadavg } from 'node:os';
import { read as readFd } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import type { LogFileInfo } from './files.js';
import type { LogCursor, RangeResult, RangeTask } from './query.js';
import type { ReadAt } from './scan.js';
import { workerScript, type WorkerScript } from '../support/worker-script.js';

/** Below this many bytes one thread is faster than starting workers (~50–80 ms of CPU each). */
const PARALLEL_MIN_BYTES = 192 * 1024 * 1024;
const RANGE_BYTES = 32 * 1024 * 1024;
const MAX_WORKERS = 4;

/**
 * The cores other work leaves free, by the 1-minute load average (every core where the system reports no
 * load average). On a busy machine a worker only competes for a core that is already taken and adds its
 * start-up (~0.1 s of CPU: a new isolate, the scan code compiled again): bench/logs showed one thread
 * faster than two on a 2-core machine at load 4–10.
 */
function freeCores(): number {
  const cores = availableParallelism();
  return Math.max(1, Math.min(cores, Math.round(cores - loadavg()[0])));
}

/**
 * How many threads should scan `files` (0 = this thread alone): several only for a big log and when at
 * least two cores are free. `requested`, else ARB_LOG_THREADS (for benchmarks), overrides the choice.
 */
export function parallelWorkers(files: readonly LogFileInfo[], requested?: number): number {
  const forced = requested ?? (process.env.ARB_LOG_THREADS ? Number(process.env.ARB_LOG_THREADS) : undefined);
  if (forced !== undefined && Number.isFinite(forced)) return Math.max(0, Math.floor(forced));
  const bytes = files.reduce((a, f) => a + f.bytes, 0);
  if (bytes < PARALLEL_MIN_BYTES || !workerUrl()) return 0;
  const threads = Math.min(MAX_WORKERS, freeCores());
  return threads < 2 ? 0 : threads;
}

/** How to start a scan worker (see worker-script.ts). */
function workerUrl(): WorkerScript | null {
  return workerScript(import.meta.url, 'scan-worker');
}

/** Reads through a file descriptor (shared by every thread of the process). */
export function fdReader(fd: number): ReadAt {
  return {
    read: (buffer, offset, length, position) =>
      new Promise((resolve, reject) => readFd(fd, buffer, offset, length, position, (e, bytesRead) => (e ? reject(e) : resolve({ bytesRead })))),
  };
}

/** The offset just after the first newline at or after `at` (the file's size when there is none). */
async function lineStartAfter(fh: FileHandle, at: number, size: number): Promise<number> {
  const probe = Buffer.allocUnsafe(64 * 1024);
  for (let pos = at; pos < size; ) {
    const { bytesRead } = await fh.read(probe, 0, probe.length, pos);
    if (bytesRead === 0) break;
    const nl = probe.subarray(0, bytesRead).indexOf(10);
    if (nl >= 0) return pos + nl + 1;
    pos += bytesRead;
  }
  return size;
}

export interface ParallelScan {
  parts: RangeResult[];
  files: LogFileInfo[];
  cursor: LogCursor;
}

/**
 * Scans `files` with `threads` threads (this one and threads − 1 workers). `task` describes a whole
 * file; its ranges get their own start and end.
 */
export async function scanInParallel(files: readonly LogFileInfo[], task: (f: LogFileInfo) => RangeTask, threads: number, opts: { signal?: AbortSignal; rangeBytes?: number } = {}): Promise<ParallelScan> {
  const { signal } = opts;
  const rangeBytes = opts.rangeBytes ?? RANGE_BYTES;
  const { scanRange } = await import('./query.js');
  const handles: FileHandle[] = [];
  const ranges: { task: RangeTask & { fd: number }; live: boolean; ino: number }[] = [];
  const scanned: LogFileInfo[] = [];
  try {
    for (const f of files) {
      let fh: FileHandle;
      try {
        fh = await open(f.path, 'r');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // pruned or rotated away meanwhile
        throw e;
      }
      handles.push(fh);
      const st = await fh.stat();
      scanned.push({ ...f, bytes: st.size, ino: st.ino });
      const whole = task(f);
      let start = 0;
      while (start < st.size || start === 0) {
        const cut = start + rangeBytes >= st.size ? st.size : await lineStartAfter(fh, start + rangeBytes, st.size);
        const last = cut >= st.size;
        // the live file's last range reads to its end at scan time (it may grow), like a single pass
        ranges.push({ task: { ...whole, start, end: last ? (f.live ? null : st.size) : cut, final: last ? whole.final : true, fd: fh.fd }, live: f.live && last, ino: st.ino });
        if (last) break;
        start = cut;
      }
    }

    const parts = new Array<RangeResult>(ranges.length);
    let next = 0;
    const take = () => (signal?.aborted || next >= ranges.length ? -1 : next++);
    const here = async () => {
      for (let i = take(); i >= 0; i = take()) parts[i] = await scanRange(ranges[i].task, fdReader(ranges[i].task.fd), signal);
    };
    const workers = Array.from({ length: Math.max(0, Math.min(threads, ranges.length) - 1) }, () => startWorker());
    try {
      await Promise.all([
        here(),
        ...workers.map(async (w) => {
          for (let i = take(); i >= 0; i = take()) parts[i] = await w.scan(ranges[i].task);
        }),
      ]);
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
    }
    let cursor: LogCursor = { ino: -1, offset: 0 };
    ranges.forEach((r, i) => {
      if (r.live && parts[i]) cursor = { ino: r.ino, offset: parts[i].end };
    });
    return { parts: parts.filter(Boolean), files: scanned, cursor };
  } finally {
    await Promise.all(handles.map((h) => h.close()));
  }
}

interface ScanWorker {
  scan(task: RangeTask & { fd: number }): Promise<RangeResult>;
  stop(): Promise<void>;
}

function startWorker(): ScanWorker {
  const where = workerUrl()!;
  const worker = new Worker(where.script, { eval: where.eval });
  let pending: { resolve: (r: RangeResult) => void; reject: (e: Error) => void } | null = null;
  let failure: Error | null = null;
  const fail = (e: Error) => {
    failure = e;
    pending?.reject(e);
    pending = null;
  };
  worker.on('message', (m: { result?: RangeResult; error?: string }) => {
    const p = pending;
    pending = null;
    if (m.error !== undefined) p?.reject(new Error(m.error));
    else p?.resolve(m.result!);
  });
  worker.on('error', fail);
  worker.on('exit', (code) => fail(new Error(`log scan worker exited with code ${code}`)));
  return {
    scan(task) {
      if (failure) return Promise.reject(failure);
      return new Promise((resolve, reject) => {
        pending = { resolve, reject };
        worker.postMessage(task);
      });
    },
    async stop() {
      worker.removeAllListeners('exit');
      await worker.terminate();
    },
  };
}
