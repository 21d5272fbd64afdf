/** A worker thread of src/logs/parallel.ts: scans the ranges it is sent, one at a time. */
import { parentPort } from 'node:worker_threads';
import { fdReader } from './parallel.js';
import { scanRange, type RangeTask } from './query.js';

parentPort!.on('message', (task: RangeTask & { fd: number }) => {
  scanRange(task, fdReader(task.fd)).then(
    (result) => parentPort!.postMessage({ result }),
    (e: unknown) => parentPort!.postMessage({ error: (e as Error)?.stack ?? String(e) }),
  );
});
