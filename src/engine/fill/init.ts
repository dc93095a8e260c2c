/**
 * First guess for the coarsest level: greedy inward synthesis, one pixel at
 * a time, most-constrained first (the confidence term of Criminisi, Pérez &
 * Toyama 2004). The next pixel filled is always one whose patch holds the
 * most known pixels; it copies the centre of the source patch that best
 * matches that known part (sum of squared differences over known pixels
 * only). Corners and concave parts of the rim go first, where the known
 * part pins down the phase of a texture, and the copies of filled neighbours
 * are always tried, so structures that reach the hole (a horizon, a road, a
 * fence) are continued coherently inwards. The EM iterations then start near
 * a plausible solution instead of from a blend of colours that exist nowhere
 * in the picture, which they cannot escape.
 */
import type { Level, LevelInfo } from './level.js';
import type { Rng } from './rng.js';
import { guideDist, type GuideField } from './nnf.js';

/** Up to this many (hole pixel × source patch) pairs, search exhaustively; above, at random. */
const EXHAUSTIVE_LIMIT = 1_500_000;
/** Random candidates per pixel: 128, fewer for huge holes (coherent copies carry most of the fill there). */
const RANDOM_BUDGET = 8_000_000;
/** Poll for cancellation every this many pixels. */
const POLL_EVERY = 4096;

export function greedyFill(level: Level, info: LevelInfo, rng: Rng, useAlpha: boolean, poll: () => void, guide: GuideField | null = null): void {
  const { w, h, img, hole, holeList } = level;
  const { r, validList, validSrc } = info;
  const nv = validList.length;
  const nh = holeList.length;
  if (nv === 0 || nh === 0) return;
  const known = new Uint8Array(w * h);
  for (let i = 0; i < known.length; i++) known[i] = hole[i] === 0 ? 1 : 0;
  /** source pixel each filled pixel was copied from (-1: original or not yet filled) */
  const from = new Int32Array(w * h).fill(-1);
  const exhaustive = nh * nv <= EXHAUSTIVE_LIMIT;
  const randomCandidates = Math.max(8, Math.min(128, Math.floor(RANDOM_BUDGET / nh)));
  const nc = useAlpha ? 4 : 3;
  const maxX = w - 1 - r;
  const maxY = h - 1 - r;
  const P = 2 * r + 1;

  // known pixels in the (2r+1)² window around every hole pixel
  const count = new Int32Array(w * h);
  for (let k = 0; k < nh; k++) {
    const q = holeList[k];
    const y = (q / w) | 0;
    const x = q - y * w;
    let c = 0;
    for (let yy = y - r > 0 ? y - r : 0; yy <= y + r && yy < h; yy++) {
      for (let xx = x - r > 0 ? x - r : 0; xx <= x + r && xx < w; xx++) c += known[yy * w + xx];
    }
    count[q] = c;
  }
  // bucket queue keyed by count, lazily updated: an entry is stale when its
  // pixel is filled or its count has moved on. Counts only grow, so every
  // pixel enters at most P² + 1 times; the entries live in a growable pool.
  let next = new Int32Array(nh * 4);
  let pixel = new Int32Array(nh * 4);
  const head = new Int32Array(P * P + 1).fill(-1);
  let used = 0;
  const push = (q: number, c: number): void => {
    if (used === pixel.length) {
      const n2 = new Int32Array(used * 2);
      n2.set(next);
      next = n2;
      const p2 = new Int32Array(used * 2);
      p2.set(pixel);
      pixel = p2;
    }
    pixel[used] = q;
    next[used] = head[c];
    head[c] = used++;
  };
  for (let k = nh - 1; k >= 0; k--) if (count[holeList[k]] > 0) push(holeList[k], count[holeList[k]]);
  let top = P * P;

  // masked SSD between the patch centred at p (known pixels only) and the source patch at s
  // (the guide is known everywhere, so it speaks for the unknown pixels too)
  const masked = (p: number, s: number, best: number): number => {
    let d = guide ? guideDist(guide, p, s) : 0;
    if (d >= best) return d;
    for (let dy = -r; dy <= r; dy++) {
      const rowP = p + dy * w;
      const rowS = s + dy * w;
      for (let dx = -r; dx <= r; dx++) {
        const a = rowP + dx;
        if (known[a] === 0) continue;
        const ab = a << 2;
        const bb = (rowS + dx) << 2;
        for (let c = 0; c < nc; c++) {
          const e = img[ab + c] - img[bb + c];
          d += e * e;
        }
      }
      if (d >= best) return d;
    }
    return d;
  };
  let p = 0;
  let best = -1;
  let bestD = 0x7fffffff;
  const consider = (s: number): void => {
    if (s === best) return;
    const d = masked(p, s, bestD);
    if (d < bestD) {
      bestD = d;
      best = s;
    }
  };

  for (let filled = 0; filled < nh; ) {
    while (top > 0 && head[top] < 0) top--;
    if (top === 0) break; // nothing touches a known pixel: cannot happen while one exists
    const e = head[top];
    head[top] = next[e];
    const q = pixel[e];
    if (known[q] !== 0 || count[q] !== top) continue;
    const y = (q / w) | 0;
    const x = q - y * w;
    // the patch around q, kept inside the image
    const cx = x < r ? r : x > maxX ? maxX : x;
    const cy = y < r ? r : y > maxY ? maxY : y;
    p = cy * w + cx;
    best = -1;
    bestD = 0x7fffffff;
    // coherent candidates first: continue the copies of filled neighbours
    for (let dy = -1; dy <= 1; dy++) {
      const yy = y + dy;
      if (yy < 0 || yy >= h) continue;
      for (let dx = -1; dx <= 1; dx++) {
        const xx = x + dx;
        if (xx < 0 || xx >= w) continue;
        const f = from[yy * w + xx];
        if (f < 0) continue;
        // q's source pixel is the neighbour's shifted back by (dx, dy); its patch centre by (cx - x, cy - y)
        const fy = (f / w) | 0;
        const sx = f - fy * w - dx + cx - x;
        const sy = fy - dy + cy - y;
        if (sx < r || sx > maxX || sy < r || sy > maxY) continue;
        const s = sy * w + sx;
        if (validSrc[s] === 1) consider(s);
      }
    }
    if (exhaustive) {
      for (let j = 0; j < nv && bestD > 0; j++) consider(validList[j]);
    } else {
      for (let j = 0; j < randomCandidates && bestD > 0; j++) consider(validList[rng.int(nv)]);
      // local refinement around the best, halving radius
      if (best < 0) best = validList[rng.int(nv)];
      const by = (best / w) | 0;
      const bx = best - by * w;
      for (let R = w > h ? w >> 2 : h >> 2; R >= 1 && bestD > 0; R >>= 1) {
        const xlo = bx - R > r ? bx - R : r;
        const xhi = bx + R < maxX ? bx + R : maxX;
        const ylo = by - R > r ? by - R : r;
        const yhi = by + R < maxY ? by + R : maxY;
        const s = (ylo + rng.int(yhi - ylo + 1)) * w + xlo + rng.int(xhi - xlo + 1);
        if (validSrc[s] === 1) consider(s);
      }
    }
    const src = best + (q - p);
    const qb = q << 2;
    const sb = src << 2;
    img[qb] = img[sb];
    img[qb + 1] = img[sb + 1];
    img[qb + 2] = img[sb + 2];
    img[qb + 3] = img[sb + 3];
    known[q] = 1;
    from[q] = src;
    filled++;
    if (filled % POLL_EVERY === 0) poll();
    // the hole pixels around q gained a known pixel
    for (let yy = y - r > 0 ? y - r : 0; yy <= y + r && yy < h; yy++) {
      for (let xx = x - r > 0 ? x - r : 0; xx <= x + r && xx < w; xx++) {
        const o = yy * w + xx;
        if (known[o] !== 0) continue;
        const c = ++count[o];
        push(o, c);
        if (c > top) top = c;
      }
    }
  }
}
