/** Synthetic pictures with a known right answer, and error measures, for the fill tests. */
import type { RgbaImage } from '../../../src/engine/types.js';

export type Rgb = readonly [number, number, number];

export function makeImage(w: number, h: number, colour: (x: number, y: number) => Rgb, alpha: (x: number, y: number) => number = () => 255): RgbaImage {
  const data = new Uint8ClampedArray(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const [r, g, b] = colour(x, y);
      const o = (y * w + x) * 4;
      data[o] = r;
      data[o + 1] = g;
      data[o + 2] = b;
      data[o + 3] = alpha(x, y);
    }
  }
  return { width: w, height: h, data };
}

export const DARK: Rgb = [30, 60, 150];
export const LIGHT: Rgb = [230, 200, 60];
/** mean absolute difference per channel between DARK and LIGHT: (200 + 140 + 90) / 3 */
export const CONTRAST = (Math.abs(DARK[0] - LIGHT[0]) + Math.abs(DARK[1] - LIGHT[1]) + Math.abs(DARK[2] - LIGHT[2])) / 3;

/** Diagonal stripes, `period` pixels along x, half dark half light. */
export function stripes(w: number, h: number, period: number): RgbaImage {
  return makeImage(w, h, (x, y) => (((x + y) % period) + period) % period < period / 2 ? DARK : LIGHT);
}

/** Checkerboard of `cell`-pixel squares. */
export function checkerboard(w: number, h: number, cell: number): RgbaImage {
  return makeImage(w, h, (x, y) => ((Math.floor(x / cell) + Math.floor(y / cell)) % 2 === 0 ? DARK : LIGHT));
}

/** A smooth diagonal gradient from DARK (top left) to LIGHT (bottom right). */
export function gradient(w: number, h: number): RgbaImage {
  return makeImage(w, h, (x, y) => {
    const t = (x + y) / (w + h - 2);
    return [0, 1, 2].map((c) => Math.round(DARK[c] + (LIGHT[c] - DARK[c]) * t)) as unknown as Rgb;
  });
}

export function rectMask(w: number, h: number, left: number, top: number, rw: number, rh: number): Uint8Array {
  const m = new Uint8Array(w * h);
  for (let y = Math.max(0, top); y < Math.min(h, top + rh); y++) for (let x = Math.max(0, left); x < Math.min(w, left + rw); x++) m[y * w + x] = 1;
  return m;
}

export function discMask(w: number, h: number, cx: number, cy: number, radius: number): Uint8Array {
  const m = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const dx = x + 0.5 - cx;
      const dy = y + 0.5 - cy;
      if (dx * dx + dy * dy <= radius * radius) m[y * w + x] = 1;
    }
  }
  return m;
}

/** Mean absolute error per channel over the hole (RGB, or RGBA with `withAlpha`). */
export function holeMae(a: RgbaImage, b: RgbaImage, hole: Uint8Array, withAlpha = false): number {
  const nc = withAlpha ? 4 : 3;
  let s = 0;
  let n = 0;
  for (let i = 0; i < hole.length; i++) {
    if (!hole[i]) continue;
    for (let c = 0; c < nc; c++) s += Math.abs(a.data[i * 4 + c] - b.data[i * 4 + c]);
    n += nc;
  }
  return n === 0 ? 0 : s / n;
}

/** The naive answer to beat: the hole painted with the mean colour (and alpha) of the known pixels. */
export function flatFill(img: RgbaImage, hole: Uint8Array): RgbaImage {
  const sum = [0, 0, 0, 0];
  let n = 0;
  for (let i = 0; i < hole.length; i++) {
    if (hole[i]) continue;
    for (let c = 0; c < 4; c++) sum[c] += img.data[i * 4 + c];
    n++;
  }
  const data = new Uint8ClampedArray(img.data);
  for (let i = 0; i < hole.length; i++) {
    if (!hole[i]) continue;
    for (let c = 0; c < 4; c++) data[i * 4 + c] = Math.round(sum[c] / n);
  }
  return { width: img.width, height: img.height, data };
}

/** Number of pixels outside the hole whose four bytes differ. */
export function changedOutside(a: RgbaImage, b: RgbaImage, hole: Uint8Array): number {
  let bad = 0;
  for (let i = 0; i < hole.length; i++) {
    if (hole[i]) continue;
    const o = i * 4;
    if (a.data[o] !== b.data[o] || a.data[o + 1] !== b.data[o + 1] || a.data[o + 2] !== b.data[o + 2] || a.data[o + 3] !== b.data[o + 3]) bad++;
  }
  return bad;
}

/** Shift an image by (dx, dy) with wrap-around: the error a misaligned copy of a periodic texture would make. */
export function shifted(img: RgbaImage, dx: number, dy: number): RgbaImage {
  const { width: w, height: h } = img;
  const data = new Uint8ClampedArray(img.data.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const sx = (((x - dx) % w) + w) % w;
      const sy = (((y - dy) % h) + h) % h;
      data.set(img.data.subarray((sy * w + sx) * 4, (sy * w + sx) * 4 + 4), (y * w + x) * 4);
    }
  }
  return { width: w, height: h, data };
}

/** FNV-1a over the bytes, as 8 hex digits. */
export function fnv1a(bytes: Uint8ClampedArray | Uint8Array): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i];
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}
