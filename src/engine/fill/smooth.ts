/**
 * Membrane fill: unknown pixels become the harmonic interpolation of the
 * known ones (the solution of Laplace's equation with the known pixels as
 * boundary), solved multigrid-style: average the known pixels down a
 * pyramid, and on the way back up take the coarser solution bilinearly as
 * the first guess and relax it with Gauss-Seidel sweeps. A linear ramp is
 * harmonic, so it is recovered exactly. The fallback when there is no whole
 * source patch to copy from.
 */

/** Gauss-Seidel sweeps per pyramid level. */
const SWEEPS = 24;

/** Relax the unknown pixels towards the mean of their 4-neighbours, in place, in a fixed order. */
function relax(vals: Float64Array, known: Uint8Array, w: number, h: number): void {
  for (let it = 0; it < SWEEPS; it++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const i = y * w + x;
        if (known[i] !== 0) continue;
        let n = 0;
        let s0 = 0;
        let s1 = 0;
        let s2 = 0;
        let s3 = 0;
        if (x > 0) {
          const b = (i - 1) << 2;
          s0 += vals[b];
          s1 += vals[b + 1];
          s2 += vals[b + 2];
          s3 += vals[b + 3];
          n++;
        }
        if (x < w - 1) {
          const b = (i + 1) << 2;
          s0 += vals[b];
          s1 += vals[b + 1];
          s2 += vals[b + 2];
          s3 += vals[b + 3];
          n++;
        }
        if (y > 0) {
          const b = (i - w) << 2;
          s0 += vals[b];
          s1 += vals[b + 1];
          s2 += vals[b + 2];
          s3 += vals[b + 3];
          n++;
        }
        if (y < h - 1) {
          const b = (i + w) << 2;
          s0 += vals[b];
          s1 += vals[b + 1];
          s2 += vals[b + 2];
          s3 += vals[b + 3];
          n++;
        }
        if (n === 0) continue;
        const b = i << 2;
        vals[b] = s0 / n;
        vals[b + 1] = s1 / n;
        vals[b + 2] = s2 / n;
        vals[b + 3] = s3 / n;
      }
    }
  }
}

/** Fills the unknown pixels of `vals` (4 float channels per pixel) in place; needs at least one known pixel. */
function pushPull(vals: Float64Array, known: Uint8Array, w: number, h: number): void {
  let unknown = 0;
  for (let i = 0; i < known.length; i++) if (known[i] === 0) unknown++;
  if (unknown === 0 || unknown === known.length) return;
  const w2 = (w + 1) >> 1;
  const h2 = (h + 1) >> 1;
  const cv = new Float64Array(w2 * h2 * 4);
  const ck = new Uint8Array(w2 * h2);
  for (let y2 = 0; y2 < h2; y2++) {
    for (let x2 = 0; x2 < w2; x2++) {
      let n = 0;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let dy = 0; dy < 2; dy++) {
        const y = (y2 << 1) + dy;
        if (y >= h) break;
        for (let dx = 0; dx < 2; dx++) {
          const x = (x2 << 1) + dx;
          if (x >= w) break;
          const i = y * w + x;
          if (known[i] === 0) continue;
          const b = i << 2;
          s0 += vals[b];
          s1 += vals[b + 1];
          s2 += vals[b + 2];
          s3 += vals[b + 3];
          n++;
        }
      }
      if (n > 0) {
        const o = y2 * w2 + x2;
        const b = o << 2;
        cv[b] = s0 / n;
        cv[b + 1] = s1 / n;
        cv[b + 2] = s2 / n;
        cv[b + 3] = s3 / n;
        ck[o] = 1;
      }
    }
  }
  pushPull(cv, ck, w2, h2);
  for (let y = 0; y < h; y++) {
    let fy = (y + 0.5) / 2 - 0.5;
    if (fy < 0) fy = 0;
    if (fy > h2 - 1) fy = h2 - 1;
    const y0 = Math.floor(fy);
    const y1 = y0 + 1 < h2 ? y0 + 1 : y0;
    const ty = fy - y0;
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      if (known[i] !== 0) continue;
      let fx = (x + 0.5) / 2 - 0.5;
      if (fx < 0) fx = 0;
      if (fx > w2 - 1) fx = w2 - 1;
      const x0 = Math.floor(fx);
      const x1 = x0 + 1 < w2 ? x0 + 1 : x0;
      const tx = fx - x0;
      const a = (y0 * w2 + x0) << 2;
      const bq = (y0 * w2 + x1) << 2;
      const c = (y1 * w2 + x0) << 2;
      const d = (y1 * w2 + x1) << 2;
      const b = i << 2;
      for (let k = 0; k < 4; k++) {
        const top = cv[a + k] + (cv[bq + k] - cv[a + k]) * tx;
        const bot = cv[c + k] + (cv[d + k] - cv[c + k]) * tx;
        vals[b + k] = top + (bot - top) * ty;
      }
    }
  }
  relax(vals, known, w, h);
}

/**
 * Fill the hole pixels of an RGBA byte image smoothly from the known pixels.
 * With no known pixel at all, fills a neutral opaque mid-grey.
 */
export function smoothFill(img: Uint8Array | Uint8ClampedArray, hole: Uint8Array, w: number, h: number): void {
  const n = w * h;
  let known = 0;
  for (let i = 0; i < n; i++) if (hole[i] === 0) known++;
  if (known === n) return;
  if (known === 0) {
    for (let i = 0; i < n; i++) {
      const b = i << 2;
      img[b] = 128;
      img[b + 1] = 128;
      img[b + 2] = 128;
      img[b + 3] = 255;
    }
    return;
  }
  const vals = new Float64Array(n * 4);
  const k = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    if (hole[i] !== 0) continue;
    k[i] = 1;
    const b = i << 2;
    vals[b] = img[b];
    vals[b + 1] = img[b + 1];
    vals[b + 2] = img[b + 2];
    vals[b + 3] = img[b + 3];
  }
  pushPull(vals, k, w, h);
  for (let i = 0; i < n; i++) {
    if (hole[i] === 0) continue;
    const b = i << 2;
    for (let c = 0; c < 4; c++) {
      const v = Math.round(vals[b + c]);
      img[b + c] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
}
