/**
 * Background removal and replacement on the foreground/background
 * segmentation (../segment: GrabCut seeded from the border, soft edges), and
 * the dominant edge colour a transparent picture is flattened onto.
 */
import type { RgbaImage } from '../types.js';
import type { Rgb } from '../colors.js';
import { segmentForeground, type Segmentation } from '../segment/index.js';

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

export interface BackgroundCut {
  image: RgbaImage;
  /** pixels made fully transparent (or fully replaced) */
  removed: number;
  /** 0-1, from the segmentation: below CONFIDENT the caller warns */
  confidence: number;
  /** why the segmentation doubts, in words */
  doubts: string[];
}

/**
 * Make the background transparent: the segmentation's alpha multiplies the
 * picture's own, and partly transparent edge pixels take the matte's
 * foreground colour (no fringe of the old background).
 */
export function removeBackground(img: RgbaImage, seg: Segmentation = segmentForeground(img)): BackgroundCut {
  const out = new Uint8ClampedArray(seg.foreground);
  let removed = 0;
  for (let i = 0; i < seg.alpha.length; i++) {
    const a = seg.alpha[i]!;
    const p = i * 4 + 3;
    out[p] = Math.round((img.data[p]! * a) / 255);
    if (a === 0) removed++;
  }
  return { image: { width: img.width, height: img.height, data: out }, removed, confidence: seg.confidence, doubts: seg.doubts };
}

/** Put the subject on an opaque colour: the cut-out composited over it. */
export function replaceBackground(img: RgbaImage, color: Rgb, seg: Segmentation = segmentForeground(img)): BackgroundCut {
  const cut = removeBackground(img, seg);
  return { ...cut, image: flatten(cut.image, color) };
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
