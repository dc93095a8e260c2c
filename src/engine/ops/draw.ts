/**
 * What a generation draws from nothing: a plain canvas, a gradient, stripes,
 * a checkerboard, polka dots. Pure pixel code over RgbaImage; every variant
 * (n > 1) is drawn from its number alone, so the same job gives the same
 * bytes.
 */
import type { RgbaImage } from '../types.js';
import type { Rgb } from '../colors.js';

export type GradientDirection = 'vertical' | 'horizontal' | 'diagonal' | 'radial';
export type PatternKind = 'stripes' | 'checkerboard' | 'dots';
export type StripeDirection = 'vertical' | 'horizontal' | 'diagonal';

/**
 * Variant i's colour: variant 0 is the colour asked for; the others turn its
 * hue by ±12°, ±24°, … (alternately, at most ±36°) and move its lightness by
 * ±4% (so black, white and greys differ too), staying recognisably the
 * colour named.
 */
export function spreadColor(rgb: Rgb, variant: number): Rgb {
  if (variant <= 0) return rgb;
  const k = Math.min(3, Math.ceil(variant / 2));
  const sign = variant % 2 === 1 ? 1 : -1;
  const [h, s, l] = rgbToHsl(rgb);
  const dl = sign * 0.04 * Math.min(2, k);
  // a light colour gets darker and a dark one lighter, so the step is never lost at either end
  const l2 = l + (l > 0.9 ? -Math.abs(dl) : l < 0.1 ? Math.abs(dl) : dl);
  return hslToRgb((h + sign * 12 * k + 360) % 360, s, Math.max(0, Math.min(1, l2)));
}

function rgbToHsl([r8, g8, b8]: Rgb): [number, number, number] {
  const r = r8 / 255, g = g8 / 255, b = b8 / 255;
  const max = Math.max(r, g, b), min = Math.min(r, g, b);
  const l = (max + min) / 2;
  const d = max - min;
  if (d === 0) return [0, 0, l];
  const s = d / (1 - Math.abs(2 * l - 1));
  let h: number;
  if (max === r) h = ((g - b) / d) % 6;
  else if (max === g) h = (b - r) / d + 2;
  else h = (r - g) / d + 4;
  h *= 60;
  return [h < 0 ? h + 360 : h, s, l];
}

function hslToRgb(h: number, s: number, l: number): Rgb {
  const c = (1 - Math.abs(2 * l - 1)) * s;
  const x = c * (1 - Math.abs(((h / 60) % 2) - 1));
  const m = l - c / 2;
  const [r, g, b] = h < 60 ? [c, x, 0] : h < 120 ? [x, c, 0] : h < 180 ? [0, c, x] : h < 240 ? [0, x, c] : h < 300 ? [x, 0, c] : [c, 0, x];
  return [Math.round((r + m) * 255), Math.round((g + m) * 255), Math.round((b + m) * 255)];
}

/** The whole image one opaque colour. */
export function fillCanvas(img: RgbaImage, color: Rgb): RgbaImage {
  const data = new Uint8ClampedArray(img.width * img.height * 4);
  for (let p = 0; p < data.length; p += 4) {
    data[p] = color[0];
    data[p + 1] = color[1];
    data[p + 2] = color[2];
    data[p + 3] = 255;
  }
  return { width: img.width, height: img.height, data };
}

/**
 * A two-colour gradient over the whole image, opaque. `angle` (degrees)
 * turns a linear gradient from its direction (variants tilt it); a radial one
 * goes from the centre (`from`) to the corners (`to`). Interpolated in sRGB,
 * as CSS gradients are, with an ordered dither of ±½ level so wide, gentle
 * gradients show no bands.
 */
export function drawGradient(img: RgbaImage, from: Rgb, to: Rgb, direction: GradientDirection, angle = 0): RgbaImage {
  const { width: w, height: h } = img;
  const data = new Uint8ClampedArray(w * h * 4);
  const base = direction === 'horizontal' ? 0 : direction === 'vertical' ? 90 : 45;
  const a = ((base + angle) * Math.PI) / 180;
  const dx = Math.cos(a), dy = Math.sin(a);
  // the projection of the four corners: t runs 0 at the first corner to 1 at the last
  const proj = [0, w - 1].flatMap((x) => [0, h - 1].map((y) => x * dx + y * dy));
  const lo = Math.min(...proj), hi = Math.max(...proj);
  const cx = (w - 1) / 2, cy = (h - 1) / 2;
  const rMax = Math.hypot(cx, cy) || 1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const t = direction === 'radial' ? Math.hypot(x - cx, y - cy) / rMax : hi > lo ? (x * dx + y * dy - lo) / (hi - lo) : 0;
      const dither = (BAYER4[(y & 3) * 4 + (x & 3)]! + 0.5) / 16 - 0.5;
      const p = (y * w + x) * 4;
      data[p] = Math.round(from[0] + (to[0] - from[0]) * t + dither);
      data[p + 1] = Math.round(from[1] + (to[1] - from[1]) * t + dither);
      data[p + 2] = Math.round(from[2] + (to[2] - from[2]) * t + dither);
      data[p + 3] = 255;
    }
  }
  return { width: w, height: h, data };
}

const BAYER4 = [0, 8, 2, 10, 12, 4, 14, 6, 3, 11, 1, 9, 15, 7, 13, 5];

export interface PatternSpec {
  pattern: PatternKind;
  /** the stripes, the dark squares, the dots */
  fg: Rgb;
  /** between them; null = leave what is below (the canvas) */
  bg: Rgb | null;
  direction: StripeDirection;
  /** multiplier of the nominal stripe width, square or dot spacing (variants, "thin", "wide") */
  scale: number;
  /** shift of the pattern in units of its period, 0-1 (variants) */
  phase: number;
}

/**
 * The nominal period of a pattern: stripes 1/12 of the shorter side wide
 * (one stripe and one gap = 1/6), squares 1/8 of the shorter side (an 8×8
 * board on a square), dots 1/8 of the shorter side apart; at least 4 px.
 * For a checkerboard the period is one square.
 */
export function patternPeriod(img: RgbaImage, spec: PatternSpec): number {
  const short = Math.min(img.width, img.height);
  const nominal = spec.pattern === 'stripes' ? short / 6 : short / 8;
  return Math.max(4, Math.round(nominal * spec.scale));
}

/**
 * Draw the pattern over `img`. Edges are antialiased by the exact coverage of
 * each pixel (stripes, squares) or the distance to the dot's rim (dots).
 * Where `bg` is null the picture below shows; transparent pixels below stay
 * transparent there.
 */
export function drawPattern(img: RgbaImage, spec: PatternSpec): RgbaImage {
  const { width: w, height: h } = img;
  const out = new Uint8ClampedArray(img.data);
  const period = patternPeriod(img, spec);
  const shift = spec.phase * period;
  const put = (p: number, fgCover: number): void => {
    // what lies under the foreground: the background colour, or the picture as it is
    const under = spec.bg;
    const ua = under ? 1 : out[p + 3]! / 255;
    const ur = under ? under[0] : out[p]!, ug = under ? under[1] : out[p + 1]!, ub = under ? under[2] : out[p + 2]!;
    const a = fgCover + ua * (1 - fgCover);
    if (a <= 0) return;
    out[p] = (spec.fg[0] * fgCover + ur * ua * (1 - fgCover)) / a;
    out[p + 1] = (spec.fg[1] * fgCover + ug * ua * (1 - fgCover)) / a;
    out[p + 2] = (spec.fg[2] * fgCover + ub * ua * (1 - fgCover)) / a;
    out[p + 3] = Math.round(a * 255);
  };
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = (y * w + x) * 4;
      let cover: number;
      if (spec.pattern === 'stripes') {
        // stripe k covers [k·period, k·period + period/2) along the axis across the stripes
        const half = period / 2;
        if (spec.direction === 'diagonal') {
          const u = (x + y) / Math.SQRT2 + shift;
          cover = bandCoverage(u - 0.5, u + 0.5, period, half);
        } else {
          const u = (spec.direction === 'vertical' ? x : y) + shift;
          cover = bandCoverage(u, u + 1, period, half);
        }
      } else if (spec.pattern === 'checkerboard') {
        const cx = bandCoverage(x + shift, x + shift + 1, 2 * period, period);
        const cy = bandCoverage(y + shift, y + shift + 1, 2 * period, period);
        // the dark squares: inside in x and not in y, or the other way round
        cover = cx * (1 - cy) + cy * (1 - cx);
      } else {
        // polka dots: a square grid with every other row shifted by half a period
        const row = Math.floor((y + shift) / period);
        const ox = row % 2 === 0 ? 0 : period / 2;
        const cxr = ((x + 0.5 + shift + ox) % period + period) % period - period / 2;
        const cyr = ((y + 0.5 + shift) % period + period) % period - period / 2;
        const r = period * 0.3;
        cover = Math.max(0, Math.min(1, r - Math.hypot(cxr, cyr) + 0.5));
      }
      put(p, cover);
    }
  }
  return { width: w, height: h, data: out };
}

/** The share of [a, b) (a 1-px span) that lies in the bands [k·period, k·period + width). */
function bandCoverage(a: number, b: number, period: number, width: number): number {
  const inBand = (t: number): number => {
    // length of [0, t) covered by bands, for t ≥ 0 after taking whole periods
    const k = Math.floor(t / period);
    return k * width + Math.min(width, t - k * period);
  };
  const off = Math.ceil(Math.max(0, -a) / period + 1) * period;
  return (inBand(b + off) - inBand(a + off)) / (b - a);
}
