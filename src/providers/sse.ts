/**
 * Server-sent events from an upstream, as they arrive: one `{event, data}`
 * per blank-line-terminated block (the `data:` lines joined), comments
 * ignored, a final block without its blank line still delivered. Lines are
 * assembled from byte chunks, so a 30 MB base64 line costs linear time.
 */
import { isAscii } from 'node:buffer';

export interface SseMessage {
  event: string | null;
  data: string;
}

/** Cap on one line (a partial image of 4K in base64 is ~30 MB). */
const MAX_LINE_BYTES = 128 * 1024 * 1024;

export async function* readSse(body: AsyncIterable<Buffer>): AsyncGenerator<SseMessage> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let event: string | null = null;
  let data: string[] = [];

  const takeLine = (msgs: SseMessage[], raw: Buffer) => {
    // a base64 line is ASCII: latin1 reads it as a plain copy, UTF-8 decoding would cost milliseconds
    const line = (isAscii(raw) ? raw.toString('latin1') : raw.toString('utf8')).replace(/\r$/, '');
    if (line === '') {
      if (data.length > 0) msgs.push({ event, data: data.join('\n') });
      event = null;
      data = [];
      return;
    }
    if (line.startsWith(':')) return; // a comment (keep-alive)
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  };

  for await (const chunk of body) {
    const msgs: SseMessage[] = [];
    let start = 0;
    let nl: number;
    while ((nl = chunk.indexOf(10, start)) >= 0) {
      const piece = chunk.subarray(start, nl);
      takeLine(msgs, pending.length === 0 ? piece : Buffer.concat([...pending, piece]));
      pending = [];
      pendingBytes = 0;
      start = nl + 1;
    }
    if (start < chunk.length) {
      pending.push(chunk.subarray(start));
      pendingBytes += chunk.length - start;
      if (pendingBytes > MAX_LINE_BYTES) throw new Error('an event line is over the size limit');
    }
    yield* msgs;
  }
  const msgs: SseMessage[] = [];
  if (pending.length > 0) takeLine(msgs, Buffer.concat(pending));
  takeLine(msgs, Buffer.alloc(0));
  yield* msgs;
}
