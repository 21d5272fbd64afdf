/**
 * Typed errors. `ArbError` subclasses carry a stable `code`; `InputError` marks an operator/customer
 * mistake (exit 2 in the CLI, 4xx in HTTP) whose message names the field and the fix.
 */
export class ArbError extends Error {
  readonly code: string = 'ARB_ERROR';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad input: the message names the field and the fix. Nothing was changed. */
export class InputError extends ArbError {
  override readonly code: string = 'ARB_BAD_INPUT';
  constructor(
    message: string,
    readonly field?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export class ConfigError extends InputError {
  override readonly code = 'ARB_BAD_CONFIG';
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
}

export class NotFoundError extends InputError {
  override readonly code = 'ARB_NOT_FOUND';
}

export class InsufficientBalanceError extends ArbError {
  override readonly code = 'ARB_INSUFFICIENT_BALANCE';
  constructor(
    readonly balanceMicros: number,
    readonly neededMicros: number,
  ) {
    super(`insufficient balance: have ${formatUsdPlain(balanceMicros)}, need ${formatUsdPlain(neededMicros)}`);
  }
}

export class QuotaExceededError extends ArbError {
  override readonly code = 'ARB_QUOTA_EXCEEDED';
}

export class UpstreamError extends ArbError {
  override readonly code: string = 'ARB_UPSTREAM';
  constructor(
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export class UpstreamTimeoutError extends UpstreamError {
  override readonly code = 'ARB_UPSTREAM_TIMEOUT';
}

/**
 * The database cannot record money right now (disk full, I/O error, read-only file, lost connection):
 * paid work stops (the proxy answers 503 `service_unavailable`, /health 503) until writes succeed again.
 * `reason` is one short operator-facing phrase ("disk full", "I/O error", …).
 */
export class DatabaseUnavailableError extends ArbError {
  override readonly code: string = 'ARB_DB_UNAVAILABLE';
  constructor(
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`database unavailable: ${reason}`, options);
  }
}

/** The database file is damaged (SQLITE_CORRUPT / NOTADB, a WAL of another file): the fix is `arb restore`. */
export class DatabaseCorruptError extends DatabaseUnavailableError {
  override readonly code = 'ARB_DB_CORRUPT';
  constructor(
    readonly file: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super('database file damaged', options);
    this.message = `the database ${file} is damaged (${detail}); restore it from a backup: arb restore backup/arbitrage_latest.db`;
  }
}

function formatUsdPlain(micros: number): string {
  return `$${(micros / 1e6).toFixed(2)}`;
}
