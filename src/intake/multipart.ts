/**
 * Reads a multipart/form-data body straight off the request: text fields are
 * collected in order, every file part is kept in memory or streamed to its
 * own spool file, and every limit is checked while the bytes arrive.
 *
 * The parser (form-data.ts) is driven from the socket's 'data' events, so
 * parts are met strictly in order and each knows exactly which files and
 * fields came before it. A spool file that cannot take more bytes pauses the
 * request until it drains.
 */
import type http from 'node:http';
import type fs from 'node:fs';
import { arrayTooLong, badRequest, duplicateParameter, unknownParameter, type GatewayError } from '../errors.js';
import { boundaryOf, decodeText, FormDataError, FormDataParser, type PartHead } from './form-data.js';
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
import { HeldBytes } from '../held-bytes.js';

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

const MULTIPART_TYPE = /^\s*multipart\/form-data\s*(;|$)/i;

/** the parser's refusal as the client's 400; anything else (a handler's own error) as it is */
const intakeError = (e: unknown): unknown => (e instanceof FormDataError ? malformedBody(e.message) : e);

/** What receives the bytes of the part being read. */
interface PartSink {
  data(chunk: Buffer): void;
  end(): void;
}

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
    const boundary = boundaryOf(contentType);
    if (boundary === null) return reject(malformedBody('the Content-Type header has no boundary parameter.'));

    const fields: Array<[string, FieldValue]> = [];
    const files: SpooledFile[] = [];
    const writers = new Set<fs.WriteStream>();
    /** spool files still being written: the intake succeeds once all are closed */
    const closing: Array<Promise<void>> = [];
    let bytesIn = 0;
    let fieldParts = 0;
    let settled = false;
    /** spool files that asked the request to wait (the request reads again when none does) */
    let blocked = 0;
    let current: PartSink | null = null;

    const imageCount = (): number => files.reduce((n, f) => n + (f.role === 'image' ? 1 : 0), 0);

    let detachRequest = (): void => undefined;

    function fail(err: unknown): void {
      if (settled) return;
      settled = true;
      detachRequest();
      current = null;
      // stop reading: the HTTP layer decides what happens to the rest (see discardRemaining)
      req.unpipe();
      req.pause();
      const open = [...writers];
      for (const ws of open) ws.destroy();
      // settle only once no descriptor is writing into the spool any more
      void Promise.all(open.map(whenClosed)).then(() => reject(err));
    }

    function succeed(): void {
      if (settled) return;
      settled = true;
      detachRequest();
      const images = files.filter((f) => f.role === 'image');
      // a lone bare `image` is called `image`; in a list every image is `image[k]`
      if (images.length > 1) images.forEach((f, k) => (f.param = `image[${k}]`));
      resolve({ kind: 'multipart', fields, files, bytesIn });
    }

    const parser = new FormDataParser(boundary, {
      // after a failure the rest of the chunk being parsed is ignored
      part(head) {
        if (!settled) current = head.isFile ? filePart(head) : fieldPart(head);
      },
      data(chunk) {
        if (!settled) current?.data(chunk);
      },
      partEnd() {
        const part = current;
        current = null;
        if (!settled) part?.end();
      },
    });

    function onData(chunk: Buffer): void {
      if (settled) return;
      bytesIn += chunk.length;
      if (bytesIn > limits.maxBodyBytes) return fail(bodyTooLarge(limits.maxBodyBytes));
      try {
        parser.write(chunk);
      } catch (e) {
        fail(intakeError(e));
      }
    }

    function onEnd(): void {
      if (settled) return;
      try {
        parser.end();
      } catch (e) {
        return fail(intakeError(e));
      }
      void Promise.all(closing).then(succeed);
    }

    function fieldPart(head: PartHead): PartSink | null {
      const name = head.name;
      if (name === undefined) {
        fail(malformedBody('a part has no name.'));
        return null;
      }
      if (++fieldParts > limits.maxFields) {
        fail(badRequest('too_many_fields', null, `Too many form fields: at most ${limits.maxFields} text fields are accepted.`));
        return null;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      return {
        data(chunk) {
          size += chunk.length;
          if (size > limits.maxFieldBytes) return fail(fieldTooLong(name, limits.maxFieldBytes));
          chunks.push(chunk);
        },
        end() {
          if (settled) return;
          fields.push([name, decodeText(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size), head.charset)]);
        },
      };
    }

    /** One file part, kept in memory or streamed to disk. */
    function filePart(head: PartHead): PartSink | null {
      const field = head.name;
      if (!field) {
        fail(malformedBody('a file part has no name.'));
        return null;
      }
      const kind = classifyFilePart(field);
      if (!kind) {
        fail(unknownParameter(field));
        return null;
      }
      const role: FileRole = kind.role;
      const filename = head.filename ?? null;
      // a form tool's empty file input: no name, no bytes; treated as not sent
      const mayBeEmptyInput = !filename;
      let param: string;
      let overflow = false;
      if (kind.role === 'mask') {
        param = 'mask';
        if (files.some((f) => f.role === 'mask')) {
          fail(duplicateParameter('mask'));
          return null;
        }
      } else {
        const k = imageCount();
        param = kind.bare && k === 0 ? 'image' : `image[${k}]`;
        if (k >= limits.maxImages) {
          overflow = true;
          if (!mayBeEmptyInput) {
            fail(arrayTooLong('image', limits.maxImages, k + 1));
            return null;
          }
        }
      }
      let cap: number;
      try {
        cap = fileLimitFor(role, fields);
      } catch (e) {
        fail(e);
        return null;
      }
      let path = '';
      let size = 0;
      let ws: fs.WriteStream | null = null;
      const capture = new HeadCapture();
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
      const write = (chunk: Buffer): void => {
        const w = (ws ??= open());
        if (!w.write(chunk)) {
          // the disk is behind: the request waits for this file to drain
          if (blocked++ === 0) req.pause();
          w.once('drain', () => {
            if (--blocked === 0 && !settled) req.resume();
          });
        }
      };
      const keep = (chunk: Buffer): boolean => {
        if (held === null) return false;
        if (size <= spool.memoryFileLimit && spool.reserve(chunk.length)) {
          // a view into the request's buffer, unless it is the lesser part of it: then a copy,
          // so that what is held stays about what the budget counts
          held.push(chunk.length * 2 < chunk.buffer.byteLength ? Buffer.from(chunk) : chunk);
          heldBytes += chunk.length;
          return true;
        }
        // over the limit: what was held goes to disk first, the rest follows it there
        const before = held;
        held = null;
        spool.release(heldBytes);
        for (const c of before) write(c);
        return false;
      };

      return {
        data(chunk) {
          if (overflow) return fail(arrayTooLong('image', limits.maxImages, limits.maxImages + 1));
          size += chunk.length;
          if (size > cap) return fail(fileTooLarge(param, role, cap));
          capture.add(chunk);
          if (!keep(chunk)) write(chunk);
        },
        end() {
          if (settled) return;
          if (size === 0 && mayBeEmptyInput) return;
          const file: SpooledFile = {
            role,
            field,
            param,
            explicitIndex: kind.role === 'image' ? kind.explicitIndex : null,
            filename,
            declaredType: head.mimeType || null,
            path,
            size,
          };
          if (held !== null) {
            // the pieces as they came, joined only if something needs one buffer (held-bytes.ts)
            files.push({ ...file, data: new HeldBytes(held, size), head: capture.bytes });
            return;
          }
          const w = (ws ??= open());
          // in order of arrival, though its bytes are still on their way to disk
          files.push({ ...file, path, head: capture.bytes });
          closing.push(
            new Promise<void>((done) => {
              w.on('close', () => {
                if (!w.writableFinished) fail(storageError(new Error('the spool file closed before it was complete')));
                done();
              });
              w.end();
            }),
          );
        },
      };
    }

    detachRequest = readRequest(req, signal, { onData, onEnd, onFail: fail });
  });
}
