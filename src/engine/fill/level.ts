/**
 * One level of the fill's image pyramid and the per-level bookkeeping the
 * patch search needs. Pixels are RGBA bytes (4 per pixel) so every distance
 * and every average is integer or float64 arithmetic in a fixed order:
 * bit-identical results on every machine.
 */

export interface Level {
  w: number;
  h: number;
  /** RGBA; inside the hole: the current estimate */
  img: Uint8Array;
  /** 1 = unknown (to be filled) */
  hole: Uint8Array;
  /** indices of the hole pixels, row-major */
  holeList: Int32Array;
}

/** What the patch search needs to know about a level for a given patch size. */
export interface LevelInfo {
  /** patch radius: patches are (2r+1)² */
  r: number;
  /**
   * Patch centres whose patch overlaps the hole (the patches to synthesise),
   * row-major. Centres are kept at least r from the border, so every patch
   * lies inside the image; hole pixels at the border are still covered.
   */
  targets: Int32Array;
  /** 1 where a patch centred there lies fully inside the image and fully outside the hole */
  validSrc: Uint8Array;
  /** the indices where validSrc is 1, row-major */
  validList: Int32Array;
  /**
   * Chamfer (3-4) distance from each pixel to the nearest known pixel, in
   * thirds of a pixel; 0 outside the hole.
   */
  dist: Int32Array;
  /** the largest value of dist, in pixels */
  maxDistPx: number;
}

export function listHole(hole: Uint8Array): Int32Array {
  let n = 0;
  for (let i = 0; i < hole.length; i++) n += hole[i];
  const out = new Int32Array(n);
  let k = 0;
  for (let i = 0; i < hole.length; i++) if (hole[i] !== 0) out[k++] = i;
  return out;
}

/**
 * Halve a level. A coarse pixel is unknown when any of its (up to four)
 * children is unknown, so known coarse pixels are averages of known pixels
 * only: nothing under the hole ever leaks into the result.
 */
export function downsample(src: Level): Level {
  const { w, h } = src;
  const w2 = (w + 1) >> 1;
  const h2 = (h + 1) >> 1;
  const img = new Uint8Array(w2 * h2 * 4);
  const hole = new Uint8Array(w2 * h2);
  const simg = src.img;
  const shole = src.hole;
  for (let y2 = 0; y2 < h2; y2++) {
    const y0 = y2 << 1;
    const ny = y0 + 1 < h ? 2 : 1;
    for (let x2 = 0; x2 < w2; x2++) {
      const x0 = x2 << 1;
      const nx = x0 + 1 < w ? 2 : 1;
      let unknown = 0;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let dy = 0; dy < ny; dy++) {
        for (let dx = 0; dx < nx; dx++) {
          const i = (y0 + dy) * w + x0 + dx;
          unknown |= shole[i];
          const b = i << 2;
          s0 += simg[b];
          s1 += simg[b + 1];
          s2 += simg[b + 2];
          s3 += simg[b + 3];
        }
      }
      const o = y2 * w2 + x2;
      if (unknown !== 0) {
        hole[o] = 1;
        continue;
      }
      const n = nx * ny;
      const b = o << 2;
      // rounded integer mean
      img[b] = ((s0 << 1) + n) / (n << 1);
      img[b + 1] = ((s1 << 1) + n) / (n << 1);
      img[b + 2] = ((s2 << 1) + n) / (n << 1);
      img[b + 3] = ((s3 << 1) + n) / (n << 1);
    }
  }
  return { w: w2, h: h2, img, hole, holeList: listHole(hole) };
}

/** Square dilation of a 0/1 mask by radius r (separable running max). */
export function dilate(mask: Uint8Array, w: number, h: number, r: number): Uint8Array {
  const tmp = new Uint8Array(w * h);
  const out = new Uint8Array(w * h);
  // horizontal: distance to the last set pixel on the left / next on the right
  for (let y = 0; y < h; y++) {
    const row = y * w;
    let last = -1_000_000;
    for (let x = 0; x < w; x++) {
      if (mask[row + x] !== 0) last = x;
      if (x - last <= r) tmp[row + x] = 1;
    }
    last = 1_000_000;
    for (let x = w - 1; x >= 0; x--) {
      if (mask[row + x] !== 0) last = x;
      if (last - x <= r) tmp[row + x] = 1;
    }
  }
  for (let x = 0; x < w; x++) {
    let last = -1_000_000;
    for (let y = 0; y < h; y++) {
      if (tmp[y * w + x] !== 0) last = y;
      if (y - last <= r) out[y * w + x] = 1;
    }
    last = 1_000_000;
    for (let y = h - 1; y >= 0; y--) {
      if (tmp[y * w + x] !== 0) last = y;
      if (last - y <= r) out[y * w + x] = 1;
    }
  }
  return out;
}

/**
 * Two-pass 3-4 chamfer distance to the nearest known pixel (thirds of a
 * pixel). Outside the image counts as unknown, so a hole touching the border
 * is measured from its known side only.
 */
export function chamfer(hole: Uint8Array, w: number, h: number): Int32Array {
  const INF = 0x3fffffff;
  const d = new Int32Array(w * h);
  for (let i = 0; i < d.length; i++) d[i] = hole[i] !== 0 ? INF : 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      let v = d[i];
      if (v === 0) continue;
      if (x > 0 && d[i - 1] + 3 < v) v = d[i - 1] + 3;
      if (y > 0) {
        const u = i - w;
        if (d[u] + 3 < v) v = d[u] + 3;
        if (x > 0 && d[u - 1] + 4 < v) v = d[u - 1] + 4;
        if (x < w - 1 && d[u + 1] + 4 < v) v = d[u + 1] + 4;
      }
      d[i] = v;
    }
  }
  for (let y = h - 1; y >= 0; y--) {
    for (let x = w - 1; x >= 0; x--) {
      const i = y * w + x;
      let v = d[i];
      if (v === 0) continue;
      if (x < w - 1 && d[i + 1] + 3 < v) v = d[i + 1] + 3;
      if (y < h - 1) {
        const u = i + w;
        if (d[u] + 3 < v) v = d[u] + 3;
        if (x > 0 && d[u - 1] + 4 < v) v = d[u - 1] + 4;
        if (x < w - 1 && d[u + 1] + 4 < v) v = d[u + 1] + 4;
      }
      d[i] = v;
    }
  }
  return d;
}

/** Count the valid source patches of a level without building the full info. */
export function countValidSources(level: Level, r: number): number {
  const { w, h } = level;
  if (w < 2 * r + 1 || h < 2 * r + 1) return 0;
  const dil = dilate(level.hole, w, h, r);
  let n = 0;
  for (let y = r; y < h - r; y++) for (let x = r; x < w - r; x++) if (dil[y * w + x] === 0) n++;
  return n;
}

export function analyse(level: Level, r: number): LevelInfo {
  const { w, h } = level;
  const dil = dilate(level.hole, w, h, r);
  const validSrc = new Uint8Array(w * h);
  let nt = 0;
  let nv = 0;
  for (let y = r; y < h - r; y++) {
    for (let x = r; x < w - r; x++) {
      const i = y * w + x;
      if (dil[i] !== 0) nt++;
      else {
        validSrc[i] = 1;
        nv++;
      }
    }
  }
  const targets = new Int32Array(nt);
  const validList = new Int32Array(nv);
  nt = 0;
  nv = 0;
  for (let y = r; y < h - r; y++) {
    for (let x = r; x < w - r; x++) {
      const i = y * w + x;
      if (dil[i] !== 0) targets[nt++] = i;
      else validList[nv++] = i;
    }
  }
  const dist = chamfer(level.hole, w, h);
  let maxD = 0;
  for (let i = 0; i < dist.length; i++) if (dist[i] > maxD) maxD = dist[i];
  return { r, targets, validSrc, validList, dist, maxDistPx: maxD / 3 };
}

/** Largest chamfer distance into the hole, in pixels (the hole's "half-width"). */
export function holeHalfWidth(level: Level): number {
  const d = chamfer(level.hole, level.w, level.h);
  let m = 0;
  for (let i = 0; i < d.length; i++) if (d[i] > m) m = d[i];
  return m / 3;
}
