/**
 * Photo-like product shots with a known foreground, for background removal:
 * each scene returns the picture and, per pixel, how much of it is subject
 * (0-1, anti-aliased edges by 4×4 supersampling). Shadows and reflections on
 * the background are background. Deterministic (integer hashes, float64).
 */
import type { RgbaImage } from '../../src/engine/types.js';
import { clamp255, fbm, hash2 } from './photo.js';

export interface CutoutScene {
  name: string;
  image: RgbaImage;
  /** per pixel, the share of it covered by the subject (0-1) */
  truth: Float64Array;
}

type Rgb = [number, number, number];

/**
 * A soft elliptical shadow: (u, v) is the position in the shadow's own
 * units; `depth` of the light is left inside radius `core`, rising to all of
 * it at radius `outer`.
 */
function shadow(c: Rgb, u: number, v: number, core: number, outer: number, depth: number): Rgb {
  const d = Math.sqrt(u * u + v * v);
  if (d >= outer) return c;
  const k = d < core ? depth : depth + (1 - depth) * ((d - core) / (outer - core));
  return [c[0] * k, c[1] * k, c[2] * k];
}

/** Share of the pixel (x, y) inside a shape, from 4×4 samples. */
function coverage(x: number, y: number, inside: (fx: number, fy: number) => boolean): number {
  let c = 0;
  for (let j = 0; j < 4; j++) for (let i = 0; i < 4; i++) if (inside(x + (i + 0.5) / 4, y + (j + 0.5) / 4)) c++;
  return c / 16;
}

function render(
  name: string,
  w: number,
  h: number,
  background: (x: number, y: number) => Rgb,
  subject: (fx: number, fy: number) => boolean,
  paint: (x: number, y: number) => Rgb,
  grain: number,
): CutoutScene {
  const data = new Uint8ClampedArray(w * h * 4);
  const truth = new Float64Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      const a = coverage(x, y, subject);
      truth[i] = a;
      const bg = background(x, y);
      const fg = a > 0 ? paint(x, y) : bg;
      const n = (hash2(x, y, 7) - 0.5) * 2 * grain;
      data[i * 4] = clamp255(fg[0] * a + bg[0] * (1 - a) + n);
      data[i * 4 + 1] = clamp255(fg[1] * a + bg[1] * (1 - a) + n);
      data[i * 4 + 2] = clamp255(fg[2] * a + bg[2] * (1 - a) + n);
      data[i * 4 + 3] = 255;
    }
  }
  return { name, image: { width: w, height: h, data }, truth };
}

/**
 * A blue mug with a yellow label and a handle (background shows through the
 * handle) standing on a wooden table in front of a wall with a light
 * gradient; the mug's shadow falls on the table. The wall and the table meet
 * across the whole width: the strip a single-colour background model leaves.
 */
export function mugShot(w = 320, h = 240): CutoutScene {
  const s = w / 320;
  const tableTop = 0.64 * h;
  const cx = 0.46 * w;
  const bodyL = cx - 44 * s, bodyR = cx + 44 * s, bodyT = 0.3 * h, bodyB = 0.84 * h;
  const hx = bodyR + 2 * s, hy = (bodyT + bodyB) / 2, hOut = 30 * s, hIn = 17 * s;
  const inBody = (x: number, y: number): boolean => {
    if (x < bodyL || x > bodyR || y < bodyT || y > bodyB) return false;
    // rounded bottom corners
    const r = 10 * s;
    const dx = x < bodyL + r ? bodyL + r - x : x > bodyR - r ? x - (bodyR - r) : 0;
    const dy = y > bodyB - r ? y - (bodyB - r) : 0;
    return dx * dx + dy * dy <= r * r;
  };
  const inHandle = (x: number, y: number): boolean => {
    if (x < bodyR - 1) return false;
    const dx = (x - hx) / 1.0, dy = (y - hy) / 1.25;
    const d2 = dx * dx + dy * dy;
    return d2 <= hOut * hOut && d2 >= hIn * hIn;
  };
  const subject = (x: number, y: number): boolean => inBody(x, y) || inHandle(x, y);
  const background = (x: number, y: number): Rgb => {
    if (y < tableTop) {
      // wall: lit from the upper left, falling off downwards and to the right
      const t = y / tableTop;
      const v = 232 - 40 * t - 18 * (x / w) + 6 * (fbm(x, y, 40 * s, 3, 3) - 0.5);
      return [v, v - 3, v - 9];
    }
    // table: wood grain along x, darker towards the viewer
    const t = (y - tableTop) / (h - tableTop);
    const grain = fbm(x * 0.12, y * 1.6, 6 * s, 3, 5);
    const ring = 0.5 + 0.5 * Math.sin((y * 0.9 + 14 * fbm(x, y, 50 * s, 2, 9)) / (3.2 * s));
    let r = 170 - 40 * t + 30 * grain + 14 * ring;
    let g = 122 - 32 * t + 22 * grain + 10 * ring;
    let b = 80 - 22 * t + 14 * grain + 6 * ring;
    // the mug's soft shadow, thrown to the right and back
    return shadow([r, g, b], (x - (cx + 50 * s)) / (85 * s), (y - (bodyB - 10 * s)) / (14 * s), 0.8, 1.4, 0.55);
  };
  const paint = (x: number, y: number): Rgb => {
    // cylinder shading across the body, lit from the left
    const u = Math.max(-1, Math.min(1, (x - cx) / (44 * s)));
    const shade = inHandle(x, y) && !inBody(x, y) ? 0.7 : 0.62 + 0.38 * Math.cos((u + 0.35) * 1.2);
    if (inBody(x, y) && y > 0.46 * h && y < 0.6 * h && Math.abs(x - cx) < 28 * s) return [235 * shade + 15, 190 * shade + 10, 50 * shade];
    return [25 + 30 * shade, 70 + 60 * shade, 140 + 80 * shade];
  };
  return render('mug on a table', w, h, background, subject, paint, 4);
}

/**
 * An orange ball on a stone-textured floor under a light gradient, with noise
 * and a soft shadow on the floor: the photo-like case.
 */
export function ballOnStone(w = 320, h = 240): CutoutScene {
  const s = w / 320;
  const bx = 0.52 * w, by = 0.5 * h, br = 58 * s;
  const subject = (x: number, y: number): boolean => (x - bx) ** 2 + (y - by) ** 2 <= br * br;
  const background = (x: number, y: number): Rgb => {
    const stone = fbm(x, y, 24 * s, 4, 21);
    const cracks = Math.abs(fbm(x, y, 60 * s, 2, 22) - 0.5) < 0.015 ? -35 : 0;
    const light = 1.08 - 0.35 * (x / w) - 0.15 * (y / h);
    const r = (150 + 60 * stone + cracks) * light;
    const g = (142 + 55 * stone + cracks) * light;
    const b = (124 + 45 * stone + cracks) * light;
    return shadow([r, g, b], (x - (bx + 40 * s)) / (75 * s), (y - (by + 48 * s)) / (30 * s), 0.6, 1.3, 0.5);
  };
  const paint = (x: number, y: number): Rgb => {
    // a lit sphere: light from the upper left, a highlight
    const nx = (x - bx) / br, ny = (y - by) / br;
    const nz = Math.sqrt(Math.max(0, 1 - nx * nx - ny * ny));
    const lambert = Math.max(0, -0.5 * nx - 0.5 * ny + 0.7 * nz);
    const spec = Math.pow(Math.max(0, -0.4 * nx - 0.4 * ny + 0.82 * nz), 30);
    const k = 0.35 + 0.75 * lambert;
    return [230 * k + 200 * spec, 105 * k + 180 * spec, 30 * k + 160 * spec];
  };
  return render('ball on stone', w, h, background, subject, paint, 8);
}
