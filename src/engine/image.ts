/** Small helpers over RgbaImage shared by the operations. */
import type { RgbaImage } from './types.js';

export function createImage(width: number, height: number, fill?: readonly [number, number, number, number]): RgbaImage {
  const data = new Uint8ClampedArray(width * height * 4);
  if (fill && (fill[0] | fill[1] | fill[2] | fill[3]) !== 0) {
    const word = new Uint32Array(data.buffer);
    // little-endian layout of R, G, B, A bytes
    const probe = new Uint8Array(new Uint32Array([0x01020304]).buffer)[0] === 4;
    const v = probe
      ? (fill[3] << 24) | (fill[2] << 16) | (fill[1] << 8) | fill[0]
      : (fill[0] << 24) | (fill[1] << 16) | (fill[2] << 8) | fill[3];
    word.fill(v >>> 0);
  }
  return { width, height, data };
}

export function cloneImage(img: RgbaImage): RgbaImage {
  return { width: img.width, height: img.height, data: new Uint8ClampedArray(img.data) };
}

/** True when any pixel has alpha below 255. */
export function hasTransparency(img: RgbaImage): boolean {
  const d = img.data;
  if (LITTLE_ENDIAN && d.byteOffset % 4 === 0 && d.length % 4 === 0) {
    // a pixel at a time: alpha is the top byte of each little-endian word
    const words = new Uint32Array(d.buffer, d.byteOffset, d.length / 4);
    for (let i = 0; i < words.length; i++) if (words[i]! < 0xff000000) return true;
    return false;
  }
  for (let i = 3; i < d.length; i += 4) if (d[i]! < 255) return true;
  return false;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Copy a rectangle of src into dst at (dx, dy), clipped, replacing pixels. */
export function blit(dst: RgbaImage, src: RgbaImage, dx: number, dy: number): void {
  const x0 = Math.max(0, dx);
  const y0 = Math.max(0, dy);
  const x1 = Math.min(dst.width, dx + src.width);
  const y1 = Math.min(dst.height, dy + src.height);
  if (x1 <= x0 || y1 <= y0) return;
  for (let y = y0; y < y1; y++) {
    const so = ((y - dy) * src.width + (x0 - dx)) * 4;
    const len = (x1 - x0) * 4;
    dst.data.set(src.data.subarray(so, so + len), (y * dst.width + x0) * 4);
  }
}

/** Crop a rectangle (must lie inside the image). */
export function cropImage(img: RgbaImage, x: number, y: number, w: number, h: number): RgbaImage {
  const out = createImage(w, h);
  for (let row = 0; row < h; row++) {
    const so = ((y + row) * img.width + x) * 4;
    out.data.set(img.data.subarray(so, so + w * 4), row * w * 4);
  }
  return out;
}

/**
 * Seeded PRNG (32-bit state, a splitmix-style finaliser); returns floats in
 * [0, 1). Every random choice in the engine goes through one of these so the
 * same job gives the same bytes.
 */
export function seededRandom(seed: number): () => number {
  let s = (seed ^ 0x9e3779b9) >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
