/** A logger for tests of src/ services that keeps every line it writes, parsed, in `lines`. */
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/logger.js';

/** A debug-level logger and the JSON lines it wrote so far (in order). */
export function captureLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { logger: createLogger({ destination, level: 'debug', process: 'test' }), lines };
}
