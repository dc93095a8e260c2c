/**
 * Gaussian mixture colour models (RGB, full 3×3 covariance), the colour
 * models of GrabCut (Rother, Kolmogorov & Blake 2004). Fitted by hard EM:
 * each sample belongs to its most likely component, and a component is the
 * mean and covariance of its samples. The first components come from
 * binary splitting along the direction of largest variance (Orchard &
 * Bouman 1991), which needs no random start.
 *
 * Math.log and Math.exp are V8's own fdlibm ports, the same bits in every
 * thread, so a fit is deterministic.
 */

export interface Gaussian {
  weight: number;
  mean: [number, number, number];
  /** covariance [rr rg rb gg gb bb] */
  cov: number[];
  /** inverse covariance, row-major 3×3 */
  inv: Float64Array;
  /** log(weight) − ½·log((2π)³·det Σ): the constant part of the log density */
  logNorm: number;
}

export interface Gmm {
  components: Gaussian[];
}

/** Covariance regulariser (added to the diagonal, in squared levels): a flat region must not give a zero-width Gaussian. */
const MIN_VARIANCE = 4;
const LOG_2PI3 = 3 * Math.log(2 * Math.PI);

/** Sufficient statistics of a set of colours. */
class Stats {
  n = 0;
  s = [0, 0, 0];
  ss = [0, 0, 0, 0, 0, 0]; // rr rg rb gg gb bb
  add(r: number, g: number, b: number): void {
    this.n++;
    this.s[0] += r;
    this.s[1] += g;
    this.s[2] += b;
    this.ss[0] += r * r;
    this.ss[1] += r * g;
    this.ss[2] += r * b;
    this.ss[3] += g * g;
    this.ss[4] += g * b;
    this.ss[5] += b * b;
  }
  mean(): [number, number, number] {
    return [this.s[0] / this.n, this.s[1] / this.n, this.s[2] / this.n];
  }
  /** covariance as [rr, rg, rb, gg, gb, bb] */
  cov(): number[] {
    const [mr, mg, mb] = this.mean();
    const n = this.n;
    return [
      this.ss[0] / n - mr * mr + MIN_VARIANCE,
      this.ss[1] / n - mr * mg,
      this.ss[2] / n - mr * mb,
      this.ss[3] / n - mg * mg + MIN_VARIANCE,
      this.ss[4] / n - mg * mb,
      this.ss[5] / n - mb * mb + MIN_VARIANCE,
    ];
  }
}

function gaussian(st: Stats, total: number): Gaussian {
  return gaussianOf(st.mean(), st.cov(), st.n / total);
}

/** A component from its mean, covariance [rr rg rb gg gb bb] and weight. */
export function gaussianOf(mean: [number, number, number], cov: readonly number[], weight: number): Gaussian {
  const [a, b, c, d, e, f] = cov;
  // inverse of the symmetric matrix [[a b c] [b d e] [c e f]] by cofactors
  const A = d * f - e * e;
  const B = c * e - b * f;
  const C = b * e - c * d;
  const det = a * A + b * B + c * C;
  const inv = new Float64Array([
    A / det, B / det, C / det,
    B / det, (a * f - c * c) / det, (b * c - a * e) / det,
    C / det, (b * c - a * e) / det, (a * d - b * b) / det,
  ]);
  return { weight, mean, cov: [a, b, c, d, e, f], inv, logNorm: Math.log(weight) - 0.5 * (LOG_2PI3 + Math.log(det)) };
}

/** log N(x; component) + log weight. */
export function componentLog(g: Gaussian, r: number, gr: number, b: number): number {
  const x = r - g.mean[0];
  const y = gr - g.mean[1];
  const z = b - g.mean[2];
  const m = g.inv;
  const q = x * (m[0] * x + m[1] * y + m[2] * z) + y * (m[3] * x + m[4] * y + m[5] * z) + z * (m[6] * x + m[7] * y + m[8] * z);
  return g.logNorm - 0.5 * q;
}

/** Index of the component that explains the colour best. */
export function bestComponent(gmm: Gmm, r: number, g: number, b: number): number {
  let best = 0;
  let bestL = -Infinity;
  for (let k = 0; k < gmm.components.length; k++) {
    const l = componentLog(gmm.components[k], r, g, b);
    if (l > bestL) {
      bestL = l;
      best = k;
    }
  }
  return best;
}

/** log p(colour) under the mixture (log-sum-exp over components, rescaled as the maximum moves). */
export function logLikelihood(gmm: Gmm, r: number, g: number, b: number): number {
  const cs = gmm.components;
  let max = -Infinity;
  let s = 0;
  for (let k = 0; k < cs.length; k++) {
    const l = componentLog(cs[k], r, g, b);
    if (l > max) {
      s = s * Math.exp(max - l) + 1;
      max = l;
    } else s += Math.exp(l - max);
  }
  return max + Math.log(s);
}

/** Largest eigenvector of a symmetric 3×3 covariance [rr rg rb gg gb bb], by power iteration from a fixed start. */
function principalAxis(c: number[]): [number, number, number] {
  let v: [number, number, number] = [1, 0.8, 0.6];
  for (let it = 0; it < 24; it++) {
    const x = c[0] * v[0] + c[1] * v[1] + c[2] * v[2];
    const y = c[1] * v[0] + c[3] * v[1] + c[4] * v[2];
    const z = c[2] * v[0] + c[4] * v[1] + c[5] * v[2];
    const n = Math.sqrt(x * x + y * y + z * z);
    if (!(n > 0)) return v;
    v = [x / n, y / n, z / n];
  }
  return v;
}

/**
 * Fit a mixture of up to k components to the colours at `indices` of an
 * RGBA buffer: binary splitting, then `rounds` of hard EM. With fewer
 * samples than components, fewer components.
 */
export function fitGmm(rgba: Uint8ClampedArray | Float64Array, indices: Int32Array, k: number, rounds = 2, stride = 4): Gmm {
  const n = indices.length;
  if (n === 0) throw new RangeError('fitGmm: no samples');
  const label = new Int32Array(n);
  let count = 1;
  // split the component with the largest spread along its principal axis until k
  while (count < k) {
    const stats = collect(rgba, indices, label, count, stride);
    let worst = -1;
    let worstVar = 0;
    let axis: [number, number, number] = [0, 0, 0];
    let mean: [number, number, number] = [0, 0, 0];
    for (let c = 0; c < count; c++) {
      if (stats[c].n < 2) continue;
      const cov = stats[c].cov();
      const v = principalAxis(cov);
      // variance along v
      const va =
        v[0] * (cov[0] * v[0] + cov[1] * v[1] + cov[2] * v[2]) +
        v[1] * (cov[1] * v[0] + cov[3] * v[1] + cov[4] * v[2]) +
        v[2] * (cov[2] * v[0] + cov[4] * v[1] + cov[5] * v[2]);
      if (va > worstVar) {
        worstVar = va;
        worst = c;
        axis = v;
        mean = stats[c].mean();
      }
    }
    if (worst < 0 || worstVar <= MIN_VARIANCE * 1.5) break;
    const threshold = axis[0] * mean[0] + axis[1] * mean[1] + axis[2] * mean[2];
    let moved = 0;
    for (let i = 0; i < n; i++) {
      if (label[i] !== worst) continue;
      const o = indices[i] * stride;
      if (axis[0] * rgba[o] + axis[1] * rgba[o + 1] + axis[2] * rgba[o + 2] > threshold) {
        label[i] = count;
        moved++;
      }
    }
    if (moved === 0) break;
    count++;
  }
  let gmm = build(collect(rgba, indices, label, count, stride), n);
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < n; i++) {
      const o = indices[i] * stride;
      label[i] = bestComponent(gmm, rgba[o], rgba[o + 1], rgba[o + 2]);
    }
    gmm = build(collect(rgba, indices, label, gmm.components.length, stride), n);
  }
  return gmm;
}

/** Refit a mixture from samples already assigned to components (GrabCut's step 2). */
export function refitGmm(rgba: Uint8ClampedArray | Float64Array, indices: Int32Array, label: Int32Array, k: number, stride = 4): Gmm {
  return build(collect(rgba, indices, label, k, stride), indices.length);
}

function collect(rgba: Uint8ClampedArray | Float64Array, indices: Int32Array, label: Int32Array, count: number, stride: number): Stats[] {
  const stats = Array.from({ length: count }, () => new Stats());
  for (let i = 0; i < indices.length; i++) {
    const o = indices[i] * stride;
    stats[label[i]].add(rgba[o], rgba[o + 1], rgba[o + 2]);
  }
  return stats;
}

function build(stats: Stats[], total: number): Gmm {
  return { components: stats.filter((s) => s.n > 0).map((s) => gaussian(s, total)) };
}
