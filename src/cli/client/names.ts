/**
 * What the client calls the files it writes: `-o out.png` is a name and a
 * place; the extension follows the format the server really answered, and
 * several images or partial images get numbered names beside it.
 */
import path from 'node:path';

export type ImageFormat = 'png' | 'jpeg' | 'webp' | 'gif';

const EXTENSIONS: Record<ImageFormat, string[]> = {
  png: ['.png'],
  jpeg: ['.jpg', '.jpeg'],
  webp: ['.webp'],
  gif: ['.gif'],
};

const MIME: Record<ImageFormat, string> = { png: 'image/png', jpeg: 'image/jpeg', webp: 'image/webp', gif: 'image/gif' };

/** The format from the first bytes (magic numbers), or null. */
export function sniffFormat(head: Uint8Array): ImageFormat | null {
  const b = Buffer.from(head.buffer, head.byteOffset, Math.min(head.byteLength, 16));
  if (b.length >= 8 && b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (b.length >= 12 && b.toString('latin1', 0, 4) === 'RIFF' && b.toString('latin1', 8, 12) === 'WEBP') return 'webp';
  if (b.length >= 6 && /^GIF8[79]a$/.test(b.toString('latin1', 0, 6))) return 'gif';
  return null;
}

export function mimeOf(format: ImageFormat | null): string {
  // what OpenAI's own API checks; the gateway reads the bytes either way
  return format ? MIME[format] : 'application/octet-stream';
}

/** `output_format` of an answer ("png", "jpeg", "webp"), when it names one we know. */
export function formatNamed(name: unknown): ImageFormat | null {
  return typeof name === 'string' && name in EXTENSIONS ? (name as ImageFormat) : null;
}

export interface OutputNamer {
  /** the final image `index` (0-based) */
  image(index: number, format: ImageFormat): string;
  /** the `count`-th partial image to arrive (1-based) */
  partial(count: number, format: ImageFormat): string;
}

/**
 * `out.png` → out.png, or out-1.png, out-2.png when numbered; partials
 * out.partial-1.png, … . The extension the user wrote is kept when it fits
 * the format (out.jpeg stays .jpeg), else it becomes the format's own.
 */
export function outputNamer(output: string, numbered: boolean): OutputNamer {
  const dir = path.dirname(output);
  const ext = path.extname(output);
  const known = Object.values(EXTENSIONS).some((list) => list.includes(ext.toLowerCase()));
  // `out.v2` is a name with a dot in it, not an extension to replace
  const stem = known ? path.basename(output, ext) : path.basename(output);
  const extFor = (format: ImageFormat) => (EXTENSIONS[format].includes(ext.toLowerCase()) ? ext : EXTENSIONS[format][0]);
  const at = (name: string) => (dir === '.' ? name : path.join(dir, name));
  return {
    image: (index, format) => at(`${stem}${numbered ? `-${index + 1}` : ''}${extFor(format)}`),
    partial: (count, format) => at(`${stem}.partial-${count}${extFor(format)}`),
  };
}
