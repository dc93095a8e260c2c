/**
 * Scenes for the content-aware fill whose right answer is known: lines that
 * cross the hole (a horizon, a hill's outline, a road's edges) and a
 * photo-like landscape with an object pasted over it (the truth is the
 * landscape without it). Each returns the picture to fill, the hole, and
 * the truth. Deterministic (integer hashes, float64).
 */
import type { RgbaImage } from '../../src/engine/types.js';
import { clamp255, ellipseHole, ellipseMask, fbm, hash2, makeLandscape } from './photo.js';

export interface FillScene {
  name: string;
  /** what the fill gets: the truth, or the truth with an object pasted in */
  image: RgbaImage;
  /** 1 = fill */
  hole: Uint8Array;
  truth: RgbaImage;
}

type Rgb = [number, number, number];

function draw(w: number, h: number, fn: (x: number, y: number) => Rgb, grain: number): RgbaImage {
  const data = new Uint8ClampedArray(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const [r, g, b] = fn(x, y);
      const n = (hash2(x, y, 3) - 0.5) * 2 * grain;
      const o = (y * w + x) * 4;
      data[o] = clamp255(r + n);
      data[o + 1] = clamp255(g + n);
      data[o + 2] = clamp255(b + n);
      data[o + 3] = 255;
    }
  }
  return { width: w, height: h, data };
}

/** Where the horizon is at column x (the sea below it). */
export const horizonAt = (w: number, h: number, x: number): number => 0.48 * h + 0.07 * (x - w / 2);

/** Sky over a sea; the horizon tilts slightly and crosses the hole. */
export function horizonScene(w = 256, h = 192): FillScene {
  const s = w / 256;
  const img = draw(w, h, (x, y) => {
    const hy = horizonAt(w, h, x);
    if (y < hy) {
      const t = y / hy;
      return [110 + 90 * t, 160 + 60 * t, 235 - 5 * t];
    }
    const t = (y - hy) / (h - hy);
    const wave = fbm(x * 0.25, y * 2, 10 * s, 3, 13);
    return [20 + 30 * t + 30 * wave, 70 + 40 * t + 35 * wave, 120 + 30 * t + 30 * wave];
  }, 5);
  return { name: 'horizon', image: img, truth: img, hole: ellipseHole(w, h, 0.5 * w, 0.47 * h, 0.2 * w, 0.2 * h) };
}

/** Where the hill's outline is at column x (grass below it). */
export const hillAt = (w: number, h: number, x: number): number => 0.62 * h - 0.2 * h * Math.sin((Math.PI * x) / w * 1.1 + 0.1);

export interface TreeSpot {
  x: number;
  base: number;
  r: number;
}

/**
 * A hill's curved outline against the sky, grass with clumps, and three
 * trees (dark crowns on brown trunks) away from the hole: patches to keep out.
 */
export function hillScene(w = 256, h = 192): FillScene & { trees: TreeSpot[] } {
  const s = w / 256;
  const trees: TreeSpot[] = [
    { x: 0.12 * w, base: hillAt(w, h, 0.12 * w) + 34 * s, r: 15 * s },
    { x: 0.86 * w, base: hillAt(w, h, 0.86 * w) + 28 * s, r: 13 * s },
    { x: 0.3 * w, base: hillAt(w, h, 0.3 * w) + 2 * s, r: 12 * s },
  ];
  const img = draw(w, h, (x, y) => {
    let c: Rgb;
    const hy = hillAt(w, h, x);
    if (y < hy) {
      const t = y / h;
      c = [120 + 100 * t, 170 + 60 * t, 240];
    } else {
      const clump = fbm(x, y, 14 * s, 3, 31);
      const t = (y - hy) / h;
      c = [70 + 50 * clump - 30 * t, 150 + 50 * clump - 30 * t, 50 + 20 * clump];
    }
    for (const tr of trees) {
      if (Math.abs(x - tr.x) < 2.5 * s && y > tr.base - tr.r && y < tr.base + 14 * s) c = [95, 62, 35];
      const dx = x - tr.x, dy = y - (tr.base - tr.r * 1.1);
      if (dx * dx + dy * dy < tr.r * tr.r) {
        const n = fbm(x, y, 3 * s, 2, 41);
        c = [25 + 25 * n, 75 + 40 * n, 30 + 15 * n];
      }
    }
    return c;
  }, 4);
  return { name: 'hill', image: img, truth: img, hole: ellipseHole(w, h, 0.55 * w, hillAt(w, h, 0.55 * w), 0.17 * w, 0.2 * h), trees };
}

/** The road's centre line at row y, and its half-width. */
export const roadAt = (w: number, h: number, y: number): { x: number; half: number } => ({
  x: 0.3 * w + 0.55 * (h - y) * (w / h) * 0.6,
  half: 0.06 * w,
});

/** A grey road with light verges crossing a field diagonally. */
export function roadScene(w = 256, h = 192): FillScene {
  const s = w / 256;
  const img = draw(w, h, (x, y) => {
    const r = roadAt(w, h, y);
    const d = Math.abs(x - r.x);
    if (d < r.half) {
      const n = fbm(x, y, 4 * s, 2, 51);
      return [105 + 20 * n, 105 + 20 * n, 110 + 20 * n];
    }
    if (d < r.half + 3 * s) return [205, 200, 180];
    const n = fbm(x, y, 12 * s, 3, 53);
    return [85 + 40 * n, 140 + 40 * n, 55 + 20 * n];
  }, 5);
  const c = roadAt(w, h, 0.5 * h);
  return { name: 'road', image: img, truth: img, hole: ellipseHole(w, h, c.x, 0.5 * h, 0.16 * w, 0.18 * h) };
}

/**
 * The bench landscape (sky, ridges, grass, trees, a path, a house, a fence)
 * with a red van pasted on the near ridge; the hole is the van with a margin
 * of 3% of the width, and the truth is the landscape without it.
 */
export function pastedScene(size = 256): FillScene {
  const truth = makeLandscape(size);
  const w = size, h = size;
  const x0 = Math.round(0.36 * w), x1 = Math.round(0.56 * w), y0 = Math.round(0.42 * h), y1 = Math.round(0.56 * h);
  const data = new Uint8ClampedArray(truth.data);
  const hole = new Uint8Array(w * h);
  const m = Math.round(0.03 * w);
  for (let y = y0 - m; y < y1 + m; y++) for (let x = x0 - m; x < x1 + m; x++) hole[y * w + x] = 1;
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const wheel = y > y1 - 0.25 * (y1 - y0) && ((x - x0) % Math.round(0.12 * w)) < 0.05 * w;
      const win = y < y0 + 0.4 * (y1 - y0) && x > x0 + 0.6 * (x1 - x0);
      const c: Rgb = wheel ? [20, 20, 20] : win ? [150, 200, 230] : [200, 30, 35];
      data.set([c[0], c[1], c[2], 255], (y * w + x) * 4);
    }
  }
  return { name: 'pasted van', image: { width: w, height: h, data }, hole, truth };
}

/** The bench's timing case: the landscape with a centred elliptical hole of 25% of the area. */
export function landscapeQuarter(size = 1024): FillScene {
  const truth = makeLandscape(size);
  return { name: 'landscape 25%', image: truth, truth, hole: ellipseMask(size, size, 0.25) };
}

export function structureScenes(size: number): FillScene[] {
  const h = Math.round((size * 3) / 4);
  return [horizonScene(size, h), hillScene(size, h), roadScene(size, h), pastedScene(size)];
}
