/**
 * A short-lived view of the keys in use, for the chat completion path: it saves the per-request read of
 * the key (and its model's rates) without deciding anything that moves money or grants access. Quota is
 * not cached: the hold's conditional UPDATE re-checks status, expiry and the remaining tokens (with the
 * fast plan's headroom) atomically, and a request the hold refuses is decided on a fresh read of the key.
 * Only keys that were active and unexpired when read are kept, by the SHA-256 of the key (never the key),
 * and never past the key's expiry (a key an operator extended is read again).
 * What may be up to `ttlMs` old: the model's rates and limits after a catalog sync, as if the request had
 * arrived that much earlier.
 */
import { fromDbTime } from '../time.js';
import type { MeteredKey } from './store.js';

export const KEY_CACHE_TTL_MS = 1000;
const MAX_ENTRIES = 10_000;

export class KeyCache {
  private readonly entries = new Map<string, { key: MeteredKey; until: number }>();

  /** `ttlMs` 0 turns the cache off. */
  constructor(
    readonly ttlMs = KEY_CACHE_TTL_MS,
    private readonly maxEntries = MAX_ENTRIES,
  ) {}

  get(hash: string, now = Date.now()): MeteredKey | undefined {
    const e = this.entries.get(hash);
    if (!e) return undefined;
    if (e.until <= now) {
      this.entries.delete(hash);
      return undefined;
    }
    return e.key;
  }

  set(hash: string, key: MeteredKey, now = Date.now()): void {
    if (this.ttlMs <= 0 || key.status !== 'active') return;
    this.entries.delete(hash);
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(hash, { key, until: Math.min(now + this.ttlMs, fromDbTime(key.expiresAt).getTime()) });
  }

  delete(hash: string): void {
    this.entries.delete(hash);
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
