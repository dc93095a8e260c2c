/**
 * Deterministic photo-like test pictures for the fill bench: a landscape with
 * a sky gradient and clouds, two ranges of hills, textured grass, trees, a
 * house and a fence, with fine grain. Everything is computed from integer
 * hashes and float64 arithmetic, so the picture is the same on every machine.
 */
import type { RgbaImage } from '../../src/engine/types.js';

/** A hash of (x, y, seed) in [0, 1). */
export function hash2(x: number, y: number, seed: number): number {
  let h = Math.imul(x | 0, 0x27d4eb2d) ^ Math.imul(y | 0, 0x165667b1) ^ Math.imul(seed | 0, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return ((h ^ (h >>> 16)) >>> 0) / 4294967296;
}

function smooth(t: number): number {
  return t * t * (3 - 2 * t);
}

/** Value noise in [0, 1) on a lattice of `cell` pixels. */
export function valueNoise(x: number, y: number, cell: number, seed: number): number {
  const fx = x / cell;
  const fy = y / cell;
  const x0 = Math.floor(fx);
  const y0 = Math.floor(fy);
  const tx = smooth(fx - x0);
  const ty = smooth(fy - y0);
  const a = hash2(x0, y0, seed);
  const b = hash2(x0 + 1, y0, seed);
  const c = hash2(x0, y0 + 1, seed);
  const d = hash2(x0 + 1, y0 + 1, seed);
  const top = a + (b - a) * tx;
  const bot = c + (d - c) * tx;
  return top + (bot - top) * ty;
}

/** Fractal value noise in [0, 1): `octaves` layers, each half the cell and half the amplitude. */
export function fbm(x: number, y: number, cell: number, octaves: number, seed: number): number {
  let sum = 0;
  let amp = 0.5;
  let norm = 0;
  for (let o = 0; o < octaves; o++) {
    sum += amp * valueNoise(x, y, cell, seed + o * 101);
    norm += amp;
    amp *= 0.5;
    cell /= 2;
  }
  return sum / norm;
}

export function clamp255(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
}

/** A size×size landscape (opaque). */
export function makeLandscape(size: number): RgbaImage {
  const w = size;
  const h = size;
  const s = size / 1024;
  const data = new Uint8ClampedArray(w * h * 4);
  const horizon = 0.42 * h;
  const farRidge = new Float64Array(w);
  const nearRidge = new Float64Array(w);
  for (let x = 0; x < w; x++) {
    farRidge[x] = horizon - 90 * s * fbm(x, 0, 260 * s, 4, 11) + 20 * s;
    nearRidge[x] = 0.58 * h - 110 * s * fbm(x, 0, 400 * s, 4, 23) + 30 * s * Math.sin(x / (170 * s));
  }
  // trees: positions from the hash, on the near hills
  const trees: { x: number; base: number; hgt: number; wid: number }[] = [];
  for (let i = 0; i < 14; i++) {
    const tx = Math.floor(hash2(i, 1, 77) * w);
    const base = nearRidge[tx] + (40 + hash2(i, 2, 77) * 260) * s;
    trees.push({ x: tx, base, hgt: (70 + hash2(i, 3, 77) * 90) * s, wid: (22 + hash2(i, 4, 77) * 18) * s });
  }
  const house = { x0: 0.62 * w, x1: 0.78 * w, y0: 0.66 * h, y1: 0.8 * h };
  const fenceTop = 0.88 * h;
  const fenceBot = 0.95 * h;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let r: number;
      let g: number;
      let b: number;
      if (y < farRidge[x]) {
        // sky: gradient + clouds
        const t = y / horizon;
        r = 60 + 120 * t;
        g = 110 + 100 * t;
        b = 200 + 40 * t;
        const cl = fbm(x, y * 2.2, 220 * s, 5, 5);
        const c = cl > 0.55 ? Math.min(1, (cl - 0.55) * 5) : 0;
        r += (245 - r) * c;
        g += (245 - g) * c;
        b += (250 - b) * c;
        // sun
        const dx = x - 0.2 * w;
        const dy = y - 0.14 * h;
        const dd = Math.sqrt(dx * dx + dy * dy);
        if (dd < 45 * s) {
          r = 255;
          g = 240;
          b = 190;
        } else if (dd < 110 * s) {
          const k = 1 - (dd - 45 * s) / (65 * s);
          r += (255 - r) * 0.6 * k;
          g += (240 - g) * 0.6 * k;
          b += (190 - b) * 0.6 * k;
        }
      } else if (y < nearRidge[x]) {
        // far hills: hazy blue-green, soft texture
        const n = fbm(x, y, 40 * s, 4, 31);
        const t = (y - farRidge[x]) / Math.max(1, nearRidge[x] - farRidge[x]);
        r = 70 + 30 * n - 10 * t;
        g = 115 + 40 * n - 10 * t;
        b = 120 + 25 * n - 20 * t;
      } else {
        // near hills: grass, blades as vertical streaks + clumps, darker lower down
        const clump = fbm(x, y, 60 * s, 3, 41);
        const blades = valueNoise(x, y / 6, 2.5 * s + 0.5, 43);
        const t = (y - nearRidge[x]) / h;
        r = 60 + 50 * clump + 30 * blades - 60 * t;
        g = 120 + 60 * clump + 40 * blades - 50 * t;
        b = 30 + 20 * clump + 10 * blades - 20 * t;
        // a dirt path winding down
        const pathX = 0.35 * w + 120 * s * Math.sin(y / (90 * s)) + (y - 0.6 * h) * 0.5;
        const pw = 10 * s + (y - 0.6 * h) * 0.12;
        if (y > 0.6 * h && Math.abs(x - pathX) < pw) {
          const gn = fbm(x, y, 8 * s, 2, 47);
          r = 150 + 40 * gn;
          g = 120 + 30 * gn;
          b = 80 + 20 * gn;
        }
      }
      // trees: trunk + triangular crown
      for (const tr of trees) {
        const dx = Math.abs(x - tr.x);
        if (y <= tr.base && y >= tr.base - tr.hgt * 0.25 && dx < tr.wid * 0.12) {
          r = 90;
          g = 60;
          b = 35;
        }
        const top = tr.base - tr.hgt;
        const crownBot = tr.base - tr.hgt * 0.2;
        if (y >= top && y <= crownBot && dx < ((y - top) / (crownBot - top)) * tr.wid) {
          const n = fbm(x, y, 6 * s, 2, 53);
          r = 25 + 30 * n;
          g = 70 + 50 * n;
          b = 35 + 20 * n;
        }
      }
      // house: wall with windows, roof
      if (x >= house.x0 && x < house.x1 && y >= house.y0 && y < house.y1) {
        r = 215;
        g = 200;
        b = 170;
        const wx = ((x - house.x0) / ((house.x1 - house.x0) / 4)) % 1;
        const wy = (y - house.y0) / (house.y1 - house.y0);
        if (wx > 0.3 && wx < 0.7 && wy > 0.25 && wy < 0.55) {
          r = 60;
          g = 80;
          b = 110;
        }
      }
      const roofH = 0.07 * h;
      const rcx = (house.x0 + house.x1) / 2;
      const halfW = (house.x1 - house.x0) / 2 + 12 * s;
      if (y < house.y0 && y >= house.y0 - roofH && Math.abs(x - rcx) < (halfW * (y - (house.y0 - roofH))) / roofH) {
        r = 160;
        g = 50;
        b = 40;
      }
      // fence: posts every 48 px and two rails
      if (y >= fenceTop && y < fenceBot) {
        const post = x % Math.max(4, Math.round(48 * s)) < Math.max(2, Math.round(8 * s));
        const rail = Math.abs(y - (fenceTop + 0.2 * (fenceBot - fenceTop))) < 4 * s || Math.abs(y - (fenceTop + 0.65 * (fenceBot - fenceTop))) < 4 * s;
        if (post || rail) {
          r = 235;
          g = 230;
          b = 220;
        }
      }
      // grain
      const gr = (hash2(x, y, 99) - 0.5) * 10;
      const o = (y * w + x) * 4;
      data[o] = clamp255(r + gr);
      data[o + 1] = clamp255(g + gr);
      data[o + 2] = clamp255(b + gr);
      data[o + 3] = 255;
    }
  }
  return { width: w, height: h, data };
}

/** An elliptical hole mask centred at (cx, cy) with radii rx, ry. */
export function ellipseHole(w: number, h: number, cx: number, cy: number, rx: number, ry: number): Uint8Array {
  const m = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const dx = (x + 0.5 - cx) / rx;
      const dy = (y + 0.5 - cy) / ry;
      if (dx * dx + dy * dy <= 1) m[y * w + x] = 1;
    }
  }
  return m;
}

/** A centred ellipse (aspect 4:3) covering `fraction` of the image, as a hole mask. */
export function ellipseMask(w: number, h: number, fraction: number, cx = w / 2, cy = h / 2): Uint8Array {
  // area = pi * a * b with a = 4k, b = 3k
  const k = Math.sqrt((fraction * w * h) / (Math.PI * 12));
  return ellipseHole(w, h, cx, cy, 4 * k, 3 * k);
}
