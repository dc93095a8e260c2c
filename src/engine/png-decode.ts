/**
 * Decoding of plain PNGs in JS, for the small uploads where a libvips
 * pipeline's fixed cost outweighs the work: 8-bit grey, grey+alpha, RGB or
 * RGBA, not interlaced, only the chunks images/header.ts vouches for before
 * the image data, and nothing but IEND after it. PNG is lossless, so the
 * pixels are the file's own; grey is copied to R, G and B, and alpha is 255
 * where the file has none, as sharp's decode (run.ts) gives them.
 * test/engine/png-decode.test.ts holds the two to the same bytes. Anything
 * else — a palette, 16 bits, transparency chunks, a bad CRC, a damaged
 * stream — is null, and the caller asks sharp, whose verdict and errors
 * stand.
 */
import zlib from 'node:zlib';
import { readHeader } from '../images/header.js';
import type { RgbaImage } from './types.js';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** samples per pixel by colour type */
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 4: 2, 6: 4 };

/** `fits`: whether a width×height picture may be decoded here (the caller's size rule); else null. */
export function decodePlainPng(b: Buffer, fits: (width: number, height: number) => boolean): RgbaImage | null {
  if (b.length < 8 + 25 || !b.subarray(0, 8).equals(SIGNATURE)) return null;
  const head = readHeader(b, b.length);
  if (head === null || head === 'more' || head.format !== 'png') return null;
  const width = head.width;
  const height = head.height;
  if (!fits(width, height)) return null;
  const depth = b[8 + 8 + 8]!;
  const colour = b[8 + 8 + 9]!;
  const interlace = b[8 + 8 + 12]!;
  const channels = CHANNELS[colour];
  if (depth !== 8 || channels === undefined || interlace !== 0) return null;
  // walk the chunks: header.ts has checked those before the first IDAT; here tRNS is refused, IDATs gathered
  const idat: Buffer[] = [];
  let at = 8;
  let ended = false;
  let inData = false;
  while (at + 12 <= b.length) {
    const len = b.readUInt32BE(at);
    const type = b.toString('latin1', at + 4, at + 8);
    const end = at + 12 + len;
    if (end > b.length) return null;
    if (type === 'tRNS') return null;
    if (type === 'IDAT' || type === 'IEND' || inData) {
      if (zlib.crc32(b.subarray(at + 4, at + 8 + len)) !== b.readUInt32BE(at + 8 + len)) return null;
      if (type === 'IDAT') {
        inData = true;
        idat.push(b.subarray(at + 8, at + 8 + len));
      } else if (type === 'IEND') {
        // trailing bytes after IEND: left to libvips
        if (len !== 0 || !inData || end !== b.length) return null;
        ended = true;
        break;
      } else {
        // any chunk after the image data (text, EXIF, …) is libvips's to read
        return null;
      }
    }
    at = end;
  }
  if (!ended || idat.length === 0) return null;
  const stride = width * channels;
  let raw: Buffer;
  try {
    // never more than the rows the header promises (+1 to tell "too much"):
    // a few KB of hostile deflate must not inflate to gigabytes in a worker
    raw = zlib.inflateSync(idat.length === 1 ? idat[0]! : Buffer.concat(idat), { maxOutputLength: (stride + 1) * height + 1 });
  } catch {
    return null;
  }
  if (raw.length !== (stride + 1) * height) return null;
  const out = new Uint8ClampedArray(width * height * 4);
  let prev = new Uint8Array(stride);
  let cur = new Uint8Array(stride);
  const bpp = channels;
  for (let y = 0; y < height; y++) {
    const base = y * (stride + 1);
    const filter = raw[base]!;
    const line = raw.subarray(base + 1, base + 1 + stride);
    switch (filter) {
      case 0:
        cur.set(line);
        break;
      case 1:
        for (let i = 0; i < stride; i++) cur[i] = line[i]! + (i >= bpp ? cur[i - bpp]! : 0);
        break;
      case 2:
        for (let i = 0; i < stride; i++) cur[i] = line[i]! + prev[i]!;
        break;
      case 3:
        for (let i = 0; i < stride; i++) cur[i] = line[i]! + (((i >= bpp ? cur[i - bpp]! : 0) + prev[i]!) >> 1);
        break;
      case 4:
        for (let i = 0; i < stride; i++) {
          const a = i >= bpp ? cur[i - bpp]! : 0;
          const up = prev[i]!;
          const c = i >= bpp ? prev[i - bpp]! : 0;
          const p = a + up - c;
          const pa = Math.abs(p - a);
          const pb = Math.abs(p - up);
          const pc = Math.abs(p - c);
          cur[i] = line[i]! + (pa <= pb && pa <= pc ? a : pb <= pc ? up : c);
        }
        break;
      default:
        return null;
    }
    let o = y * width * 4;
    if (channels === 4) {
      out.set(cur, o);
    } else if (channels === 3) {
      for (let i = 0; i < stride; i += 3, o += 4) { out[o] = cur[i]!; out[o + 1] = cur[i + 1]!; out[o + 2] = cur[i + 2]!; out[o + 3] = 255; }
    } else if (channels === 2) {
      for (let i = 0; i < stride; i += 2, o += 4) { const g = cur[i]!; out[o] = g; out[o + 1] = g; out[o + 2] = g; out[o + 3] = cur[i + 1]!; }
    } else {
      for (let i = 0; i < stride; i++, o += 4) { const g = cur[i]!; out[o] = g; out[o + 1] = g; out[o + 2] = g; out[o + 3] = 255; }
    }
    const t = prev;
    prev = cur;
    cur = t;
  }
  return { width, height, data: out };
}
