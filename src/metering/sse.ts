/**
 * Incremental Server-Sent Events parser (the WHATWG event-stream rules): lines end in LF, CRLF or CR
 * (a CR at the end of one read and the LF at the start of the next are one line end); `:` lines are
 * comments; `data:` lines of one event are joined with "\n"; a blank line dispatches; bytes split across
 * reads (even inside a UTF-8 sequence) are handled. The proxy forwards the upstream's bytes untouched and
 * feeds a copy through this parser to read usage and the delivered text.
 */
import { StringDecoder } from 'node:string_decoder';

export interface SseEvent {
  /** the `event:` field, '' when absent */
  event: string;
  /** the `data:` lines joined with "\n" */
  data: string;
  id?: string;
}

const NO_EVENTS: readonly SseEvent[] = Object.freeze([]);

export class SseParser {
  /** node's StringDecoder: keeps a UTF-8 sequence split across reads, cheaper than TextDecoder (made when bytes first come: the proxy feeds text) */
  private decoder: StringDecoder | null = null;
  private buffer = '';
  private skipLeadingLf = false;
  /** the `data:` lines of the event being read, joined with "\n"; null before the first one */
  private data: string | null = null;
  private eventType = '';
  private lastId: string | undefined;
  private started = false;
  private out: SseEvent[] | null = null;
  /** number of comment lines seen (e.g. `: OPENROUTER PROCESSING`) */
  comments = 0;

  /**
   * Without `onEvent`, `push`/`end` return the events they complete. With it, each event's data (and
   * type) is handed over as it completes and `push`/`end` return an empty list — no event objects are
   * built (the proxy's per-chunk path).
   */
  constructor(private readonly onEvent?: (data: string, event: string) => void) {}

  /** Feeds bytes (or text); returns the events completed by them. */
  push(chunk: Uint8Array | string): readonly SseEvent[] {
    let text = typeof chunk === 'string' ? chunk : (this.decoder ??= new StringDecoder('utf8')).write(chunk);
    if (!this.started && text.length > 0) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (this.skipLeadingLf && text.length > 0) {
      if (text.charCodeAt(0) === 10) text = text.slice(1);
      this.skipLeadingLf = false;
    }
    this.out = null;
    const buf = this.buffer.length === 0 ? text : this.buffer + text;
    let start = 0;
    if (text.indexOf('\r') === -1) {
      // LF-only line ends (the common case; a CR never stays in the buffer, it ends a line at once)
      for (let nl = buf.indexOf('\n'); nl !== -1; nl = buf.indexOf('\n', start)) {
        this.line(buf, start, nl);
        start = nl + 1;
      }
    } else {
      for (let i = 0; i < buf.length; i++) {
        const c = buf.charCodeAt(i);
        if (c !== 10 && c !== 13) continue;
        this.line(buf, start, i);
        if (c === 13) {
          if (i + 1 < buf.length) {
            if (buf.charCodeAt(i + 1) === 10) i++;
          } else {
            this.skipLeadingLf = true;
          }
        }
        start = i + 1;
      }
    }
    this.buffer = start === 0 ? buf : buf.slice(start);
    const out = this.out;
    this.out = null;
    return out ?? NO_EVENTS;
  }

  /** End of stream: an event without its closing blank line is discarded (per the spec). */
  end(): readonly SseEvent[] {
    const tail = this.decoder?.end();
    const out = tail ? this.push(tail) : NO_EVENTS;
    this.buffer = '';
    this.data = null;
    this.eventType = '';
    return out;
  }

  /** The line buf[from, to). */
  private line(buf: string, from: number, to: number): void {
    if (from === to) {
      if (this.data !== null) this.dispatch(this.data);
      this.data = null;
      this.eventType = '';
      return;
    }
    const first = buf.charCodeAt(from);
    if (first === 58 /* : */) {
      this.comments++;
      return;
    }
    // "data:" — nearly every line of a completion stream
    if (first === 100 && to - from >= 5 && buf.startsWith('data:', from)) {
      const v = buf.charCodeAt(from + 5) === 32 && from + 5 < to ? from + 6 : from + 5;
      const value = buf.slice(v, to);
      this.data = this.data === null ? value : `${this.data}\n${value}`;
      return;
    }
    const line = buf.slice(from, to);
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    switch (field) {
      case 'data':
        this.data = this.data === null ? value : `${this.data}\n${value}`;
        break;
      case 'event':
        this.eventType = value;
        break;
      case 'id':
        if (!value.includes('\0')) this.lastId = value;
        break;
      default:
        break; // retry and unknown fields are ignored
    }
  }

  private dispatch(data: string): void {
    if (this.onEvent) {
      this.onEvent(data, this.eventType);
      return;
    }
    const ev: SseEvent = { event: this.eventType, data };
    if (this.lastId !== undefined) ev.id = this.lastId;
    (this.out ??= []).push(ev);
  }
}
