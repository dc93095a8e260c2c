/**
 * Hosted result images for `response_format=url`: the bytes go to the blob
 * store under an unguessable id, and the URL carries its own expiry and an
 * HMAC over name and expiry, so any node holding the secret can serve it
 * without a database lookup.
 *
 *   <base>/v1/images/files/<id>.<ext>?expires=<unix seconds>&sig=<base64url HMAC-SHA256>
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { Clock } from '../clock.js';
import { createFileOnce, readIfExists } from './files.js';
import { randomBase62 } from './random.js';
import type { BlobStore } from './types.js';

export type HostedImageFormat = 'png' | 'jpeg' | 'webp';

export const HOSTED_IMAGES_PATH = '/v1/images/files';
export const HOSTED_ID_LENGTH = 24;

const CONTENT_TYPES: Record<HostedImageFormat, string> = {
  png: 'image/png',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
};
const NAME_PATTERN = new RegExp(`^[A-Za-z0-9]{${HOSTED_ID_LENGTH}}\\.(png|jpeg|webp)$`);
const EXPIRES_PATTERN = /^[1-9][0-9]{0,11}$/;
// 32 bytes of HMAC in unpadded base64url
const SIG_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export interface HostedImagesOptions {
  blobs: BlobStore;
  /** HMAC key, at least 32 bytes (see loadOrCreateSecret) */
  secret: Buffer;
  clock: Clock;
  ttlSeconds: number;
  /** absolute http(s) base, e.g. "https://img.example.com"; a function when known only after listen */
  publicBaseUrl: string | (() => string);
}

export interface SavedHostedImage {
  /** absolute, signed URL */
  url: string;
  /** when the URL stops working, ms since the epoch */
  expiresAt: number;
}

export interface ResolvedHostedImage {
  stream: Readable;
  size: number;
  contentType: string;
}

export interface HostedImages {
  save(bytes: Buffer, format: HostedImageFormat): Promise<SavedHostedImage>;
  /** the image for `/v1/images/files/<name>?expires=&sig=`; null (→ 404) for anything not valid right now */
  resolve(name: string, query: { expires?: string; sig?: string }): Promise<ResolvedHostedImage | null>;
  /** delete stored images old enough that every URL to them has expired; returns how many */
  sweepExpired(): Promise<number>;
}

export function createHostedImages(options: HostedImagesOptions): HostedImages {
  const { blobs, secret, clock } = options;
  if (secret.length < 32) throw new Error('hosted image secret must be at least 32 bytes');
  if (!Number.isInteger(options.ttlSeconds) || options.ttlSeconds <= 0) {
    throw new Error('hosted image ttlSeconds must be a positive integer');
  }
  const ttlSeconds = options.ttlSeconds;
  const baseUrl = (): string => normaliseBaseUrl(
    typeof options.publicBaseUrl === 'function' ? options.publicBaseUrl() : options.publicBaseUrl,
  );

  const sign = (name: string, expires: string): Buffer =>
    crypto.createHmac('sha256', secret).update(`${name}.${expires}`, 'utf8').digest();

  return {
    async save(bytes, format) {
      const contentType = CONTENT_TYPES[format];
      if (contentType === undefined) throw new Error(`unsupported hosted image format ${String(format)}`);
      const base = baseUrl(); // fail before writing anything when the base is unusable
      const name = `${randomBase62(HOSTED_ID_LENGTH)}.${format}`;
      const expires = String(Math.floor(clock.now() / 1000) + ttlSeconds);
      await blobs.put(name, bytes, contentType);
      const sig = sign(name, expires).toString('base64url');
      return {
        url: `${base}${HOSTED_IMAGES_PATH}/${name}?expires=${expires}&sig=${sig}`,
        expiresAt: Number(expires) * 1000,
      };
    },

    async resolve(name, query) {
      const { expires, sig } = query;
      if (typeof name !== 'string' || !NAME_PATTERN.test(name)) return null;
      if (typeof expires !== 'string' || !EXPIRES_PATTERN.test(expires)) return null;
      if (typeof sig !== 'string' || !SIG_PATTERN.test(sig)) return null;
      const given = Buffer.from(sig, 'base64url');
      const expected = sign(name, expires);
      if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) return null;
      if (clock.now() >= Number(expires) * 1000) return null;
      const blob = await blobs.open(name);
      if (blob === null) return null;
      return { stream: blob.stream, size: blob.info.size, contentType: blob.info.contentType };
    },

    async sweepExpired() {
      // blob mtimes are wall-clock; a minute of slack for clocks that disagree across nodes
      return blobs.sweep(Date.now() - ttlSeconds * 1000 - 60_000);
    },
  };
}

function normaliseBaseUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`publicBaseUrl is not an absolute URL: ${raw}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`publicBaseUrl must be http or https: ${raw}`);
  }
  if (url.search !== '' || url.hash !== '') throw new Error(`publicBaseUrl must not have a query or fragment: ${raw}`);
  return url.toString().replace(/\/+$/, '');
}

export const URL_SIGNING_KEY_FILE = 'url-signing.key';
const SECRET_BYTES = 32;

/** The URL-signing secret: 32 random bytes in `<dataDir>/url-signing.key` (mode 0600), made once. */
export function loadOrCreateSecret(dataDir: string): Buffer {
  const file = path.join(dataDir, URL_SIGNING_KEY_FILE);
  const existing = readIfExists(file);
  if (existing !== null) return checkSecret(existing, file);
  fs.mkdirSync(dataDir, { recursive: true });
  const created = createFileOnce(file, crypto.randomBytes(SECRET_BYTES));
  return checkSecret(created, file);
}

function checkSecret(bytes: Buffer, file: string): Buffer {
  if (bytes.length !== SECRET_BYTES) throw new Error(`${file} must hold exactly ${SECRET_BYTES} bytes`);
  return bytes;
}
