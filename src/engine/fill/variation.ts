/**
 * What makes fills with different seeds differ. The random parts of the fill
 * alone do not: the greedy start searches exhaustively on small holes, the
 * structure guide has no randomness, and PatchMatch converges to much the same
 * field whatever its random draws, so two seeds gave fills a person could not
 * tell apart (about 4 levels apart on average in the variants test).
 *
 * So every seed but 0 also prefers some parts of the picture as sources over
 * others: a smooth random cost over source positions (bilinear over a coarse
 * grid of cells, drawn from the seed), added to every patch distance the
 * greedy start and the search compute on the coarsest level, where the
 * large-scale content of the hole is decided. Where the known part offers
 * several plausible sources, a variant takes them from its own favoured
 * places, so the shapes continued into the hole (an outline, a band of
 * colour) and the grain copied into it come out differently. The finer
 * levels refine that start without the bias, matching on colours (and the
 * structure guide) alone, so seams and detail are as good as the nominal
 * fill's. Seed 0 has no bias (the nominal fill).
 *
 * Integer results from float64 with + − × ÷ only: the same bytes everywhere.
 */
import { Rng } from './rng.js';

/** Cells of the random grid along the longer side of the image. */
const CELLS = 6;
/**
 * The largest bias, as a mean squared difference per pixel and colour
 * channel over the whole patch: 60² (60 levels). A source patch in the least
 * favoured place must be that much better than one in the most favoured.
 * That is strong, on purpose: on the coarsest level a patch is a blurred
 * 7×7 window of a picture shrunk 4 to 16 times, where distinct regions
 * (sky, grass, a roof) are much further apart than that and stay distinct,
 * while the many near-equal candidates within one region are chosen by the
 * variant. In the variants test (a house removed from a landscape) 30 left
 * two of three variants at about one JND apart; 60 puts every pair at 9-11
 * levels, and each still looks like a plausible fill.
 */
const BIAS_LEVEL = 60;

export interface BiasGrid {
  gw: number;
  gh: number;
  /** values in [0, 1], (gw + 1) × (gh + 1) grid corners, row-major */
  v: Float64Array;
}

/** The seed's grid; null for seed 0 (no bias). */
export function biasGrid(seed: number, w: number, h: number): BiasGrid | null {
  if (seed === 0) return null;
  const long = w > h ? w : h;
  const gw = Math.max(1, Math.round((CELLS * w) / long));
  const gh = Math.max(1, Math.round((CELLS * h) / long));
  // a stream of its own, so the search's draws are the same as without a bias
  const rng = new Rng((Math.trunc(seed) ^ 0x5bd1e995) >>> 0);
  const v = new Float64Array((gw + 1) * (gh + 1));
  for (let i = 0; i < v.length; i++) v[i] = rng.int(1001) / 1000;
  return { gw, gh, v };
}

/** The bias of every source position on a level of size w × h with patch radius r, colour channels nc. */
export function levelBias(g: BiasGrid, w: number, h: number, r: number, nc: number, level = BIAS_LEVEL): Int32Array {
  const P = 2 * r + 1;
  const scale = level * level * P * P * nc;
  const out = new Int32Array(w * h);
  const { gw, gh, v } = g;
  const sx = w > 1 ? gw / (w - 1) : 0;
  const sy = h > 1 ? gh / (h - 1) : 0;
  for (let y = 0; y < h; y++) {
    const fy = y * sy;
    let y0 = Math.floor(fy);
    if (y0 >= gh) y0 = gh - 1;
    if (y0 < 0) y0 = 0;
    const ty = fy - y0;
    for (let x = 0; x < w; x++) {
      const fx = x * sx;
      let x0 = Math.floor(fx);
      if (x0 >= gw) x0 = gw - 1;
      if (x0 < 0) x0 = 0;
      const tx = fx - x0;
      const a = v[y0 * (gw + 1) + x0];
      const b = v[y0 * (gw + 1) + x0 + 1];
      const c = v[(y0 + 1) * (gw + 1) + x0];
      const d = v[(y0 + 1) * (gw + 1) + x0 + 1];
      const top = a + (b - a) * tx;
      const bot = c + (d - c) * tx;
      out[y * w + x] = Math.round((top + (bot - top) * ty) * scale);
    }
  }
  return out;
}
