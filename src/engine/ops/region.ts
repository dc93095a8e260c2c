/**
 * The edit region: where a mask allows pixel operations to act. A Region is
 * one byte per pixel, 255 = edit fully, 0 = leave untouched, values between
 * blend. `null` means the whole image.
 *
 * The rule for masks (OpenAI's): mask alpha 0 marks the area to edit, so the
 * weight is 255 - alpha. A pixel whose weight is 0 is copied byte for byte.
 */
import type { RgbaImage } from '../types.js';

export type Region = Uint8Array | null;

/** weight = 255 - alpha of the given image; null when no pixel is editable. */
export function regionFromAlpha(mask: RgbaImage): Uint8Array | null {
  const n = mask.width * mask.height;
  const r = new Uint8Array(n);
  let any = false;
  for (let i = 0; i < n; i++) {
    const w = 255 - mask.data[i * 4 + 3]!;
    r[i] = w;
    if (w !== 0) any = true;
  }
  return any ? r : null;
}

/**
 * Blend `edited` into `original` by the region weights. Pixels with weight 0
 * keep the original bytes exactly, weight 255 take the edited bytes.
 * Both images must have the same size. Returns a new image.
 */
export function blendRegion(original: RgbaImage, edited: RgbaImage, region: Region): RgbaImage {
  if (region === null) return edited;
  const o = original.data;
  const e = edited.data;
  const out = new Uint8ClampedArray(o.length);
  const n = region.length;
  for (let i = 0; i < n; i++) {
    const w = region[i]!;
    const p = i * 4;
    if (w === 0) {
      out[p] = o[p]!; out[p + 1] = o[p + 1]!; out[p + 2] = o[p + 2]!; out[p + 3] = o[p + 3]!;
    } else if (w === 255) {
      out[p] = e[p]!; out[p + 1] = e[p + 1]!; out[p + 2] = e[p + 2]!; out[p + 3] = e[p + 3]!;
    } else {
      const a = w / 255;
      const b = 1 - a;
      out[p] = o[p]! * b + e[p]! * a;
      out[p + 1] = o[p + 1]! * b + e[p + 1]! * a;
      out[p + 2] = o[p + 2]! * b + e[p + 2]! * a;
      out[p + 3] = o[p + 3]! * b + e[p + 3]! * a;
    }
  }
  return { width: original.width, height: original.height, data: out };
}

/** Bounding box of the pixels with weight > 0, or null when empty. */
export function regionBounds(
  region: Uint8Array,
  width: number,
  height: number,
): { x: number; y: number; width: number; height: number } | null {
  let x0 = width, y0 = height, x1 = -1, y1 = -1;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      if (region[row + x]! !== 0) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  if (x1 < 0) return null;
  return { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 };
}

/** Pack a region into an RgbaImage (weight in every channel, opaque) so geometric ops can move it. */
export function regionToImage(region: Uint8Array, width: number, height: number): RgbaImage {
  const data = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < region.length; i++) {
    const w = region[i]!;
    const p = i * 4;
    data[p] = w; data[p + 1] = w; data[p + 2] = w; data[p + 3] = 255;
  }
  return { width, height, data };
}

/**
 * Unpack a region moved by a geometric op. Canvas added by the op (transparent
 * there, since geometric ops fill new area with transparency) is outside the
 * region. Returns null when nothing is left to edit... callers decide what that means.
 */
export function regionFromImage(img: RgbaImage): Uint8Array {
  const n = img.width * img.height;
  const r = new Uint8Array(n);
  for (let i = 0; i < n; i++) r[i] = (img.data[i * 4]! * img.data[i * 4 + 3]! + 127) / 255;
  return r;
}

export function regionIsEmpty(region: Uint8Array): boolean {
  for (let i = 0; i < region.length; i++) if (region[i] !== 0) return false;
  return true;
}
