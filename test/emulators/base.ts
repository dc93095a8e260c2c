/**
 * What every provider emulator shares: a real HTTP server on loopback that
 * records each request (headers, raw body, multipart parts or JSON), plays
 * injected faults (a status with headers, a hang, a reset before or in the
 * middle of the body, a malformed body, a delay), tracks its connections
 * (so a test can see the gateway close one), and hands everything else to
 * the provider's own handler. Emulators stand in for cloud providers only;
 * each refuses what the real provider refuses.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import busboy from 'busboy';
import sharp from 'sharp';

export interface FilePart {
  name: string;
  filename: string;
  contentType: string;
  bytes: Buffer;
}

export interface Recorded {
  method: string;
  /** path and query as sent */
  url: string;
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** multipart bodies: fields and files in order of arrival */
  fields?: Array<[string, string]>;
  files?: FilePart[];
  /** JSON bodies, parsed (undefined when not JSON or invalid) */
  json?: unknown;
  /** which connection carried it (1-based, in order of acceptance) */
  connection: number;
}

export type Fault =
  | { kind: 'status'; status: number; headers?: Record<string, string>; body?: string | object }
  /** never answer; the connection stays open until the client closes it */
  | { kind: 'hang' }
  /** close the connection without a response */
  | { kind: 'reset' }
  /** a 200 with headers and half a JSON body, then the connection is destroyed */
  | { kind: 'reset-mid-body' }
  /** a 200 whose body is not what the provider sends */
  | { kind: 'malformed'; body?: string; contentType?: string }
  /** wait, then answer normally */
  | { kind: 'delay'; ms: number }
  /** a 200 that starts with `body` (e.g. one server-sent event) and then loses its connection */
  | { kind: 'truncate'; contentType: string; body: string };

interface QueuedFault {
  fault: Fault;
  match: (r: Recorded) => boolean;
  /** how many more requests it applies to (Infinity: until cleared) */
  times: number;
}

export interface ConnectionInfo {
  id: number;
  openedAt: number;
  closedAt: number | null;
}

export type Handler = (req: Recorded, res: http.ServerResponse, emu: EmulatorBase) => void | Promise<void>;

export class EmulatorBase {
  readonly requests: Recorded[] = [];
  readonly connections: ConnectionInfo[] = [];
  private readonly faults: QueuedFault[] = [];
  private readonly sockets = new Set<Socket>();
  private server!: http.Server;
  url = '';
  port = 0;
  /** false: requests are not kept (benches send thousands) */
  keepRequests = true;

  constructor(private readonly handler: Handler) {}

  async start(host = '127.0.0.1'): Promise<this> {
    this.server = http.createServer((req, res) => void this.dispatch(req, res));
    this.server.on('connection', (socket: Socket) => {
      const info: ConnectionInfo = { id: this.connections.length + 1, openedAt: Date.now(), closedAt: null };
      this.connections.push(info);
      (socket as Socket & { emuId?: number }).emuId = info.id;
      this.sockets.add(socket);
      socket.once('close', () => {
        info.closedAt = Date.now();
        this.sockets.delete(socket);
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, host, resolve));
    this.port = (this.server.address() as AddressInfo).port;
    this.url = `http://${host}:${this.port}`;
    return this;
  }

  /** Queue a fault for the next `times` requests that `match` (default: every request). */
  fault(fault: Fault, options: { times?: number; match?: (r: Recorded) => boolean } = {}): this {
    this.faults.push({ fault, match: options.match ?? (() => true), times: options.times ?? 1 });
    return this;
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  reset(): void {
    this.requests.length = 0;
    this.clearFaults();
  }

  /** connections still open */
  openConnections(): ConnectionInfo[] {
    return this.connections.filter((c) => c.closedAt === null);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async dispatch(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let recorded: Recorded;
    try {
      recorded = await record(req);
    } catch {
      res.destroy();
      return;
    }
    if (this.keepRequests) this.requests.push(recorded);
    const idx = this.faults.findIndex((f) => f.times > 0 && f.match(recorded));
    if (idx >= 0) {
      const q = this.faults[idx];
      q.times--;
      if (q.times <= 0) this.faults.splice(idx, 1);
      const handled = await this.play(q.fault, res);
      if (handled) return;
    }
    try {
      await this.handler(recorded, res, this);
    } catch (e) {
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: `emulator bug: ${(e as Error).message}` } }));
      }
    }
  }

  /** true when the fault answered the request itself */
  private async play(f: Fault, res: http.ServerResponse): Promise<boolean> {
    switch (f.kind) {
      case 'status': {
        const body = typeof f.body === 'string' ? f.body : JSON.stringify(f.body ?? { error: { message: `injected ${f.status}` } });
        res.writeHead(f.status, { 'content-type': typeof f.body === 'string' ? 'text/plain' : 'application/json', ...(f.headers ?? {}) });
        res.end(body);
        return true;
      }
      case 'hang':
        // keep the socket open, answer nothing; the client's timeout or abort ends it
        return new Promise<boolean>((resolve) => res.once('close', () => resolve(true)));
      case 'reset':
        res.socket?.destroy();
        return true;
      case 'reset-mid-body':
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100000' });
        res.write('{"created": 1, "data": [{"b64_json": "iVBORw0KGgo');
        setTimeout(() => res.socket?.destroy(), 20);
        return true;
      case 'malformed':
        res.writeHead(200, { 'content-type': f.contentType ?? 'application/json' });
        res.end(f.body ?? '{"created": 1, "data": [');
        return true;
      case 'delay':
        await new Promise((r) => setTimeout(r, f.ms));
        return false;
      case 'truncate':
        res.writeHead(200, { 'content-type': f.contentType });
        res.write(f.body);
        setTimeout(() => res.socket?.destroy(), 50);
        return true;
    }
  }
}

async function record(req: http.IncomingMessage): Promise<Recorded> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const body = Buffer.concat(chunks);
  const u = new URL(req.url ?? '/', 'http://emulator');
  const r: Recorded = {
    method: req.method ?? 'GET',
    url: req.url ?? '/',
    path: u.pathname,
    query: u.searchParams,
    headers: req.headers,
    body,
    connection: (req.socket as Socket & { emuId?: number }).emuId ?? 0,
  };
  const type = (req.headers['content-type'] ?? '').toLowerCase();
  if (type.startsWith('multipart/form-data')) {
    const parsed = await parseMultipartBody(req.headers, body);
    r.fields = parsed.fields;
    r.files = parsed.files;
  } else if (type.includes('json')) {
    try {
      r.json = JSON.parse(body.toString('utf8'));
    } catch {
      r.json = undefined;
    }
  }
  return r;
}

/** busboy over a whole body; a malformed body rejects (the emulator answers 400 then). */
export function parseMultipartBody(
  headers: http.IncomingHttpHeaders,
  body: Buffer,
): Promise<{ fields: Array<[string, string]>; files: FilePart[] }> {
  return new Promise((resolve, reject) => {
    const fields: Array<[string, string]> = [];
    const files: FilePart[] = [];
    let bb: busboy.Busboy;
    try {
      bb = busboy({ headers, defParamCharset: 'utf8', limits: { fieldSize: 1024 * 1024, fileSize: 200 * 1024 * 1024 } });
    } catch (e) {
      reject(e);
      return;
    }
    bb.on('field', (name, value) => fields.push([name, value]));
    bb.on('file', (name, stream, info) => {
      const parts: Buffer[] = [];
      stream.on('data', (d: Buffer) => parts.push(d));
      stream.on('end', () => files.push({ name, filename: info.filename ?? '', contentType: info.mimeType ?? "", bytes: Buffer.concat(parts) }));
    });
    bb.on('close', () => resolve({ fields, files }));
    bb.on('error', reject);
    bb.end(body);
  });
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

/**
 * A picture an emulator "made": a gradient whose colours derive from `seed`,
 * so every answer's bytes are distinct and a test can tell which one the
 * client got.
 */
export async function makeResultImage(
  width: number,
  height: number,
  format: 'png' | 'jpeg' | 'webp',
  seed: number,
  /** quality: for jpeg and webp (default 90) */
  opts: { alpha?: boolean; quality?: number } = {},
): Promise<Buffer> {
  const hue = (seed * 47) % 360;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
    <defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="0">
      <stop offset="0" stop-color="hsl(${hue},70%,40%)"/><stop offset="1" stop-color="hsl(${(hue + 120) % 360},70%,60%)"/></linearGradient></defs>
    <rect width="100%" height="100%" fill="url(#g)" ${opts.alpha ? 'fill-opacity="0.5"' : ''}/>
    <text x="10" y="${Math.min(height - 10, 60)}" font-size="${Math.max(10, Math.round(height / 12))}" fill="white">${seed}</text>
  </svg>`;
  let s = sharp(Buffer.from(svg));
  s = opts.alpha ? s.ensureAlpha() : s.removeAlpha();
  if (format === 'png') return s.png().toBuffer();
  const quality = Math.max(1, Math.min(100, opts.quality ?? 90));
  if (format === 'jpeg') return s.jpeg({ quality }).toBuffer();
  return s.webp({ quality }).toBuffer();
}

/** Decoded facts of an uploaded picture, for emulators that check what they receive like the provider does. */
export async function imageFacts(bytes: Buffer): Promise<{ format: string; width: number; height: number; hasAlpha: boolean } | null> {
  try {
    const m = await sharp(bytes).metadata();
    if (!m.format || !m.width || !m.height) return null;
    return { format: m.format, width: m.width, height: m.height, hasAlpha: Boolean(m.hasAlpha) };
  } catch {
    return null;
  }
}
