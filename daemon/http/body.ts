/**
 * The proxy's request body, once read (src/request-body.ts, up to a size limit): checked for nesting depth
 * (a linear scan of the bytes, before anything recursive touches it: JSON nested 10,000 levels deep parses,
 * then overflows the stack of the first recursive walk), parsed as one JSON object. Failures are 400s
 * naming the fix.
 */
import { ProxyError } from './errors.js';

export const MAX_BODY_BYTES = 1024 * 1024;
/** Deepest nesting of objects and arrays accepted in a request body. */
export const MAX_JSON_DEPTH = 100;

/** The deepest nesting of `{`/`[` in JSON text (strings skipped); stops counting past `limit`. */
export function jsonDepth(b: Buffer, limit = MAX_JSON_DEPTH): number {
  let depth = 0;
  let max = 0;
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    if (c === 0x22 /* " */) {
      // jump to the closing quote (memchr), past escaped ones: a quote preceded by an odd run of backslashes
      for (;;) {
        const q = b.indexOf(0x22, i + 1);
        if (q === -1) return max;
        let k = q - 1;
        while (b[k] === 0x5c /* \ */) k--;
        i = q;
        if ((q - 1 - k) % 2 === 0) break;
      }
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) {
        max = depth;
        if (max > limit) return max;
      }
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return max;
}

/** The body as a JSON object; `example` shows the expected shape in the error. */
export function parseJsonObject(raw: Buffer, example: string): Record<string, unknown> {
  if (jsonDepth(raw) > MAX_JSON_DEPTH) {
    throw new ProxyError('ARB_BAD_JSON', `request body nests JSON more than ${MAX_JSON_DEPTH} levels deep; send a flatter body`, { publicCode: 'json_too_deep' });
  }
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch (e) {
    throw new ProxyError('ARB_BAD_JSON', `request body is not valid JSON (${(e as Error).message}); send a JSON object like ${example}`);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new ProxyError('ARB_BAD_JSON', `request body must be a JSON object like ${example}`, { publicCode: 'invalid_body' });
  }
  return value as Record<string, unknown>;
}
