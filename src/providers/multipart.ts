/**
 * multipart/form-data bodies built by hand with an explicit boundary, so the
 * length is known up front (Content-Length, no chunked upload) and files
 * stream from the spool instead of being held in memory (those held in
 * memory go out as they are). A body can be sent again for a retry.
 */
import fs from 'node:fs';
import { Readable } from 'node:stream';
import type { PreparedImage } from './types.js';
import { uniqueHex } from '../ids.js';

const CRLF = Buffer.from('\r\n');
/** pieces smaller than this are copied together; larger ones (image bytes) go out as they are */
const COPY_BELOW = 16 * 1024;
const MIME: Record<PreparedImage['format'], string> = { png: 'image/png', jpeg: 'image/jpeg', webp: 'image/webp' };
const EXT: Record<PreparedImage['format'], string> = { png: 'png', jpeg: 'jpg', webp: 'webp' };

type Part =
  | { kind: 'field'; head: Buffer; value: Buffer }
  | { kind: 'file'; head: Buffer; image: PreparedImage };

/** A prepared image's bytes when they are in memory, as the buffers they are held in; null when it is on disk. */
function inMemory(image: PreparedImage): readonly Buffer[] | null {
  return image.bytes ? [image.bytes] : (image.held?.pieces ?? null);
}

/** Quotes a name for a Content-Disposition parameter (RFC 7578: percent-encode '"' and line breaks). */
function quote(s: string): string {
  return s.replace(/"/g, '%22').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

export class MultipartBody {
  readonly boundary = `----imagegate${uniqueHex(12)}`;
  private readonly parts: Part[] = [];

  get contentType(): string {
    return `multipart/form-data; boundary=${this.boundary}`;
  }

  field(name: string, value: string | number | boolean): this {
    const head = Buffer.from(`--${this.boundary}\r\nContent-Disposition: form-data; name="${quote(name)}"\r\n\r\n`);
    this.parts.push({ kind: 'field', head, value: Buffer.from(String(value)) });
    return this;
  }

  /** a file part; the filename's extension follows the image's real format */
  file(name: string, image: PreparedImage, basename = 'image'): this {
    const head = Buffer.from(
      `--${this.boundary}\r\nContent-Disposition: form-data; name="${quote(name)}"; filename="${quote(basename)}.${EXT[image.format]}"\r\n` +
        `Content-Type: ${MIME[image.format]}\r\n\r\n`,
    );
    this.parts.push({ kind: 'file', head, image });
    return this;
  }

  private get tail(): Buffer {
    return Buffer.from(`--${this.boundary}--\r\n`);
  }

  get length(): number {
    let n = this.tail.length;
    for (const p of this.parts) n += p.head.length + (p.kind === 'field' ? p.value.length : p.image.size) + 2;
    return n;
  }

  /** the names of the parts in order (for tests and logs) */
  get names(): string[] {
    return this.parts.map((p) => /name="([^"]*)"/.exec(p.head.toString())![1]);
  }

  private inMemory: Buffer[] | null = null;

  /**
   * The body as a few buffers when every file is in memory (small uploads,
   * converted masks), else null: the small pieces (part headers, fields)
   * joined, each file's bytes as they are, not copied. Sent as they are
   * instead of through a stream of parts; kept for a retry.
   */
  buffers(): Buffer[] | null {
    if (this.inMemory) return this.inMemory;
    if (this.parts.some((p) => p.kind === 'file' && !inMemory(p.image))) return null;
    const out: Buffer[] = [];
    let small: Buffer[] = [];
    const flush = (): void => {
      if (small.length > 0) out.push(small.length === 1 ? small[0]! : Buffer.concat(small));
      small = [];
    };
    for (const p of this.parts) {
      small.push(p.head);
      // an upload held as it arrived goes out as its pieces, none of them copied
      const values = p.kind === 'field' ? [p.value] : inMemory(p.image)!;
      for (const value of values) {
        if (value.length >= COPY_BELOW) {
          flush();
          out.push(value);
        } else small.push(value);
      }
      small.push(CRLF);
    }
    small.push(this.tail);
    flush();
    this.inMemory = out;
    return out;
  }

  stream(): Readable {
    const parts = this.parts;
    const tail = this.tail;
    async function* generate(): AsyncGenerator<Buffer> {
      for (const p of parts) {
        yield p.head;
        if (p.kind === 'field') yield p.value;
        else yield* inMemory(p.image) ?? (fs.createReadStream(p.image.path!, { highWaterMark: 256 * 1024 }) as AsyncIterable<Buffer>);
        yield CRLF;
      }
      yield tail;
    }
    return Readable.from(generate(), { objectMode: false });
  }

  /** the whole body in memory (tests, small bodies) */
  async toBuffer(): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const c of this.stream()) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }
}
