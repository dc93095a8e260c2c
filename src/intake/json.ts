/**
 * Reads an application/json edit request (OpenAI's newer form):
 * `images: [{image_url} | {file_id}]` and an optional `mask` of the same
 * shape. Image references become spooled files (data: URLs decoded, https
 * URLs fetched); every other key passes through as a field.
 *
 * The JSON text itself is held in memory to parse it, hence its own, smaller
 * cap (limits.maxJsonBytes).
 */
import { HeldBytes } from '../held-bytes.js';
import type http from 'node:http';
import { arrayTooLong, badRequest, invalidType, invalidValue, notFound, unknownParameter } from '../errors.js';
import { fetchImageUrl, invalidImageUrl, type Resolver } from './fetch-url.js';
import {
  abortReason,
  declaredLength,
  defaultFileLimit,
  fileTooLarge,
  HeadCapture,
  openSpoolFile,
  readRequest,
  payloadTooLargeJson,
  storageError,
  whenClosed,
  type FileRole,
  type IntakeOptions,
} from './shared.js';
import type { FieldValue, IntakeResult, Spool, SpooledFile } from './types.js';

export interface JsonIntakeOptions extends IntakeOptions {
  /** allow image_url fetches to loopback/private addresses (config.allowPrivateImageUrls) */
  allowPrivateUrls?: boolean;
  /** host names exempt from the private-address refusal */
  allowedUrlHosts?: readonly string[];
  /** extra CA certificate(s) for image_url fetches (PEM) */
  ca?: string | Buffer | Array<string | Buffer>;
  /** replaces DNS for image_url fetches (tests); the address check still applies */
  urlResolver?: Resolver;
  /** image references fetched or decoded at once; default 4 */
  concurrency?: number;
}

/** One image reference as given, validated. */
interface ImageRef {
  role: FileRole;
  /** 'images[0]' or 'mask' */
  field: string;
  kind: 'image_url' | 'file_id';
  value: string;
}

/** Read the body under maxJsonBytes. */
function readBody(req: http.IncomingMessage, options: IntakeOptions): Promise<Buffer> {
  const { limits, signal } = options;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal));
    const declared = declaredLength(req);
    if (declared !== null && declared > limits.maxJsonBytes) return reject(payloadTooLargeJson(limits.maxJsonBytes));
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (err: unknown, body?: Buffer): void => {
      if (settled) return;
      settled = true;
      detach();
      if (err) {
        req.pause();
        reject(err);
      } else resolve(body!);
    };
    const detach = readRequest(req, signal, {
      onData(chunk) {
        size += chunk.length;
        if (size > limits.maxJsonBytes) return settle(payloadTooLargeJson(limits.maxJsonBytes));
        chunks.push(chunk);
      },
      onEnd: () => settle(null, Buffer.concat(chunks, size)),
      onFail: (err) => settle(err),
    });
  });
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `{image_url}` or `{file_id}`, nothing else. */
function readRef(raw: unknown, role: FileRole, field: string): ImageRef {
  if (!isPlainObject(raw)) {
    throw invalidType(field, `Invalid type for '${field}': expected an object with 'image_url' or 'file_id'.`);
  }
  for (const key of Object.keys(raw)) {
    if (key !== 'image_url' && key !== 'file_id') throw unknownParameter(`${field}.${key}`);
  }
  const hasUrl = raw.image_url !== undefined && raw.image_url !== null;
  const hasId = raw.file_id !== undefined && raw.file_id !== null;
  if (hasUrl === hasId) {
    throw invalidValue(field, `Invalid '${field}': give exactly one of 'image_url' or 'file_id'.`);
  }
  const kind = hasUrl ? 'image_url' : 'file_id';
  const value = raw[kind];
  if (typeof value !== 'string') {
    throw invalidType(`${field}.${kind}`, `Invalid type for '${field}.${kind}': expected a string.`);
  }
  if (value === '') throw invalidValue(`${field}.${kind}`, `Invalid '${field}.${kind}': must not be empty.`);
  return { role, field, kind, value };
}

const DATA_URL = /^data:([^,;]*)((?:;[^,;]*)*),/i;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Decodes a base64 data: URL under `maxBytes`: into memory when small enough
 * and the spool has room, else to a spool file, in slices. Returns the
 * declared media type, the size, and where the bytes are.
 */
async function saveDataUrl(
  url: string,
  spool: Spool,
  param: string,
  role: FileRole,
  maxBytes: number,
): Promise<{ size: number; mediaType: string; head: Buffer; path: string; data?: Buffer }> {
  const head = DATA_URL.exec(url);
  const mediaType = head?.[1]?.trim().toLowerCase() ?? '';
  const params = (head?.[2] ?? '').toLowerCase().split(';').map((s) => s.trim());
  if (!head || !mediaType.startsWith('image/') || !params.includes('base64')) {
    throw invalidImageUrl(param, `Invalid '${param}': a data URL must look like 'data:image/png;base64,…'.`);
  }
  const payload = url.slice(head[0].length);
  if (payload.length % 4 !== 0 || !BASE64.test(payload)) {
    throw invalidImageUrl(param, `Invalid '${param}': the data URL is not valid base64.`);
  }
  const padding = payload.endsWith('==') ? 2 : payload.endsWith('=') ? 1 : 0;
  const size = (payload.length / 4) * 3 - padding;
  if (size > maxBytes) throw fileTooLarge(param, role, maxBytes);
  if (size <= spool.memoryFileLimit && spool.reserve(size)) {
    const data = Buffer.from(payload, 'base64');
    return { size, mediaType, head: data, path: '', data };
  }
  const dest = spool.newPath();
  const ws = openSpoolFile(dest);
  const start = new HeadCapture();
  let failure: unknown = null;
  ws.on('error', (e) => (failure ??= e));
  try {
    const slice = 4 * 64 * 1024; // whole base64 quads: 256 KiB of text, 192 KiB of bytes
    for (let i = 0; i < payload.length && failure === null; i += slice) {
      const bytes = Buffer.from(payload.slice(i, i + slice), 'base64');
      start.add(bytes);
      if (!ws.write(bytes)) {
        await new Promise<void>((resolve) => {
          const go = (): void => {
            ws.off('drain', go);
            ws.off('close', go);
            resolve();
          };
          ws.on('drain', go);
          ws.on('close', go);
        });
      }
    }
    if (failure === null) ws.end();
  } finally {
    if (failure !== null) ws.destroy();
    await whenClosed(ws);
  }
  if (failure !== null || !ws.writableFinished) throw storageError(failure);
  return { size, mediaType, head: start.bytes, path: dest };
}

/**
 * Runs `tasks` with at most `limit` at once. On the first failure it starts no
 * more, calls `onFirstError` (to abort the running ones) and waits for them,
 * so no task is still writing when this settles.
 */
async function runLimited(tasks: Array<() => Promise<void>>, limit: number, onFirstError: () => void): Promise<void> {
  let next = 0;
  let firstError: { e: unknown } | null = null;
  const worker = async (): Promise<void> => {
    while (firstError === null && next < tasks.length) {
      const task = tasks[next++]!;
      try {
        await task();
      } catch (e) {
        if (firstError === null) {
          firstError = { e };
          onFirstError();
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  if (firstError !== null) throw (firstError as { e: unknown }).e;
}

export async function parseJsonBody(req: http.IncomingMessage, options: JsonIntakeOptions): Promise<IntakeResult> {
  const { spool, limits } = options;
  const fileLimitFor = options.fileLimitFor ?? defaultFileLimit(limits);
  const body = await readBody(req, options);
  const bytesIn = body.length;

  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw badRequest('invalid_json', null, 'The request body is not valid JSON.');
  }
  if (!isPlainObject(parsed)) {
    throw badRequest('invalid_json', null, 'The request body must be a JSON object.');
  }

  const fields: Array<[string, FieldValue]> = [];
  const refs: ImageRef[] = [];
  let maskRef: ImageRef | null = null;
  for (const [name, value] of Object.entries(parsed)) {
    if (name === 'images') {
      if (value === null) continue;
      if (!Array.isArray(value)) throw invalidType('images', "Invalid type for 'images': expected an array of objects.");
      if (value.length > limits.maxImages) throw arrayTooLong('images', limits.maxImages, value.length);
      value.forEach((item, i) => refs.push(readRef(item, 'image', `images[${i}]`)));
    } else if (name === 'mask') {
      if (value === null) continue;
      maskRef = readRef(value, 'mask', 'mask');
    } else {
      fields.push([name, value as FieldValue]);
    }
  }
  if (maskRef) refs.push(maskRef);

  // no files store yet: every file_id is unknown
  const byId = refs.find((r) => r.kind === 'file_id');
  if (byId) {
    throw notFound('file_not_found', `${byId.field}.file_id`, `No file with id '${byId.value}' was found.`);
  }
  for (const r of refs) {
    const param = `${r.field}.image_url`;
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(r.value)?.[1]?.toLowerCase();
    if (scheme !== 'data' && scheme !== 'https') {
      throw invalidImageUrl(param, `Invalid '${param}': only https:// URLs and data: URLs are supported.`);
    }
  }

  // caps are decided before any fetch, from the fields as given
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  const slots: Array<SpooledFile | null> = refs.map(() => null);
  const tasks = refs.map((r, i) => async (): Promise<void> => {
    const param = `${r.field}.image_url`;
    const cap = fileLimitFor(r.role, fields);
    if (/^data:/i.test(r.value)) {
      const saved = await saveDataUrl(r.value, spool, param, r.role, cap);
      slots[i] = file(r, param, saved.path, saved.size, saved.mediaType, saved.head, saved.data);
    } else {
      const path = spool.newPath();
      const got = await fetchImageUrl(r.value, {
        dest: path,
        maxBytes: cap,
        timeoutMs: limits.urlFetchTimeoutMs,
        maxRedirects: limits.urlFetchMaxRedirects,
        allowPrivate: options.allowPrivateUrls ?? false,
        allowedHosts: options.allowedUrlHosts,
        ca: options.ca,
        signal,
        param,
        role: r.role,
        resolve: options.urlResolver,
      });
      slots[i] = file(r, param, path, got.size, got.contentType, got.head);
    }
  });
  await runLimited(tasks, Math.max(1, options.concurrency ?? 4), () => stop.abort());
  return { kind: 'json', fields, files: slots.filter((f): f is SpooledFile => f !== null), bytesIn };
}

function file(r: ImageRef, param: string, path: string, size: number, declaredType: string | null, head: Buffer, data?: Buffer): SpooledFile {
  const f: SpooledFile = { role: r.role, field: r.field, param, explicitIndex: null, filename: null, declaredType, path, size, head };
  if (data) f.data = HeldBytes.of(data);
  return f;
}
