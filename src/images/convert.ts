/**
 * An upstream's answer image as the client asked for it: bytes already in
 * the asked format and size pass through untouched; otherwise they are
 * resized (cover, centred: the provider's nearest aspect ratio to the exact
 * size) and re-encoded with the client's compression.
 */
import sharp from 'sharp';
import type { ImageFormat, OutputImage, Size } from '../types.js';
import { sniffFormat } from './probe.js';
import { encodeAs } from './encode.js';
import { readHeader } from './header.js';

export class UnreadableImageError extends Error {}

/** an upstream's answer larger than this is refused rather than decoded */
const MAX_PIXELS = 100_000_000;

export interface ImageFacts {
  /** 'other' for an image libvips reads that is no contract format (gif, avif, …): it gets converted */
  format: ImageFormat | 'other';
  width: number;
  height: number;
  hasAlpha: boolean;
}

/** Format from the magic number, dimensions from the header (not decoded); throws UnreadableImageError for anything else. */
export async function probeBuffer(bytes: Buffer): Promise<ImageFacts> {
  const sniffed = sniffFormat(bytes.subarray(0, 64));
  if (sniffed === 'unknown' || sniffed === 'pdf' || sniffed === 'svg') {
    throw new UnreadableImageError(`not an image (${sniffed === 'unknown' ? `${bytes.length} bytes of something else` : sniffed})`);
  }
  const format = sniffed === 'png' || sniffed === 'jpeg' || sniffed === 'webp' ? sniffed : 'other';
  // the header in JS when it is an ordinary one (every answer passes here); libvips for the rest
  const facts = readHeader(bytes, bytes.length);
  if (facts !== null && facts !== 'more' && facts.format === format && facts.width * facts.height <= MAX_PIXELS) {
    return { format, width: facts.width, height: facts.height, hasAlpha: facts.hasAlpha };
  }
  try {
    const meta = await sharp(bytes, { limitInputPixels: MAX_PIXELS }).metadata();
    if (!meta.width || !meta.height) throw new Error('no dimensions');
    return { format, width: meta.width, height: meta.height, hasAlpha: Boolean(meta.hasAlpha) };
  } catch (e) {
    throw new UnreadableImageError(`a ${sniffed} whose header cannot be read (${(e as Error).message.split('\n')[0]})`);
  }
}

export interface OutputWanted {
  format: ImageFormat;
  compression: number | null;
  /** null: keep the provider's size */
  size: Size | null;
  /** opaque: transparency is flattened onto white */
  opaque: boolean;
}

/** The image as asked; `converted` says whether the bytes were re-encoded. */
export async function conformImage(bytes: Buffer, want: OutputWanted): Promise<{ image: OutputImage; converted: boolean }> {
  const facts = await probeBuffer(bytes);
  const sizeOk = want.size === null || (facts.width === want.size.width && facts.height === want.size.height);
  const alphaOk = !(want.opaque && facts.hasAlpha);
  // compression asked of a format the provider already produced is the provider's to honour
  if (facts.format === want.format && sizeOk && alphaOk) {
    return { image: { bytes, format: want.format, width: facts.width, height: facts.height }, converted: false };
  }
  let s = sharp(bytes, { limitInputPixels: MAX_PIXELS }).rotate();
  if (!sizeOk) s = s.resize(want.size!.width, want.size!.height, { fit: 'cover', position: 'centre' });
  if (want.opaque) s = s.flatten({ background: '#ffffff' });
  const { data, info } = await encodeAs(s, want.format, want.compression).toBuffer({ resolveWithObject: true });
  return { image: { bytes: data, format: want.format, width: info.width, height: info.height }, converted: true };
}
