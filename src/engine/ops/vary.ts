/**
 * Variations (DALL·E 2's operation): the same picture, visibly changed and
 * still faithful. Each variant draws its own small spread from a generator
 * seeded by its number: a hue turn, saturation, brightness and contrast
 * moves, and a slightly tighter crop off-centre. Never a mirror or a
 * rotation: text in the picture must stay readable.
 */
import type { RgbaImage } from '../types.js';
import { cropImage, seededRandom } from '../image.js';

export interface VariationSpread {
  /** degrees, ±6-14 */
  hue: number;
  /** multiplier, 0.85-1.2 */
  saturation: number;
  /** added to every channel, in levels (±6-14) */
  brightness: number;
  /** distance from mid-grey × this, 0.92-1.1 */
  contrast: number;
  /** share of each side kept, 0.88-0.95 */
  keep: number;
  /** where the crop sits, 0-1 each way (0.5 = centred) */
  cx: number;
  cy: number;
}

/** Variant i's spread: every variant, the first too, differs from the input. */
export function variationSpread(variant: number): VariationSpread {
  const rnd = seededRandom(0x5eed + 7919 * variant);
  const signed = (lo: number, hi: number): number => (rnd() < 0.5 ? -1 : 1) * (lo + (hi - lo) * rnd());
  const between = (lo: number, hi: number): number => lo + (hi - lo) * rnd();
  return {
    hue: signed(6, 14),
    saturation: rnd() < 0.5 ? between(0.85, 0.93) : between(1.08, 1.2),
    brightness: signed(6, 14),
    contrast: rnd() < 0.5 ? between(0.92, 0.96) : between(1.04, 1.1),
    keep: between(0.88, 0.95),
    cx: between(0.15, 0.85),
    cy: between(0.15, 0.85),
  };
}

/**
 * A 3×3 matrix turning the hue by `degrees` about the grey axis, keeping
 * luma (the matrix of CSS's hue-rotate()).
 */
function hueMatrix(degrees: number): number[] {
  const a = (degrees * Math.PI) / 180;
  const c = Math.cos(a), s = Math.sin(a);
  return [
    0.213 + c * 0.787 - s * 0.213, 0.715 - c * 0.715 - s * 0.715, 0.072 - c * 0.072 + s * 0.928,
    0.213 - c * 0.213 + s * 0.143, 0.715 + c * 0.285 + s * 0.14, 0.072 - c * 0.072 - s * 0.283,
    0.213 - c * 0.213 - s * 0.787, 0.715 - c * 0.715 + s * 0.715, 0.072 + c * 0.928 + s * 0.072,
  ];
}

/** The colour part of a spread over the whole picture (alpha kept). */
export function varyColours(img: RgbaImage, spread: VariationSpread): RgbaImage {
  const m = hueMatrix(spread.hue);
  const src = img.data;
  const out = new Uint8ClampedArray(src.length);
  const { saturation: sat, brightness: br, contrast: con } = spread;
  for (let p = 0; p < src.length; p += 4) {
    const r = src[p]!, g = src[p + 1]!, b = src[p + 2]!;
    let r2 = m[0]! * r + m[1]! * g + m[2]! * b;
    let g2 = m[3]! * r + m[4]! * g + m[5]! * b;
    let b2 = m[6]! * r + m[7]! * g + m[8]! * b;
    const y = 0.299 * r2 + 0.587 * g2 + 0.114 * b2;
    r2 = (y + (r2 - y) * sat - 128) * con + 128 + br;
    g2 = (y + (g2 - y) * sat - 128) * con + 128 + br;
    b2 = (y + (b2 - y) * sat - 128) * con + 128 + br;
    out[p] = r2;
    out[p + 1] = g2;
    out[p + 2] = b2;
    out[p + 3] = src[p + 3]!;
  }
  return { width: img.width, height: img.height, data: out };
}

/** The crop part of a spread: the kept window, same shape as the picture. */
export function varyCrop(img: RgbaImage, spread: VariationSpread): RgbaImage {
  const w = Math.max(1, Math.round(img.width * spread.keep));
  const h = Math.max(1, Math.round(img.height * spread.keep));
  const x = Math.round((img.width - w) * spread.cx);
  const y = Math.round((img.height - h) * spread.cy);
  return cropImage(img, x, y, w, h);
}
