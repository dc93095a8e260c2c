/**
 * Uniform-background detection and removal by flood fill from the borders.
 * This finds plain studio-style backgrounds (a flat or nearly flat colour
 * touching the edges); it does not segment subjects out of busy photos.
 */
import type { RgbaImage } from '../types.js';
import type { Rgb } from '../colors.js';

export interface BackgroundGuess {
  color: Rgb;
  /** RGB distance under which a pixel counts as background */
  tolerance: number;
  /** share of (opaque) border pixels within tolerance of the colour */
  share: number;
}

/** Pixels along the four edges. */
function borderIndices(w: number, h: number): number[] {
  const out: number[] = [];
  for (let x = 0; x < w; x++) {
    out.push(x);
    if (h > 1) out.push((h - 1) * w + x);
  }
  for (let y = 1; y < h - 1; y++) {
    out.push(y * w);
    if (w > 1) out.push(y * w + w - 1);
  }
  return out;
}

/**
 * The dominant colour of the opaque border pixels and how uniform it is, or
 * null when the border has no opaque pixel or no colour covers at least
 * `minShare` of it.
 */
export function detectBackground(img: RgbaImage, minShare = 0.5): BackgroundGuess | null {
  const { width: w, height: h, data: d } = img;
  const idx = borderIndices(w, h).filter((i) => d[i * 4 + 3]! >= 250);
  if (idx.length === 0) return null;
  const bins = new Map<number, number>();
  for (const i of idx) {
    const p = i * 4;
    const key = ((d[p]! >> 3) << 10) | ((d[p + 1]! >> 3) << 5) | (d[p + 2]! >> 3);
    bins.set(key, (bins.get(key) ?? 0) + 1);
  }
  let best = -1, bestCount = -1;
  for (const [k, c] of bins) if (c > bestCount || (c === bestCount && k < best)) { best = k; bestCount = c; }
  const cr = ((best >> 10) & 31) * 8 + 4, cg = ((best >> 5) & 31) * 8 + 4, cb = (best & 31) * 8 + 4;
  // refine: mean and spread of the border pixels near the mode
  let sr = 0, sg = 0, sb = 0, n = 0;
  const near: number[] = [];
  for (const i of idx) {
    const p = i * 4;
    const dr = d[p]! - cr, dg = d[p + 1]! - cg, db = d[p + 2]! - cb;
    if (dr * dr + dg * dg + db * db <= 24 * 24) { sr += d[p]!; sg += d[p + 1]!; sb += d[p + 2]!; n++; near.push(p); }
  }
  const color: Rgb = [Math.round(sr / n), Math.round(sg / n), Math.round(sb / n)];
  let v = 0;
  for (const p of near) {
    const dr = d[p]! - color[0], dg = d[p + 1]! - color[1], db = d[p + 2]! - color[2];
    v += dr * dr + dg * dg + db * db;
  }
  const spread = Math.sqrt(v / n);
  const tolerance = Math.min(72, 30 + 2.5 * spread);
  let within = 0;
  const t2 = tolerance * tolerance;
  for (const i of idx) {
    const p = i * 4;
    const dr = d[p]! - color[0], dg = d[p + 1]! - color[1], db = d[p + 2]! - color[2];
    if (dr * dr + dg * dg + db * db <= t2) within++;
  }
  const share = within / idx.length;
  return share >= minShare ? { color, tolerance, share } : null;
}

/**
 * Background pixels: connected (4-neighbours) to the image border through
 * pixels within tolerance of the background colour, or already transparent.
 * Returns per-pixel RGB distance too, for soft edges.
 */
function floodBackground(img: RgbaImage, bg: BackgroundGuess): { mask: Uint8Array; count: number; dist: Float32Array } {
  const { width: w, height: h, data: d } = img;
  const n = w * h;
  const dist = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const p = i * 4;
    const dr = d[p]! - bg.color[0], dg = d[p + 1]! - bg.color[1], db = d[p + 2]! - bg.color[2];
    dist[i] = d[p + 3]! < 16 ? 0 : Math.sqrt(dr * dr + dg * dg + db * db);
  }
  const mask = new Uint8Array(n);
  const stack = new Int32Array(n);
  let top = 0;
  let count = 0;
  const tol = bg.tolerance;
  for (const i of borderIndices(w, h)) {
    if (dist[i]! <= tol && mask[i] === 0) { mask[i] = 1; stack[top++] = i; count++; }
  }
  while (top > 0) {
    const i = stack[--top]!;
    const x = i % w;
    const nb = [x > 0 ? i - 1 : -1, x < w - 1 ? i + 1 : -1, i - w, i + w];
    for (const j of nb) {
      if (j < 0 || j >= n || mask[j] !== 0 || dist[j]! > tol) continue;
      mask[j] = 1;
      stack[top++] = j;
      count++;
    }
  }
  return { mask, count, dist };
}

/**
 * For each pixel how much it belongs to the background (0-1): 1 inside the
 * flood, a ramp for pixels touching it whose colour is between 1× and 2.5×
 * the tolerance away (anti-aliased subject edges), 0 elsewhere.
 */
function backgroundWeights(img: RgbaImage, bg: BackgroundGuess): { weight: Float32Array; count: number } {
  const { width: w, height: h } = img;
  const { mask, count, dist } = floodBackground(img, bg);
  const weight = new Float32Array(w * h);
  const tol = bg.tolerance;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      if (mask[i]) { weight[i] = 1; continue; }
      const touches =
        (x > 0 && mask[i - 1]) || (x < w - 1 && mask[i + 1]) || (y > 0 && mask[i - w]) || (y < h - 1 && mask[i + w]);
      if (!touches) continue;
      const t = (dist[i]! - tol) / (1.5 * tol);
      if (t < 1) weight[i] = 1 - Math.max(0, t);
    }
  }
  return { weight, count };
}

/** Make the border-connected background transparent. `removed` = pixels now fully transparent. */
export function removeBackground(img: RgbaImage, bg: BackgroundGuess): { image: RgbaImage; removed: number } {
  const { weight, count } = backgroundWeights(img, bg);
  const out = new Uint8ClampedArray(img.data);
  for (let i = 0; i < weight.length; i++) {
    const wt = weight[i]!;
    if (wt > 0) out[i * 4 + 3] = out[i * 4 + 3]! * (1 - wt);
  }
  return { image: { width: img.width, height: img.height, data: out }, removed: count };
}

/** Paint the border-connected background with an opaque colour. */
export function replaceBackground(img: RgbaImage, bg: BackgroundGuess, color: Rgb): { image: RgbaImage; replaced: number } {
  const { weight, count } = backgroundWeights(img, bg);
  const out = new Uint8ClampedArray(img.data);
  for (let i = 0; i < weight.length; i++) {
    const wt = weight[i]!;
    if (wt <= 0) continue;
    const p = i * 4;
    out[p] = out[p]! * (1 - wt) + color[0] * wt;
    out[p + 1] = out[p + 1]! * (1 - wt) + color[1] * wt;
    out[p + 2] = out[p + 2]! * (1 - wt) + color[2] * wt;
    out[p + 3] = out[p + 3]! * (1 - wt) + 255 * wt;
  }
  return { image: { width: img.width, height: img.height, data: out }, replaced: count };
}

/** Composite onto an opaque colour ("over"); every output pixel has alpha 255. */
export function flatten(img: RgbaImage, color: Rgb): RgbaImage {
  const src = img.data;
  const out = new Uint8ClampedArray(src.length);
  for (let p = 0; p < src.length; p += 4) {
    const a = src[p + 3]! / 255;
    const k = 1 - a;
    out[p] = src[p]! * a + color[0] * k;
    out[p + 1] = src[p + 1]! * a + color[1] * k;
    out[p + 2] = src[p + 2]! * a + color[2] * k;
    out[p + 3] = 255;
  }
  return { width: img.width, height: img.height, data: out };
}
