/**
 * Incremental Server-Sent Events parser (the WHATWG event-stream rules): lines end in LF, CRLF or CR
 * (a CR at the end of one read and the LF at the start of the next are one line end); `:` lines are
 * comments; `data:` lines of one event are joined with "\n"; a blank line dispatches; bytes split across
 * reads (even inside a UTF-8 sequence) are handled. The proxy forwards the upstream's bytes untouched and
 * feeds a copy through this parser to read usage and the delivered text.
 */

export interface SseEvent {
  /** the `event:` field, '' when absent */
  event: string;
  /** the `data:` lines joined with "\n" */
  data: string;
  id?: string;
}

export class SseParser {
  private readonly decoder = new TextDecoder('utf-8');
  private buffer = '';
  private skipLeadingLf = false;
  private data: string[] = [];
  private eventType = '';
  private lastId: string | undefined;
  private started = false;
  /** number of comment lines seen (e.g. `: OPENROUTER PROCESSING`) */
  comments = 0;

  /** Feeds bytes (or text); returns the events completed by them. */
  push(chunk: Uint8Array | string): SseEvent[] {
    let text = typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    if (!this.started) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (this.skipLeadingLf && text.length > 0) {
      if (text.charCodeAt(0) === 10) text = text.slice(1);
      this.skipLeadingLf = false;
    }
    const out: SseEvent[] = [];
    let buf = this.buffer + text;
    let start = 0;
    for (let i = 0; i < buf.length; i++) {
      const c = buf.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      this.line(buf.slice(start, i), out);
      if (c === 13) {
        if (i + 1 < buf.length) {
          if (buf.charCodeAt(i + 1) === 10) i++;
        } else {
          this.skipLeadingLf = true;
        }
      }
      start = i + 1;
    }
    buf = buf.slice(start);
    this.buffer = buf;
    return out;
  }

  /** End of stream: an event without its closing blank line is discarded (per the spec). */
  end(): SseEvent[] {
    const tail = this.decoder.decode();
    const out = tail ? this.push(tail) : [];
    this.buffer = '';
    this.data = [];
    this.eventType = '';
    return out;
  }

  private line(line: string, out: SseEvent[]): void {
    if (line === '') {
      if (this.data.length > 0) {
        const ev: SseEvent = { event: this.eventType, data: this.data.join('\n') };
        if (this.lastId !== undefined) ev.id = this.lastId;
        out.push(ev);
      }
      this.data = [];
      this.eventType = '';
      return;
    }
    if (line.charCodeAt(0) === 58 /* : */) {
      this.comments++;
      return;
    }
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    switch (field) {
      case 'data':
        this.data.push(value);
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
}
