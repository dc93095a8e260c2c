/**
 * An upload held in memory as the pieces it arrived in (views into the
 * request's own buffers), joined into one Buffer only when something needs
 * one. An image forwarded as it is (a provider's multipart body) is never
 * copied; one that sharp or a base64 encoder reads is joined once, and the
 * pieces are let go then.
 */
export class HeldBytes {
  private parts: readonly Buffer[];
  private joined: Buffer | null;

  constructor(
    pieces: readonly Buffer[],
    /** the total length of the pieces */
    readonly size: number,
  ) {
    this.parts = pieces;
    this.joined = pieces.length === 1 ? pieces[0]! : null;
  }

  static of(bytes: Buffer): HeldBytes {
    return new HeldBytes([bytes], bytes.length);
  }

  /** the bytes in order, as few buffers as they are held in */
  get pieces(): readonly Buffer[] {
    return this.parts;
  }

  /** the bytes as one Buffer: joined on first use, then kept (and the pieces let go) */
  get buffer(): Buffer {
    if (this.joined === null) {
      this.joined = Buffer.concat(this.parts, this.size);
      this.parts = [this.joined];
    }
    return this.joined;
  }
}
