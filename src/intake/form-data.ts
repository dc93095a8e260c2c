/**
 * A push parser for multipart/form-data (RFC 7578 over RFC 2046's grammar):
 * bytes go in as they arrive off the socket, parts come out as a head (its
 * name, filename, type) followed by the part's bytes and its end. It does no
 * I/O and keeps nothing but a few bytes that may begin a delimiter, and a
 * part's headers while they are incomplete.
 *
 * The delimiter is found with Buffer#indexOf, which runs in C++: on a 1 MB
 * upload that is a fraction of the time a byte-by-byte search in JavaScript
 * takes (bench/form-data.ts compares it with busboy). Part bytes handed out
 * are views into the buffers written (no copy), except for the rare run of
 * bytes held back because it might have begun a delimiter.
 *
 * What it accepts follows what browsers, curl and the SDKs send, and what
 * busboy (which this replaces) accepted: a preamble before the first
 * delimiter and an epilogue after the last are ignored; a part without a
 * `form-data` Content-Disposition is skipped; a part is a file when it has a
 * filename or is declared application/octet-stream; a filename keeps only
 * its last path segment. Transport padding (spaces or tabs) after a
 * delimiter is allowed, as RFC 2046 asks of receivers.
 */

/** Why a body is not valid multipart/form-data; `message` completes "Invalid multipart body: …". */
export class FormDataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FormDataError';
  }
}

export interface PartHead {
  /** the Content-Disposition `name`, or undefined when absent or empty */
  name: string | undefined;
  /** the filename (`filename*` preferred), its last path segment only; undefined when absent or empty */
  filename: string | undefined;
  /** the part's declared type, lower case, without parameters; 'text/plain' when it declares none */
  mimeType: string;
  /** the declared charset, lower case; 'utf-8' when none is declared */
  charset: string;
  isFile: boolean;
}

export interface FormDataHandlers {
  /** a part begins */
  part(head: PartHead): void;
  /** bytes of the current part, in order: a view valid for as long as the caller keeps it (nothing reuses it) */
  data(chunk: Buffer): void;
  /** the current part is complete */
  partEnd(): void;
}

export interface FormDataLimits {
  /** the headers of one part, in bytes */
  maxHeaderBytes: number;
  /** header lines in one part */
  maxHeaderLines: number;
}

/** What Node's HTTP parser allows a request's headers, applied to each part's. */
export const DEFAULT_FORM_DATA_LIMITS: FormDataLimits = { maxHeaderBytes: 16 * 1024, maxHeaderLines: 2000 };

/** transport padding longer than this after a delimiter is not padding: the delimiter was part data */
const MAX_PADDING = 64;
const CR = 0x0d;
const LF = 0x0a;
const DASH = 0x2d;
const CRLF = Buffer.from('\r\n');
const HEADERS_END = Buffer.from('\r\n\r\n');
/** what is read before the body's first byte, so that a body opening with `--boundary` has its delimiter */
const OPENING = Buffer.from('\r\n');

type State = 'preamble' | 'delimiter' | 'headers' | 'body' | 'done';

/** The boundary parameter of a multipart Content-Type, or null when it has none (or an impossible one). */
export function boundaryOf(contentType: string): string | null {
  const params = parseParams(contentType, contentType.indexOf(';'));
  const b = params?.get('boundary');
  // RFC 2046 allows 1 to 70 characters; some clients go further, none needs line breaks
  if (b === undefined || b.length === 0 || b.length > 200 || /[\r\n]/.test(b)) return null;
  return b;
}

export class FormDataParser {
  private readonly delimiter: Buffer;
  /** the delimiter's first bytes, what indexOf looks for */
  private readonly probe: Buffer;
  private state: State = 'preamble';
  /** bytes from the previous write that are still to be looked at (a possible delimiter, an unfinished look past one) */
  private carry: Buffer | null;
  /** a part is open (reported or skipped) */
  private inPart = false;
  /** the open part is reported to the handlers */
  private reported = false;
  /** the header bytes read so far, starting with the delimiter line's CRLF */
  private headerChunks: Buffer[] = [];
  /** how many of them came from the body (the limit counts these) */
  private headerBytes = 0;
  /** the last three bytes of headerChunks, where an empty line may begin */
  private headerTail: Buffer = CRLF;

  constructor(
    boundary: string,
    private readonly on: FormDataHandlers,
    private readonly limits: FormDataLimits = DEFAULT_FORM_DATA_LIMITS,
  ) {
    this.delimiter = Buffer.from(`\r\n--${boundary}`, 'latin1');
    this.probe = this.delimiter.subarray(0, 7);
    // the first delimiter opens the body without a line break before it
    this.carry = OPENING;
  }

  /** true once the closing delimiter was read; anything after it is the epilogue, ignored */
  get done(): boolean {
    return this.state === 'done';
  }

  /** Takes the next bytes of the body; throws a FormDataError when they cannot be multipart. */
  write(chunk: Buffer): void {
    if (this.done || chunk.length === 0) return;
    let buf = chunk;
    let pos = 0;
    if (this.carry === OPENING && this.opensWithDelimiter(chunk)) {
      // the usual start, `--boundary` first: no need to copy the chunk behind a CRLF
      this.carry = null;
      this.state = 'delimiter';
      pos = this.delimiter.length - 2;
    } else if (this.carry !== null) {
      buf = Buffer.concat([this.carry, chunk]);
      this.carry = null;
    }
    while (pos < buf.length && !this.done) {
      if (this.state === 'delimiter') pos = this.afterDelimiter(buf, pos);
      else if (this.state === 'headers') pos = this.headers(buf, pos);
      else pos = this.scan(buf, pos);
    }
  }

  private opensWithDelimiter(chunk: Buffer): boolean {
    const d = this.delimiter;
    return chunk.length >= d.length - 2 && chunk.compare(d, 2, d.length, 0, d.length - 2) === 0;
  }

  /** The body is over; throws unless the closing delimiter was read. */
  end(): void {
    if (this.state !== 'done') throw new FormDataError('the body ended before the closing boundary.');
  }

  /** preamble or part bytes up to the next delimiter */
  private scan(buf: Buffer, pos: number): number {
    const at = this.find(buf, pos);
    if (at === -1) {
      const keep = possibleStart(buf, pos, this.delimiter);
      const end = buf.length - keep;
      if (end > pos) this.emit(buf.subarray(pos, end));
      if (keep > 0) this.carry = Buffer.from(buf.subarray(end));
      return buf.length;
    }
    if (at > pos) this.emit(buf.subarray(pos, at));
    this.state = 'delimiter';
    return at + this.delimiter.length;
  }

  /**
   * Where the next whole delimiter starts, or -1. Its first seven bytes are
   * looked for, then the rest compared: V8 searches a needle of up to seven
   * bytes linearly (memchr for the first byte), a longer one with Boyer-Moore
   * tables built at every call, which on 64 KiB chunks costs far more than
   * it saves (bench/form-data.ts).
   */
  private find(buf: Buffer, from: number): number {
    const d = this.delimiter;
    for (let pos = from; ; ) {
      const at = buf.indexOf(this.probe, pos);
      if (at === -1 || at + d.length > buf.length) return -1;
      if (buf.compare(d, this.probe.length, d.length, at + this.probe.length, at + d.length) === 0) return at;
      pos = at + 1;
    }
  }

  /** right after a delimiter: `--` closes the body, padding and CRLF open a part, anything else was part data */
  private afterDelimiter(buf: Buffer, pos: number): number {
    // the delimiter is re-read with the bytes after it when those straddle two writes
    const need = (): number => {
      this.carry = Buffer.concat([this.delimiter, buf.subarray(pos)]);
      this.state = this.inPart ? 'body' : 'preamble';
      return buf.length;
    };
    if (buf.length - pos < 2) return need();
    if (buf[pos] === DASH && buf[pos + 1] === DASH) {
      this.closePart();
      this.state = 'done';
      return buf.length;
    }
    let i = pos;
    while (i < buf.length && i - pos < MAX_PADDING && (buf[i] === 0x20 || buf[i] === 0x09)) i++;
    if (buf.length - i < 2) return need();
    if (buf[i] === CR && buf[i + 1] === LF) {
      this.closePart();
      this.state = 'headers';
      // the line break that ends the delimiter line is where an empty header block starts
      this.headerChunks = [CRLF];
      this.headerBytes = 0;
      this.headerTail = CRLF;
      return i + 2;
    }
    // not a delimiter after all: its bytes belong to the part (or the preamble); a copy, as
    // the handler may keep or change it and the search goes on using the delimiter
    this.emit(Buffer.from(this.delimiter));
    this.state = this.inPart ? 'body' : 'preamble';
    return pos;
  }

  /** a part's header lines, up to the empty line */
  private headers(buf: Buffer, pos: number): number {
    // the empty line may straddle two writes: look where the kept bytes end first
    const tail = this.headerTail;
    const joint = Buffer.concat([tail, buf.subarray(pos, pos + 3)]);
    const j = joint.indexOf(HEADERS_END);
    let end = j === -1 ? -1 : pos + j + 4 - tail.length;
    if (end === -1) {
      const k = buf.indexOf(HEADERS_END, pos);
      if (k !== -1) end = k + 4;
    }
    const taken = (end === -1 ? buf.length : end) - pos;
    if (this.headerBytes + taken > this.limits.maxHeaderBytes) {
      throw new FormDataError(`a part's headers are over ${this.limits.maxHeaderBytes} bytes.`);
    }
    if (end === -1) {
      // kept as a copy, to be joined once the empty line arrives
      const piece = Buffer.from(buf.subarray(pos));
      this.headerChunks.push(piece);
      this.headerBytes += taken;
      this.headerTail = piece.length >= 3 ? piece.subarray(piece.length - 3) : Buffer.concat([tail, piece]).subarray(-3);
      return buf.length;
    }
    this.headerChunks.push(buf.subarray(pos, end));
    const block = Buffer.concat(this.headerChunks);
    this.headerChunks = [];
    this.headerBytes = 0;
    this.headerTail = CRLF;
    this.openPart(block);
    return end;
  }

  private openPart(block: Buffer): void {
    const fields = parseHeaderBlock(block.toString('utf8'), this.limits.maxHeaderLines);
    this.inPart = true;
    this.state = 'body';
    const disposition = fields.get('content-disposition') ?? '';
    const params = parseParams(disposition, disposition.indexOf(';'));
    const type = beforeParams(disposition).toLowerCase();
    // not a form field: skipped, as every form-data reader does
    this.reported = params !== null && type === 'form-data';
    if (!this.reported || params === null) return;
    const rawName = params.get('filename*') || params.get('filename');
    const filename = rawName ? lastSegment(rawName) : undefined;
    let mimeType = 'text/plain';
    let charset = 'utf-8';
    const declared = fields.get('content-type');
    if (declared !== undefined) {
      const t = beforeParams(declared).toLowerCase();
      if (MEDIA_TYPE.test(t)) {
        mimeType = t;
        const cs = parseParams(declared, declared.indexOf(';'))?.get('charset');
        if (cs) charset = cs.toLowerCase();
      }
    }
    this.on.part({
      name: params.get('name') || undefined,
      filename: filename || undefined,
      mimeType,
      charset,
      isFile: filename !== undefined || mimeType === 'application/octet-stream',
    });
  }

  private closePart(): void {
    if (this.inPart && this.reported) this.on.partEnd();
    this.inPart = false;
    this.reported = false;
  }

  private emit(bytes: Buffer): void {
    if (this.inPart && this.reported && bytes.length > 0) this.on.data(bytes);
  }
}

/**
 * How many of the last bytes of `buf` (from `from` on) could be the start of
 * `pattern`: those must wait for the next write before they are part data.
 */
function possibleStart(buf: Buffer, from: number, pattern: Buffer): number {
  const max = Math.min(pattern.length - 1, buf.length - from);
  // the pattern starts with CR: only a CR within the last bytes can begin it
  for (let k = max; k > 0; k--) {
    const start = buf.length - k;
    if (buf[start] !== pattern[0]) continue;
    if (buf.compare(pattern, 0, k, start, buf.length) === 0) return k;
  }
  return 0;
}

/** A part's header lines as lower-case names and values; the first of a repeated name wins. */
function parseHeaderBlock(text: string, maxLines: number): Map<string, string> {
  const out = new Map<string, string>();
  // the header an obsolete folded line continues, when it is the one kept
  let continues: string | null = null;
  let seenLine = false;
  let count = 0;
  for (const line of text.split('\r\n')) {
    if (line === '') continue;
    if (++count > maxLines) throw new FormDataError(`a part has more than ${maxLines} header lines.`);
    if (/[\0\r\n]/.test(line)) throw new FormDataError('a part has a malformed header.');
    if (line.charCodeAt(0) === 0x20 || line.charCodeAt(0) === 0x09) {
      if (!seenLine) throw new FormDataError('a part has a malformed header.');
      if (continues !== null) out.set(continues, `${out.get(continues)!} ${line.trim()}`);
      continue;
    }
    seenLine = true;
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon).toLowerCase() : '';
    if (!TOKEN.test(name)) throw new FormDataError('a part has a malformed header.');
    if (out.has(name)) continues = null;
    else {
      out.set(name, line.slice(colon + 1).trim());
      continues = name;
    }
  }
  return out;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;
const MEDIA_TYPE = /^[!#$%&'*+.^_`|~0-9a-z-]+\/[!#$%&'*+.^_`|~0-9a-z-]+$/;

/** `form-data` of `form-data; name="x"` */
function beforeParams(header: string): string {
  const semi = header.indexOf(';');
  return (semi === -1 ? header : header.slice(0, semi)).trim();
}

/**
 * `; name=value; name="quoted \" value"; name*=utf-8''%E2%82%AC` from
 * `start` (the first ';') on. Names are lower case; an `name*` extended value
 * is decoded (RFC 8187). Null when the parameters cannot be read.
 */
function parseParams(header: string, start: number): Map<string, string> | null {
  const out = new Map<string, string>();
  if (start < 0) return out;
  let i = start;
  const n = header.length;
  while (i < n) {
    // separators and blanks between parameters
    while (i < n && (header[i] === ';' || header[i] === ' ' || header[i] === '\t')) i++;
    if (i >= n) break;
    const eq = header.indexOf('=', i);
    if (eq === -1) return null;
    const name = header.slice(i, eq).trim().toLowerCase();
    if (!TOKEN.test(name)) return null;
    i = eq + 1;
    while (i < n && (header[i] === ' ' || header[i] === '\t')) i++;
    let value: string;
    if (header[i] === '"') {
      let v = '';
      i++;
      for (;;) {
        if (i >= n) return null;
        const c = header[i]!;
        if (c === '"') break;
        // only `\"` and `\\` are escapes: a Windows path's single backslashes stay (old browsers send them)
        if (c === '\\' && (header[i + 1] === '"' || header[i + 1] === '\\')) {
          i++;
          v += header[i];
        } else v += c;
        i++;
      }
      value = v;
      i++;
    } else {
      const semi = header.indexOf(';', i);
      value = header.slice(i, semi === -1 ? n : semi).trim();
      i = semi === -1 ? n : semi;
    }
    if (name.endsWith('*')) {
      const decoded = decodeExtValue(value);
      if (decoded === null) continue;
      value = decoded;
    }
    if (!out.has(name)) out.set(name, value);
  }
  return out;
}

/** `charset'language'percent-encoded` (RFC 8187); null when it is not one. */
function decodeExtValue(value: string): string | null {
  const m = /^([^']*)'[^']*'(.*)$/.exec(value);
  if (!m) return null;
  const pieces = m[2]!.split(/(%[0-9a-f]{2})/i).map((piece) =>
    /^%[0-9a-f]{2}$/i.test(piece) ? Buffer.of(parseInt(piece.slice(1), 16)) : Buffer.from(piece, 'utf8'),
  );
  return decodeText(Buffer.concat(pieces), (m[1] || 'utf-8').toLowerCase());
}

/** Bytes in a declared charset; UTF-8 when it is absent or unknown to the platform. */
export function decodeText(bytes: Buffer, charset: string): string {
  if (charset === 'utf-8' || charset === 'utf8' || charset === 'us-ascii' || charset === 'ascii') return bytes.toString('utf8');
  try {
    return new TextDecoder(charset).decode(bytes);
  } catch {
    return bytes.toString('utf8');
  }
}

/** `C:\\photos\\cat.png` and `../cat.png` name `cat.png`; `.` and `..` name nothing. */
function lastSegment(filename: string): string {
  const cut = Math.max(filename.lastIndexOf('/'), filename.lastIndexOf('\\'));
  const base = cut === -1 ? filename : filename.slice(cut + 1);
  return base === '.' || base === '..' ? '' : base;
}
