/**
 * Images inlined as `data:` URIs, for the JSON APIs that take a file input
 * as a URL and accept a data URI in its place (Replicate, fal).
 */
import type { ImageFormat } from '../types.js';
import type { PreparedImage, ProviderIO } from './types.js';

const MIME: Record<ImageFormat, string> = { png: 'image/png', jpeg: 'image/jpeg', webp: 'image/webp' };

export function dataUri(bytes: Buffer, format: ImageFormat): string {
  return `data:${MIME[format]};base64,${bytes.toString('base64')}`;
}

/** Every image of a call as a data URI, in order. */
export async function dataUris(io: Pick<ProviderIO, 'read'>, images: readonly PreparedImage[]): Promise<string[]> {
  const out: string[] = [];
  for (const img of images) out.push(dataUri(await io.read(img), img.format));
  return out;
}

/** The bytes of a base64 `data:` URI, or null when `url` is not one. */
export function decodeDataUri(url: string): Buffer | null {
  const m = /^data:[\w.+-]+\/[\w.+-]+(?:;[\w-]+=[\w.-]+)*;base64,([A-Za-z0-9+/]*={0,2})$/.exec(url);
  return m && m[1].length > 0 ? Buffer.from(m[1], 'base64') : null;
}
