/**
 * A real HTTP server on loopback whose only job is intake: it takes the body
 * apart into a spool, answers with what it found (or the error envelope),
 * and cleans the spool up, the way the HTTP layer does.
 */
import crypto from 'node:crypto';
import fsp from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { defaultLimits, type LimitsConfig } from '../../src/config/index.js';
import { isGatewayError } from '../../src/errors.js';
import { HEAD_BYTES } from '../../src/images/header.js';
import { SpoolArea, type MemoryRoom } from '../../src/intake/spool.js';
import { discardRemaining } from '../../src/intake/discard.js';
import { parseRequestBody, type JsonIntakeOptions } from '../../src/intake/index.js';
import type { IntakeResult } from '../../src/intake/types.js';

export interface FileSummary {
  role: string;
  field: string;
  param: string;
  explicitIndex: number | null;
  filename: string | null;
  declaredType: string | null;
  size: number;
  sha256: string;
  /** where intake kept it */
  where: 'memory' | 'disk';
  /** held in memory: how many buffers it is held in (not joined); on disk: 0 */
  pieces: number;
}

export interface Summary {
  kind: string;
  fields: Array<[string, unknown]>;
  files: FileSummary[];
  bytesIn: number;
}

export interface Outcome {
  result?: Summary;
  error?: unknown;
  headers: http.IncomingHttpHeaders;
}

export interface IntakeServer {
  port: number;
  url: string;
  base: string;
  /** the spool room every request of this server shares (memory held: area.heldBytes) */
  area: SpoolArea;
  outcomes: Outcome[];
  /** resolves when every request so far has been handled and its spool removed */
  idle(): Promise<void>;
  close(): Promise<void>;
}

export type ServerOptions = Partial<Omit<JsonIntakeOptions, 'spool' | 'limits'>> & {
  limits?: Partial<LimitsConfig>;
  lingerMs?: number;
  /** small files held in memory, as the server does; by default every file goes to disk */
  memory?: MemoryRoom;
};

export const sha256 = (b: Buffer | string): string => crypto.createHash('sha256').update(b).digest('hex');

async function summarise(r: IntakeResult): Promise<Summary> {
  const files: FileSummary[] = [];
  for (const f of r.files) {
    // held in memory: nothing on disk; else the spooled file
    if (f.data) assertEqual(f.path, '', `path of ${f.param} held in memory`);
    // held: its pieces, checked before anything joins them; each is at least half of the buffer it keeps
    // alive, or a small copy in Node's shared 8 KiB pool
    const pieces = f.data ? f.data.pieces.length : 0;
    for (const piece of f.data?.pieces ?? []) {
      const keeps = piece.buffer.byteLength;
      assertEqual(piece.length * 2 >= keeps || keeps <= Buffer.poolSize, true, `a piece of ${f.param} keeps a buffer of ${keeps} bytes for ${piece.length}`);
    }
    const data = f.data?.buffer ?? (await fsp.readFile(f.path));
    assertEqual(data.length, f.size, `size of ${f.param}`);
    // the start kept for probing is the file's own start, as long as it can be
    assertEqual(f.head?.length, Math.min(f.size, HEAD_BYTES), `head length of ${f.param}`);
    assertEqual(f.head?.equals(data.subarray(0, HEAD_BYTES)), true, `head bytes of ${f.param}`);
    files.push({
      role: f.role,
      field: f.field,
      param: f.param,
      explicitIndex: f.explicitIndex,
      filename: f.filename,
      declaredType: f.declaredType,
      size: f.size,
      sha256: sha256(data),
      where: f.data ? 'memory' : 'disk',
      pieces,
    });
  }
  return { kind: r.kind, fields: r.fields, files, bytesIn: r.bytesIn };
}

function assertEqual(a: unknown, b: unknown, what: string): void {
  if (a !== b) throw new Error(`${what}: ${String(a)} !== ${String(b)}`);
}

export async function startIntakeServer(options: ServerOptions = {}): Promise<IntakeServer> {
  const base = await fsp.mkdtemp(path.join(os.tmpdir(), 'intake-test-'));
  const limits: LimitsConfig = { ...defaultLimits(), ...options.limits };
  const outcomes: Outcome[] = [];
  const pending = new Set<Promise<void>>();
  const area = new SpoolArea(base, options.memory ?? { fileLimit: 0, budget: 0 });

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const outcome: Outcome = { headers: req.headers };
    outcomes.push(outcome);
    const spool = area.spool();
    try {
      const r = await parseRequestBody(req, { ...options, spool, limits });
      outcome.result = await summarise(r);
      const body = JSON.stringify({ created: 1, data: [], intake: outcome.result });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    } catch (e) {
      outcome.error = e;
      if (isGatewayError(e)) {
        discardRemaining(req, res, { lingerMs: options.lingerMs ?? 2000 });
        const body = JSON.stringify(e.toBody());
        res.writeHead(e.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      } else if (!res.headersSent && !res.destroyed) {
        res.destroy();
      }
    } finally {
      await spool.cleanup();
    }
  };

  const server = http.createServer((req, res) => {
    const p = handle(req, res).catch((e) => {
      console.error('handler crashed', e);
    });
    pending.add(p);
    void p.finally(() => pending.delete(p));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    base,
    area,
    outcomes,
    async idle() {
      while (pending.size > 0) await Promise.all([...pending]);
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await fsp.rm(base, { recursive: true, force: true });
    },
  };
}

/** Entries left in the spool base directory (should be none once requests are handled). */
export async function leftovers(server: IntakeServer): Promise<string[]> {
  await server.idle();
  return fsp.readdir(server.base);
}

export type Part =
  | { name: string; value: string }
  | { name: string; filename?: string; type?: string; data: Buffer };

export function multipartBody(parts: Part[], boundary: string, opts: { close?: boolean } = {}): Buffer {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"`;
    if ('data' in p) {
      if (p.filename !== undefined) head += `; filename="${p.filename}"`;
      head += '\r\n';
      if (p.type) head += `Content-Type: ${p.type}\r\n`;
      chunks.push(Buffer.from(`${head}\r\n`), p.data, Buffer.from('\r\n'));
    } else {
      chunks.push(Buffer.from(`${head}\r\n\r\n${p.value}\r\n`));
    }
  }
  if (opts.close !== false) chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: any;
}

/** One request with node's http client; `chunked` leaves out Content-Length. */
export function send(
  port: number,
  body: Buffer,
  headers: Record<string, string>,
  opts: { chunked?: boolean; chunkSize?: number; path?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const h: Record<string, string> = { ...headers };
    if (opts.chunked) h['transfer-encoding'] = 'chunked';
    else h['content-length'] = String(body.length);
    const req = http.request(
      { host: '127.0.0.1', port, method: 'POST', path: opts.path ?? '/v1/images/edits', headers: h, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown = null;
          try {
            json = JSON.parse(text);
          } catch {
            /* not JSON */
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    const size = opts.chunkSize ?? 64 * 1024;
    for (let i = 0; i < body.length; i += size) req.write(body.subarray(i, i + size));
    req.end();
  });
}

export const sendMultipart = (
  port: number,
  parts: Part[],
  opts: { chunked?: boolean; boundary?: string; close?: boolean } = {},
): Promise<Reply> => {
  const boundary = opts.boundary ?? '----formdata-undici-012345678901';
  return send(port, multipartBody(parts, boundary, opts), { 'content-type': `multipart/form-data; boundary=${boundary}` }, opts);
};

/** A small real PNG (1x1 RGBA) plus one tag byte, so that files differ. */
export function png(tag = 0): Buffer {
  const b64 =
    'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
  return Buffer.concat([Buffer.from(b64, 'base64'), Buffer.from([tag])]);
}

export function bytes(n: number, seed = 1): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

/** Write a file of `n` bytes into a temp dir, for clients that upload from disk. */
export async function tempFile(dir: string, name: string, data: Buffer): Promise<string> {
  const p = path.join(dir, name);
  await fsp.writeFile(p, data);
  return p;
}
