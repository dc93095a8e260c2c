/**
 * What an uploaded file really is, read from its bytes: the format from the
 * magic number, then width, height and alpha from the header, never by
 * decoding pixels (a 40000x40000 PNG costs nothing here). The header is read
 * in JS (header.ts) from the bytes intake kept as the file streamed in;
 * libvips reads it only when the JS reader is not sure it would agree.
 */
import fs from 'node:fs/promises';
import sharp from 'sharp';
import type { ImageFormat } from '../types.js';
import { HEAD_BYTES, readHeader } from './header.js';

export type SniffedFormat = ImageFormat | 'gif' | 'bmp' | 'tiff' | 'heif' | 'avif' | 'svg' | 'pdf' | 'ico' | 'unknown';

/** The MIME type a sniffed format is known by, for messages. */
export const MIME_OF: Record<SniffedFormat, string> = {
  png: 'image/png',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
  gif: 'image/gif',
  bmp: 'image/bmp',
  tiff: 'image/tiff',
  heif: 'image/heif',
  avif: 'image/avif',
  svg: 'image/svg+xml',
  pdf: 'application/pdf',
  ico: 'image/x-icon',
  unknown: 'not a recognised image',
};

const startsWith = (b: Buffer, sig: number[], at = 0): boolean =>
  b.length >= at + sig.length && sig.every((v, i) => b[at + i] === v);

export function sniffFormat(head: Buffer): SniffedFormat {
  if (startsWith(head, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'png';
  if (startsWith(head, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (head.toString('latin1', 0, 4) === 'RIFF' && head.toString('latin1', 8, 12) === 'WEBP') return 'webp';
  const ascii6 = head.toString('latin1', 0, 6);
  if (ascii6 === 'GIF87a' || ascii6 === 'GIF89a') return 'gif';
  if (head.toString('latin1', 0, 2) === 'BM') return 'bmp';
  if (startsWith(head, [0x49, 0x49, 0x2a, 0x00]) || startsWith(head, [0x4d, 0x4d, 0x00, 0x2a])) return 'tiff';
  if (head.toString('latin1', 4, 8) === 'ftyp') {
    const brand = head.toString('latin1', 8, 12);
    return brand.startsWith('avi') ? 'avif' : 'heif';
  }
  if (head.toString('latin1', 0, 4) === '%PDF') return 'pdf';
  if (startsWith(head, [0x00, 0x00, 0x01, 0x00])) return 'ico';
  const text = head.toString('utf8').trimStart().toLowerCase();
  if (text.startsWith('<svg') || (text.startsWith('<?xml') && text.includes('<svg'))) return 'svg';
  return 'unknown';
}

export async function readHead(path: string, bytes = 512): Promise<Buffer> {
  const fh = await fs.open(path, 'r');
  try {
    const buf = Buffer.alloc(bytes);
    const { bytesRead } = await fh.read(buf, 0, bytes, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** How far into the file a header that goes beyond HEAD_BYTES is read before libvips is asked instead. */
const MAX_HEADER_BYTES = 1024 * 1024;

export interface ProbedImage {
  format: SniffedFormat;
  /** present only for png/jpeg/webp whose header could be read */
  width?: number;
  height?: number;
  hasAlpha?: boolean;
  /** why the header could not be read */
  headerError?: string;
}

/** What the caller already knows of the file: its size and, from intake, its first bytes. */
export interface KnownFile {
  size: number;
  /** the file's first min(size, HEAD_BYTES) bytes or more */
  head?: Buffer;
  /** the whole file, when it is held in memory (then `path` is no file): read only when the head is not enough */
  whole?: () => Buffer;
}

/** libvips's reading of the header: the reference the JS reader agrees with, and its fallback. */
async function probeWithSharp(path: string | Buffer, format: 'png' | 'jpeg' | 'webp'): Promise<ProbedImage> {
  try {
    const meta = await sharp(path, { limitInputPixels: false, sequentialRead: true }).metadata();
    if (!meta.width || !meta.height) return { format, headerError: 'the image header has no dimensions' };
    // JPEG EXIF orientations 5-8 swap width and height once displayed
    const swap = format === 'jpeg' && (meta.orientation ?? 1) >= 5;
    return {
      format,
      width: swap ? meta.height : meta.width,
      height: swap ? meta.width : meta.height,
      hasAlpha: Boolean(meta.hasAlpha),
    };
  } catch (e) {
    return { format, headerError: (e as Error).message.split('\n')[0] };
  }
}

/** Format from the magic number; for png/jpeg/webp also dimensions and alpha from the header. */
export async function probeImage(path: string, known?: KnownFile): Promise<ProbedImage> {
  let head: Buffer;
  let size: number;
  if (known?.head) {
    head = known.head;
    size = known.size;
  } else {
    const fh = await fs.open(path, 'r');
    try {
      size = known?.size ?? (await fh.stat()).size;
      const want = Math.min(size, HEAD_BYTES);
      const buf = Buffer.alloc(want);
      head = buf.subarray(0, (await fh.read(buf, 0, want, 0)).bytesRead);
    } finally {
      await fh.close();
    }
  }
  // the sniff sees what it always saw: the first 512 bytes
  const format = sniffFormat(head.subarray(0, 512));
  if (format !== 'png' && format !== 'jpeg' && format !== 'webp') return { format };
  let facts = readHeader(head, size);
  if (facts === 'more' && head.length < size && head.length < MAX_HEADER_BYTES) {
    facts = readHeader(known?.whole ? known.whole() : await readHead(path, Math.min(size, MAX_HEADER_BYTES)), size);
  }
  if (facts === null || facts === 'more' || facts.format !== format) return probeWithSharp(known?.whole?.() ?? path, format);
  const swap = facts.orientation >= 5;
  return {
    format,
    width: swap ? facts.height : facts.width,
    height: swap ? facts.width : facts.height,
    hasAlpha: facts.hasAlpha,
  };
}
