/**
 * Enlargement of an opaque picture in plain JS, giving exactly the pixels
 * sharp gives for the same resize (libvips 8.18 enlarges with its affine
 * transform and fixed-point Catmull-Rom "bicubic" interpolator, edges
 * copied). For small pictures a sharp round trip costs more
 * than the arithmetic; test/engine/upscale.test.ts holds the two to the same
 * bytes across many shapes and scales.
 */
import { hasTransparency } from '../image.js';
import type { RgbaImage } from '../types.js';

/** libvips: 1 << VIPS_TRANSFORM_SHIFT sub-pixel positions, 12-bit fixed-point weights. */
const TRANSFORM_SCALE = 64;
const SHIFT = 12;
const HALF = 1 << (SHIFT - 1);

/** Catmull-Rom weights per sub-pixel position, as libvips tabulates them (truncated to int). */
const WEIGHTS: Int32Array = (() => {
  const t = new Int32Array((TRANSFORM_SCALE + 1) * 4);
  for (let i = 0; i <= TRANSFORM_SCALE; i++) {
    const x = Math.fround(i / TRANSFORM_SCALE);
    const cr1 = 1 - x;
    const cr2 = -0.5 * x;
    const cr3 = cr1 * cr2;
    const cone = cr1 * cr3;
    const cfou = x * cr3;
    const cr4 = cfou - cone;
    const ctwo = cr1 - cone + cr4;
    const cthr = x - cfou - cr4;
    t[i * 4] = Math.trunc(cone * 4096);
    t[i * 4 + 1] = Math.trunc(ctwo * 4096);
    t[i * 4 + 2] = Math.trunc(cthr * 4096);
    t[i * 4 + 3] = Math.trunc(cfou * 4096);
  }
  return t;
})();

/** For each output coordinate: the first of the 4 source indices (edge-clamped later) and the weight row. */
function axis(inv: number, start: number, count: number, accumulate: boolean): { first: Int32Array; tab: Int32Array } {
  // libvips 8.18 (vips_resize): input displacement 0.5, less the one-pixel border affine embeds; +1 window offset
  const idx = 0.5 - 1;
  const first = new Int32Array(count);
  const tab = new Int32Array(count);
  // along a row libvips steps by adding the derivative; down the image it recomputes per row
  let c = inv * start - idx + 1;
  for (let i = 0; i < count; i++) {
    const pos = accumulate ? c : inv * (start + i) - idx + 1;
    const s = Math.trunc(pos * TRANSFORM_SCALE * 2);
    tab[i] = ((s & (TRANSFORM_SCALE * 2 - 1)) + 1) >> 1;
    // the 4x4 window starts one back; the embedded border is 2 pixels wide
    first[i] = Math.trunc(pos) - 1 - 2;
    c += inv;
  }
  return { first, tab };
}

/**
 * Enlarge an opaque image by hscale × vscale (both > 1; the full result is
 * round(width·hscale) × round(height·vscale)) and return the window
 * [left, left+width) × [top, top+height) of it, alpha 255.
 */
export function upscaleOpaque(img: RgbaImage, hscale: number, vscale: number, left: number, top: number, width: number, height: number): RgbaImage {
  const W = img.width;
  const H = img.height;
  const det = hscale * vscale;
  const tmp = 1.0 / det;
  const ia = tmp * vscale;
  const id = tmp * hscale;
  const xs = axis(ia, left, width, true);
  const ys = axis(id, top, height, false);
  const src = img.data;
  // a grey picture (R = G = B everywhere) is computed once and copied to the three channels: the same sums
  let grey = true;
  for (let i = 0; i < src.length && grey; i += 4) grey = src[i] === src[i + 1] && src[i] === src[i + 2];
  const bands = grey ? 1 : 3;
  // horizontal pass over every source row, rounded as libvips rounds each row of the 4x4 window
  const rowsH = new Int32Array(H * width * bands);
  for (let y = 0; y < H; y++) {
    const so = y * W * 4;
    const ro = y * width * bands;
    for (let x = 0; x < width; x++) {
      const f = xs.first[x]!;
      const w = xs.tab[x]! * 4;
      const c0 = WEIGHTS[w]!, c1 = WEIGHTS[w + 1]!, c2 = WEIGHTS[w + 2]!, c3 = WEIGHTS[w + 3]!;
      const p0 = so + (f < 0 ? 0 : f >= W ? W - 1 : f) * 4;
      const p1 = so + (f + 1 < 0 ? 0 : f + 1 >= W ? W - 1 : f + 1) * 4;
      const p2 = so + (f + 2 < 0 ? 0 : f + 2 >= W ? W - 1 : f + 2) * 4;
      const p3 = so + (f + 3 < 0 ? 0 : f + 3 >= W ? W - 1 : f + 3) * 4;
      const o = ro + x * bands;
      for (let c = 0; c < bands; c++) {
        rowsH[o + c] = (c0 * src[p0 + c]! + c1 * src[p1 + c]! + c2 * src[p2 + c]! + c3 * src[p3 + c]! + HALF) >> SHIFT;
      }
    }
  }
  const out = new Uint8ClampedArray(width * height * 4);
  const n = width * bands;
  for (let y = 0; y < height; y++) {
    const f = ys.first[y]!;
    const w = ys.tab[y]! * 4;
    const c0 = WEIGHTS[w]!, c1 = WEIGHTS[w + 1]!, c2 = WEIGHTS[w + 2]!, c3 = WEIGHTS[w + 3]!;
    const r0 = (f < 0 ? 0 : f >= H ? H - 1 : f) * n;
    const r1 = (f + 1 < 0 ? 0 : f + 1 >= H ? H - 1 : f + 1) * n;
    const r2 = (f + 2 < 0 ? 0 : f + 2 >= H ? H - 1 : f + 2) * n;
    const r3 = (f + 3 < 0 ? 0 : f + 3 >= H ? H - 1 : f + 3) * n;
    let o = y * width * 4;
    // Uint8ClampedArray clips to 0..255 as libvips does
    if (grey) {
      for (let i = 0; i < n; i++) {
        const v = (c0 * rowsH[r0 + i]! + c1 * rowsH[r1 + i]! + c2 * rowsH[r2 + i]! + c3 * rowsH[r3 + i]! + HALF) >> SHIFT;
        out[o] = v; out[o + 1] = v; out[o + 2] = v; out[o + 3] = 255;
        o += 4;
      }
    } else {
      for (let i = 0; i < n; i += 3) {
        out[o] = (c0 * rowsH[r0 + i]! + c1 * rowsH[r1 + i]! + c2 * rowsH[r2 + i]! + c3 * rowsH[r3 + i]! + HALF) >> SHIFT;
        out[o + 1] = (c0 * rowsH[r0 + i + 1]! + c1 * rowsH[r1 + i + 1]! + c2 * rowsH[r2 + i + 1]! + c3 * rowsH[r3 + i + 1]! + HALF) >> SHIFT;
        out[o + 2] = (c0 * rowsH[r0 + i + 2]! + c1 * rowsH[r1 + i + 2]! + c2 * rowsH[r2 + i + 2]! + c3 * rowsH[r3 + i + 2]! + HALF) >> SHIFT;
        out[o + 3] = 255;
        o += 4;
      }
    }
  }
  return { width, height, data: out };
}

const roundInt = (r: number): number => Math.trunc(r > 0 ? r + 0.5 : r - 0.5);

/**
 * sharp's resize of an opaque image to width×height when it enlarges both
 * ways: 'fill' stretches, 'cover' scales by the larger factor and crops the
 * centre. null when this is not such a resize (a shrink either way, or an
 * image with any transparency, which sharp premultiplies): the caller asks sharp.
 */
export function upscaleLikeSharp(img: RgbaImage, width: number, height: number, fit: 'fill' | 'cover'): RgbaImage | null {
  let hshrink = img.width / width;
  let vshrink = img.height / height;
  if (fit === 'cover') hshrink = vshrink = Math.min(hshrink, vshrink);
  const hscale = 1.0 / hshrink;
  const vscale = 1.0 / vshrink;
  if (!(hscale > 1.0 && vscale > 1.0) || hasTransparency(img)) return null;
  const fw = roundInt(img.width * hscale);
  const fh = roundInt(img.height * vscale);
  // sharp crops the centre (never larger than what the resize gave)
  const w = Math.min(width, fw);
  const h = Math.min(height, fh);
  return upscaleOpaque(img, hscale, vscale, Math.trunc((fw - w + 1) / 2), Math.trunc((fh - h + 1) / 2), w, h);
}
