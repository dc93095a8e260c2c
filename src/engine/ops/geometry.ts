/**
 * Geometric operations. They act on the whole image (a mask cannot confine a
 * rotation); the caller moves the edit region along with the same function so
 * later pixel operations still land on the same content.
 */
import type { RgbaImage } from '../types.js';
import { blit, createImage, cropImage } from '../image.js';
import { fromSharp, resize, toSharp, toSharpForResize } from './sharp-raw.js';
import { upscaleLikeSharp } from './upscale.js';

export type Rgba = readonly [number, number, number, number];

/** Normalised to (-180, 180]; positive = clockwise. */
export function normaliseAngle(degrees: number): number {
  let a = degrees % 360;
  if (a <= -180) a += 360;
  if (a > 180) a -= 360;
  return a;
}

function rotate90(img: RgbaImage, clockwise: boolean): RgbaImage {
  const { width: w, height: h } = img;
  const out = createImage(h, w);
  const s = new Uint32Array(img.data.buffer, img.data.byteOffset, w * h);
  const d = new Uint32Array(out.data.buffer);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      // clockwise: (x, y) → (h-1-y, x); counter-clockwise: (x, y) → (y, w-1-x)
      const di = clockwise ? x * h + (h - 1 - y) : (w - 1 - x) * h + y;
      d[di] = s[y * w + x]!;
    }
  }
  return out;
}

function rotate180(img: RgbaImage): RgbaImage {
  const out = createImage(img.width, img.height);
  const s = new Uint32Array(img.data.buffer, img.data.byteOffset, img.width * img.height);
  const d = new Uint32Array(out.data.buffer);
  const n = s.length;
  for (let i = 0; i < n; i++) d[n - 1 - i] = s[i]!;
  return out;
}

/**
 * Rotate clockwise by any angle. Right angles are exact pixel moves; other
 * angles enlarge the canvas to hold the whole rotated picture, with the new
 * corners filled with `background` (transparent by default).
 */
export async function rotate(img: RgbaImage, degrees: number, background: Rgba = [0, 0, 0, 0]): Promise<RgbaImage> {
  const a = normaliseAngle(degrees);
  if (a === 0) return { width: img.width, height: img.height, data: new Uint8ClampedArray(img.data) };
  if (a === 90) return rotate90(img, true);
  if (a === -90) return rotate90(img, false);
  if (a === 180) return rotate180(img);
  const [r, g, b, al] = background;
  return fromSharp(toSharp(img).rotate(a, { background: { r, g, b, alpha: al / 255 } }));
}

/** 'horizontal' mirrors left↔right; 'vertical' flips top↔bottom. */
export function flip(img: RgbaImage, axis: 'horizontal' | 'vertical'): RgbaImage {
  const { width: w, height: h } = img;
  const out = createImage(w, h);
  const s = new Uint32Array(img.data.buffer, img.data.byteOffset, w * h);
  const d = new Uint32Array(out.data.buffer);
  for (let y = 0; y < h; y++) {
    const sy = axis === 'vertical' ? h - 1 - y : y;
    for (let x = 0; x < w; x++) {
      const sx = axis === 'horizontal' ? w - 1 - x : x;
      d[y * w + x] = s[sy * w + sx]!;
    }
  }
  return out;
}

/** The largest centred square. */
export function cropSquare(img: RgbaImage): RgbaImage {
  const side = Math.min(img.width, img.height);
  return cropImage(img, Math.floor((img.width - side) / 2), Math.floor((img.height - side) / 2), side, side);
}

/** Crop the centre 1/factor of each side, then scale back to the original size. */
export async function zoom(img: RgbaImage, factor: number): Promise<RgbaImage> {
  const f = Math.max(1, factor);
  const w = Math.max(1, Math.round(img.width / f));
  const h = Math.max(1, Math.round(img.height / f));
  const crop = cropImage(img, Math.floor((img.width - w) / 2), Math.floor((img.height - h) / 2), w, h);
  return resize(crop, img.width, img.height);
}

/**
 * A frame of `thickness` pixels in `color`. The canvas keeps its size and the
 * picture is scaled into the inner box, so nothing is painted over or lost.
 */
export async function border(img: RgbaImage, color: Rgba, thickness: number): Promise<RgbaImage> {
  const t = Math.max(1, Math.min(Math.round(thickness), Math.floor((Math.min(img.width, img.height) - 2) / 2)));
  const out = createImage(img.width, img.height, color);
  if (t <= 0 || img.width - 2 * t < 1 || img.height - 2 * t < 1) return out;
  const inner = await resize(img, img.width - 2 * t, img.height - 2 * t);
  blit(out, inner, t, t);
  return out;
}

/** Scale to cover width×height keeping the aspect ratio, then crop the centre. */
export async function fitCover(img: RgbaImage, width: number, height: number): Promise<RgbaImage> {
  if (img.width === width && img.height === height) {
    return { width, height, data: new Uint8ClampedArray(img.data) };
  }
  // an opaque enlargement is computed here, to the same pixels (ops/upscale.ts): cheaper than a sharp round trip
  return upscaleLikeSharp(img, width, height, 'cover') ?? fromSharp(toSharpForResize(img).resize(width, height, { fit: 'cover', position: 'centre' }));
}

/** What fills the bars of a letterbox: transparency, one colour, or each side's own edge colour. */
export type BarFill = 'transparent' | Rgba | 'edges';

/**
 * The picture scaled to fit inside width×height whole (aspect kept), centred,
 * with bars where the shapes differ. A difference of at most 2 pixels is
 * absorbed by a cover fit instead (it crops at most a pixel a side): a 1-pixel
 * bar would be a flaw.
 */
export async function letterbox(img: RgbaImage, width: number, height: number, fill: BarFill): Promise<RgbaImage> {
  const s = Math.min(width / img.width, height / img.height);
  const w = Math.max(1, Math.min(width, Math.round(img.width * s)));
  const h = Math.max(1, Math.min(height, Math.round(img.height * s)));
  if (width - w <= 2 && height - h <= 2) return fitCover(img, width, height);
  const inner = await resize(img, w, h);
  const x = Math.floor((width - w) / 2);
  const y = Math.floor((height - h) / 2);
  const out = createImage(width, height, fill === 'transparent' || fill === 'edges' ? [0, 0, 0, 0] : fill);
  blit(out, inner, x, y);
  if (fill === 'edges') {
    // each bar continues the edge it touches, smoothed along it: sky above sky, grass below grass
    if (h < height) {
      extendEdge(out, inner, 'top', 0, y, x, y);
      extendEdge(out, inner, 'bottom', y + h, height - y - h, x, y);
    } else {
      extendEdge(out, inner, 'left', 0, x, x, y);
      extendEdge(out, inner, 'right', x + w, width - x - w, x, y);
    }
  }
  return out;
}

/**
 * Fill a bar of `depth` pixels starting at `from` (rows for top/bottom, columns
 * for left/right) with the picture's outermost 2% on that side, averaged
 * across that strip and smoothed along the edge by a box of ±3% of its
 * length, alpha-weighted (transparent pixels give no colour). (ox, oy) is
 * where the picture sits in `out`.
 */
function extendEdge(out: RgbaImage, pic: RgbaImage, side: 'top' | 'bottom' | 'left' | 'right', from: number, depth: number, ox: number, oy: number): void {
  if (depth <= 0) return;
  const horizontal = side === 'top' || side === 'bottom';
  const len = horizontal ? pic.width : pic.height;
  const across = horizontal ? pic.height : pic.width;
  const strip = Math.max(1, Math.round(0.02 * across));
  // running sums along the edge of alpha-weighted colour over the strip
  const sums = new Float64Array((len + 1) * 4);
  for (let i = 0; i < len; i++) {
    let r = 0, g = 0, b = 0, a = 0;
    for (let k = 0; k < strip; k++) {
      const d = side === 'top' || side === 'left' ? k : across - 1 - k;
      const p = ((horizontal ? d : i) * pic.width + (horizontal ? i : d)) * 4;
      const al = pic.data[p + 3]!;
      r += pic.data[p]! * al; g += pic.data[p + 1]! * al; b += pic.data[p + 2]! * al; a += al;
    }
    const o = (i + 1) * 4;
    sums[o] = sums[o - 4]! + r; sums[o + 1] = sums[o - 3]! + g; sums[o + 2] = sums[o - 2]! + b; sums[o + 3] = sums[o - 1]! + a;
  }
  const radius = Math.max(1, Math.round(0.03 * len));
  const extent = horizontal ? out.width : out.height;
  const offset = horizontal ? ox : oy;
  const colour = new Uint8ClampedArray(extent * 4);
  for (let t = 0; t < extent; t++) {
    const i = Math.min(len - 1, Math.max(0, t - offset));
    const lo = Math.max(0, i - radius);
    const hi = Math.min(len, i + radius + 1);
    const a = sums[hi * 4 + 3]! - sums[lo * 4 + 3]!;
    if (a === 0) { colour.set([255, 255, 255, 255], t * 4); continue; }
    colour[t * 4] = (sums[hi * 4]! - sums[lo * 4]!) / a;
    colour[t * 4 + 1] = (sums[hi * 4 + 1]! - sums[lo * 4 + 1]!) / a;
    colour[t * 4 + 2] = (sums[hi * 4 + 2]! - sums[lo * 4 + 2]!) / a;
    colour[t * 4 + 3] = 255;
  }
  for (let d = from; d < from + depth; d++) {
    if (horizontal) out.data.set(colour, d * out.width * 4);
    else for (let t = 0; t < extent; t++) out.data.set(colour.subarray(t * 4, t * 4 + 4), (t * out.width + d) * 4);
  }
}

/**
 * The candidate size whose shape is nearest a width×height picture's
 * (smallest difference of log aspect ratios; the first on a tie).
 */
export function nearestSize<S extends { width: number; height: number }>(candidates: readonly S[], width: number, height: number): S {
  if (candidates.length === 0) throw new Error('no candidate sizes');
  const want = Math.log(width / height);
  let best = candidates[0]!;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = Math.abs(Math.log(c.width / c.height) - want);
    if (d < bestD - 1e-12) { best = c; bestD = d; }
  }
  return best;
}
