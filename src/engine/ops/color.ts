/**
 * Per-pixel colour operations. Each returns a new image over the whole frame;
 * the caller blends it into the edit region. Alpha is never changed here.
 */
import type { RgbaImage } from '../types.js';
import { SRGB_TO_LINEAR, linearToSrgb8, type Rgb } from '../colors.js';
import { seededRandom } from '../image.js';

type PixelFn = (r: number, g: number, b: number, out: Float64Array) => void;

function mapPixels(img: RgbaImage, fn: PixelFn): RgbaImage {
  const src = img.data;
  const out = new Uint8ClampedArray(src.length);
  const px = new Float64Array(3);
  for (let p = 0; p < src.length; p += 4) {
    fn(src[p]!, src[p + 1]!, src[p + 2]!, px);
    out[p] = px[0]!;
    out[p + 1] = px[1]!;
    out[p + 2] = px[2]!;
    out[p + 3] = src[p + 3]!;
  }
  return { width: img.width, height: img.height, data: out };
}

/** Uint8ClampedArray rounds half to even; channel values go through this table instead of per-pixel math where possible. */
function mapChannels(img: RgbaImage, lut: Uint8Array): RgbaImage {
  const src = img.data;
  const out = new Uint8ClampedArray(src.length);
  for (let p = 0; p < src.length; p += 4) {
    out[p] = lut[src[p]!]!;
    out[p + 1] = lut[src[p + 1]!]!;
    out[p + 2] = lut[src[p + 2]!]!;
    out[p + 3] = src[p + 3]!;
  }
  return { width: img.width, height: img.height, data: out };
}

function channelLut(fn: (x: number) => number): Uint8Array {
  const lut = new Uint8Array(256);
  for (let i = 0; i < 256; i++) {
    const v = Math.round(fn(i));
    lut[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  return lut;
}

/** R = G = B = a weighted sum of the channels, per mille (default Rec. 601 luma). */
export function grayscale(img: RgbaImage, mix: readonly [number, number, number] = [299, 587, 114]): RgbaImage {
  const [wr, wg, wb] = mix;
  const total = wr + wg + wb;
  const src = img.data;
  const out = new Uint8ClampedArray(src.length);
  for (let p = 0; p < src.length; p += 4) {
    const y = (src[p]! * wr + src[p + 1]! * wg + src[p + 2]! * wb + total / 2) / total;
    out[p] = y; out[p + 1] = y; out[p + 2] = y;
    out[p + 3] = src[p + 3]!;
  }
  return { width: img.width, height: img.height, data: out };
}

/**
 * The classic sepia matrix, mixed with the original by `amount` (0-1). Its
 * rows decrease term by term, so a fully sepia pixel always has R ≥ G ≥ B.
 * Above 1 (up to 1.5, the strong variants) the tone deepens: each channel
 * moves away from the pixel's luma by up to 2× the sepia chroma, which keeps
 * the channel order.
 */
export function sepia(img: RgbaImage, amount = 1): RgbaImage {
  const a = Math.max(0, Math.min(1, amount));
  const k = 1 - a;
  const deepen = 2 * Math.max(0, Math.min(0.5, amount - 1));
  return mapPixels(img, (r, g, b, o) => {
    o[0] = k * r + a * (0.393 * r + 0.769 * g + 0.189 * b);
    o[1] = k * g + a * (0.349 * r + 0.686 * g + 0.168 * b);
    o[2] = k * b + a * (0.272 * r + 0.534 * g + 0.131 * b);
    if (deepen > 0) {
      const y = 0.299 * o[0]! + 0.587 * o[1]! + 0.114 * o[2]!;
      o[0] = o[0]! + deepen * (o[0]! - y);
      o[1] = o[1]! + deepen * (o[1]! - y);
      o[2] = o[2]! + deepen * (o[2]! - y);
    }
  });
}

/** Negative of the colour channels. */
export function invert(img: RgbaImage): RgbaImage {
  return mapChannels(img, channelLut((x) => 255 - x));
}

/**
 * amount > 0 brightens: x + (255 - x)·amount (lifts shadows and midtones, never clips);
 * amount < 0 darkens: x·(1 + amount).
 */
export function brightness(img: RgbaImage, amount: number): RgbaImage {
  const a = Math.max(-1, Math.min(1, amount));
  return mapChannels(img, channelLut((x) => (a >= 0 ? x + (255 - x) * a : x * (1 + a))));
}

/** Scales the distance from mid-grey (128) by 1 + amount (amount ≥ -1). */
export function contrast(img: RgbaImage, amount: number): RgbaImage {
  const f = Math.max(0, 1 + amount);
  return mapChannels(img, channelLut((x) => (x - 128) * f + 128));
}

/** Scales each channel's distance from the pixel's luma by 1 + amount (amount -1 = grey). */
export function saturation(img: RgbaImage, amount: number): RgbaImage {
  const f = Math.max(0, 1 + amount);
  return mapPixels(img, (r, g, b, o) => {
    const y = 0.299 * r + 0.587 * g + 0.114 * b;
    o[0] = y + (r - y) * f;
    o[1] = y + (g - y) * f;
    o[2] = y + (b - y) * f;
  });
}

/** amount > 0 warms (more red, less blue), amount < 0 cools. */
export function temperature(img: RgbaImage, amount: number): RgbaImage {
  const a = Math.max(-1, Math.min(1, amount));
  const rl = channelLut((x) => x * (1 + a));
  const gl = channelLut((x) => x * (1 + a * 0.2));
  const bl = channelLut((x) => x * (1 - a));
  const src = img.data;
  const out = new Uint8ClampedArray(src.length);
  for (let p = 0; p < src.length; p += 4) {
    out[p] = rl[src[p]!]!;
    out[p + 1] = gl[src[p + 1]!]!;
    out[p + 2] = bl[src[p + 2]!]!;
    out[p + 3] = src[p + 3]!;
  }
  return { width: img.width, height: img.height, data: out };
}

const LUT_STEPS = 4096;

/**
 * Per-level colour of the target at every relative luminance: the target
 * scaled in linear light to that luminance, blended toward neutral grey of the
 * same luminance as far as needed to stay inside sRGB. Both steps keep the
 * luminance exactly and the hue in linear RGB.
 */
function recolorTable(target: Rgb): Uint8Array {
  const tr = SRGB_TO_LINEAR[target[0]]!;
  const tg = SRGB_TO_LINEAR[target[1]]!;
  const tb = SRGB_TO_LINEAR[target[2]]!;
  const ty = 0.2126 * tr + 0.7152 * tg + 0.0722 * tb;
  const neutral = Math.max(tr, tg, tb) - Math.min(tr, tg, tb) < 1e-6 || ty < 1e-6;
  const table = new Uint8Array(LUT_STEPS * 3);
  for (let i = 0; i < LUT_STEPS; i++) {
    const y = i / (LUT_STEPS - 1);
    let r = y, g = y, b = y;
    if (!neutral) {
      const s = y / ty;
      const cr = tr * s, cg = tg * s, cb = tb * s;
      // largest k in [0, 1] with y + k (c - y) ≤ 1 for every channel
      let k = 1;
      for (const c of [cr, cg, cb]) if (c > 1) k = Math.min(k, (1 - y) / (c - y));
      r = y + k * (cr - y);
      g = y + k * (cg - y);
      b = y + k * (cb - y);
    }
    table[i * 3] = linearToSrgb8(r);
    table[i * 3 + 1] = linearToSrgb8(g);
    table[i * 3 + 2] = linearToSrgb8(b);
  }
  return table;
}

/**
 * Sets every pixel's hue and chroma to the target's while keeping its
 * relative luminance. Black, white and greys as targets give greyscale.
 */
export function recolor(img: RgbaImage, target: Rgb): RgbaImage {
  const table = recolorTable(target);
  const src = img.data;
  const out = new Uint8ClampedArray(src.length);
  const lin = SRGB_TO_LINEAR;
  for (let p = 0; p < src.length; p += 4) {
    const y = 0.2126 * lin[src[p]!]! + 0.7152 * lin[src[p + 1]!]! + 0.0722 * lin[src[p + 2]!]!;
    const t = Math.round((y > 1 ? 1 : y) * (LUT_STEPS - 1)) * 3;
    out[p] = table[t]!;
    out[p + 1] = table[t + 1]!;
    out[p + 2] = table[t + 2]!;
    out[p + 3] = src[p + 3]!;
  }
  return { width: img.width, height: img.height, data: out };
}

/** Moves colours toward the target: a blend (by amount, 0-1) with the recoloured image plus a little of the flat colour. */
export function tint(img: RgbaImage, target: Rgb, amount: number): RgbaImage {
  const a = Math.max(0, Math.min(1, amount));
  const rec = recolor(img, target);
  const flat = 0.15 * a;
  const keep = 1 - a;
  const src = img.data;
  const rd = rec.data;
  const out = new Uint8ClampedArray(src.length);
  for (let p = 0; p < src.length; p += 4) {
    for (let c = 0; c < 3; c++) {
      const v = keep * src[p + c]! + a * rd[p + c]!;
      out[p + c] = v * (1 - flat) + target[c]! * flat;
    }
    out[p + 3] = src[p + 3]!;
  }
  return { width: img.width, height: img.height, data: out };
}

/**
 * An old-print look: partial sepia, faded blacks, lower contrast, a warm cast,
 * a vignette and film grain from a seeded generator. `strength` scales it all.
 * One pass: the per-channel tone steps are folded into lookup tables.
 */
export function vintage(img: RgbaImage, strength: number, seed: number): RgbaImage {
  const s = Math.max(0, Math.min(2, strength));
  const a = Math.min(1, 0.55 * s);
  const k = 1 - a;
  const warm = 0.06 * s;
  const lift = 22 * s;
  const fade = (x: number): number => lift + ((x - 128) * (1 - 0.15 * s) + 128) * (1 - lift / 255);
  const clamp = (v: number): number => (v < 0 ? 0 : v > 255 ? 255 : v);
  // tone tables over the (rounded) sepia result: warm cast, then fade
  const lr = channelLut((x) => fade(clamp(Math.round(x * (1 + warm)))));
  const lg = channelLut((x) => fade(clamp(Math.round(x * (1 + warm * 0.2)))));
  const lb = channelLut((x) => fade(clamp(Math.round(x * (1 - warm)))));
  const { width, height, data: src } = img;
  const out = new Uint8ClampedArray(src.length);
  const rand = seededRandom(seed * 7919 + 17);
  const cx = (width - 1) / 2;
  const cy = (height - 1) / 2;
  const maxR2 = cx * cx + cy * cy || 1;
  const vig = 0.38 * Math.min(1, s);
  const grain = 9 * s;
  for (let y = 0; y < height; y++) {
    const dy2 = (y - cy) * (y - cy);
    for (let x = 0; x < width; x++) {
      const p = (y * width + x) * 4;
      const r = src[p]!, g = src[p + 1]!, b = src[p + 2]!;
      const sr = clamp(Math.round(k * r + a * (0.393 * r + 0.769 * g + 0.189 * b)));
      const sg = clamp(Math.round(k * g + a * (0.349 * r + 0.686 * g + 0.168 * b)));
      const sb = clamp(Math.round(k * b + a * (0.272 * r + 0.534 * g + 0.131 * b)));
      const r2 = ((x - cx) * (x - cx) + dy2) / maxR2;
      const v = 1 - vig * r2 * r2;
      const n = (rand() + rand() - 1) * grain;
      out[p] = lr[sr]! * v + n;
      out[p + 1] = lg[sg]! * v + n;
      out[p + 2] = lb[sb]! * v + n;
      out[p + 3] = src[p + 3]!;
    }
  }
  return { width, height, data: out };
}
