/**
 * What the multipart and JSON readers have in common: their options, the
 * errors they raise, and the little helpers around limits.
 */
import type http from 'node:http';
import fs from 'node:fs';
import type { LimitsConfig } from '../config/index.js';
import { GatewayError, badRequest, payloadTooLarge } from '../errors.js';
import { HEAD_BYTES } from '../images/header.js';
import type { FieldValue, Spool, SpooledFile } from './types.js';

export type FileRole = SpooledFile['role'];

/**
 * The size cap for the next file, given the text fields that arrived before
 * it. The caller decides (for instance a smaller cap once `model` names a
 * DALL·E model); intake only enforces the answer.
 */
export type FileLimitFor = (role: FileRole, fieldsSoFar: ReadonlyArray<[name: string, value: FieldValue]>) => number;

export interface IntakeOptions {
  /** where files are written; the caller always calls spool.cleanup() afterwards */
  spool: Spool;
  limits: LimitsConfig;
  /** abort reading (e.g. shutdown); the promise rejects with signal.reason */
  signal?: AbortSignal;
  /** per-file cap; defaults to limits.maxImageBytes for images, limits.maxMaskBytes for the mask */
  fileLimitFor?: FileLimitFor;
}

/** The client went away before the body was complete; there is nobody to answer. */
export class ClientAbortedError extends Error {
  readonly code = 'client_aborted';
  constructor(cause?: unknown) {
    super('The client closed the connection before the request body was complete.', cause === undefined ? undefined : { cause });
    this.name = 'ClientAbortedError';
  }
}

export const isClientAborted = (e: unknown): e is ClientAbortedError => e instanceof ClientAbortedError;

export function defaultFileLimit(limits: LimitsConfig): FileLimitFor {
  return (role) => (role === 'mask' ? limits.maxMaskBytes : limits.maxImageBytes);
}

const MiB = 1024 * 1024;

/** Limits are binary megabytes, written the way OpenAI writes them: "50 MB". */
export function formatMegabytes(bytes: number): string {
  const mb = bytes / MiB;
  const text = Number.isInteger(mb) ? String(mb) : String(Number(mb.toPrecision(3)));
  return `${text} MB`;
}

export function bodyTooLarge(limit: number): GatewayError {
  return payloadTooLarge(null, `The request body is larger than the ${formatMegabytes(limit)} limit.`);
}

export function payloadTooLargeJson(limit: number): GatewayError {
  return payloadTooLarge(null, `The JSON request body is larger than the ${formatMegabytes(limit)} limit.`);
}

export function fileTooLarge(param: string, role: FileRole, limit: number): GatewayError {
  const what = role === 'mask' ? 'the mask' : 'each input image';
  return payloadTooLarge(param, `File '${param}' is larger than the ${formatMegabytes(limit)} limit for ${what}.`);
}

export function fieldTooLong(name: string, maxBytes: number): GatewayError {
  return badRequest(
    'string_above_max_length',
    name,
    `Invalid '${name}': string too long. Expected a string of at most ${maxBytes} bytes.`,
  );
}

/** A failure on our side while writing an upload to disk; no path or errno reaches the client. */
export function storageError(cause: unknown): GatewayError {
  return new GatewayError({ status: 500, code: 'upload_storage_failed', message: 'The upload could not be stored.', cause });
}

/** The declared Content-Length, or null when the body is chunked or the header is absent. */
export function declaredLength(req: http.IncomingMessage): number | null {
  const raw = req.headers['content-length'];
  if (raw === undefined) return null;
  const n = Number(raw);
  return Number.isSafeInteger(n) && n >= 0 ? n : null;
}

export function abortReason(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  return r instanceof Error ? r : new ClientAbortedError(r);
}

/** Resolves once the stream has released its file descriptor (after success or destroy). */
export function whenClosed(ws: fs.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (ws.closed) resolve();
    else ws.once('close', () => resolve());
  });
}

/** Options for spool files: never follow or overwrite an existing file, private to us. */
export function openSpoolFile(path: string): fs.WriteStream {
  return fs.createWriteStream(path, { flags: 'wx', mode: 0o600, highWaterMark: 256 * 1024 });
}

/**
 * A file's first bytes, kept as they stream past on their way to disk, so
 * the contract can read the image header without opening the file again.
 * Copied, so no socket buffer stays referenced.
 */
export class HeadCapture {
  private readonly chunks: Buffer[] = [];
  private size = 0;

  add(chunk: Buffer): void {
    if (this.size >= HEAD_BYTES) return;
    const part = chunk.length <= HEAD_BYTES - this.size ? chunk : chunk.subarray(0, HEAD_BYTES - this.size);
    this.chunks.push(Buffer.from(part));
    this.size += part.length;
  }

  get bytes(): Buffer {
    return this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.size);
  }
}

export interface RequestReader {
  onData(chunk: Buffer): void;
  onEnd(): void;
  /** the read broke off: the client went away, the socket failed, or `signal` aborted */
  onFail(err: Error): void;
}

/**
 * Reads a request body: chunks to onData, its end to onEnd, and every way
 * the read can break off to onFail. Starts the flow; returns the function
 * that detaches all of it.
 */
export function readRequest(req: http.IncomingMessage, signal: AbortSignal | undefined, reader: RequestReader): () => void {
  const onData = (chunk: Buffer): void => reader.onData(chunk);
  const onEnd = (): void => reader.onEnd();
  const onAborted = (): void => reader.onFail(new ClientAbortedError());
  const onClose = (): void => {
    if (!req.complete) reader.onFail(new ClientAbortedError());
  };
  const onError = (e: unknown): void => reader.onFail(new ClientAbortedError(e));
  const onSignal = (): void => {
    if (signal) reader.onFail(abortReason(signal));
  };
  req.on('data', onData);
  req.on('end', onEnd);
  req.on('aborted', onAborted);
  req.on('close', onClose);
  req.on('error', onError);
  signal?.addEventListener('abort', onSignal, { once: true });
  req.resume();
  return () => {
    req.off('data', onData);
    req.off('end', onEnd);
    req.off('aborted', onAborted);
    req.off('close', onClose);
    req.off('error', onError);
    signal?.removeEventListener('abort', onSignal);
  };
}
