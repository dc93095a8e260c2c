import type { RgbaImage } from '../types.js';

/** Replace each block×block cell (from the top-left corner) by its average colour (alpha-weighted). */
export function pixelate(img: RgbaImage, block: number): RgbaImage {
  const b = Math.max(1, Math.round(block));
  const { width: w, height: h, data: src } = img;
  const out = new Uint8ClampedArray(src.length);
  for (let by = 0; by < h; by += b) {
    const y1 = Math.min(h, by + b);
    for (let bx = 0; bx < w; bx += b) {
      const x1 = Math.min(w, bx + b);
      let r = 0, g = 0, bl = 0, a = 0;
      const n = (y1 - by) * (x1 - bx);
      for (let y = by; y < y1; y++) {
        for (let x = bx; x < x1; x++) {
          const p = (y * w + x) * 4;
          const al = src[p + 3]!;
          r += src[p]! * al; g += src[p + 1]! * al; bl += src[p + 2]! * al; a += al;
        }
      }
      const cr = a > 0 ? r / a : 0, cg = a > 0 ? g / a : 0, cb = a > 0 ? bl / a : 0, ca = a / n;
      for (let y = by; y < y1; y++) {
        for (let x = bx; x < x1; x++) {
          const p = (y * w + x) * 4;
          out[p] = cr; out[p + 1] = cg; out[p + 2] = cb; out[p + 3] = ca;
        }
      }
    }
  }
  return { width: w, height: h, data: out };
}
