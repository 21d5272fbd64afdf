/**
 * The log destination: appends whole lines to `LOG_DIR/arbitrage.log` (O_APPEND, so the daemon and CLI
 * runs can share the file) and rotates it by renaming when the next write would take it past
 * `rotateBytes` (50 MB by default). The live name never changes. A process whose file was rotated by
 * another process notices within `checkIntervalMs` (or as soon as it thinks the file is full) and
 * reopens. Buffered mode (the daemon) batches lines and writes them every `flushIntervalMs` or when
 * `bufferBytes` are waiting, so the proxy's hot path never waits on the disk; `flushSync()` /
 * `end()` and a process 'exit' hook write what is left. Write errors never throw: they are reported
 * on stderr (at most once a minute) and the lines are dropped.
 */
import { closeSync, fstatSync, mkdirSync, openSync, renameSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { LIVE_LOG_NAME, nextRotatedPath } from './files.js';

export const DEFAULT_ROTATE_BYTES = 50 * 1024 * 1024;

export interface RotatingLogFileOptions {
  dir: string;
  /** rotate when the live file would grow past this many bytes (default 50 MB) */
  rotateBytes?: number;
  /** batch writes (daemon); false = one write per line (CLI) */
  buffered?: boolean;
  flushIntervalMs?: number;
  bufferBytes?: number;
  /** how often to look for a rotation done by another process */
  checkIntervalMs?: number;
  /** called instead of the default stderr note when a write or open fails */
  onError?: (error: Error) => void;
}

export class RotatingLogFile {
  readonly path: string;
  readonly dir: string;
  readonly rotateBytes: number;
  private fd = -1;
  private ino = -1;
  private size = 0;
  private lastCheck = 0;
  private lastErrorReport = 0;
  private pending = '';
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly buffered: boolean;
  private readonly flushIntervalMs: number;
  private readonly bufferBytes: number;
  private readonly checkIntervalMs: number;
  private readonly onError: ((error: Error) => void) | undefined;
  private readonly exitHook = (): void => this.flushSync();

  constructor(options: RotatingLogFileOptions) {
    this.dir = options.dir;
    this.path = join(options.dir, LIVE_LOG_NAME);
    this.rotateBytes = Math.max(1, options.rotateBytes ?? DEFAULT_ROTATE_BYTES);
    this.buffered = Boolean(options.buffered);
    this.flushIntervalMs = options.flushIntervalMs ?? 100;
    this.bufferBytes = options.bufferBytes ?? 64 * 1024;
    this.checkIntervalMs = options.checkIntervalMs ?? 1000;
    this.onError = options.onError;
    this.open();
    if (this.buffered) process.on('exit', this.exitHook);
  }

  /** The logger's destination interface: one call per log line. */
  write(chunk: string): boolean {
    if (this.closed) return false;
    if (!this.buffered) {
      this.writeOut(chunk);
      return true;
    }
    this.pending += chunk;
    if (this.pending.length >= this.bufferBytes) this.flushSync();
    else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.flushSync();
      }, this.flushIntervalMs);
      this.timer.unref();
    }
    return true;
  }

  /** Writes buffered lines now. */
  flushSync(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.pending.length === 0) return;
    const data = this.pending;
    this.pending = '';
    this.writeOut(data);
  }

  /** The logger calls this from `logger.flush(cb)`. */
  flush(cb?: (err?: Error | null) => void): void {
    this.flushSync();
    cb?.(null);
  }

  /** Flushes and closes the file; later writes are dropped. Idempotent. */
  end(): void {
    if (this.closed) return;
    this.flushSync();
    this.closed = true;
    if (this.buffered) process.removeListener('exit', this.exitHook);
    this.closeFd();
  }

  private open(): void {
    try {
      mkdirSync(this.dir, { recursive: true });
      this.fd = openSync(this.path, 'a', 0o600);
      const st = fstatSync(this.fd);
      this.ino = st.ino;
      this.size = st.size;
    } catch (e) {
      this.closeFd();
      this.report(e as Error);
    }
    this.lastCheck = Date.now();
  }

  private closeFd(): void {
    if (this.fd >= 0) {
      try {
        closeSync(this.fd);
      } catch {
        // already closed
      }
    }
    this.fd = -1;
  }

  private reopen(): void {
    this.closeFd();
    this.open();
  }

  /** Looks at the path: reopens when someone else rotated or removed it, rotates when full. */
  private checkBeforeWrite(bytes: number): void {
    const now = Date.now();
    if (this.fd < 0) {
      if (now - this.lastCheck < this.checkIntervalMs) return;
      this.open();
      if (this.fd < 0) return;
    }
    if (now - this.lastCheck < this.checkIntervalMs && this.size + bytes <= this.rotateBytes) return;
    this.lastCheck = now;
    let st;
    try {
      st = statSync(this.path);
    } catch {
      st = undefined;
    }
    if (!st || st.ino !== this.ino) this.reopen();
    else this.size = st.size;
    if (this.fd >= 0 && this.size > 0 && this.size + bytes > this.rotateBytes) this.rotate();
  }

  private rotate(): void {
    try {
      // Only the process whose file is still the live one renames it; the others just reopen.
      const st = statSync(this.path);
      if (st.ino === this.ino) renameSync(this.path, nextRotatedPath(this.dir));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') this.report(e as Error);
    }
    this.reopen();
  }

  private writeOut(data: string): void {
    const buf = Buffer.from(data);
    try {
      this.checkBeforeWrite(buf.length);
      if (this.fd < 0) return;
      let off = 0;
      while (off < buf.length) off += writeSync(this.fd, buf, off, buf.length - off);
      this.size += buf.length;
    } catch (e) {
      this.report(e as Error);
      this.closeFd();
    }
  }

  private report(error: Error): void {
    if (this.onError) {
      try {
        this.onError(error);
      } catch {
        // a reporter must not break logging
      }
      return;
    }
    const now = Date.now();
    if (now - this.lastErrorReport < 60_000) return;
    this.lastErrorReport = now;
    try {
      process.stderr.write(`arb: cannot write the log file ${this.path}: ${error.message} (log lines are being dropped)\n`);
    } catch {
      // stderr closed
    }
  }
}
