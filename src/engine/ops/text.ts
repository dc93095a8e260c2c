/**
 * Caption text: rendered by sharp (Pango + FreeType) with the bundled Noto
 * Sans Bold font file, never a system font, then composited here with a dark
 * outline and a soft drop shadow so it reads on any picture.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import type { RgbaImage } from '../types.js';
import { luma, type Rgb } from '../colors.js';

export type TextPosition =
  | 'top' | 'bottom' | 'center' | 'left' | 'right'
  | 'top-left' | 'top-right' | 'bottom-left' | 'bottom-right';

export interface Rect { x: number; y: number; width: number; height: number }

let fontFileCache: string | null = null;

/** Absolute path of the bundled NotoSans_700Bold.ttf. */
export function fontFile(): string {
  if (fontFileCache) return fontFileCache;
  const req = createRequire(import.meta.url);
  const dir = path.dirname(req.resolve('@expo-google-fonts/noto-sans/package.json'));
  const file = path.join(dir, '700Bold', 'NotoSans_700Bold.ttf');
  if (!existsSync(file)) throw new Error(`font file missing: ${file}`);
  fontFileCache = file;
  return file;
}

const escapeMarkup = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Text coverage (0-255 per pixel) fitted by sharp into at most boxWidth×boxHeight. */
export async function renderTextCoverage(
  text: string,
  boxWidth: number,
  boxHeight: number,
  align: 'left' | 'centre' | 'right',
): Promise<{ width: number; height: number; coverage: Uint8Array } | null> {
  if (text.trim() === '' || boxWidth < 4 || boxHeight < 4) return null;
  const { data, info } = await sharp({
    text: {
      text: escapeMarkup(text),
      font: 'Noto Sans Bold',
      fontfile: fontFile(),
      width: Math.round(boxWidth),
      height: Math.round(boxHeight),
      align,
      rgba: true,
      wrap: 'word',
    },
  })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const n = info.width * info.height;
  const coverage = new Uint8Array(n);
  let any = false;
  for (let i = 0; i < n; i++) {
    const a = data[i * info.channels + info.channels - 1]!;
    coverage[i] = a;
    if (a) any = true;
  }
  return any ? { width: info.width, height: info.height, coverage } : null;
}

/** Grey-level dilation by a disc of radius r (max over the disc). */
function dilate(src: Uint8Array, w: number, h: number, r: number): Uint8Array {
  // hmax[k] = horizontal max over [x-k, x+k], built incrementally
  const levels: Uint8Array[] = [src];
  for (let k = 1; k <= r; k++) {
    const prev = levels[k - 1]!;
    const cur = new Uint8Array(w * h);
    for (let y = 0; y < h; y++) {
      const o = y * w;
      for (let x = 0; x < w; x++) {
        let m = prev[o + x]!;
        if (x - k >= 0 && src[o + x - k]! > m) m = src[o + x - k]!;
        if (x + k < w && src[o + x + k]! > m) m = src[o + x + k]!;
        cur[o + x] = m;
      }
    }
    levels.push(cur);
  }
  const out = new Uint8Array(w * h);
  for (let dy = -r; dy <= r; dy++) {
    const k = Math.floor(Math.sqrt(r * r - dy * dy));
    const lv = levels[k]!;
    for (let y = Math.max(0, -dy); y < Math.min(h, h - dy); y++) {
      const so = (y + dy) * w;
      const o = y * w;
      for (let x = 0; x < w; x++) if (lv[so + x]! > out[o + x]!) out[o + x] = lv[so + x]!;
    }
  }
  return out;
}

/** Two box-blur passes per axis on one channel (soft shadow). */
function softBlur(src: Uint8Array, w: number, h: number, r: number): Uint8Array {
  let a = Float32Array.from(src);
  let b = new Float32Array(a.length);
  const norm = 1 / (2 * r + 1);
  for (let pass = 0; pass < 2; pass++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let s = 0;
        for (let k = -r; k <= r; k++) s += a[y * w + Math.min(w - 1, Math.max(0, x + k))]!;
        b[y * w + x] = s * norm;
      }
    }
    [a, b] = [b, a];
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let s = 0;
        for (let k = -r; k <= r; k++) s += a[Math.min(h - 1, Math.max(0, y + k)) * w + x]!;
        b[y * w + x] = s * norm;
      }
    }
    [a, b] = [b, a];
  }
  return Uint8Array.from(a, (v) => Math.round(v));
}

/** "over" one layer of colour with per-pixel coverage onto img at (ox, oy). */
function paint(img: RgbaImage, cov: Uint8Array, cw: number, ch: number, ox: number, oy: number, color: Rgb, opacity: number): void {
  const d = img.data;
  for (let y = 0; y < ch; y++) {
    const ty = y + oy;
    if (ty < 0 || ty >= img.height) continue;
    for (let x = 0; x < cw; x++) {
      const tx = x + ox;
      if (tx < 0 || tx >= img.width) continue;
      const c = cov[y * cw + x]!;
      if (c === 0) continue;
      const sa = (c / 255) * opacity;
      const p = (ty * img.width + tx) * 4;
      const da = d[p + 3]! / 255;
      const oa = sa + da * (1 - sa);
      for (let k = 0; k < 3; k++) d[p + k] = (color[k]! * sa + d[p + k]! * da * (1 - sa)) / oa;
      d[p + 3] = oa * 255;
    }
  }
}

/**
 * Draw `text` inside `area` (default: the whole image) at `position`. Text
 * height is at most 16% of the area's height (12% in corners) and its width at
 * most 90% (45% in corners) of the area's width; the font size is the largest
 * that fits. Default colour white with a dark outline; a dark colour gets a
 * light outline instead.
 */
export async function addText(
  img: RgbaImage,
  text: string,
  position: TextPosition,
  color: Rgb = [255, 255, 255],
  area: Rect = { x: 0, y: 0, width: img.width, height: img.height },
): Promise<RgbaImage> {
  const corner = position.includes('-');
  const side = position === 'left' || position === 'right';
  const margin = Math.max(2, Math.round(0.04 * Math.min(area.width, area.height)));
  const boxW = Math.max(8, Math.round(area.width * (corner || side ? 0.45 : 0.9)));
  const boxH = Math.max(8, Math.round(area.height * (corner ? 0.12 : 0.16)));
  const align = position.endsWith('left') ? 'left' : position.endsWith('right') ? 'right' : 'centre';
  const rendered = await renderTextCoverage(text, boxW, boxH, align);
  const out: RgbaImage = { width: img.width, height: img.height, data: new Uint8ClampedArray(img.data) };
  if (!rendered) return out;
  const r = Math.max(1, Math.round(Math.min(rendered.height, boxH) * 0.05));
  const shadowOffset = Math.max(1, Math.round(r * 0.8));
  const pad = r + shadowOffset + 2 * r + 1;
  const pw = rendered.width + 2 * pad;
  const ph = rendered.height + 2 * pad;
  const cov = new Uint8Array(pw * ph);
  for (let y = 0; y < rendered.height; y++) {
    cov.set(rendered.coverage.subarray(y * rendered.width, (y + 1) * rendered.width), (y + pad) * pw + pad);
  }
  const outline = dilate(cov, pw, ph, r);
  const shadow = softBlur(outline, pw, ph, r);

  let tx: number;
  if (align === 'left') tx = area.x + margin;
  else if (align === 'right') tx = area.x + area.width - margin - rendered.width;
  else tx = area.x + Math.round((area.width - rendered.width) / 2);
  let ty: number;
  if (position.startsWith('top')) ty = area.y + margin;
  else if (position.startsWith('bottom')) ty = area.y + area.height - margin - rendered.height;
  else ty = area.y + Math.round((area.height - rendered.height) / 2);
  const ox = tx - pad;
  const oy = ty - pad;

  const dark = luma(color[0], color[1], color[2]) < 110;
  const edge: Rgb = dark ? [255, 255, 255] : [0, 0, 0];
  paint(out, shadow, pw, ph, ox + shadowOffset, oy + shadowOffset, edge, dark ? 0.35 : 0.5);
  paint(out, outline, pw, ph, ox, oy, edge, 0.9);
  paint(out, cov, pw, ph, ox, oy, color, 1);
  return out;
}
