/**
 * Formatting helpers for bot texts (HTML parse mode) and Telegram's limits.
 */

/** Telegram's limit on a message text (UTF-16 code units after entity parsing). */
export const MAX_MESSAGE_CHARS = 4096;
/** Telegram's limit on callback_data, in bytes. */
export const MAX_CALLBACK_BYTES = 64;
/** Telegram's limit on a callback query answer (toast/alert) text. */
export const MAX_TOAST_CHARS = 200;

/** Escapes text for HTML parse mode. Every value that is not a literal of ours goes through this. */
export function esc(value: string | number): string {
  return String(value).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Shortens plain (unescaped) text to `max` characters with an ellipsis. Escape after clipping. */
export function clip(text: string, max: number): string {
  const chars = [...text];
  if (chars.length <= max) return text;
  return `${chars
    .slice(0, Math.max(1, max - 1))
    .join('')
    .trimEnd()}…`;
}

/** Rendered length of an HTML text as Telegram counts it (tags dropped, entities decoded). */
export function renderedLength(html: string): number {
  return html.replace(/<[^>]*>/g, '').replace(/&(lt|gt|amp|quot|#\d+|#x[0-9a-f]+);/gi, '_').length;
}

/**
 * Joins HTML blocks (paragraphs/lines) while the rendered text stays within `limit`, keeping room for a
 * "…and N more" line (`more`, HTML). Blocks are never cut in the middle, so tags stay balanced.
 * `extraOmitted` counts items that were not even loaded; the more-line appears when anything is left out.
 */
export function fitBlocks(blocks: readonly string[], separator: string, more: (omitted: number) => string, limit = MAX_MESSAGE_CHARS, extraOmitted = 0): string {
  let out = '';
  let shown = 0;
  for (const block of blocks) {
    const next = out ? out + separator + block : block;
    const omittedAfter = blocks.length - shown - 1 + extraOmitted;
    const reserve = omittedAfter > 0 ? renderedLength(separator + more(omittedAfter)) : 0;
    if (renderedLength(next) + reserve > limit) break;
    out = next;
    shown += 1;
  }
  const omitted = blocks.length - shown + extraOmitted;
  return omitted > 0 ? (out ? out + separator : '') + more(omitted) : out;
}

/** `YYYY-MM-DD HH:MM:SS` (UTC) → `YYYY-MM-DD HH:MM UTC`. */
export function formatDbTime(text: string): string {
  return `${text.slice(0, 16)} UTC`;
}
