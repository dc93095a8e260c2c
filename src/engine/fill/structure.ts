/**
 * Structure guide for the fill: a blurred picture of what the hole should
 * hold at large scale, with the edges that enter the hole (a horizon, a
 * hill's outline, a road's sides) carried across it. The patch search then
 * pays for patches whose large-scale content disagrees with the guide, so
 * a line is continued where it should be, each side of it is filled from
 * its own side, and a patch of another object (a tree) cannot stand in for
 * sky or grass.
 *
 * Built once, on a pyramid level at most GUIDE_SIDE across:
 *  1. blur the known pixels (normalised convolution: the hole does not leak in);
 *  2. find edges in a band outside the hole: non-maximum-suppressed
 *     structure-tensor strength, linked into chains; each chain that
 *     reaches the hole is a crossing with a direction (the isophote, from
 *     the chain's summed tensor) and the colours on its two sides;
 *  3. pair crossings whose side colours agree and whose directions can be
 *     joined smoothly, and join them with a cubic Hermite curve (a crossing
 *     left unpaired is left alone: going on straight cuts the hole wrongly
 *     as often as rightly, e.g. at a tree's side);
 *  4. the curves cut the hole into parts; each part is filled from the
 *     rim pixels it touches (inverse-distance weights), so colours never
 *     mix across a continued edge.
 * (Structure propagation in the spirit of Sun, Yuan, Jia & Shum 2005, with
 * the curves found instead of drawn by a user.)
 *
 * Deterministic: fixed orders, float64, only + − × ÷ and sqrt.
 */
import type { Level } from './level.js';
import { chamfer } from './level.js';

/** The guide is built on the finest level no wider or taller than this. */
export const GUIDE_SIDE = 256;
/** Edge search band outside the hole, in guide-level pixels. */
const BAND = 7;
/** Minimum edge contrast (mean RGB difference between the sides) for a crossing. */
const MIN_CONTRAST = 22;

export interface Crossing {
  /** entry point (guide-level pixels) and unit direction into the hole */
  x: number;
  y: number;
  dx: number;
  dy: number;
  /** mean colours left and right of the direction */
  left: [number, number, number];
  right: [number, number, number];
  contrast: number;
  length: number;
}

export interface Guide {
  w: number;
  h: number;
  /** RGBA bytes (alpha 255): blurred known pixels, and the structure-aware estimate in the hole */
  img: Uint8Array;
  crossings: Crossing[];
  /** pairs of crossing indices joined by a curve */
  joins: [number, number][];
}

/** Normalised Gaussian blur (σ ≈ 1.2) of the known pixels; RGB float, NaN where no known pixel is near. */
function blurKnown(lv: Level): Float64Array {
  const { w, h, img, hole } = lv;
  const k = [0.0625, 0.25, 0.375, 0.25, 0.0625]; // binomial, σ = 1
  const tmp = new Float64Array(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let r = 0, g = 0, b = 0, s = 0;
      for (let t = -2; t <= 2; t++) {
        const X = x + t;
        if (X < 0 || X >= w) continue;
        const i = y * w + X;
        if (hole[i] !== 0) continue;
        const wt = k[t + 2];
        r += wt * img[i * 4];
        g += wt * img[i * 4 + 1];
        b += wt * img[i * 4 + 2];
        s += wt;
      }
      const o = (y * w + x) * 4;
      tmp[o] = r;
      tmp[o + 1] = g;
      tmp[o + 2] = b;
      tmp[o + 3] = s;
    }
  }
  const out = new Float64Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let r = 0, g = 0, b = 0, s = 0;
      for (let t = -2; t <= 2; t++) {
        const Y = y + t;
        if (Y < 0 || Y >= h) continue;
        const o = (Y * w + x) * 4;
        const wt = k[t + 2];
        r += wt * tmp[o];
        g += wt * tmp[o + 1];
        b += wt * tmp[o + 2];
        s += wt * tmp[o + 3];
      }
      const o = (y * w + x) * 3;
      if (s > 1e-6) {
        out[o] = r / s;
        out[o + 1] = g / s;
        out[o + 2] = b / s;
      } else out[o] = out[o + 1] = out[o + 2] = NaN;
    }
  }
  return out;
}

/** Edge crossings: chains of edge pixels in the band outside the hole that reach it. */
function findCrossings(lv: Level, blur: Float64Array, dist: Int32Array, outside: Int32Array): Crossing[] {
  const { w, h, hole } = lv;
  const n = w * h;
  const jxx = new Float64Array(n), jxy = new Float64Array(n), jyy = new Float64Array(n), str = new Float64Array(n);
  // band pixels whose 3×3 neighbourhood is known (Sobel needs it)
  const inBand = (i: number): boolean => hole[i] === 0 && outside[i] <= 3 * BAND;
  const usable = new Uint8Array(n);
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1; x < w - 1; x++) {
      const i = y * w + x;
      if (!inBand(i) || dist[i] !== 0) continue;
      let ok = true;
      for (let dy = -1; dy <= 1 && ok; dy++) for (let dx = -1; dx <= 1; dx++) if (hole[i + dy * w + dx] !== 0) ok = false;
      if (!ok) continue;
      usable[i] = 1;
      let xx = 0, xy = 0, yy = 0;
      for (let c = 0; c < 3; c++) {
        const v = (X: number, Y: number): number => blur[((y + Y) * w + x + X) * 3 + c];
        const gx = (v(1, -1) + 2 * v(1, 0) + v(1, 1) - v(-1, -1) - 2 * v(-1, 0) - v(-1, 1)) / 8;
        const gy = (v(-1, 1) + 2 * v(0, 1) + v(1, 1) - v(-1, -1) - 2 * v(0, -1) - v(1, -1)) / 8;
        xx += gx * gx;
        xy += gx * gy;
        yy += gy * gy;
      }
      jxx[i] = xx;
      jxy[i] = xy;
      jyy[i] = yy;
      // largest eigenvalue of the tensor: squared edge strength
      const tr = xx + yy, det = xx * yy - xy * xy;
      str[i] = tr / 2 + Math.sqrt(Math.max(0, (tr * tr) / 4 - det));
    }
  }
  // non-maximum suppression across the edge
  const edge = new Uint8Array(n);
  const minStr = (MIN_CONTRAST / 4) ** 2;
  for (let i = 0; i < n; i++) {
    if (usable[i] === 0 || str[i] < minStr) continue;
    const [gx, gy] = majorAxis(jxx[i], jxy[i], jyy[i]);
    const ox = Math.round(gx), oy = Math.round(gy);
    const a = i + oy * w + ox, b = i - oy * w - ox;
    if (str[a] > str[i] || str[b] >= str[i]) continue;
    edge[i] = 1;
  }
  // chains: 8-connected edge pixels
  const seen = new Uint8Array(n);
  const out: Crossing[] = [];
  const stack: number[] = [];
  for (let s = 0; s < n; s++) {
    if (edge[s] === 0 || seen[s] !== 0) continue;
    const chain: number[] = [];
    stack.push(s);
    seen[s] = 1;
    while (stack.length > 0) {
      const i = stack.pop()!;
      chain.push(i);
      const x = i % w, y = (i / w) | 0;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const X = x + dx, Y = y + dy;
          if (X < 0 || Y < 0 || X >= w || Y >= h) continue;
          const j = Y * w + X;
          if (edge[j] !== 0 && seen[j] === 0) {
            seen[j] = 1;
            stack.push(j);
          }
        }
      }
    }
    const c = describeChain(chain, w, blur, jxx, jxy, jyy, outside);
    if (c) out.push(c);
  }
  return out;
}

/** Unit eigenvector of the larger eigenvalue of [[a b] [b c]] (the gradient direction). */
function majorAxis(a: number, b: number, c: number): [number, number] {
  const tr = a + c, det = a * c - b * b;
  const l1 = tr / 2 + Math.sqrt(Math.max(0, (tr * tr) / 4 - det));
  let vx = b, vy = l1 - a;
  if (Math.abs(vx) + Math.abs(vy) < 1e-12) {
    vx = l1 - c;
    vy = b;
  }
  if (Math.abs(vx) + Math.abs(vy) < 1e-12) return [1, 0];
  const len = Math.sqrt(vx * vx + vy * vy);
  return [vx / len, vy / len];
}

function describeChain(
  chain: number[],
  w: number,
  blur: Float64Array,
  jxx: Float64Array,
  jxy: Float64Array,
  jyy: Float64Array,
  outside: Int32Array,
): Crossing | null {
  if (chain.length < 3) return null;
  chain.sort((a, b) => a - b);
  let a = 0, b = 0, c = 0, entry = chain[0], best = Infinity;
  for (const i of chain) {
    a += jxx[i];
    b += jxy[i];
    c += jyy[i];
    if (outside[i] < best) {
      best = outside[i];
      entry = i;
    }
  }
  // the chain must reach the hole's rim
  if (best > 3 * 3) return null;
  const [gx, gy] = majorAxis(a, b, c);
  // the isophote runs across the gradient; point it into the hole (from the chain's far end to its entry)
  let dx = -gy, dy = gx;
  let fx = 0, fy = 0;
  for (const i of chain) {
    fx += i % w;
    fy += (i / w) | 0;
  }
  fx /= chain.length;
  fy /= chain.length;
  const ex = entry % w, ey = (entry / w) | 0;
  if ((ex - fx) * dx + (ey - fy) * dy < 0) {
    dx = -dx;
    dy = -dy;
  }
  // an edge that runs past the hole, not into it, is no crossing
  let enters = false;
  for (let t = 1; t <= 5 && !enters; t++) {
    const X = Math.round(ex + t * dx), Y = Math.round(ey + t * dy);
    if (X >= 0 && Y >= 0 && X < w && Y < blur.length / 3 / w && outside[Y * w + X] === 0) enters = true;
  }
  if (!enters) return null;
  // side colours: known blurred pixels two steps either side of each chain pixel
  const left = [0, 0, 0], right = [0, 0, 0];
  let nl = 0, nr = 0;
  const lx = dy, ly = -dx; // "left" of the direction
  const h = blur.length / 3 / w;
  for (const i of chain) {
    const x = i % w, y = (i / w) | 0;
    for (const [sgn, acc] of [[1, left], [-1, right]] as const) {
      const X = Math.round(x + 2.5 * sgn * lx), Y = Math.round(y + 2.5 * sgn * ly);
      if (X < 0 || Y < 0 || X >= w || Y >= h) continue;
      const o = (Y * w + X) * 3;
      if (Number.isNaN(blur[o])) continue;
      acc[0] += blur[o];
      acc[1] += blur[o + 1];
      acc[2] += blur[o + 2];
      if (sgn === 1) nl++;
      else nr++;
    }
  }
  if (nl === 0 || nr === 0) return null;
  const L: [number, number, number] = [left[0] / nl, left[1] / nl, left[2] / nl];
  const R: [number, number, number] = [right[0] / nr, right[1] / nr, right[2] / nr];
  const contrast = (Math.abs(L[0] - R[0]) + Math.abs(L[1] - R[1]) + Math.abs(L[2] - R[2])) / 3;
  if (contrast < MIN_CONTRAST) return null;
  return { x: ex, y: ey, dx, dy, left: L, right: R, contrast, length: chain.length };
}

const colourGap = (a: readonly number[], b: readonly number[]): number =>
  (Math.abs(a[0] - b[0]) + Math.abs(a[1] - b[1]) + Math.abs(a[2] - b[2])) / 3;

/** Pairs of crossings to join, cheapest first; each crossing joins at most once. */
function pairCrossings(cs: Crossing[]): [number, number][] {
  const cand: { cost: number; a: number; b: number }[] = [];
  for (let a = 0; a < cs.length; a++) {
    for (let b = a + 1; b < cs.length; b++) {
      const A = cs[a], B = cs[b];
      const ux = B.x - A.x, uy = B.y - A.y;
      const len = Math.sqrt(ux * ux + uy * uy);
      if (len < 3) continue;
      // travelling A → B, B's own direction is reversed, so its sides swap
      const gap = (colourGap(A.left, B.right) + colourGap(A.right, B.left)) / 2;
      if (gap > 0.4 * Math.min(A.contrast, B.contrast)) continue;
      const ca = (A.dx * ux + A.dy * uy) / len; // cos of A's turn
      const cb = (-B.dx * ux - B.dy * uy) / len; // cos of B's turn
      if (ca < 0.35 || cb < 0.35) continue;
      cand.push({ cost: gap / Math.min(A.contrast, B.contrast) + (1 - ca) + (1 - cb), a, b });
    }
  }
  cand.sort((p, q) => p.cost - q.cost || p.a - q.a || p.b - q.b);
  const used = new Uint8Array(cs.length);
  const out: [number, number][] = [];
  for (const { a, b } of cand) {
    if (used[a] || used[b]) continue;
    used[a] = used[b] = 1;
    out.push([a, b]);
  }
  return out;
}

/** Mark a curve's pixels in `wall`, 4-connected so that no region leaks through it diagonally. */
function rasterise(wall: Uint8Array, w: number, h: number, pts: [number, number][]): void {
  let px = -1, py = -1;
  for (const [fx, fy] of pts) {
    const x = Math.round(fx), y = Math.round(fy);
    if (x < 0 || y < 0 || x >= w || y >= h) {
      px = -1;
      continue;
    }
    if (px >= 0 && x !== px && y !== py && py >= 0 && py < h) wall[py * w + x] = 1;
    wall[y * w + x] = 1;
    px = x;
    py = y;
  }
}

function curvePoints(A: Crossing, B: Crossing): [number, number][] {
  const pts: [number, number][] = [];
  // start and end a little outside the rim so the wall closes against the known pixels
  const x0 = A.x - 2 * A.dx, y0 = A.y - 2 * A.dy;
  const x1 = B.x - 2 * B.dx, y1 = B.y - 2 * B.dy;
  const L = Math.sqrt((x1 - x0) ** 2 + (y1 - y0) ** 2);
  const steps = Math.max(8, Math.ceil(L * 3));
  for (let k = 0; k <= steps; k++) {
    const t = k / steps;
    const t2 = t * t, t3 = t2 * t;
    const h00 = 2 * t3 - 3 * t2 + 1, h10 = t3 - 2 * t2 + t, h01 = -2 * t3 + 3 * t2, h11 = t3 - t2;
    pts.push([
      h00 * x0 + h10 * L * A.dx + h01 * x1 + h11 * L * -B.dx,
      h00 * y0 + h10 * L * A.dy + h01 * y1 + h11 * L * -B.dy,
    ]);
  }
  return pts;
}

/**
 * Build the guide on `lv` (any level; call on the one nearest GUIDE_SIDE).
 * Returns null when the level has no hole or no known pixel.
 */
export function buildGuide(lv: Level): Guide | null {
  const { w, h, hole, holeList } = lv;
  const n = w * h;
  if (holeList.length === 0 || holeList.length === n) return null;
  const blur = blurKnown(lv);
  const inv = new Uint8Array(n);
  for (let i = 0; i < n; i++) inv[i] = hole[i] === 0 ? 1 : 0;
  // distance outside the hole (chamfer thirds), and inside (0 outside)
  const outside = chamfer(inv, w, h);
  const inside = chamfer(hole, w, h);
  const crossings = findCrossings(lv, blur, inside, outside);
  const joins = pairCrossings(crossings);

  const wall = new Uint8Array(n);
  for (const [a, b] of joins) rasterise(wall, w, h, curvePoints(crossings[a], crossings[b]));

  // parts of the hole between the walls (4-connected), each filled from the rim pixels it touches
  const part = new Int32Array(n).fill(-1);
  let parts = 0;
  const stack: number[] = [];
  for (let k = 0; k < holeList.length; k++) {
    const s = holeList[k];
    if (wall[s] !== 0 || part[s] >= 0) continue;
    part[s] = parts;
    stack.push(s);
    while (stack.length > 0) {
      const i = stack.pop()!;
      const x = i % w;
      for (const j of [x > 0 ? i - 1 : -1, x < w - 1 ? i + 1 : -1, i - w, i + w]) {
        if (j < 0 || j >= n || hole[j] === 0 || wall[j] !== 0 || part[j] >= 0) continue;
        part[j] = parts;
        stack.push(j);
      }
    }
    parts++;
  }
  // rim pixels of each part: known, 4-adjacent to it, not on a wall
  const rims: number[][] = Array.from({ length: parts }, () => []);
  const mark = new Int32Array(n).fill(-1);
  for (let k = 0; k < holeList.length; k++) {
    const i = holeList[k];
    const p = part[i];
    if (p < 0) continue;
    const x = i % w;
    for (const j of [x > 0 ? i - 1 : -1, x < w - 1 ? i + 1 : -1, i - w, i + w]) {
      if (j < 0 || j >= n || hole[j] !== 0 || wall[j] !== 0 || mark[j] === p || Number.isNaN(blur[j * 3])) continue;
      mark[j] = p;
      rims[p].push(j);
    }
  }
  for (const r of rims) r.sort((a, b) => a - b);

  const img = new Uint8Array(n * 4);
  for (let i = 0; i < n; i++) {
    const o = i * 4;
    if (hole[i] === 0) {
      const b = i * 3;
      const ok = !Number.isNaN(blur[b]);
      img[o] = ok ? Math.round(blur[b]) : 0;
      img[o + 1] = ok ? Math.round(blur[b + 1]) : 0;
      img[o + 2] = ok ? Math.round(blur[b + 2]) : 0;
    }
    img[o + 3] = 255;
  }
  // Per part: the plane through its rim colours (least squares; a sky's
  // gradient goes on as a gradient), plus the rim's departures from that
  // plane spread inwards by inverse-distance (power 4) weights, from at most
  // 400 rim pixels.
  const est = new Float64Array(n * 3).fill(NaN);
  const planes = rims.map((rim) => fitPlane(rim, w, blur));
  // the sampled rim of each part: position and departure from the plane, 5 numbers a pixel
  const samples = rims.map((rim, p) => {
    const plane = planes[p];
    const step = Math.max(1, Math.floor(rim.length / 400));
    const out = new Float64Array(Math.ceil(rim.length / step) * 5);
    let o = 0;
    for (let q = 0; q < rim.length; q += step) {
      const j = rim[q];
      const jx = j % w, jy = (j / w) | 0;
      out[o++] = jx;
      out[o++] = jy;
      out[o++] = blur[j * 3] - plane[0] - plane[1] * jx - plane[2] * jy;
      out[o++] = blur[j * 3 + 1] - plane[3] - plane[4] * jx - plane[5] * jy;
      out[o++] = blur[j * 3 + 2] - plane[6] - plane[7] * jx - plane[8] * jy;
    }
    return out;
  });
  for (let k = 0; k < holeList.length; k++) {
    const i = holeList[k];
    const p = part[i];
    if (p < 0 || rims[p].length === 0) continue;
    const plane = planes[p];
    const smp = samples[p];
    const x = i % w, y = (i / w) | 0;
    let r = 0, g = 0, b = 0, s = 0;
    for (let o = 0; o < smp.length; o += 5) {
      const ddx = smp[o] - x, ddy = smp[o + 1] - y;
      const d2 = ddx * ddx + ddy * ddy + 0.25;
      const wt = 1 / (d2 * d2);
      r += wt * smp[o + 2];
      g += wt * smp[o + 3];
      b += wt * smp[o + 4];
      s += wt;
    }
    est[i * 3] = plane[0] + plane[1] * x + plane[2] * y + r / s;
    est[i * 3 + 1] = plane[3] + plane[4] * x + plane[5] * y + g / s;
    est[i * 3 + 2] = plane[6] + plane[7] * x + plane[8] * y + b / s;
  }
  // walls and rimless parts take the mean of their estimated neighbours, spreading inwards
  for (let round = 0; round < 8; round++) {
    let missing = 0;
    for (let k = 0; k < holeList.length; k++) {
      const i = holeList[k];
      if (!Number.isNaN(est[i * 3])) continue;
      const x = i % w;
      let r = 0, g = 0, b = 0, c = 0;
      for (const j of [x > 0 ? i - 1 : -1, x < w - 1 ? i + 1 : -1, i - w, i + w]) {
        if (j < 0 || j >= n || hole[j] === 0 || Number.isNaN(est[j * 3])) continue;
        r += est[j * 3];
        g += est[j * 3 + 1];
        b += est[j * 3 + 2];
        c++;
      }
      if (c === 0) {
        missing++;
        continue;
      }
      est[i * 3] = r / c;
      est[i * 3 + 1] = g / c;
      est[i * 3 + 2] = b / c;
    }
    if (missing === 0) break;
  }
  for (let k = 0; k < holeList.length; k++) {
    const i = holeList[k];
    const o = i * 4;
    for (let c = 0; c < 3; c++) {
      const v = est[i * 3 + c];
      img[o + c] = Number.isNaN(v) ? 128 : Math.round(v);
    }
  }
  return { w, h, img, crossings, joins };
}

/**
 * Least-squares plane c = a + b·x + c·y per channel through the rim pixels'
 * blurred colours: [a, b, c] for R, G, B. With too few or collinear pixels,
 * the flat mean.
 */
function fitPlane(rim: number[], w: number, blur: Float64Array): number[] {
  const out = [0, 0, 0, 0, 0, 0, 0, 0, 0];
  if (rim.length === 0) return out;
  let n = 0, sx = 0, sy = 0;
  for (const j of rim) {
    n++;
    sx += j % w;
    sy += (j / w) | 0;
  }
  const mx = sx / n, my = sy / n;
  let xx = 0, xy = 0, yy = 0;
  const cx = [0, 0, 0], cy = [0, 0, 0], mean = [0, 0, 0];
  for (const j of rim) {
    const x = (j % w) - mx, y = ((j / w) | 0) - my;
    xx += x * x;
    xy += x * y;
    yy += y * y;
    for (let c = 0; c < 3; c++) {
      const v = blur[j * 3 + c];
      mean[c] += v / n;
      cx[c] += x * v;
      cy[c] += y * v;
    }
  }
  const det = xx * yy - xy * xy;
  const flat = rim.length < 8 || det < 1e-6 * (xx + yy) * (xx + yy) + 1e-9;
  for (let c = 0; c < 3; c++) {
    const bx = flat ? 0 : (cx[c] * yy - cy[c] * xy) / det;
    const by = flat ? 0 : (cy[c] * xx - cx[c] * xy) / det;
    out[c * 3] = mean[c] - bx * mx - by * my;
    out[c * 3 + 1] = bx;
    out[c * 3 + 2] = by;
  }
  return out;
}

/** Halve a guide (2×2 means; the guide is defined everywhere, hole or not). */
export function halveGuide(src: Uint8Array, w: number, h: number): Uint8Array {
  const w2 = (w + 1) >> 1, h2 = (h + 1) >> 1;
  const out = new Uint8Array(w2 * h2 * 4);
  for (let y = 0; y < h2; y++) {
    for (let x = 0; x < w2; x++) {
      for (let c = 0; c < 4; c++) {
        let s = 0, k = 0;
        for (let dy = 0; dy < 2 && 2 * y + dy < h; dy++) {
          for (let dx = 0; dx < 2 && 2 * x + dx < w; dx++) {
            s += src[((2 * y + dy) * w + 2 * x + dx) * 4 + c];
            k++;
          }
        }
        out[(y * w2 + x) * 4 + c] = Math.round(s / k);
      }
    }
  }
  return out;
}

/** Bilinear enlargement of a guide to a finer level of size fw × fh (scale 2^k, pixel centres aligned). */
export function enlargeGuide(src: Uint8Array, w: number, h: number, fw: number, fh: number, k: number): Uint8Array {
  const out = new Uint8Array(fw * fh * 4);
  const scale = 1 / (1 << k);
  for (let y = 0; y < fh; y++) {
    let fy = (y + 0.5) * scale - 0.5;
    if (fy < 0) fy = 0;
    if (fy > h - 1) fy = h - 1;
    const y0 = Math.floor(fy), y1 = y0 + 1 < h ? y0 + 1 : y0, ty = fy - y0;
    for (let x = 0; x < fw; x++) {
      let fx = (x + 0.5) * scale - 0.5;
      if (fx < 0) fx = 0;
      if (fx > w - 1) fx = w - 1;
      const x0 = Math.floor(fx), x1 = x0 + 1 < w ? x0 + 1 : x0, tx = fx - x0;
      const a = (y0 * w + x0) * 4, b = (y0 * w + x1) * 4, c = (y1 * w + x0) * 4, d = (y1 * w + x1) * 4;
      const o = (y * fw + x) * 4;
      for (let ch = 0; ch < 3; ch++) {
        const top = src[a + ch] + (src[b + ch] - src[a + ch]) * tx;
        const bot = src[c + ch] + (src[d + ch] - src[c + ch]) * tx;
        out[o + ch] = Math.round(top + (bot - top) * ty);
      }
      out[o + 3] = 255;
    }
  }
  return out;
}
