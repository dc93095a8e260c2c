/**
 * Caption text: rendered by sharp (Pango + FreeType) with the bundled Noto
 * Sans font files, never a system font, then composited here with an outline
 * and a soft drop shadow so it reads on any picture.
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

export type TextSize = 'tiny' | 'small' | 'medium' | 'large' | 'huge';
export type TextWeight = 'light' | 'regular' | 'bold' | 'black';

/** `color: null` = automatic (dark around light letters, light around dark ones); width is a multiplier. */
export interface TextOutline {
  color: Rgb | null;
  colorName: string | null;
  width: number;
}

export interface TextStyle {
  /** letter colour */
  color: Rgb;
  size: TextSize;
  weight: TextWeight;
  /** null = no outline and no shadow */
  outline: TextOutline | null;
  /** size multiplier on top of `size` (variants) */
  scale?: number;
  /** placement offset in [-1, 1] per axis, in units of 4% of the area's width and 2.5% of its height (variants) */
  jitter?: readonly [number, number];
}

export const DEFAULT_TEXT_STYLE: TextStyle = {
  color: [255, 255, 255],
  size: 'medium',
  weight: 'bold',
  outline: { color: null, colorName: null, width: 1 },
};

export interface Rect { x: number; y: number; width: number; height: number }

/**
 * Share of the area's height the text box may take, by size: 'medium' is the
 * long-standing default (16%); 'large' is big enough to read as a headline at
 * a glance, 'huge' a poster line.
 */
const SIZE_HEIGHT: Record<TextSize, number> = { tiny: 0.05, small: 0.08, medium: 0.16, large: 0.26, huge: 0.36 };

const FONTS: Record<TextWeight, { dir: string; file: string; name: string }> = {
  light: { dir: '300Light', file: 'NotoSans_300Light.ttf', name: 'Noto Sans Light' },
  regular: { dir: '400Regular', file: 'NotoSans_400Regular.ttf', name: 'Noto Sans' },
  bold: { dir: '700Bold', file: 'NotoSans_700Bold.ttf', name: 'Noto Sans Bold' },
  black: { dir: '900Black', file: 'NotoSans_900Black.ttf', name: 'Noto Sans Black' },
};

const fontFileCache = new Map<TextWeight, string>();

/** Absolute path of the bundled Noto Sans file of that weight. */
export function fontFile(weight: TextWeight = 'bold'): string {
  const cached = fontFileCache.get(weight);
  if (cached) return cached;
  const req = createRequire(import.meta.url);
  const dir = path.dirname(req.resolve('@expo-google-fonts/noto-sans/package.json'));
  const font = FONTS[weight];
  const file = path.join(dir, font.dir, font.file);
  if (!existsSync(file)) throw new Error(`font file missing: ${file}`);
  fontFileCache.set(weight, file);
  return file;
}

const escapeMarkup = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Text coverage (0-255 per pixel) fitted by sharp into at most boxWidth×boxHeight. */
export async function renderTextCoverage(
  text: string,
  boxWidth: number,
  boxHeight: number,
  align: 'left' | 'centre' | 'right',
  weight: TextWeight = 'bold',
): Promise<{ width: number; height: number; coverage: Uint8Array } | null> {
  if (text.trim() === '' || boxWidth < 4 || boxHeight < 4) return null;
  const { data, info } = await sharp({
    text: {
      text: escapeMarkup(text),
      font: FONTS[weight].name,
      fontfile: fontFile(weight),
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
 * Draw `text` inside `area` (default: the whole image) at `position`. The text
 * box is at most SIZE_HEIGHT[size] of the area's height (two thirds of that
 * in corners) and 90% of its width (45% in corners and at the sides; large
 * sizes may take 96% / 60%); the font size is the largest that fits. The
 * automatic outline is dark around light letters and light around dark ones.
 */
export async function addText(
  img: RgbaImage,
  text: string,
  position: TextPosition,
  style: Partial<TextStyle> = {},
  area: Rect = { x: 0, y: 0, width: img.width, height: img.height },
  /** told the size of the text block as drawn (null: nothing to draw), e.g. to warn when it came out too small to read */
  onLaidOut?: (block: { width: number; height: number } | null) => void,
): Promise<RgbaImage> {
  const { color, size, weight, outline } = { ...DEFAULT_TEXT_STYLE, ...style };
  const scale = style.scale ?? 1;
  const [jx, jy] = style.jitter ?? [0, 0];
  const corner = position.includes('-');
  const side = position === 'left' || position === 'right';
  const big = size === 'large' || size === 'huge';
  const margin = Math.max(2, Math.round(0.04 * Math.min(area.width, area.height)));
  const widthShare = corner || side ? (big ? 0.6 : 0.45) : big ? 0.96 : 0.9;
  const heightShare = Math.min(0.9, SIZE_HEIGHT[size] * (corner ? 0.75 : 1) * scale);
  const boxW = Math.max(8, Math.round(Math.min(area.width - 2 * margin, area.width * widthShare)));
  const boxH = Math.max(8, Math.round(area.height * heightShare));
  const align = position.endsWith('left') ? 'left' : position.endsWith('right') ? 'right' : 'centre';
  const rendered = await renderTextCoverage(text, boxW, boxH, align, weight);
  onLaidOut?.(rendered ? { width: rendered.width, height: rendered.height } : null);
  const out: RgbaImage = { width: img.width, height: img.height, data: new Uint8ClampedArray(img.data) };
  if (!rendered) return out;
  const r = outline ? Math.max(1, Math.round(Math.min(rendered.height, boxH) * 0.05 * outline.width)) : 0;
  const shadowOffset = Math.max(1, Math.round(Math.max(r, 1) * 0.8));
  const pad = r + shadowOffset + 2 * r + 1;
  const pw = rendered.width + 2 * pad;
  const ph = rendered.height + 2 * pad;
  const cov = new Uint8Array(pw * ph);
  for (let y = 0; y < rendered.height; y++) {
    cov.set(rendered.coverage.subarray(y * rendered.width, (y + 1) * rendered.width), (y + pad) * pw + pad);
  }

  let tx: number;
  if (align === 'left') tx = area.x + margin;
  else if (align === 'right') tx = area.x + area.width - margin - rendered.width;
  else tx = area.x + Math.round((area.width - rendered.width) / 2);
  let ty: number;
  if (position.startsWith('top')) ty = area.y + margin;
  else if (position.startsWith('bottom')) ty = area.y + area.height - margin - rendered.height;
  else ty = area.y + Math.round((area.height - rendered.height) / 2);
  // variants move the text a little, but never out of the area
  tx = clampInto(tx + Math.round(jx * 0.04 * area.width), area.x + r, area.x + area.width - r - rendered.width);
  ty = clampInto(ty + Math.round(jy * 0.025 * area.height), area.y + r, area.y + area.height - r - rendered.height);
  const ox = tx - pad;
  const oy = ty - pad;

  if (outline) {
    const dark = luma(color[0], color[1], color[2]) < 110;
    const edge: Rgb = outline.color ?? (dark ? [255, 255, 255] : [0, 0, 0]);
    const edgeDark = luma(edge[0], edge[1], edge[2]) < 110;
    const ring = dilate(cov, pw, ph, r);
    paint(out, softBlur(ring, pw, ph, r), pw, ph, ox + shadowOffset, oy + shadowOffset, edge, edgeDark ? 0.5 : 0.35);
    paint(out, ring, pw, ph, ox, oy, edge, outline.color ? 1 : 0.9);
  }
  paint(out, cov, pw, ph, ox, oy, color, 1);
  return out;
}

/** lo..hi, or the middle of the two when the range is empty (text wider than the area). */
function clampInto(v: number, lo: number, hi: number): number {
  if (hi < lo) return Math.round((lo + hi) / 2);
  return Math.min(hi, Math.max(lo, v));
}
