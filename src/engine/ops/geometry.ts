/**
 * Geometric operations. They act on the whole image (a mask cannot confine a
 * rotation); the caller moves the edit region along with the same function so
 * later pixel operations still land on the same content.
 */
import type { RgbaImage } from '../types.js';
import { blit, createImage, cropImage } from '../image.js';
import { fromSharp, resize, toSharp } from './sharp-raw.js';

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
  return fromSharp(toSharp(img).resize(width, height, { fit: 'cover', position: 'centre' }));
}

/** Scale to fit inside width×height keeping the aspect ratio (no padding); returns the scaled image. */
export async function fitContain(img: RgbaImage, width: number, height: number): Promise<RgbaImage> {
  const s = Math.min(width / img.width, height / img.height);
  const w = Math.max(1, Math.min(width, Math.round(img.width * s)));
  const h = Math.max(1, Math.min(height, Math.round(img.height * s)));
  return resize(img, w, h);
}
