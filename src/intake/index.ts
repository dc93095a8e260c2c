/**
 * intake/: take a request body apart, files spooled to disk under the limits.
 * The HTTP layer calls parseRequestBody, always calls spool.cleanup() after
 * the request, and calls discardRemaining before answering an error.
 */
import type http from 'node:http';
import { badRequest } from '../errors.js';
import { parseJsonBody, type JsonIntakeOptions } from './json.js';
import { parseMultipart } from './multipart.js';
import type { IntakeResult } from './types.js';

export type { FieldValue, IntakeResult, Spool, SpooledFile } from './types.js';
export { createSpool, DEFAULT_MEMORY_ROOM, ensureSpoolDir, SpoolArea, spoolBaseDir, sweepStaleSpools, type MemoryRoom } from './spool.js';
export { parseMultipart, classifyFilePart } from './multipart.js';
export { parseJsonBody, type JsonIntakeOptions } from './json.js';
export { fetchImageUrl, guardedLookup, type FetchImageOptions, type FetchedImage, type Resolver } from './fetch-url.js';
export { isPublicAddress } from './address.js';
export { discardRemaining, type DiscardOptions } from './discard.js';
export {
  ClientAbortedError,
  isClientAborted,
  defaultFileLimit,
  type FileLimitFor,
  type FileRole,
  type IntakeOptions,
} from './shared.js';

/** Dispatches on Content-Type: multipart/form-data or application/json, anything else is a 400. */
export function parseRequestBody(req: http.IncomingMessage, options: JsonIntakeOptions): Promise<IntakeResult> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'multipart/form-data') return parseMultipart(req, options);
  if (type === 'application/json' || /^application\/[\w.+-]*\+json$/.test(type)) return parseJsonBody(req, options);
  return Promise.reject(
    badRequest(
      'unsupported_content_type',
      null,
      `Unsupported Content-Type ${type ? `'${type}'` : '(none)'}: send multipart/form-data or application/json.`,
    ),
  );
}
