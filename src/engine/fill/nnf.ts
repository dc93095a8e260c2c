/**
 * The nearest-neighbour field (NNF) and the two steps of each EM iteration:
 *
 * - PatchMatch (Barnes et al. 2009): for every target patch (a patch that
 *   overlaps the hole) find a similar source patch (one fully outside the
 *   hole) by propagating good matches from the scan-order neighbours and a
 *   random search in windows of halving radius around the current best.
 * - Voting (Wexler et al. 2007): every hole pixel becomes the weighted mean
 *   of the pixels that the source patches of all the target patches covering
 *   it put there. Weights fall off with the patch centre's distance into the
 *   hole (known surroundings are trusted more) and with the match distance.
 *
 * The NNF is stored per pixel as the index of the matched source patch
 * centre (-1 where the pixel is not a target centre); distances are integer
 * sums of squared byte differences, so the search is exact and deterministic.
 */
import type { Level, LevelInfo } from './level.js';
import type { Rng } from './rng.js';

/** Sum of squared RGB differences between two patches, stopping once it reaches `best`. */
function distRgb(img: Uint8Array, a: number, b: number, P: number, rowSkip: number, best: number): number {
  let d = 0;
  for (let j = 0; j < P; j++) {
    for (let i = 0; i < P; i++) {
      const d0 = img[a] - img[b];
      const d1 = img[a + 1] - img[b + 1];
      const d2 = img[a + 2] - img[b + 2];
      d += d0 * d0 + d1 * d1 + d2 * d2;
      a += 4;
      b += 4;
    }
    if (d >= best) return d;
    a += rowSkip;
    b += rowSkip;
  }
  return d;
}

/** distRgb for 7×7 patches, the inner row unrolled (the hot loop of the whole fill). */
function distRgb7(img: Uint8Array, a: number, b: number, _P: number, rowSkip: number, best: number): number {
  let d = 0;
  let e = 0;
  const stride = rowSkip + 28;
  for (let j = 0; j < 7; j++) {
    e = img[a + 0] - img[b + 0];
    d += e * e;
    e = img[a + 1] - img[b + 1];
    d += e * e;
    e = img[a + 2] - img[b + 2];
    d += e * e;
    e = img[a + 4] - img[b + 4];
    d += e * e;
    e = img[a + 5] - img[b + 5];
    d += e * e;
    e = img[a + 6] - img[b + 6];
    d += e * e;
    e = img[a + 8] - img[b + 8];
    d += e * e;
    e = img[a + 9] - img[b + 9];
    d += e * e;
    e = img[a + 10] - img[b + 10];
    d += e * e;
    e = img[a + 12] - img[b + 12];
    d += e * e;
    e = img[a + 13] - img[b + 13];
    d += e * e;
    e = img[a + 14] - img[b + 14];
    d += e * e;
    e = img[a + 16] - img[b + 16];
    d += e * e;
    e = img[a + 17] - img[b + 17];
    d += e * e;
    e = img[a + 18] - img[b + 18];
    d += e * e;
    e = img[a + 20] - img[b + 20];
    d += e * e;
    e = img[a + 21] - img[b + 21];
    d += e * e;
    e = img[a + 22] - img[b + 22];
    d += e * e;
    e = img[a + 24] - img[b + 24];
    d += e * e;
    e = img[a + 25] - img[b + 25];
    d += e * e;
    e = img[a + 26] - img[b + 26];
    d += e * e;
    if (d >= best) return d;
    a += stride;
    b += stride;
  }
  return d;
}

/** As distRgb, with alpha as a fourth channel (images whose alpha varies). */
function distRgba(img: Uint8Array, a: number, b: number, P: number, rowSkip: number, best: number): number {
  let d = 0;
  for (let j = 0; j < P; j++) {
    for (let i = 0; i < P; i++) {
      const d0 = img[a] - img[b];
      const d1 = img[a + 1] - img[b + 1];
      const d2 = img[a + 2] - img[b + 2];
      const d3 = img[a + 3] - img[b + 3];
      d += d0 * d0 + d1 * d1 + d2 * d2 + d3 * d3;
      a += 4;
      b += 4;
    }
    if (d >= best) return d;
    a += rowSkip;
    b += rowSkip;
  }
  return d;
}

const NO_LIMIT = 0x7fffffff;

/**
 * The structure guide's say in a patch distance (structure.ts): squared RGB
 * differences of the guide at 3×3 points of the two patches (corners, edge
 * middles, centre), times GUIDE_WEIGHT. Nine points are enough because the
 * guide is blurred; 9 × 5 ≈ 49, so it weighs about as much as the colours of
 * the whole patch. Integer, like the colour distance.
 */
export const GUIDE_WEIGHT = 5;

export interface GuideField {
  /** RGBA guide of this level (same size); null: no guide, only a source bias */
  img: Uint8Array | null;
  /** byte offsets of the nine sample points from a patch centre */
  taps: Int32Array;
  /** a variant's cost for using the source patch centred at each pixel (see variation.ts); null: none */
  bias: Int32Array | null;
}

export function guideField(img: Uint8Array | null, w: number, r: number, bias: Int32Array | null = null): GuideField {
  const taps = new Int32Array(9);
  let k = 0;
  for (let dy = -r; dy <= r; dy += r) for (let dx = -r; dx <= r; dx += r) taps[k++] = (dy * w + dx) * 4;
  return { img, taps, bias };
}

/** Guide distance between the patches centred at pixels p and q, plus the source bias of q. */
export function guideDist(g: GuideField, p: number, q: number): number {
  const { img, taps, bias } = g;
  const extra = bias === null ? 0 : bias[q];
  if (img === null) return extra;
  const a = p << 2;
  const b = q << 2;
  let d = 0;
  for (let k = 0; k < 9; k++) {
    const ta = a + taps[k];
    const tb = b + taps[k];
    const e0 = img[ta] - img[tb];
    const e1 = img[ta + 1] - img[tb + 1];
    const e2 = img[ta + 2] - img[tb + 2];
    d += e0 * e0 + e1 * e1 + e2 * e2;
  }
  return d * GUIDE_WEIGHT + extra;
}

/** Random NNF: every target gets a uniformly drawn valid source patch. */
export function randomNnf(level: Level, info: LevelInfo, rng: Rng): Int32Array {
  const nnf = new Int32Array(level.w * level.h).fill(-1);
  const { targets, validList } = info;
  const nv = validList.length;
  for (let k = 0; k < targets.length; k++) nnf[targets[k]] = validList[rng.int(nv)];
  return nnf;
}

/**
 * Carry a coarse NNF to the next finer level: the fine target at (x, y)
 * takes its coarse parent's source, doubled, plus the same sub-pixel offset.
 * Where that is not a valid fine source (borders), a random valid one.
 */
export function upsampleNnf(
  coarse: Level,
  cinfo: LevelInfo,
  cnnf: Int32Array,
  fine: Level,
  finfo: LevelInfo,
  rng: Rng,
): Int32Array {
  const cw = coarse.w;
  const ch = coarse.h;
  const fw = fine.w;
  const fh = fine.h;
  const cr = cinfo.r;
  const fr = finfo.r;
  const nnf = new Int32Array(fw * fh).fill(-1);
  const { targets, validSrc, validList } = finfo;
  const nv = validList.length;
  for (let k = 0; k < targets.length; k++) {
    const p = targets[k];
    const y = (p / fw) | 0;
    const x = p - y * fw;
    let cx = x >> 1;
    let cy = y >> 1;
    if (cx < cr) cx = cr;
    if (cx > cw - 1 - cr) cx = cw - 1 - cr;
    if (cy < cr) cy = cr;
    if (cy > ch - 1 - cr) cy = ch - 1 - cr;
    const cs = cnnf[cy * cw + cx];
    let s = -1;
    if (cs >= 0) {
      const sy0 = (cs / cw) | 0;
      const sx0 = cs - sy0 * cw;
      let sx = 2 * sx0 + (x - 2 * cx);
      let sy = 2 * sy0 + (y - 2 * cy);
      if (sx < fr) sx = fr;
      if (sx > fw - 1 - fr) sx = fw - 1 - fr;
      if (sy < fr) sy = fr;
      if (sy > fh - 1 - fr) sy = fh - 1 - fr;
      const c = sy * fw + sx;
      if (validSrc[c] === 1) s = c;
    }
    nnf[p] = s >= 0 ? s : validList[rng.int(nv)];
  }
  return nnf;
}

/** Full patch distances of the current matches against the current image. */
export function computeDistances(
  level: Level,
  info: LevelInfo,
  nnf: Int32Array,
  nnd: Int32Array,
  useAlpha: boolean,
  guide: GuideField | null = null,
): void {
  const w = level.w;
  const r = info.r;
  const P = 2 * r + 1;
  const rowSkip = (w - P) * 4;
  const tl = r * w + r;
  const img = level.img;
  const targets = info.targets;
  for (let k = 0; k < targets.length; k++) {
    const p = targets[k];
    const a = (p - tl) << 2;
    const b = (nnf[p] - tl) << 2;
    const gd = guide ? guideDist(guide, p, nnf[p]) : 0;
    nnd[p] =
      gd +
      (useAlpha
        ? distRgba(img, a, b, P, rowSkip, NO_LIMIT)
        : P === 7
          ? distRgb7(img, a, b, P, rowSkip, NO_LIMIT)
          : distRgb(img, a, b, P, rowSkip, NO_LIMIT));
  }
}

/**
 * One PatchMatch pass over the targets, in scan order (or reverse scan order):
 * propagation from the already-visited horizontal and vertical neighbours,
 * then random search around the best match with radius maxRadius, halving
 * down to 1. `nnd` must hold the distances of the current matches.
 */
export function patchMatchPass(
  level: Level,
  info: LevelInfo,
  nnf: Int32Array,
  nnd: Int32Array,
  rng: Rng,
  reverse: boolean,
  maxRadius: number,
  useAlpha: boolean,
  guide: GuideField | null = null,
): void {
  const w = level.w;
  const h = level.h;
  const r = info.r;
  const P = 2 * r + 1;
  const rowSkip = (w - P) * 4;
  const tl = r * w + r;
  const img = level.img;
  const { targets, validSrc } = info;
  const maxX = w - 1 - r;
  const maxY = h - 1 - r;
  const n = targets.length;
  const sh = reverse ? -1 : 1;
  const sv = reverse ? -w : w;
  const dist = useAlpha ? distRgba : P === 7 ? distRgb7 : distRgb;
  // the guide's part first: it is cheap, and often already enough to reject
  const cost = guide
    ? (pa: number, p: number, c: number, bestD: number): number => {
        const gd = guideDist(guide, p, c);
        return gd >= bestD ? gd : gd + dist(img, pa, (c - tl) << 2, P, rowSkip, bestD - gd);
      }
    : (pa: number, _p: number, c: number, bestD: number): number => dist(img, pa, (c - tl) << 2, P, rowSkip, bestD);
  for (let k = reverse ? n - 1 : 0; reverse ? k >= 0 : k < n; k += sh) {
    const p = targets[k];
    let best = nnf[p];
    let bestD = nnd[p];
    const pa = (p - tl) << 2;
    if (bestD === 0) continue;
    // propagation: the neighbour's match, shifted by one pixel
    let q = nnf[p - sh];
    if (q >= 0) {
      const c = q + sh;
      if (c !== best && validSrc[c] === 1) {
        const d = cost(pa, p, c, bestD);
        if (d < bestD) {
          best = c;
          bestD = d;
        }
      }
    }
    q = nnf[p - sv];
    if (q >= 0) {
      const c = q + sv;
      if (c !== best && validSrc[c] === 1) {
        const d = cost(pa, p, c, bestD);
        if (d < bestD) {
          best = c;
          bestD = d;
        }
      }
    }
    // random search in shrinking windows around the best match so far
    if (bestD > 0) {
      const by = (best / w) | 0;
      const bx = best - by * w;
      for (let R = maxRadius; R >= 1; R >>= 1) {
        const xlo = bx - R > r ? bx - R : r;
        const xhi = bx + R < maxX ? bx + R : maxX;
        const ylo = by - R > r ? by - R : r;
        const yhi = by + R < maxY ? by + R : maxY;
        const x = xlo + rng.int(xhi - xlo + 1);
        const y = ylo + rng.int(yhi - ylo + 1);
        const c = y * w + x;
        if (c === best || validSrc[c] !== 1) continue;
        const d = cost(pa, p, c, bestD);
        if (d < bestD) {
          best = c;
          bestD = d;
          if (d === 0) break;
        }
      }
    }
    nnf[p] = best;
    nnd[p] = bestD;
  }
}

/** e^-x for 0 <= x, from + - * / only (bit-identical everywhere, unlike a libm exp). */
export function expNeg(x: number): number {
  if (!(x > 0)) return 1;
  if (x > 700) return 0;
  const LN2 = 0.6931471805599453;
  let k = Math.floor(x / LN2);
  const t = x - k * LN2; // [0, ln2)
  // Taylor series of e^-t, Horner form; 16 terms is exact to double precision for t < ln2
  let e = 1;
  for (let i = 16; i >= 1; i--) e = 1 - (t / i) * e;
  for (; k > 0; k--) e *= 0.5; // exact scaling by powers of two
  return e;
}

/**
 * Confidence of a patch centre at chamfer distance d (thirds of a pixel)
 * into the hole: 1.3^-(distance in pixels), as in Wexler et al. Built by
 * repeated multiplication so it is bit-identical everywhere. Capped: all that
 * matters is the ratio between the patches covering one pixel, whose
 * distances differ by at most a patch width.
 */
const CONF_CAP = 3 * 200;
const CONF = (() => {
  const t = new Float64Array(CONF_CAP + 1);
  const f = 0.9162603270741789; // 1.3^(-1/3): one chamfer unit is a third of a pixel
  t[0] = 1;
  for (let i = 1; i <= CONF_CAP; i++) t[i] = t[i - 1] * f;
  return t;
})();

/**
 * Voting weights per target: confidence, times (when `similarity`) the
 * match quality e^(-d / 2σ²) with σ² the 75th percentile of the match
 * distances (Wexler et al.).
 */
export function voteWeights(level: Level, info: LevelInfo, nnd: Int32Array, similarity: boolean, out: Float64Array): void {
  const { targets, dist } = info;
  const n = targets.length;
  let inv2s2 = 0;
  if (similarity && n > 0) {
    const ds = new Int32Array(n);
    for (let k = 0; k < n; k++) ds[k] = nnd[targets[k]];
    ds.sort();
    const s2 = ds[Math.min(n - 1, Math.floor(n * 0.75))];
    inv2s2 = 1 / (2 * (s2 > 1 ? s2 : 1));
  }
  for (let k = 0; k < n; k++) {
    const p = targets[k];
    const dd = dist[p];
    let wgt = CONF[dd < CONF_CAP ? dd : CONF_CAP];
    if (similarity) {
      const x = nnd[p] * inv2s2;
      wgt *= expNeg(x < 20 ? x : 20);
    }
    out[p] = wgt;
  }
}

/**
 * Voting: each hole pixel becomes the weighted mean, over the target patches
 * covering it, of what their source patches hold at the same place. Source
 * pixels are never hole pixels, so the image can be updated in place.
 */
export function vote(level: Level, info: LevelInfo, nnf: Int32Array, weights: Float64Array, rimOnly = Infinity): void {
  const { w, h, img, holeList } = level;
  const { r, dist } = info;
  const rim3 = rimOnly * 3; // chamfer units
  for (let k = 0; k < holeList.length; k++) {
    const q = holeList[k];
    if (dist[q] >= rim3) continue;
    const y = (q / w) | 0;
    const x = q - y * w;
    const dyMin = -r > y - (h - 1 - r) ? -r : y - (h - 1 - r);
    const dyMax = r < y - r ? r : y - r;
    const dxMin = -r > x - (w - 1 - r) ? -r : x - (w - 1 - r);
    const dxMax = r < x - r ? r : x - r;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let sw = 0;
    for (let dy = dyMin; dy <= dyMax; dy++) {
      const rowOff = dy * w;
      for (let dx = dxMin; dx <= dxMax; dx++) {
        const off = rowOff + dx;
        const p = q - off;
        const wt = weights[p];
        const s = (nnf[p] + off) << 2;
        s0 += wt * img[s];
        s1 += wt * img[s + 1];
        s2 += wt * img[s + 2];
        s3 += wt * img[s + 3];
        sw += wt;
      }
    }
    if (!(sw > 0)) continue;
    const b = q << 2;
    const inv = 1 / sw;
    img[b] = Math.round(s0 * inv);
    img[b + 1] = Math.round(s1 * inv);
    img[b + 2] = Math.round(s2 * inv);
    img[b + 3] = Math.round(s3 * inv);
  }
}

/**
 * Sharp final pass. Voting averages up to 49 slightly misaligned copies and
 * so loses fine grain; here each hole pixel instead copies the centre pixel
 * of its own patch's match (pixels within r of the border use the nearest
 * patch centre, offset accordingly). Where the field is coherent this is an
 * exact copy of a source region, grain included. Within `ramp` pixels of
 * the hole's rim the voted value (call after vote()) is blended in, so the
 * seam with the surroundings stays as soft as voting makes it.
 */
export function sharpen(level: Level, info: LevelInfo, nnf: Int32Array, ramp: number): void {
  const { w, h, img, holeList } = level;
  const { r, dist } = info;
  const ramp3 = ramp * 3; // chamfer units
  for (let k = 0; k < holeList.length; k++) {
    const q = holeList[k];
    const y = (q / w) | 0;
    const x = q - y * w;
    const cx = x < r ? r : x > w - 1 - r ? w - 1 - r : x;
    const cy = y < r ? r : y > h - 1 - r ? h - 1 - r : y;
    const p = cy * w + cx;
    const s = (nnf[p] + (q - p)) << 2;
    const b = q << 2;
    const d = dist[q];
    if (d >= ramp3) {
      img[b] = img[s];
      img[b + 1] = img[s + 1];
      img[b + 2] = img[s + 2];
      img[b + 3] = img[s + 3];
    } else {
      const t = d / ramp3;
      for (let c = 0; c < 4; c++) img[b + c] = Math.round(img[b + c] + (img[s + c] - img[b + c]) * t);
    }
  }
}
