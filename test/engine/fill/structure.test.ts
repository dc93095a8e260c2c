/**
 * The fill keeps structure: lines crossing a large hole stay continuous, the
 * parts on each side are filled from their own side, no object is cloned
 * into the gap, the seam is no sharper than the picture. Scenes with a
 * known truth from bench/lib/structure.ts, 256×192, holes 20-35% of the
 * width.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { contentAwareFill } from '../../../src/engine/fill/index.js';
import type { RgbaImage } from '../../../src/engine/types.js';
import { hillAt, hillScene, horizonAt, horizonScene, roadAt, roadScene, type FillScene } from '../../../bench/lib/structure.js';
import { flatFill, holeMae } from './synth.js';

const W = 256;
const H = 192;

const luma = (img: RgbaImage, x: number, y: number): number => {
  const o = (y * img.width + x) * 4;
  return 0.299 * img.data[o]! + 0.587 * img.data[o + 1]! + 0.114 * img.data[o + 2]!;
};

/** Row of the largest vertical luma step in column x within 15 rows of `near`. */
function edgeRow(img: RgbaImage, x: number, near: number): number {
  let best = -1;
  let row = -1;
  for (let y = Math.max(1, Math.round(near) - 15); y < Math.min(img.height, Math.round(near) + 15); y++) {
    const s = Math.abs(luma(img, x, y) - luma(img, x, y - 1));
    if (s > best) {
      best = s;
      row = y;
    }
  }
  return row;
}

/** Mean and largest distance between the found and the true line, over the columns where the line is in the hole. */
function lineError(sc: FillScene, img: RgbaImage, at: (w: number, h: number, x: number) => number): { mean: number; max: number; columns: number } {
  let sum = 0;
  let max = 0;
  let columns = 0;
  for (let x = 0; x < W; x++) {
    const y = at(W, H, x);
    if (!sc.hole[Math.round(y) * W + x]) continue;
    const e = Math.abs(edgeRow(img, x, y) - y);
    sum += e;
    max = Math.max(max, e);
    columns++;
  }
  return { mean: sum / columns, max, columns };
}

function fill(sc: FillScene): RgbaImage {
  return contentAwareFill(sc.image, sc.hole, { seed: 0 });
}

test('a horizon and a hill outline crossing the hole go on where they should', () => {
  // Found on the truth itself the line is within 0.5 px on average (it lies
  // between rows), 1 px at most. Before the structure guide, the hill's
  // outline came back with a step and a tree in it (mean error > 5 px).
  // Measured: horizon 1.09 / 2.86, hill 0.51 / 1.52. Bounds: 1.5 px on
  // average, 4 px anywhere (1.5% of the width).
  for (const [sc, at] of [
    [horizonScene(W, H), horizonAt],
    [hillScene(W, H), hillAt],
  ] as const) {
    const truth = lineError(sc, sc.truth, at);
    assert.ok(truth.columns > 80 && truth.mean <= 0.5 && truth.max <= 1, `${sc.name} truth ${JSON.stringify(truth)}`);
    const got = lineError(sc, fill(sc), at);
    assert.ok(got.mean <= 1.5 && got.max <= 4, `${sc.name}: ${JSON.stringify(got)}`);
  }
});

test("both edges of a road crossing the hole are continued (and its verges keep their colour)", () => {
  // The light verges (205, 200, 180) are 6 px wide just outside the road's
  // half-width; in every row of the hole, the verge pixels left and right
  // of the centre must sit where the truth has them, within 2 px on average
  // (rows where both verges fall in the hole). At 512 wide: at 256 the
  // verges are 3 px, thinner than the blurred guide can hold apart from the
  // road's edge, and one verge can break for a few rows (a known limit).
  const W = 512, H = 384;
  const sc = roadScene(W, H);
  const out = fill(sc);
  let rows = 0;
  let err = 0;
  for (let y = 0; y < H; y++) {
    const r = roadAt(W, H, y);
    // rows where both verges are inside the hole
    if (!sc.hole[y * W + Math.round(r.x - r.half - 6)] || !sc.hole[y * W + Math.round(r.x + r.half + 6)]) continue;
    for (const side of [-1, 1]) {
      let sx = 0;
      let n = 0;
      for (let x = 0; x < W; x++) {
        if (!sc.hole[y * W + x] || Math.sign(x - r.x) !== side) continue;
        const o = (y * W + x) * 4;
        if (Math.abs(out.data[o]! - 205) < 30 && Math.abs(out.data[o + 1]! - 200) < 30 && Math.abs(out.data[o + 2]! - 180) < 30) {
          sx += x;
          n++;
        }
      }
      assert.ok(n >= 1, `row ${y}: a verge on side ${side}`);
      err += Math.abs(sx / n - (r.x + side * (r.half + 3)));
      rows++;
    }
  }
  assert.ok(rows > 40, `${rows} rows`);
  assert.ok(err / rows <= 2, `verges off by ${(err / rows).toFixed(2)} px on average`);
});

test('no tree is cloned into a sky-and-grass hole', () => {
  // Three trees stand outside the hole (dark crowns G < 125, R < 70,
  // B < 60; brown trunks). Grass is never that dark (G ≥ 130) and sky is
  // light, so any tree-coloured pixel in the hole was copied from a tree.
  // At 512 × 384 the fill before the structure guide put 1347 such pixels
  // there (half a tree on the outline).
  const W = 512, H = 384;
  const sc = hillScene(W, H);
  const out = fill(sc);
  const treeColoured = (d: Uint8ClampedArray, i: number): boolean => {
    const r = d[i * 4]!, g = d[i * 4 + 1]!, b = d[i * 4 + 2]!;
    return (g < 125 && r < 70 && b < 60) || (r > 80 && r < 110 && g < 75 && b < 45);
  };
  let inPicture = 0;
  let inHole = 0;
  for (let i = 0; i < W * H; i++) {
    if (treeColoured(sc.truth.data, i)) inPicture++;
    if (sc.hole[i] && treeColoured(out.data, i)) inHole++;
  }
  assert.ok(inPicture > 1000, 'the scene has trees');
  assert.equal(inHole, 0);
});

test('the seam is no sharper than the picture, and the error is far below a flat fill', () => {
  // Mean absolute step across the hole's left and right edges (each pair of
  // horizontal neighbours with one pixel in the hole) against the same pairs
  // in the truth: measured 3.28 vs 3.42 (horizon), 2.63 vs 2.82 (hill), 4.52
  // vs 4.58 (road). Bound: 1.25 × the truth's + 1 level. Mean error in the
  // hole: measured 7.7, 4.1, 6.6 against a flat fill's 35-60; bound: a
  // quarter of the flat fill's.
  for (const sc of [horizonScene(W, H), hillScene(W, H), roadScene(W, H)]) {
    const out = fill(sc);
    let seam = 0;
    let truth = 0;
    let n = 0;
    for (let y = 0; y < H; y++) {
      for (let x = 1; x < W; x++) {
        const i = y * W + x;
        if (sc.hole[i] === sc.hole[i - 1]) continue;
        for (let c = 0; c < 3; c++) {
          seam += Math.abs(out.data[i * 4 + c]! - out.data[(i - 1) * 4 + c]!);
          truth += Math.abs(sc.truth.data[i * 4 + c]! - sc.truth.data[(i - 1) * 4 + c]!);
          n++;
        }
      }
    }
    assert.ok(seam / n <= 1.25 * (truth / n) + 1, `${sc.name}: seam ${(seam / n).toFixed(2)} vs truth ${(truth / n).toFixed(2)}`);
    const err = holeMae(out, sc.truth, sc.hole);
    const flat = holeMae(flatFill(sc.image, sc.hole), sc.truth, sc.hole);
    assert.ok(err < 0.35 * flat, `${sc.name}: MAE ${err.toFixed(2)} vs flat ${flat.toFixed(2)}`);
  }
});
