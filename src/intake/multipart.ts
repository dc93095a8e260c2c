/**
 * Reads a multipart/form-data body straight off the request: text fields are
 * collected in order, every file part is streamed to its own spool file, and
 * every limit is checked while the bytes arrive.
 *
 * File parts are handled one after another (a part starts only once the
 * previous one is on disk), so each part knows exactly which files and fields
 * came before it. The next part's bytes wait in busboy's small buffer
 * meanwhile, and backpressure stops reading from the socket.
 */
import type http from 'node:http';
import type fs from 'node:fs';
import type { Readable } from 'node:stream';
import busboy from 'busboy';
import { arrayTooLong, badRequest, duplicateParameter, unknownParameter, type GatewayError } from '../errors.js';
import {
  abortReason,
  bodyTooLarge,
  declaredLength,
  defaultFileLimit,
  fieldTooLong,
  fileTooLarge,
  HeadCapture,
  openSpoolFile,
  readRequest,
  storageError,
  whenClosed,
  type FileRole,
  type IntakeOptions,
} from './shared.js';
import type { FieldValue, IntakeResult, SpooledFile } from './types.js';

type PartKind = { role: 'image'; bare: boolean; explicitIndex: number | null } | { role: 'mask' };

/** Which file part names are allowed, and what they mean. */
export function classifyFilePart(name: string): PartKind | null {
  if (name === 'mask') return { role: 'mask' };
  if (name === 'image') return { role: 'image', bare: true, explicitIndex: null };
  if (name === 'image[]') return { role: 'image', bare: false, explicitIndex: null };
  const m = /^image\[(\d{1,6})\]$/.exec(name);
  if (m) return { role: 'image', bare: false, explicitIndex: Number(m[1]) };
  return null;
}

export function malformedBody(detail: string): GatewayError {
  return badRequest('invalid_multipart_body', null, `Invalid multipart body: ${detail}`);
}

function describeParserError(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  if (/Unexpected end of (form|file)/i.test(msg)) return 'the body ended before the closing boundary.';
  if (/Malformed part header/i.test(msg)) return 'a part has a malformed header.';
  if (/Boundary not found/i.test(msg)) return 'the Content-Type header has no boundary parameter.';
  if (/content type/i.test(msg)) return 'expected Content-Type multipart/form-data with a boundary.';
  return 'the body could not be parsed.';
}

const MULTIPART_TYPE = /^\s*multipart\/form-data\s*(;|$)/i;

export function parseMultipart(req: http.IncomingMessage, options: IntakeOptions): Promise<IntakeResult> {
  return new Promise<IntakeResult>((resolve, reject) => {
    const { spool, limits, signal } = options;
    const fileLimitFor = options.fileLimitFor ?? defaultFileLimit(limits);

    if (signal?.aborted) return reject(abortReason(signal));
    const declared = declaredLength(req);
    if (declared !== null && declared > limits.maxBodyBytes) return reject(bodyTooLarge(limits.maxBodyBytes));
    // a body declared larger than the largest file memory may hold is mostly big files: straight to disk
    const mayHold = spool.memoryFileLimit > 0 && (declared === null || declared <= spool.memoryFileLimit);
    const contentType = req.headers['content-type'];
    if (!contentType || !MULTIPART_TYPE.test(contentType)) {
      return reject(malformedBody('expected Content-Type multipart/form-data with a boundary.'));
    }

    let bb: busboy.Busboy;
    try {
      bb = busboy({
        headers: req.headers,
        defParamCharset: 'utf8',
        limits: {
          // busboy flags a value as truncated once it reaches fieldSize, so one more byte than allowed
          fieldSize: limits.maxFieldBytes + 1,
          fields: limits.maxFields,
        },
      });
    } catch (e) {
      return reject(malformedBody(describeParserError(e)));
    }

    const fields: Array<[string, FieldValue]> = [];
    const files: SpooledFile[] = [];
    const writers = new Set<fs.WriteStream>();
    let bytesIn = 0;
    let settled = false;
    // every file part, chained so that each starts after the previous one is on disk
    let parts: Promise<void> = Promise.resolve();

    const imageCount = (): number => files.reduce((n, f) => n + (f.role === 'image' ? 1 : 0), 0);

    let detachRequest = (): void => undefined;
    function detach(): void {
      detachRequest();
      bb.off('drain', onDrain);
    }

    function fail(err: unknown): void {
      if (settled) return;
      settled = true;
      detach();
      // stop reading: the HTTP layer decides what happens to the rest (see discardRemaining)
      req.unpipe();
      req.pause();
      bb.removeAllListeners('file');
      bb.removeAllListeners('field');
      bb.on('error', () => undefined);
      bb.destroy();
      const open = [...writers];
      for (const ws of open) ws.destroy();
      // settle only once no descriptor is writing into the spool any more
      void Promise.all(open.map(whenClosed)).then(() => reject(err));
    }

    function succeed(): void {
      if (settled) return;
      settled = true;
      detach();
      const images = files.filter((f) => f.role === 'image');
      // a lone bare `image` is called `image`; in a list every image is `image[k]`
      if (images.length > 1) images.forEach((f, k) => (f.param = `image[${k}]`));
      resolve({ kind: 'multipart', fields, files, bytesIn });
    }

    function onData(chunk: Buffer): void {
      bytesIn += chunk.length;
      if (bytesIn > limits.maxBodyBytes) return fail(bodyTooLarge(limits.maxBodyBytes));
      if (!bb.write(chunk)) {
        req.pause();
        bb.once('drain', onDrain);
      }
    }
    function onDrain(): void {
      if (!settled) req.resume();
    }

    bb.on('field', (name, value, info) => {
      if (settled) return;
      if (info.valueTruncated) return fail(fieldTooLong(name, limits.maxFieldBytes));
      fields.push([name, value]);
    });
    bb.on('fieldsLimit', () => {
      fail(badRequest('too_many_fields', null, `Too many form fields: at most ${limits.maxFields} text fields are accepted.`));
    });
    bb.on('file', (name: string | undefined, stream: Readable, info: busboy.FileInfo) => {
      // busboy destroys part streams with an error when the body breaks off; that is reported via bb 'error'
      stream.on('error', () => undefined);
      if (settled) return;
      if (!name) return fail(malformedBody('a file part has no name.'));
      const kind = classifyFilePart(name);
      if (!kind) return fail(unknownParameter(name));
      // the fields before this part, as they stand now: later ones may be parsed before the part's turn
      const fieldsBefore = fields.length;
      parts = parts.then(() => receivePart(name, kind, stream, info, fields.slice(0, fieldsBefore))).catch(fail);
    });
    bb.on('error', (e: unknown) => fail(malformedBody(describeParserError(e))));
    bb.on('finish', () => {
      void parts.then(succeed);
    });

    /** Streams one file part to disk. Resolves when the part is done or the intake failed. */
    function receivePart(
      field: string,
      kind: PartKind,
      stream: Readable,
      info: busboy.FileInfo,
      fieldsBefore: Array<[string, FieldValue]>,
    ): Promise<void> {
      if (settled) return Promise.resolve();
      const role: FileRole = kind.role;
      const filename = info.filename ?? null;
      // a form tool's empty file input: no name, no bytes; treated as not sent
      const mayBeEmptyInput = !filename;
      let param: string;
      let overflow = false;
      if (kind.role === 'mask') {
        param = 'mask';
        if (files.some((f) => f.role === 'mask')) {
          fail(duplicateParameter('mask'));
          return Promise.resolve();
        }
      } else {
        const k = imageCount();
        param = kind.bare && k === 0 ? 'image' : `image[${k}]`;
        if (k >= limits.maxImages) {
          overflow = true;
          if (!mayBeEmptyInput) {
            fail(arrayTooLong('image', limits.maxImages, k + 1));
            return Promise.resolve();
          }
        }
      }
      const cap = fileLimitFor(role, fieldsBefore);
      let path = '';
      let size = 0;
      let ws: fs.WriteStream | null = null;
      const head = new HeadCapture();
      // small files stay in memory (spool.ts) until one is too big or the budget is spent
      let held: Buffer[] | null = mayHold ? [] : null;
      let heldBytes = 0;

      const open = (): fs.WriteStream => {
        path = spool.newPath();
        const w = openSpoolFile(path);
        writers.add(w);
        w.on('error', (e) => fail(storageError(e)));
        w.on('close', () => writers.delete(w));
        return w;
      };
      const keep = (chunk: Buffer): boolean => {
        if (held === null) return false;
        if (size <= spool.memoryFileLimit && spool.reserve(chunk.length)) {
          held.push(chunk);
          heldBytes += chunk.length;
          return true;
        }
        // over the limit: what was held goes to disk first, the rest follows it there
        const w = (ws = open());
        for (const c of held) {
          head.add(c);
          w.write(c);
        }
        spool.release(heldBytes);
        held = null;
        return false;
      };

      return new Promise<void>((done) => {
        stream.on('data', (chunk: Buffer) => {
          if (settled || chunk.length === 0) return;
          if (overflow) return fail(arrayTooLong('image', limits.maxImages, limits.maxImages + 1));
          size += chunk.length;
          if (size > cap) return fail(fileTooLarge(param, role, cap));
          if (keep(chunk)) return;
          head.add(chunk);
          ws ??= open();
          if (!ws.write(chunk)) {
            stream.pause();
            ws.once('drain', () => {
              if (!settled) stream.resume();
            });
          }
        });
        stream.on('error', () => done());
        stream.on('close', () => {
          // destroyed before its end (the intake failed meanwhile)
          if (settled) done();
        });
        stream.on('end', () => {
          if (settled) return done();
          if (size === 0 && mayBeEmptyInput) return done();
          const file: SpooledFile = {
            role,
            field,
            param,
            explicitIndex: kind.role === 'image' ? kind.explicitIndex : null,
            filename,
            declaredType: info.mimeType || null,
            path,
            size,
          };
          if (held !== null) {
            // one buffer of exactly the file, so none of the request's own buffers stays referenced
            const data = Buffer.concat(held, size);
            files.push({ ...file, data, head: data });
            return done();
          }
          const w = (ws ??= open());
          w.on('close', () => {
            if (!settled && w.writableFinished) files.push({ ...file, path, head: head.bytes });
            done();
          });
          w.end();
        });
      });
    }

    detachRequest = readRequest(req, signal, { onData, onEnd: () => bb.end(), onFail: fail });
  });
}
