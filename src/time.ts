/** Timestamps are stored as UTC `YYYY-MM-DD HH:MM:SS` (SQLite's datetime('now') form). */
export function toDbTime(date: Date): string {
  return date.toISOString().slice(0, 19).replace('T', ' ');
}

let stampSecond = -1;
let stampText = '';

/** Now as stored text. Computed once per second (the column's resolution): the proxy asks several times per request. */
export function nowDb(): string {
  const second = Math.floor(Date.now() / 1000);
  if (second !== stampSecond) {
    stampSecond = second;
    stampText = toDbTime(new Date(second * 1000));
  }
  return stampText;
}

export function fromDbTime(text: string): Date {
  return new Date(`${text.replace(' ', 'T')}Z`);
}

export function addDays(date: Date, days: number): Date {
  return new Date(date.getTime() + days * 86_400_000);
}

const SINCE = /^(\d+)(m|h|d|w)$/;

/** Parses `--since` forms: 30m, 24h, 7d, 2w, all, or an ISO date. Returns null for "all". */
export function parseSince(text: string, now: Date = new Date()): Date | null | undefined {
  const t = text.trim().toLowerCase();
  if (t === 'all') return null;
  const m = SINCE.exec(t);
  if (m) {
    const n = Number(m[1]);
    const unit = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[m[2] as 'm' | 'h' | 'd' | 'w'];
    return new Date(now.getTime() - n * unit);
  }
  if (/^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2})?)?Z?$/.test(t)) {
    const d = new Date(t.length === 10 ? `${t}T00:00:00Z` : t.replace(' ', 'T').replace(/Z?$/, 'Z'));
    if (!Number.isNaN(d.getTime())) return d;
  }
  return undefined;
}
