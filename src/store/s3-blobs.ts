/**
 * Blobs in an S3-compatible bucket, so that a hosted result URL made by one
 * node is served by any other. Every blob is `<prefix><key>` (the gateway may
 * share a bucket with other things; sweep only ever touches its prefix).
 *
 * Every call has a connect timeout, a socket-idle timeout and an overall
 * deadline: an S3 outage is a StoreUnavailableError within seconds, never a
 * hang. Failures are reported by error code only (see errors.ts).
 */
import type { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { isValidBlobKey } from './blobs.js';
import { StoreUnavailableError, safeReason } from './errors.js';
import type { BlobInfo, BlobStore } from './types.js';

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface S3Settings {
  bucket: string;
  /** null: AWS itself; else e.g. "http://127.0.0.1:9000" for MinIO */
  endpoint: string | null;
  region: string;
  forcePathStyle: boolean;
  /** null: the SDK's default chain (environment, profile, instance role, …) */
  credentials: S3Credentials | null;
}

export interface S3BlobStoreOptions extends S3Settings {
  /** every key is stored under this; default "imagegate/" */
  prefix?: string;
  /** TCP (and TLS) connect, per attempt */
  connectTimeoutMs?: number;
  /** socket idle time, per attempt (also while a body streams) */
  socketTimeoutMs?: number;
  /** one call, retries included, until its answer's headers (a put gets a second more per MiB) */
  deadlineMs?: number;
  /** keys per ListObjectsV2 page in sweep (S3's maximum is 1000) */
  listPageSize?: number;
}

export const DEFAULT_S3_PREFIX = 'imagegate/';
const DEFAULT_CONTENT_TYPE = 'application/octet-stream';
const MIB = 1024 * 1024;
// DeleteObjects takes at most this many keys
const DELETE_BATCH = 1000;

/** AWS's own endpoints compute and check checksums the SDK's way; others may not. */
export function isAwsEndpoint(endpoint: string | null): boolean {
  if (endpoint === null) return true;
  try {
    const host = new URL(endpoint).hostname.toLowerCase();
    return host === 'amazonaws.com' || host.endsWith('.amazonaws.com') || host.endsWith('.amazonaws.com.cn');
  } catch {
    return false;
  }
}

export class S3BlobStore implements BlobStore {
  readonly bucket: string;
  readonly prefix: string;
  private readonly client: S3Client;
  private readonly deadlineMs: number;
  private readonly listPageSize: number;

  constructor(options: S3BlobStoreOptions) {
    if (!options.bucket) throw new Error('S3BlobStore needs a bucket');
    this.bucket = options.bucket;
    this.prefix = options.prefix ?? DEFAULT_S3_PREFIX;
    this.deadlineMs = options.deadlineMs ?? 4_000;
    this.listPageSize = Math.min(1000, Math.max(1, options.listPageSize ?? 1000));
    const config: S3ClientConfig = {
      region: options.region,
      forcePathStyle: options.forcePathStyle,
      maxAttempts: 3,
      requestHandler: {
        connectionTimeout: options.connectTimeoutMs ?? 1_000,
        // inactivity, so a stalled upload or body fails while a slow one that moves does not
        socketTimeout: options.socketTimeoutMs ?? 3_000,
      },
    };
    if (options.endpoint !== null) config.endpoint = options.endpoint;
    if (options.credentials !== null) config.credentials = { ...options.credentials };
    if (!isAwsEndpoint(options.endpoint)) {
      // Left at their defaults, the SDK streams uploads as aws-chunked with a
      // trailing CRC, which several S3-compatible servers store verbatim
      // (chunk headers inside the image); ask only where the API insists.
      config.requestChecksumCalculation = 'WHEN_REQUIRED';
      config.responseChecksumValidation = 'WHEN_REQUIRED';
    }
    this.client = new S3Client(config);
  }

  async put(key: string, bytes: Buffer, contentType: string): Promise<void> {
    const Key = this.objectKey(key);
    await this.call(
      'put',
      (abortSignal) =>
        this.client.send(
          new PutObjectCommand({ Bucket: this.bucket, Key, Body: bytes, ContentType: contentType, ContentLength: bytes.length }),
          { abortSignal },
        ),
      this.deadlineMs + Math.ceil(bytes.length / MIB) * 1_000,
    );
  }

  async open(key: string): Promise<{ info: BlobInfo; stream: Readable } | null> {
    const Key = this.objectKey(key);
    const answer = await this.attempt(
      'open',
      (abortSignal) => this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key }), { abortSignal }),
      isMissingKey,
    );
    if (answer === null) return null;
    const stream = answer.Body as Readable | undefined;
    if (stream === undefined) throw new StoreUnavailableError('s3', 'open: no body');
    return {
      info: { size: answer.ContentLength ?? 0, contentType: answer.ContentType || DEFAULT_CONTENT_TYPE },
      stream,
    };
  }

  async delete(key: string): Promise<void> {
    const Key = this.objectKey(key);
    await this.call('delete', (abortSignal) =>
      this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key }), { abortSignal }),
    );
  }

  async sweep(before: number): Promise<number> {
    let deleted = 0;
    let token: string | undefined;
    do {
      const page = await this.call('list', (abortSignal) =>
        this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix, ContinuationToken: token, MaxKeys: this.listPageSize }),
          { abortSignal },
        ),
      );
      const old = (page.Contents ?? [])
        .filter((o) => o.Key !== undefined && o.LastModified !== undefined && o.LastModified.getTime() < before)
        .map((o) => o.Key!);
      for (let i = 0; i < old.length; i += DELETE_BATCH) {
        const batch = old.slice(i, i + DELETE_BATCH);
        const answer = await this.call('sweep', (abortSignal) =>
          this.client.send(
            new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }),
            { abortSignal },
          ),
        );
        deleted += batch.length - (answer.Errors?.length ?? 0);
      }
      // a token marks a key position, so deleting keys already listed cannot shift the next page
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return deleted;
  }

  /** Resolves when the bucket answers (for readiness probes); StoreUnavailableError otherwise. */
  async check(deadlineMs = 1_000): Promise<void> {
    await this.call('check', (abortSignal) => this.client.send(new HeadBucketCommand({ Bucket: this.bucket }), { abortSignal }), deadlineMs);
  }

  close(): void {
    this.client.destroy();
  }

  private objectKey(key: string): string {
    if (typeof key !== 'string' || !isValidBlobKey(key)) throw new Error('invalid blob key');
    return this.prefix + key;
  }

  /** Runs one SDK call under a deadline, every failure a StoreUnavailableError. */
  private async call<T extends object>(operation: string, run: (signal: AbortSignal) => Promise<T>, deadlineMs = this.deadlineMs): Promise<T> {
    const answer = await this.attempt(operation, run, () => false, deadlineMs);
    return answer!;
  }

  /**
   * Like call, but the failures `absent` recognises mean "no such object" and
   * are answered null. The deadline ends when the answer's headers are in: a
   * body still streaming is watched by the socket timeout instead.
   */
  private async attempt<T extends object>(
    operation: string,
    run: (signal: AbortSignal) => Promise<T>,
    absent: (err: unknown) => boolean,
    deadlineMs = this.deadlineMs,
  ): Promise<T | null> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), deadlineMs);
    try {
      return await run(controller.signal);
    } catch (err) {
      if (controller.signal.aborted) throw new StoreUnavailableError('s3', `${operation}: timeout`);
      if (absent(err)) return null;
      throw new StoreUnavailableError('s3', `${operation}: ${describe(err)}`);
    } finally {
      clearTimeout(timer);
    }
  }
}

function isMissingKey(err: unknown): boolean {
  const e = err as { name?: unknown; $metadata?: { httpStatusCode?: number } } | null;
  if (e?.name === 'NoSuchKey') return true;
  // some servers answer a bare 404 (no error document); a missing bucket is a misconfiguration, not an absent blob
  return e?.$metadata?.httpStatusCode === 404 && e.name !== 'NoSuchBucket';
}

function describe(err: unknown): string {
  const status = (err as { $metadata?: { httpStatusCode?: unknown } } | null)?.$metadata?.httpStatusCode;
  const reason = safeReason(err, 'error');
  return typeof status === 'number' ? `${reason} (HTTP ${status})` : reason;
}
