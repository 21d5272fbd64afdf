/**
 * The one error table of the proxy: every refusal and failure is an `ArbError` with an `ARB_*` code; this
 * table gives its HTTP status, its kind (which each protocol adapter spells in its own error shape) and the
 * default `code` customers see. Stages throw; the proxy and the HTTP server (respond.ts) answer through
 * `describeFailure` only.
 */
import { ArbError, InputError } from '../../src/errors.js';

/** What went wrong, protocol-neutral; adapters map it to their error `type`. */
export type ErrorKind = 'invalid_request' | 'too_large' | 'authentication' | 'permission' | 'not_found' | 'quota' | 'rate_limit' | 'upstream' | 'timeout' | 'unavailable' | 'server';

interface Row {
  status: number;
  kind: ErrorKind;
  /** the `code` customers see unless the error names its own */
  publicCode: string;
}

const INTERNAL: Row = { status: 500, kind: 'server', publicCode: 'internal_error' };
const BAD_INPUT: Row = { status: 400, kind: 'invalid_request', publicCode: 'invalid_body' };

/**
 * Every `ARB_*` code thrown in src/, daemon/ and commands/ (test/daemon/error-table.test.ts keeps it so):
 * a new code is classified here, not left to fall through. Codes of operator-side work (backups, the CLI,
 * Telegram Stars) never reach the request path; if one did, it is an internal error.
 */
export const ERROR_TABLE: Readonly<Record<string, Row>> = {
  // bad requests
  ARB_BAD_INPUT: BAD_INPUT,
  ARB_BAD_CONFIG: BAD_INPUT,
  ARB_NOT_FOUND: { status: 404, kind: 'not_found', publicCode: 'not_found' },
  ARB_BAD_JSON: { status: 400, kind: 'invalid_request', publicCode: 'invalid_json' },
  ARB_FIELD_NOT_ALLOWED: { status: 400, kind: 'invalid_request', publicCode: 'unsupported_parameter' },
  ARB_BODY_TOO_LARGE: { status: 413, kind: 'too_large', publicCode: 'request_too_large' },
  // who may ask
  ARB_UNAUTHENTICATED: { status: 401, kind: 'authentication', publicCode: 'invalid_api_key' },
  ARB_KEY_REFUSED: { status: 401, kind: 'authentication', publicCode: 'invalid_api_key' },
  ARB_METRICS_UNAUTHORIZED: { status: 401, kind: 'invalid_request', publicCode: 'unauthorized' },
  ARB_MODEL_NOT_ALLOWED: { status: 403, kind: 'permission', publicCode: 'model_not_allowed' },
  ARB_QUOTA_EXCEEDED: { status: 402, kind: 'quota', publicCode: 'insufficient_quota' },
  ARB_RATE_LIMITED: { status: 429, kind: 'rate_limit', publicCode: 'rate_limit_exceeded' },
  // the upstream
  ARB_UPSTREAM: { status: 502, kind: 'upstream', publicCode: 'upstream_unavailable' },
  ARB_UPSTREAM_TIMEOUT: { status: 504, kind: 'timeout', publicCode: 'upstream_timeout' },
  ARB_UPSTREAM_CUT: { status: 502, kind: 'upstream', publicCode: 'upstream_cut' },
  ARB_UPSTREAM_ACCOUNT: { status: 502, kind: 'upstream', publicCode: 'upstream_account' },
  ARB_UPSTREAM_RATE_LIMITED: { status: 429, kind: 'rate_limit', publicCode: 'upstream_rate_limited' },
  ARB_UPSTREAM_REJECTED: { status: 400, kind: 'invalid_request', publicCode: 'upstream_rejected' },
  // this server cannot serve now
  ARB_DB_UNAVAILABLE: { status: 503, kind: 'unavailable', publicCode: 'service_unavailable' },
  ARB_DB_CORRUPT: { status: 503, kind: 'unavailable', publicCode: 'service_unavailable' },
  ARB_SHUTTING_DOWN: { status: 503, kind: 'unavailable', publicCode: 'shutting_down' },
  ARB_UPSTREAM_BUSY: { status: 503, kind: 'unavailable', publicCode: 'server_busy' },
  // internal, and operator-side codes that never reach the request path
  ARB_INTERNAL: INTERNAL,
  ARB_ERROR: INTERNAL,
  ARB_DATABASE: INTERNAL,
  ARB_INSUFFICIENT_BALANCE: INTERNAL,
  ARB_STARS_REFUND_FAILED: INTERNAL,
  ARB_BACKUP: INTERNAL,
  ARB_BACKUP_DECRYPT: INTERNAL,
  ARB_PG_TOOL_MISSING: INTERNAL,
  ARB_RESTORE_REFUSED: INTERNAL,
  ARB_DAEMON_UNREACHABLE: INTERNAL,
};

/**
 * A refusal or failure the proxy answers itself. `status` overrides the table only for
 * ARB_UPSTREAM_REJECTED (the upstream's own 4xx is passed on).
 */
export class ProxyError extends ArbError {
  constructor(
    override readonly code: string,
    message: string,
    readonly options: { publicCode?: string; param?: string; headers?: Record<string, string | number>; status?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
  }
}

export interface FailureView {
  status: number;
  kind: ErrorKind;
  code: string;
  arbCode: string;
  message: string;
  param?: string;
  headers?: Record<string, string | number>;
}

/** Status, kind, public code and message of anything thrown on the request path. */
export function describeFailure(e: unknown): FailureView {
  const arbCode = e instanceof ArbError ? e.code : 'ARB_INTERNAL';
  const row = ERROR_TABLE[arbCode] ?? (e instanceof InputError ? BAD_INPUT : INTERNAL);
  if (e instanceof ProxyError) {
    return {
      status: e.options.status ?? row.status,
      kind: row.kind,
      code: e.options.publicCode ?? row.publicCode,
      arbCode,
      message: e.message,
      param: e.options.param,
      headers: e.options.headers,
    };
  }
  const own = (e as { publicCode?: unknown } | null)?.publicCode;
  const code = typeof own === 'string' ? own : row.publicCode;
  if (row === INTERNAL) return { ...row, code, arbCode, message: 'internal error; retry, and report it if it persists' };
  if (row.kind === 'unavailable') {
    const reason = (e as { reason?: unknown }).reason;
    return {
      ...row,
      code,
      arbCode,
      message: `service unavailable: the server cannot record usage right now${typeof reason === 'string' ? ` (${reason})` : ''}; nothing was charged — retry shortly`,
      headers: { 'retry-after': 5 },
    };
  }
  const field = e instanceof InputError ? e.field : undefined;
  return { status: row.status, kind: row.kind, code, arbCode, message: (e as Error).message, ...(field ? { param: field } : {}) };
}
