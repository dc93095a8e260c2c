/**
 * Content-aware fill ("remove this") without a neural network: patch-based
 * image completion as photo editors do it.
 *
 * The hole is filled coarse to fine over an image pyramid (Wexler, Shechtman
 * & Irani 2007, "Space-Time Completion of Video"). At each level a few EM
 * iterations alternate
 *   1. PatchMatch (Barnes, Shechtman, Finkelstein & Goldman 2009): a
 *      nearest-neighbour field from every 7×7 patch overlapping the hole to
 *      a similar patch lying wholly in the known part of the image, found by
 *      propagation and random search in alternating scan order (nnf.ts), and
 *   2. voting: each hole pixel becomes the weighted mean of what the matched
 *      patches covering it say it should be, patches deeper in the hole and
 *      worse matches counting less.
 * The coarsest level (where the hole is about two patches across, but not
 * below 64 px) starts from a greedy most-constrained-first synthesis
 * (init.ts) and a random field; each finer level starts from the coarser
 * field, doubled (and, at full size, from the coarser picture enlarged,
 * not voted: the vote there costs 49 taps a pixel). At full size the last
 * pass copies each pixel from its own patch's match instead of averaging,
 * which keeps grain and fine texture (voting blurs them), blending into the
 * vote near the rim.
 *
 * Seeds other than 0 also prefer their own parts of the picture as sources
 * on the coarsest level (variation.ts), so that fills with different seeds
 * differ visibly in the shapes they continue, not only in noise.
 *
 * Pure and synchronous; all randomness comes from `options.seed`, and all
 * arithmetic is integer, or float64 in a fixed order with only + - * /, so
 * the same input and seed give the same bytes everywhere.
 */
import type { RgbaImage } from '../types.js';
import { analyse, countValidSources, downsample, holeHalfWidth, listHole, type Level } from './level.js';
import { greedyFill } from './init.js';
import { computeDistances, guideField, patchMatchPass, randomNnf, sharpen, upsampleNnf, vote, voteWeights } from './nnf.js';
import { buildGuide, enlargeGuide, GUIDE_SIDE, halveGuide } from './structure.js';
import { Rng } from './rng.js';
import { smoothFill } from './smooth.js';
import { biasGrid, levelBias } from './variation.js';

export interface FillOptions {
  /** all randomness comes from a PRNG seeded with this */
  seed: number;
  /**
   * Called once per pyramid level, coarse to fine, with that level's result
   * upsampled to full size and composited over the input (pixels outside the
   * hole are the original). The last call carries the final result.
   */
  onScale?: (result: RgbaImage, scaleIndex: number, scaleCount: number) => void;
  /** polled between iterations; when it answers true the fill throws FillCancelledError */
  shouldStop?: () => boolean;
}

export class FillCancelledError extends Error {
  constructor() {
    super('content-aware fill cancelled');
    this.name = 'FillCancelledError';
  }
}

/**
 * Patch radius: 7×7 patches, the usual size for photo completion (Barnes et
 * al., Wexler et al.): enough context to carry structure and to pin down the
 * phase of a texture, small enough to find good matches in a small known area.
 */
const PATCH_RADIUS = 3;
/** Descend the pyramid until the hole's half-width (largest distance into it) is at most this many pixels. */
const COARSEST_HALF_WIDTH = 2 * PATCH_RADIUS + 1;
/** …but never below this side, nor with fewer valid source patches than this. */
const MIN_LEVEL_SIDE = 64;
const MIN_VALID_SOURCES = 32;

/**
 * EM iterations at pyramid level `li` (0 = full size) of `count`: many at
 * the coarsest level, which is cheap and where the structure is decided, few
 * at the large fine levels, which mostly refine detail (one each at full
 * and half size: a second one at half size moved the bench's errors by
 * less than 0.2 level, either way, for a tenth of the fill's work). Small
 * levels get up to three times more; a level with a huge hole (no coarser
 * level could be used) fewer, to bound the time, but at least one.
 */
function emIterations(li: number, count: number, targets: number): number {
  const base = li === count - 1 ? 8 : li <= 1 ? 1 : 4;
  const t = Math.max(1, targets);
  if (t * base > EM_MAX_WORK) return Math.max(1, Math.floor(EM_MAX_WORK / t));
  return Math.min(3 * base, Math.max(base, Math.floor(EM_SMALL_WORK / t)));
}
/** target patches × iterations under which a level counts as small */
const EM_SMALL_WORK = 30_000;
/** target patches × iterations above which a level's iterations are cut */
const EM_MAX_WORK = 1_000_000;

/**
 * Largest random-search radius at level `li` of `count`. The coarse levels
 * search the whole image and the next finest level an eighth of it; at full
 * size, whose field comes up from that level already settled to within a
 * pixel or two, the search only polishes it: draws within FINE_SEARCH_RADIUS
 * (4, 2 and 1 px from the match) after the propagation. With a 25% hole in
 * 1024² the draws further out (128 … 8 px) were a third of the patch rows
 * computed there and changed the error by less than 0.1 level on the
 * bench's scenes.
 */
function searchRadius(li: number, count: number, w: number, h: number): number {
  const side = Math.max(w, h);
  if (count <= 2 || li > 1) return side;
  if (li === 1) return side >> 3;
  return FINE_SEARCH_RADIUS;
}
const FINE_SEARCH_RADIUS = 4;

/** PatchMatch passes per EM iteration: two at the coarsest level (cheap, and the field starts random), else one. */
function pmPasses(li: number, count: number): number {
  return li === count - 1 ? 2 : 1;
}

/**
 * Fill the pixels where `hole` is non-zero from the rest of the image.
 * Pixels outside the hole are returned unchanged, byte for byte.
 */
export function contentAwareFill(image: RgbaImage, hole: Uint8Array, options: FillOptions): RgbaImage {
  const { width: w, height: h, data } = image;
  if (!Number.isInteger(w) || !Number.isInteger(h) || w < 1 || h < 1) {
    throw new RangeError(`contentAwareFill: bad image size ${w}x${h}`);
  }
  if (data.length !== w * h * 4) throw new RangeError('contentAwareFill: image data is not width*height*4 bytes');
  if (hole.length !== w * h) throw new RangeError('contentAwareFill: hole is not width*height entries');

  const n = w * h;
  const out = new Uint8ClampedArray(data);
  const mask = new Uint8Array(n);
  for (let i = 0; i < n; i++) mask[i] = hole[i] !== 0 ? 1 : 0;
  const holeList = listHole(mask);
  if (holeList.length === 0) return { width: w, height: h, data: out };

  const stop = (): void => {
    if (options.shouldStop?.()) throw new FillCancelledError();
  };
  const report = (result: Uint8ClampedArray, index: number, count: number): void => {
    options.onScale?.({ width: w, height: h, data: result }, index, count);
  };

  // level 0: the input with the hole blanked (nothing under the hole is ever read)
  const img0 = new Uint8Array(n * 4);
  img0.set(data);
  for (let k = 0; k < holeList.length; k++) img0.fill(0, holeList[k] << 2, (holeList[k] << 2) + 4);
  const level0: Level = { w, h, img: img0, hole: mask, holeList };

  // is the known alpha constant? then match on RGB only and give the hole that alpha
  let alpha = -1;
  let alphaVaries = false;
  for (let i = 0; i < n; i++) {
    if (mask[i] !== 0) continue;
    const a = data[(i << 2) + 3];
    if (alpha < 0) alpha = a;
    else if (a !== alpha) {
      alphaVaries = true;
      break;
    }
  }

  stop();
  // Patch radius: 3, smaller only when the image or its known part cannot
  // hold a single 7×7 patch; with no whole patch at all, a smooth fill.
  let r = Math.min(PATCH_RADIUS, (Math.min(w, h) - 1) >> 1);
  while (r >= 1 && countValidSources(level0, r) === 0) r--;
  if (r < 1) {
    smoothFill(img0, mask, w, h);
    compose(out, level0, alphaVaries ? -1 : alpha);
    report(new Uint8ClampedArray(out), 0, 1);
    return { width: w, height: h, data: out };
  }

  // The pyramid. When the known part is too thin to hold enough whole 7×7
  // patches at a coarse level (a hole covering nearly everything), that
  // level uses smaller patches rather than stopping the descent, so the
  // expensive search never runs on a huge hole at full size.
  const levels: Level[] = [level0];
  const radii: number[] = [r];
  for (;;) {
    const cur = levels[levels.length - 1];
    const rc = radii[radii.length - 1];
    if (holeHalfWidth(cur) <= COARSEST_HALF_WIDTH) break;
    if (Math.min(cur.w, cur.h) < 2 * MIN_LEVEL_SIDE) break;
    const next = downsample(cur);
    let rn = rc;
    let valid = countValidSources(next, rn);
    while (rn > 1 && valid < MIN_VALID_SOURCES) valid = countValidSources(next, --rn);
    if (valid < Math.min(MIN_VALID_SOURCES, countValidSources(cur, rc))) break;
    levels.push(next);
    radii.push(rn);
  }

  const guides = levelGuides(levels);
  const bias = biasGrid(options.seed, w, h);
  const rng = new Rng(options.seed);
  const count = levels.length;
  let pass = 0;
  let prev: { level: Level; info: ReturnType<typeof analyse>; nnf: Int32Array } | null = null;
  for (let li = count - 1; li >= 0; li--) {
    stop();
    const lv = levels[li];
    const info = analyse(lv, radii[li]);
    const nnd = new Int32Array(lv.w * lv.h);
    const weights = new Float64Array(lv.w * lv.h);
    let nnf: Int32Array;
    // a variant's source preference, on the coarsest level only (variation.ts)
    const lb = bias && li === count - 1 ? levelBias(bias, lv.w, lv.h, info.r, alphaVaries ? 4 : 3) : null;
    const guide = guides[li] || lb ? guideField(guides[li] ?? null, lv.w, info.r, lb) : null;
    if (prev === null) {
      greedyFill(lv, info, rng, alphaVaries, stop, guide);
      nnf = randomNnf(lv, info, rng);
    } else {
      nnf = upsampleNnf(prev.level, prev.info, prev.nnf, lv, info, rng);
      // full size: start from the level above, enlarged (a vote here would
      // cost 49 taps a pixel and is replaced by the last pass's anyway)
      if (li === 0) enlargeInto(lv, prev.level);
      else {
        voteWeights(lv, info, nnd, false, weights);
        vote(lv, info, nnf, weights);
      }
    }
    const maxRadius = searchRadius(li, count, lv.w, lv.h);
    const iters = emIterations(li, count, info.targets.length);
    const passes = pmPasses(li, count);
    for (let it = 0; it < iters; it++) {
      stop();
      computeDistances(lv, info, nnf, nnd, alphaVaries, guide);
      for (let ps = 0; ps < passes; ps++) {
        patchMatchPass(lv, info, nnf, nnd, rng, (pass++ & 1) === 1, maxRadius, alphaVaries, guide);
      }
      stop();
      voteWeights(lv, info, nnd, true, weights);
      if (li === 0 && it === iters - 1) {
        // last pass: vote only where the rim blend needs it, then copy sharply
        const ramp = 2 * r + 1;
        vote(lv, info, nnf, weights, ramp);
        sharpen(lv, info, nnf, ramp);
      } else vote(lv, info, nnf, weights);
    }
    if (li > 0) {
      if (options.onScale) report(preview(data, level0, lv, li, alphaVaries ? -1 : alpha), count - 1 - li, count);
    }
    prev = { level: lv, info, nnf };
  }

  compose(out, level0, alphaVaries ? -1 : alpha);
  if (options.onScale) report(new Uint8ClampedArray(out), count - 1, count);
  return { width: w, height: h, data: out };
}

/**
 * The structure guide for every level: built on the finest level at most
 * GUIDE_SIDE across (or the coarsest there is), halved for the coarser
 * levels and enlarged for the finer ones. Null where there is no guide.
 */
/**
 * The finest level that uses the guide. Below it the field comes up from
 * the coarser levels with the structure already decided, and those levels
 * only refine detail, which the colours alone do well; the guide there
 * would cost a third of the fill's time.
 */
const GUIDE_FINEST = 1;

function levelGuides(levels: Level[]): (Uint8Array | null)[] {
  let gl = levels.length - 1;
  for (let li = 0; li < levels.length; li++) {
    if (Math.max(levels[li].w, levels[li].h) <= GUIDE_SIDE) {
      gl = li;
      break;
    }
  }
  const out: (Uint8Array | null)[] = levels.map(() => null);
  const g = buildGuide(levels[gl]);
  if (g === null) return out;
  out[gl] = g.img;
  for (let li = gl + 1; li < levels.length; li++) out[li] = halveGuide(out[li - 1]!, levels[li - 1].w, levels[li - 1].h);
  for (let li = gl - 1; li >= GUIDE_FINEST; li--) out[li] = enlargeGuide(g.img, g.w, g.h, levels[li].w, levels[li].h, gl - li);
  return out;
}

/** Copy the hole pixels of the full-size level into the output (alpha forced to `alpha` when >= 0). */
function compose(out: Uint8ClampedArray, level0: Level, alpha: number): void {
  const { img, holeList } = level0;
  for (let k = 0; k < holeList.length; k++) {
    const b = holeList[k] << 2;
    out[b] = img[b];
    out[b + 1] = img[b + 1];
    out[b + 2] = img[b + 2];
    out[b + 3] = alpha >= 0 ? alpha : img[b + 3];
  }
}

/** A coarse level's result at full size: bilinear inside the hole, the input outside it. */
function preview(data: Uint8ClampedArray, level0: Level, lv: Level, li: number, alpha: number): Uint8ClampedArray {
  const res = new Uint8ClampedArray(data);
  bilinearHole(res, level0.w, level0.holeList, lv, 1 / (1 << li));
  if (alpha >= 0) for (let k = 0; k < level0.holeList.length; k++) res[(level0.holeList[k] << 2) + 3] = alpha;
  return res;
}

/** The hole pixels of `fine` from the level above it (half the size), bilinear. */
function enlargeInto(fine: Level, coarse: Level): void {
  bilinearHole(fine.img, fine.w, fine.holeList, coarse, 0.5);
}

/** Writes each hole pixel of a `w`-wide RGBA image with `from` sampled bilinearly at `scale` (pixel centres aligned). */
function bilinearHole(out: Uint8Array | Uint8ClampedArray, w: number, holeList: Int32Array, from: Level, scale: number): void {
  const cw = from.w;
  const ch = from.h;
  const cimg = from.img;
  for (let k = 0; k < holeList.length; k++) {
    const q = holeList[k];
    const y = (q / w) | 0;
    const x = q - y * w;
    let fx = (x + 0.5) * scale - 0.5;
    let fy = (y + 0.5) * scale - 0.5;
    if (fx < 0) fx = 0;
    if (fx > cw - 1) fx = cw - 1;
    if (fy < 0) fy = 0;
    if (fy > ch - 1) fy = ch - 1;
    const x0 = Math.floor(fx);
    const y0 = Math.floor(fy);
    const x1 = x0 + 1 < cw ? x0 + 1 : x0;
    const y1 = y0 + 1 < ch ? y0 + 1 : y0;
    const tx = fx - x0;
    const ty = fy - y0;
    const a = (y0 * cw + x0) << 2;
    const b = (y0 * cw + x1) << 2;
    const c = (y1 * cw + x0) << 2;
    const d = (y1 * cw + x1) << 2;
    const o = q << 2;
    for (let c4 = 0; c4 < 4; c4++) {
      const top = cimg[a + c4] + (cimg[b + c4] - cimg[a + c4]) * tx;
      const bot = cimg[c + c4] + (cimg[d + c4] - cimg[c + c4]) * tx;
      out[o + c4] = Math.round(top + (bot - top) * ty);
    }
  }
}
