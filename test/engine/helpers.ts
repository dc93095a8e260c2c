/** Synthetic images, temp files and decoding for the engine tests. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import type { EngineJob, EngineResult, RgbaImage } from '../../src/engine/types.js';
import { runJob } from '../../src/engine/run.js';
import { relativeLuminance, rgbToHsv } from '../../src/engine/colors.js';

export type Px = [number, number, number, number];

export function makeImage(width: number, height: number, fn: (x: number, y: number) => Px): RgbaImage {
  const data = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = fn(x, y);
      data.set(p, (y * width + x) * 4);
    }
  }
  return { width, height, data };
}

export const px = (img: RgbaImage, x: number, y: number): Px => {
  const p = (y * img.width + x) * 4;
  return [img.data[p]!, img.data[p + 1]!, img.data[p + 2]!, img.data[p + 3]!];
};

/** A colourful test picture: hue varies along x, brightness along y, a few hard-edged blocks. */
export function colourful(width = 96, height = 64): RgbaImage {
  return makeImage(width, height, (x, y) => {
    const h = (x / width) * 6;
    const v = 0.35 + 0.6 * (y / height);
    const c = v * 0.8;
    const k = c * (1 - Math.abs((h % 2) - 1));
    const [r, g, b] = h < 1 ? [c, k, 0] : h < 2 ? [k, c, 0] : h < 3 ? [0, c, k] : h < 4 ? [0, k, c] : h < 5 ? [k, 0, c] : [c, 0, k];
    const m = v - c;
    return [Math.round((r + m) * 255), Math.round((g + m) * 255), Math.round((b + m) * 255), 255];
  });
}

/** Left half black, right half white. */
export const hardEdge = (width = 64, height = 32): RgbaImage =>
  makeImage(width, height, (x) => (x < width / 2 ? [0, 0, 0, 255] : [255, 255, 255, 255]));

/** A red disc on a uniform light-grey background. */
export const subjectOnPlain = (width = 96, height = 96, bg: Px = [235, 235, 235, 255]): RgbaImage =>
  makeImage(width, height, (x, y) => {
    const dx = x - width / 2, dy = y - height / 2;
    return dx * dx + dy * dy < (width / 4) ** 2 ? [200, 30, 40, 255] : bg;
  });

export class TempDir {
  readonly dir = mkdtempSync(path.join(tmpdir(), 'imagegate-engine-'));
  private n = 0;
  file(name: string): string {
    return path.join(this.dir, `${this.n++}-${name}`);
  }
  async png(img: RgbaImage): Promise<string> {
    const f = this.file('in.png');
    await sharp(Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength), {
      raw: { width: img.width, height: img.height, channels: 4 },
    })
      .png()
      .toFile(f);
    return f;
  }
  bytes(data: Buffer | string, name = 'raw.bin'): string {
    const f = this.file(name);
    writeFileSync(f, data);
    return f;
  }
  /** A mask PNG: alpha 0 inside the rectangle (the edit region), 255 elsewhere. */
  async mask(width: number, height: number, rect: { x: number; y: number; w: number; h: number }): Promise<string> {
    return this.png(
      makeImage(width, height, (x, y) =>
        x >= rect.x && x < rect.x + rect.w && y >= rect.y && y < rect.y + rect.h ? [0, 0, 0, 0] : [0, 0, 0, 255],
      ),
    );
  }
  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export type Decoded = RgbaImage & { format: string; channels: number };

export async function decodeBytes(bytes: Buffer): Promise<Decoded> {
  const meta = await sharp(bytes).metadata();
  const { data, info } = await sharp(bytes).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return {
    width: info.width,
    height: info.height,
    data: new Uint8ClampedArray(data.buffer, data.byteOffset, data.byteLength),
    format: meta.format ?? '?',
    channels: meta.channels ?? 0,
  };
}

export function job(partial: Partial<EngineJob> & { prompt: string; images: { path: string }[] }): EngineJob {
  return {
    mask: null,
    maskFromAlpha: false,
    n: 1,
    size: { width: 96, height: 64 },
    background: 'auto',
    outputFormat: 'png',
    outputCompression: null,
    partialImages: 0,
    ...partial,
  };
}

export interface Ran {
  result: EngineResult;
  out: Decoded;
  outs: Decoded[];
  partials: { imageIndex: number; partialIndex: number; image: Decoded }[];
}

/** Run a job in-process (no worker) and decode everything it produced. */
export async function run(j: EngineJob): Promise<Ran> {
  const raw: { imageIndex: number; partialIndex: number; bytes: Buffer }[] = [];
  const result = await runJob(j, (imageIndex, partialIndex, image) => raw.push({ imageIndex, partialIndex, bytes: image.bytes }));
  const outs = await Promise.all(result.images.map((i) => decodeBytes(i.bytes)));
  const partials = await Promise.all(
    raw.map(async (r) => ({ imageIndex: r.imageIndex, partialIndex: r.partialIndex, image: await decodeBytes(r.bytes) })),
  );
  return { result, out: outs[0]!, outs, partials };
}

/** Edit one in-memory image with a prompt at its own size. */
export async function edit(tmp: TempDir, img: RgbaImage, prompt: string, extra: Partial<EngineJob> = {}): Promise<Ran> {
  const p = await tmp.png(img);
  return run(job({ prompt, images: [{ path: p }], size: { width: img.width, height: img.height }, ...extra }));
}

export function meanLuma(img: RgbaImage): number {
  let s = 0;
  for (let p = 0; p < img.data.length; p += 4) s += 0.299 * img.data[p]! + 0.587 * img.data[p + 1]! + 0.114 * img.data[p + 2]!;
  return s / (img.data.length / 4);
}

export function lumaStd(img: RgbaImage): number {
  const m = meanLuma(img);
  let s = 0;
  for (let p = 0; p < img.data.length; p += 4) {
    const y = 0.299 * img.data[p]! + 0.587 * img.data[p + 1]! + 0.114 * img.data[p + 2]!;
    s += (y - m) ** 2;
  }
  return Math.sqrt(s / (img.data.length / 4));
}

export function meanChannel(img: RgbaImage, c: 0 | 1 | 2 | 3): number {
  let s = 0;
  for (let p = c; p < img.data.length; p += 4) s += img.data[p]!;
  return s / (img.data.length / 4);
}

export function meanSaturation(img: RgbaImage): number {
  let s = 0;
  for (let p = 0; p < img.data.length; p += 4) s += rgbToHsv(img.data[p]!, img.data[p + 1]!, img.data[p + 2]!)[1];
  return s / (img.data.length / 4);
}

/** Mean angular distance (degrees) from each sufficiently coloured pixel's hue to `target`. */
export function meanHueDistance(img: RgbaImage, target: number): number {
  let s = 0, n = 0;
  for (let p = 0; p < img.data.length; p += 4) {
    const [h, sat, v] = rgbToHsv(img.data[p]!, img.data[p + 1]!, img.data[p + 2]!);
    if (sat < 0.08 || v < 0.08) continue;
    const d = Math.abs(h - target) % 360;
    s += Math.min(d, 360 - d);
    n++;
  }
  return n ? s / n : 0;
}

/** Largest absolute luma step between horizontal neighbours on row y. */
export function maxStep(img: RgbaImage, y: number): number {
  let m = 0;
  for (let x = 1; x < img.width; x++) {
    const a = px(img, x - 1, y), b = px(img, x, y);
    m = Math.max(m, Math.abs(a[0] - b[0]));
  }
  return m;
}

export const lum = (p: Px): number => relativeLuminance(p[0], p[1], p[2]);

/** Indices of pixels that differ between two equally sized images. */
export function diffCount(a: RgbaImage, b: RgbaImage, rect?: { x: number; y: number; w: number; h: number }): number {
  let n = 0;
  for (let y = 0; y < a.height; y++) {
    for (let x = 0; x < a.width; x++) {
      if (rect && !(x >= rect.x && x < rect.x + rect.w && y >= rect.y && y < rect.y + rect.h)) continue;
      const p = (y * a.width + x) * 4;
      if (a.data[p] !== b.data[p] || a.data[p + 1] !== b.data[p + 1] || a.data[p + 2] !== b.data[p + 2] || a.data[p + 3] !== b.data[p + 3]) n++;
    }
  }
  return n;
}

/** Pixels outside `rect` that differ (byte-for-byte). */
export function diffOutside(a: RgbaImage, b: RgbaImage, rect: { x: number; y: number; w: number; h: number }): number {
  return diffCount(a, b) - diffCount(a, b, rect);
}

/**
 * A drawn landscape (sky gradient, sun, two hills with texture, a house, a
 * tree), the kind of picture users edit, at any size. Untextured, its only
 * detail is the outlines (what blur and sharpening act on).
 */
export function landscape(width = 368, height = 276, textured = true): RgbaImage {
  const s = width / 368;
  const noise = (x: number, y: number): number => {
    let h = (x * 374761393 + y * 668265263) >>> 0;
    h = Math.imul(h ^ (h >>> 13), 1274126177) >>> 0;
    return ((h ^ (h >>> 16)) & 1023) / 511.5 - 1;
  };
  return makeImage(width, height, (X, Y) => {
    const x = X / s, y = Y / (height / 276);
    const n = textured ? noise(X, Y) : 0;
    let c: [number, number, number] = [95 + y * 0.35, 160 + y * 0.25, 235 - y * 0.1];
    if ((x - 300) ** 2 + (y - 60) ** 2 < 26 * 26) c = [255, 214, 70];
    if (y > 175 + 18 * Math.sin(x / 55)) c = [70 + 10 * n, 150 + 14 * n, 70];
    if (y > 200 + 12 * Math.sin(x / 31 + 1)) c = [55 + 12 * n, 128 + 16 * n, 48];
    if (x > 90 && x < 170 && y > 150 && y < 215) c = [230 - 10 * n, 215, 180];
    if (y <= 150 && y > 110 && Math.abs(x - 130) < (y - 110) * 1.15) c = [190, 50, 45];
    if (x > 240 && x < 250 && y > 160 && y < 212) c = [100, 70, 40];
    if ((x - 245) ** 2 + (y - 150) ** 2 < 28 * 28) c = [40 + 20 * n, 120 + 25 * n, 50];
    return [Math.round(c[0]), Math.round(c[1]), Math.round(c[2]), 255];
  });
}

/** Pure marker colours in the four corners (each `side` px square) over a grey field. */
export const CORNER_COLOURS = { tl: [255, 0, 0], tr: [0, 255, 0], bl: [0, 0, 255], br: [255, 255, 0] } as const;

export function cornerMarkers(width: number, height: number, side: number): RgbaImage {
  return makeImage(width, height, (x, y) => {
    const left = x < side, right = x >= width - side, top = y < side, bottom = y >= height - side;
    const c = top && left ? CORNER_COLOURS.tl : top && right ? CORNER_COLOURS.tr : bottom && left ? CORNER_COLOURS.bl : bottom && right ? CORNER_COLOURS.br : null;
    return c ? [c[0], c[1], c[2], 255] : [128, 128, 128, 255];
  });
}

export interface Box { x0: number; y0: number; x1: number; y1: number; count: number }

/** Bounding box (inclusive) and count of the pixels matching `pred`; null when none. */
export function bbox(img: RgbaImage, pred: (p: Px) => boolean): Box | null {
  let x0 = Infinity, y0 = Infinity, x1 = -1, y1 = -1, count = 0;
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      if (!pred(px(img, x, y))) continue;
      count++;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  return count === 0 ? null : { x0, y0, x1, y1, count };
}

/** Near a colour: every channel within `tol`. */
export const near = (c: readonly number[], tol = 40) => (p: Px): boolean =>
  Math.abs(p[0] - c[0]!) <= tol && Math.abs(p[1] - c[1]!) <= tol && Math.abs(p[2] - c[2]!) <= tol && p[3] > 200;
