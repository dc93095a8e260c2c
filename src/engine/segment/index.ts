/**
 * Foreground/background segmentation of a photo with no user input, for
 * "remove the background": GrabCut (Rother, Kolmogorov & Blake 2004) seeded
 * from the picture's border instead of a user's rectangle.
 *
 * 1. On a copy at most WORK_SIDE pixels across, a background colour model
 *    (a Gaussian mixture, gmm.ts) is learnt from a band along the edges and
 *    a foreground model from the inner pixels that model explains worst.
 * 2. Iterated graph cuts (maxflow.ts): each pixel pays −log p(colour) under
 *    the model of its label, neighbours pay a contrast-sensitive price for
 *    differing labels, the edge band pays extra for being foreground; then
 *    both models are refitted to the new labels, until nothing moves.
 *    The background model gets shaded copies of its colours, so a shadow
 *    cast on the background is explained as background.
 * 3. At full size, a second cut in a narrow band around the upscaled
 *    boundary puts the edge on the right pixel, and a per-pixel matte
 *    (colour projected between the local foreground and background colours)
 *    gives anti-aliased and soft edges partial alpha.
 *
 * How sure it is comes out as a confidence in [0, 1] and the reasons it
 * doubts, for the caller to pass on: a subject that fills the frame
 * (touches most of the edges), colour models that overlap, or nothing (or
 * everything) found.
 *
 * Pure and deterministic: float64 arithmetic in a fixed order.
 */
import type { RgbaImage } from '../types.js';
import { CutGraph } from './maxflow.js';
import { dilate } from '../fill/level.js';
import { bestComponent, fitGmm, gaussianOf, logLikelihood, refitGmm, type Gmm } from './gmm.js';

export interface Segmentation {
  /** per pixel, 0-255: how much of it is foreground (255 = all) */
  alpha: Uint8Array;
  /** RGBA with the background's colour taken out of partly transparent pixels (a matte's foreground colour) */
  foreground: Uint8ClampedArray;
  /** 0-1: how sure the segmentation is */
  confidence: number;
  /** why it is unsure, in words; empty when confident */
  doubts: string[];
  /** share of the picture that is foreground (mean alpha / 255) */
  foregroundShare: number;
}

/** The GrabCut copy's longer side: enough for the shape; the full-size cut places the edge. */
const WORK_SIDE = 224;
/** Mixture components per model (GrabCut uses 5). */
const COMPONENTS = 5;
/** Smoothness weight γ (GrabCut's 50). */
const GAMMA = 50;
/** Edge band, as a share of the shorter side, assumed to be mostly background. */
const BORDER_BAND = 0.04;
/** Extra cost (nats) for a pixel of the edge band to be foreground: a nudge, not a rule, so a subject may cross the frame. */
const BORDER_PRIOR = 2.5;
const MAX_ROUNDS = 6;
/** Shadows: the background's colours at this brightness, with a spread along the brightness axis. */
const SHADE = 0.68;
const SHADE_SPREAD = 0.16;
const SHADE_WEIGHT = 0.2;

/** Below this confidence callers warn. */
export const CONFIDENT = 0.6;

interface Work {
  w: number;
  h: number;
  /** RGB, 3 per pixel */
  col: Float64Array;
  /** 1 = already transparent: background for sure */
  clear: Uint8Array;
}

/** Box-average by an integer factor (partial boxes at the right and bottom edges). */
function shrink(img: RgbaImage, f: number): Work {
  const { width: W, height: H, data } = img;
  const w = Math.ceil(W / f);
  const h = Math.ceil(H / f);
  const col = new Float64Array(w * h * 3);
  const clear = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let r = 0, g = 0, b = 0, a = 0, n = 0;
      for (let yy = y * f; yy < Math.min(H, y * f + f); yy++) {
        for (let xx = x * f; xx < Math.min(W, x * f + f); xx++) {
          const o = (yy * W + xx) * 4;
          r += data[o];
          g += data[o + 1];
          b += data[o + 2];
          a += data[o + 3];
          n++;
        }
      }
      const i = y * w + x;
      col[i * 3] = r / n;
      col[i * 3 + 1] = g / n;
      col[i * 3 + 2] = b / n;
      clear[i] = a / n < 64 ? 1 : 0;
    }
  }
  return { w, h, col, clear };
}

/** Pixels within `band` of the edge, as a 0/1 map. */
function edgeBand(w: number, h: number, band: number): Uint8Array {
  const m = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (x < band || y < band || x >= w - band || y >= h - band) m[y * w + x] = 1;
    }
  }
  return m;
}

function listWhere(n: number, pred: (i: number) => boolean): Int32Array {
  let c = 0;
  for (let i = 0; i < n; i++) if (pred(i)) c++;
  const out = new Int32Array(c);
  c = 0;
  for (let i = 0; i < n; i++) if (pred(i)) out[c++] = i;
  return out;
}

/** The background model plus a shaded copy of each component (shadows fall on the background). */
function withShadows(bg: Gmm): Gmm {
  const comps = bg.components.map((g) => gaussianOf(g.mean, g.cov, g.weight * (1 - SHADE_WEIGHT)));
  for (const g of bg.components) {
    const [r, gr, b] = g.mean;
    const len = Math.sqrt(r * r + gr * gr + b * b);
    if (len < 24) continue;
    const u = [r / len, gr / len, b / len];
    const s2 = SHADE * SHADE;
    const t2 = (SHADE_SPREAD * len) ** 2;
    const c = g.cov;
    const cov = [
      s2 * c[0] + t2 * u[0] * u[0], s2 * c[1] + t2 * u[0] * u[1], s2 * c[2] + t2 * u[0] * u[2],
      s2 * c[3] + t2 * u[1] * u[1], s2 * c[4] + t2 * u[1] * u[2], s2 * c[5] + t2 * u[2] * u[2],
    ];
    comps.push(gaussianOf([r * SHADE, gr * SHADE, b * SHADE], cov, g.weight * SHADE_WEIGHT));
  }
  return { components: comps };
}

/** 8-neighbour offsets with their lengths; only "forward" ones, each pair once. */
const FORWARD: readonly [number, number, number][] = [
  [1, 0, 1],
  [-1, 1, Math.SQRT2],
  [0, 1, 1],
  [1, 1, Math.SQRT2],
];

/** β of the contrast term: 1 / (2·mean squared colour difference between neighbours). */
function contrastBeta(col: Float64Array | Uint8ClampedArray, stride: number, w: number, h: number, use: Uint8Array | null): number {
  let s = 0;
  let n = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      if (use && use[i] === 0) continue;
      for (const [dx, dy] of FORWARD) {
        const X = x + dx, Y = y + dy;
        if (X < 0 || X >= w || Y >= h) continue;
        const j = Y * w + X;
        if (use && use[j] === 0) continue;
        const a = i * stride, b = j * stride;
        const d0 = col[a] - col[b], d1 = col[a + 1] - col[b + 1], d2 = col[a + 2] - col[b + 2];
        s += d0 * d0 + d1 * d1 + d2 * d2;
        n++;
      }
    }
  }
  return n > 0 && s > 0 ? n / (2 * s) : 0;
}

const smoothness = (beta: number, d2: number, len: number): number => (GAMMA / len) * Math.exp(-beta * d2);

interface CoarseCut {
  fg: Uint8Array;
  fgModel: Gmm;
  bgModel: Gmm;
  /** per pixel −log p under each model */
  dFg: Float64Array;
  dBg: Float64Array;
}

/** GrabCut on the working copy. Returns null when no foreground could be modelled at all. */
function coarseCut(work: Work, band: Uint8Array): CoarseCut | null {
  const { w, h, col, clear } = work;
  const n = w * h;
  const borderIdx = listWhere(n, (i) => band[i] === 1 && clear[i] === 0);
  const innerIdx = listWhere(n, (i) => band[i] === 0 && clear[i] === 0);
  const bgSeed = borderIdx.length > 0 ? borderIdx : listWhere(n, (i) => clear[i] === 0);
  if (bgSeed.length === 0 || innerIdx.length === 0) return null;
  let bgModel = fitGmm(col, bgSeed, COMPONENTS, 2, 3);
  let bgFull = withShadows(bgModel);

  // GrabCut's start: everything inside the frame band may be subject. A subject
  // colour that also reaches the band is then in both models, and the refits
  // move it to whichever side the rest of the picture supports.
  const dBg = new Float64Array(n);
  let fgModel = fitGmm(col, innerIdx, COMPONENTS, 2, 3);

  const beta = contrastBeta(col, 3, w, h, null);
  const fg = new Uint8Array(n);
  const dFg = new Float64Array(n);
  for (let round = 0; round < MAX_ROUNDS; round++) {
    for (let i = 0; i < n; i++) {
      const o = i * 3;
      dFg[i] = -logLikelihood(fgModel, col[o], col[o + 1], col[o + 2]);
      dBg[i] = -logLikelihood(bgFull, col[o], col[o + 1], col[o + 2]);
    }
    const g = new CutGraph(n, n * 8);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const i = y * w + x;
        if (clear[i] === 1) g.addTerminal(i, 0, 1e9);
        else g.addTerminal(i, dBg[i], dFg[i] + (band[i] === 1 ? BORDER_PRIOR : 0));
        const a = i * 3;
        for (const [dx, dy, len] of FORWARD) {
          const X = x + dx, Y = y + dy;
          if (X < 0 || X >= w || Y >= h) continue;
          const j = Y * w + X;
          const b = j * 3;
          const d0 = col[a] - col[b], d1 = col[a + 1] - col[b + 1], d2 = col[a + 2] - col[b + 2];
          const v = smoothness(beta, d0 * d0 + d1 * d1 + d2 * d2, len);
          g.addEdge(i, j, v, v);
        }
      }
    }
    g.maxflow();
    let changed = 0;
    let fgCount = 0;
    for (let i = 0; i < n; i++) {
      const v = g.isSource(i) ? 1 : 0;
      if (v !== fg[i]) changed++;
      fg[i] = v;
      fgCount += v;
    }
    if (fgCount === 0) return { fg, fgModel, bgModel: bgFull, dFg, dBg };
    if (round > 0 && changed <= n * 0.0005) break;
    if (round === MAX_ROUNDS - 1) break;
    // refit both models to the new labels (components by best fit, as GrabCut does)
    const fgIdx = listWhere(n, (i) => fg[i] === 1);
    const bgIdx = listWhere(n, (i) => fg[i] === 0 && clear[i] === 0);
    if (bgIdx.length === 0) break;
    const fl = Int32Array.from(fgIdx, (i) => bestComponent(fgModel, col[i * 3], col[i * 3 + 1], col[i * 3 + 2]));
    fgModel = refitGmm(col, fgIdx, fl, fgModel.components.length, 3);
    const bl = Int32Array.from(bgIdx, (i) => bestComponent(bgModel, col[i * 3], col[i * 3 + 1], col[i * 3 + 2]));
    bgModel = refitGmm(col, bgIdx, bl, bgModel.components.length, 3);
    bgFull = withShadows(bgModel);
  }
  return { fg, fgModel, bgModel: bgFull, dFg, dBg };
}

/** Label flood: sizes of 4-connected components of equal value, and drop small specks of either value. */
function despeckle(lab: Uint8Array, w: number, h: number, minSize: number): void {
  const n = w * h;
  const seen = new Uint8Array(n);
  const stack = new Int32Array(n);
  const comp = new Int32Array(n);
  for (let s = 0; s < n; s++) {
    if (seen[s]) continue;
    const v = lab[s];
    let top = 0;
    let size = 0;
    let touchesEdge = false;
    stack[top++] = s;
    seen[s] = 1;
    while (top > 0) {
      const i = stack[--top];
      comp[size++] = i;
      const x = i % w;
      const y = (i / w) | 0;
      if (x === 0 || y === 0 || x === w - 1 || y === h - 1) touchesEdge = true;
      if (x > 0 && !seen[i - 1] && lab[i - 1] === v) { seen[i - 1] = 1; stack[top++] = i - 1; }
      if (x < w - 1 && !seen[i + 1] && lab[i + 1] === v) { seen[i + 1] = 1; stack[top++] = i + 1; }
      if (y > 0 && !seen[i - w] && lab[i - w] === v) { seen[i - w] = 1; stack[top++] = i - w; }
      if (y < h - 1 && !seen[i + w] && lab[i + w] === v) { seen[i + w] = 1; stack[top++] = i + w; }
    }
    // a background region enclosed by the subject (the inside of a handle) is kept when it is not a speck
    if (size < minSize && !(v === 0 && touchesEdge)) for (let k = 0; k < size; k++) lab[comp[k]] = 1 - v;
  }
}

/**
 * Full-size labels: the coarse labels scaled up, then a graph cut over the
 * pixels near the boundary with everything farther away held fixed.
 */
function refineFull(img: RgbaImage, f: number, coarse: Uint8Array, cw: number, models: { fg: Gmm; bg: Gmm }): Uint8Array {
  const { width: W, height: H, data } = img;
  const n = W * H;
  const lab = new Uint8Array(n);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) lab[y * W + x] = coarse[((y / f) | 0) * cw + ((x / f) | 0)];
  if (f === 1) return lab;
  // the band: within f + 1 pixels (square distance) of a label change
  const edge = new Uint8Array(n);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = y * W + x;
      if ((x + 1 < W && lab[i + 1] !== lab[i]) || (y + 1 < H && lab[i + W] !== lab[i])) edge[i] = 1;
    }
  }
  const inBand = dilate(edge, W, H, f + 1);
  const ids = new Int32Array(n).fill(-1);
  let m = 0;
  for (let i = 0; i < n; i++) if (inBand[i] === 1 && data[i * 4 + 3] >= 64) ids[i] = m++;
  if (m === 0) return lab;
  const use = new Uint8Array(n);
  for (let i = 0; i < n; i++) use[i] = ids[i] >= 0 ? 1 : 0;
  const beta = contrastBeta(data, 4, W, H, use);
  const g = new CutGraph(m, m * 8);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = y * W + x;
      const a = i * 4;
      const id = ids[i];
      const r = data[a], gg = data[a + 1], b = data[a + 2];
      if (id >= 0) g.addTerminal(id, -logLikelihood(models.bg, r, gg, b), -logLikelihood(models.fg, r, gg, b));
      for (const [dx, dy, len] of FORWARD) {
        const X = x + dx, Y = y + dy;
        if (X < 0 || X >= W || Y >= H) continue;
        const j = Y * W + X;
        const jd = ids[j];
        if (id < 0 && jd < 0) continue;
        const c = j * 4;
        const d0 = r - data[c], d1 = gg - data[c + 1], d2 = b - data[c + 2];
        const v = smoothness(beta, d0 * d0 + d1 * d1 + d2 * d2, len);
        if (id >= 0 && jd >= 0) g.addEdge(id, jd, v, v);
        else if (id >= 0) {
          // j is held: differing from it costs v
          if (lab[j] === 1) g.addTerminal(id, v, 0);
          else g.addTerminal(id, 0, v);
        } else if (lab[i] === 1) g.addTerminal(jd, v, 0);
        else g.addTerminal(jd, 0, v);
      }
    }
  }
  g.maxflow();
  for (let i = 0; i < n; i++) if (ids[i] >= 0) lab[i] = g.isSource(ids[i]) ? 1 : 0;
  return lab;
}

/** Summed-area table of v·[sel], 1 channel; (w+1)×(h+1). */
function integral(w: number, h: number, val: (i: number) => number): Float64Array {
  const s = new Float64Array((w + 1) * (h + 1));
  for (let y = 0; y < h; y++) {
    let row = 0;
    for (let x = 0; x < w; x++) {
      row += val(y * w + x);
      s[(y + 1) * (w + 1) + x + 1] = s[y * (w + 1) + x + 1] + row;
    }
  }
  return s;
}

function boxSum(s: Float64Array, w: number, x0: number, y0: number, x1: number, y1: number): number {
  const W = w + 1;
  return s[y1 * W + x1] - s[y0 * W + x1] - s[y1 * W + x0] + s[y0 * W + x0];
}

/**
 * Soft edges: within `reach` of the boundary, alpha is the pixel's colour
 * projected on the line from the local background colour B to the local
 * foreground colour F (means of the sure pixels around it), which is exact
 * for a pixel that mixes the two; and its colour becomes the foreground
 * part of the mix, so the old background does not shine through as a halo.
 */
function matte(img: RgbaImage, lab: Uint8Array, reach: number): { alpha: Uint8Array; rgba: Uint8ClampedArray } {
  const { width: W, height: H, data } = img;
  const n = W * H;
  const alpha = new Uint8Array(n);
  for (let i = 0; i < n; i++) alpha[i] = lab[i] === 1 ? 255 : 0;
  const rgba = new Uint8ClampedArray(data);
  const edge = new Uint8Array(n);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = y * W + x;
      if ((x + 1 < W && lab[i + 1] !== lab[i]) || (y + 1 < H && lab[i + W] !== lab[i])) edge[i] = 1;
      if ((x > 0 && lab[i - 1] !== lab[i]) || (y > 0 && lab[i - W] !== lab[i])) edge[i] = 1;
    }
  }
  const near = dilate(edge, W, H, reach);
  const sureF = (i: number): number => (lab[i] === 1 && near[i] === 0 ? 1 : 0);
  const sureB = (i: number): number => (lab[i] === 0 && near[i] === 0 && data[i * 4 + 3] >= 64 ? 1 : 0);
  const sums = [sureF, sureB].map((sel) => [
    integral(W, H, sel),
    integral(W, H, (i) => sel(i) * data[i * 4]),
    integral(W, H, (i) => sel(i) * data[i * 4 + 1]),
    integral(W, H, (i) => sel(i) * data[i * 4 + 2]),
  ]);
  const win = reach + 4;
  for (let y = 0; y < H; y++) {
    const y0 = Math.max(0, y - win), y1 = Math.min(H, y + win + 1);
    for (let x = 0; x < W; x++) {
      const i = y * W + x;
      if (near[i] === 0) continue;
      const x0 = Math.max(0, x - win), x1 = Math.min(W, x + win + 1);
      const fn = boxSum(sums[0][0], W, x0, y0, x1, y1);
      const bn = boxSum(sums[1][0], W, x0, y0, x1, y1);
      if (fn < 1 || bn < 1) continue;
      const F = [1, 2, 3].map((c) => boxSum(sums[0][c], W, x0, y0, x1, y1) / fn);
      const B = [1, 2, 3].map((c) => boxSum(sums[1][c], W, x0, y0, x1, y1) / bn);
      const o = i * 4;
      const fb = [F[0] - B[0], F[1] - B[1], F[2] - B[2]];
      const len2 = fb[0] * fb[0] + fb[1] * fb[1] + fb[2] * fb[2];
      // too little contrast between the two sides to say how much of each a pixel holds: keep the cut
      if (len2 < 24 * 24) continue;
      let a = ((data[o] - B[0]) * fb[0] + (data[o + 1] - B[1]) * fb[1] + (data[o + 2] - B[2]) * fb[2]) / len2;
      // the cut already decided which side a pixel is mostly on; the matte only softens it
      if (lab[i] === 1) a = Math.max(a, 0.5 * a + 0.25);
      else a = Math.min(a, 0.5 * a + 0.25);
      if (a <= 0.04) a = 0;
      else if (a >= 0.96) a = 1;
      alpha[i] = Math.round(a * 255);
      if (a > 0 && a < 1) {
        for (let c = 0; c < 3; c++) rgba[o + c] = B[c] + (data[o + c] - B[c]) / a;
      }
    }
  }
  return { alpha, rgba };
}

const clamp01 = (v: number): number => (v < 0 ? 0 : v > 1 ? 1 : v);
const pct = (v: number): string => `${Math.round(v * 100)}%`;

/** Split a picture into foreground and background (see the top of this file). */
export function segmentForeground(img: RgbaImage): Segmentation {
  const { width: W, height: H, data } = img;
  const n = W * H;
  const f = Math.max(1, Math.ceil(Math.max(W, H) / WORK_SIDE));
  const work = shrink(img, f);
  const { w, h } = work;
  const bandPx = Math.max(1, Math.round(BORDER_BAND * Math.min(w, h)));
  const band = edgeBand(w, h, bandPx);
  const cut = coarseCut(work, band);
  if (cut === null) {
    const alpha = new Uint8Array(n);
    for (let i = 0; i < n; i++) alpha[i] = data[i * 4 + 3] >= 64 ? 255 : 0;
    return { alpha, foreground: new Uint8ClampedArray(data), confidence: 0, doubts: ['the picture is too small or empty to tell a subject from its background'], foregroundShare: 1 };
  }
  despeckle(cut.fg, w, h, Math.max(3, Math.round(0.0015 * w * h)));
  const lab = refineFull(img, f, cut.fg, w, { fg: cut.fgModel, bg: cut.bgModel });
  const { alpha, rgba } = matte(img, lab, Math.max(1, Math.round(Math.min(W, H) / 400)));

  // how sure: the frame, the colours, the size
  const doubts: string[] = [];
  let edgeFg = 0;
  let edgeN = 0;
  for (let x = 0; x < W; x++) {
    edgeFg += lab[x] + lab[(H - 1) * W + x];
    edgeN += 2;
  }
  for (let y = 1; y < H - 1; y++) {
    edgeFg += lab[y * W] + lab[y * W + W - 1];
    edgeN += 2;
  }
  const touch = edgeFg / edgeN;
  const cFrame = clamp01((0.6 - touch) / 0.45);
  if (cFrame < CONFIDENT) doubts.push(`the subject touches ${pct(touch)} of the picture's edges`);

  // overlap of the colour models: the mean posterior of the other class, per class
  let errF = 0, nF = 0, errB = 0, nB = 0;
  for (let i = 0; i < w * h; i++) {
    if (work.clear[i] === 1) continue;
    const d = cut.dBg[i] - cut.dFg[i]; // log p_fg − log p_bg
    const x = d > 40 ? 40 : d < -40 ? -40 : d;
    const pFg = 1 / (1 + Math.exp(-x));
    if (cut.fg[i] === 1) { errF += 1 - pFg; nF++; } else { errB += pFg; nB++; }
  }
  const overlap = nF > 0 && nB > 0 ? 0.5 * (errF / nF + errB / nB) : 0.5;
  const cColour = clamp01(1 - (overlap - 0.06) / 0.24);
  if (cColour < CONFIDENT) doubts.push(`the subject's colours overlap the background's (${pct(overlap)} ambiguous)`);

  let sum = 0;
  for (let i = 0; i < n; i++) sum += alpha[i];
  const share = sum / 255 / n;
  const cSize = clamp01((share - 0.002) / 0.01) * clamp01((0.97 - share) / 0.12);
  if (share < 0.005) doubts.push('no subject stands out from the background');
  else if (cSize < CONFIDENT) doubts.push(`nearly everything (${pct(share)}) looks like subject`);

  const confidence = Math.round(Math.min(cFrame, cColour, cSize) * 100) / 100;
  return { alpha, foreground: rgba, confidence, doubts, foregroundShare: share };
}
