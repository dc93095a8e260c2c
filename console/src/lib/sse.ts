/**
 * Server-sent events read from a fetch body, for the playground's streamed
 * edits (EventSource cannot POST a form, nor send an Authorization header).
 * Pure: chunks of text in, whole events out, so it is tested in Node.
 */
export interface SseEvent {
  /** the `event:` field; null when the event had none (the gateway's error event) */
  event: string | null;
  data: string;
}

export class SseParser {
  private buffer = '';
  private event: string | null = null;
  private data: string[] = [];

  /** the events completed by this chunk */
  push(chunk: string): SseEvent[] {
    this.buffer += chunk;
    const out: SseEvent[] = [];
    for (;;) {
      const nl = this.buffer.search(/\r\n|\r|\n/);
      if (nl < 0) break;
      const line = this.buffer.slice(0, nl);
      const width = this.buffer.startsWith('\r\n', nl) ? 2 : 1;
      // a lone \r at the very end may be the first half of \r\n: wait for more
      if (this.buffer[nl] === '\r' && width === 1 && nl === this.buffer.length - 1) break;
      this.buffer = this.buffer.slice(nl + width);
      const done = this.line(line);
      if (done) out.push(done);
    }
    return out;
  }

  /** the last event, when the stream ended without a blank line after it */
  end(): SseEvent[] {
    const rest = this.buffer;
    this.buffer = '';
    const out: SseEvent[] = [];
    if (rest) {
      const e = this.line(rest);
      if (e) out.push(e);
    }
    const e = this.line('');
    if (e) out.push(e);
    return out;
  }

  private line(line: string): SseEvent | null {
    if (line === '') {
      if (this.data.length === 0) {
        this.event = null;
        return null;
      }
      const e = { event: this.event, data: this.data.join('\n') };
      this.event = null;
      this.data = [];
      return e;
    }
    if (line.startsWith(':')) return null;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.event = value;
    else if (field === 'data') this.data.push(value);
    return null;
  }
}
