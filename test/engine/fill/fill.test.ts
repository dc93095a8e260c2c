import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { contentAwareFill, FillCancelledError } from '../../../src/engine/fill/index.js';
import type { RgbaImage } from '../../../src/engine/types.js';
import {
  CONTRAST,
  changedOutside,
  checkerboard,
  discMask,
  flatFill,
  fnv1a,
  gradient,
  holeMae,
  makeImage,
  rectMask,
  shifted,
  stripes,
} from './synth.js';

const S = 160;

/** Fill, and check the contract every fill must keep: same size, input untouched, outside the hole byte for byte. */
function fill(img: RgbaImage, hole: Uint8Array, seed = 1): RgbaImage {
  const before = new Uint8ClampedArray(img.data);
  const out = contentAwareFill(img, hole, { seed });
  assert.equal(out.width, img.width);
  assert.equal(out.height, img.height);
  assert.equal(out.data.length, img.data.length);
  assert.notEqual(out.data, img.data, 'a new buffer, not the input');
  assert.deepEqual(img.data, before, 'the input is not modified');
  assert.equal(changedOutside(out, img, hole), 0, 'pixels outside the hole are unchanged');
  return out;
}

/** Asserts the fill's error is below `bound` and far below the flat mean-colour fill's. */
function assertGoodFill(name: string, img: RgbaImage, hole: Uint8Array, out: RgbaImage, bound: number): void {
  const err = holeMae(out, img, hole);
  const flat = holeMae(flatFill(img, hole), img, hole);
  assert.ok(err < bound, `${name}: MAE ${err.toFixed(2)} should be < ${bound.toFixed(2)}`);
  assert.ok(err < 0.35 * flat, `${name}: MAE ${err.toFixed(2)} should be < 0.35 × flat fill's ${flat.toFixed(2)}`);
}

test('stripes with a masked square are continued in phase', () => {
  // Diagonal stripes, period 10 (5 dark, 5 light). A fill that is off by one
  // pixel gets 2 pixels in 10 wrong by the full contrast: MAE = 0.2 × 143 =
  // 28.7 (measured with shifted()); the flat fill is wrong everywhere by half
  // the contrast, 71.7. The copies must be in phase almost everywhere: allow
  // a quarter of the one-pixel error (at most ~1 pixel in 20 wrong, e.g. a
  // seam), about 10% of the flat fill's.
  const img = stripes(S, S, 10);
  const hole = rectMask(S, S, 60, 60, 40, 40);
  const oneOff = holeMae(shifted(img, 1, 0), img, hole);
  assert.ok(Math.abs(oneOff - 0.2 * CONTRAST) < 0.5);
  const out = fill(img, hole);
  assertGoodFill('stripes', img, hole, out, 0.25 * oneOff);
});

test('a checkerboard with a masked square (not aligned to the cells) is continued in phase', () => {
  // 8-pixel cells. Off by one pixel (horizontally) gets 1 column in 8 wrong by
  // the full contrast: MAE ≈ 16.3 over this hole (measured); off by a whole
  // cell everything is wrong (143), and the flat fill 71.7. Bound: a quarter of
  // the one-pixel error.
  const img = checkerboard(S, S, 8);
  const hole = rectMask(S, S, 57, 61, 44, 40);
  const oneOff = holeMae(shifted(img, 1, 0), img, hole);
  const out = fill(img, hole);
  assertGoodFill('checkerboard', img, hole, out, 0.25 * oneOff);
});

test('a smooth gradient with a masked disc is filled smoothly with the right values', () => {
  // Diagonal gradient: each channel changes by 100–200 levels over 318 steps
  // of x + y, i.e. 0.45 levels per pixel on average (a one-pixel shift gives
  // MAE 0.45, measured). Exact copies exist along the isolines. Bound: MAE 2,
  // as if every pixel were copied from about 4 pixels away across the
  // isolines; the flat fill is off by ~12 on average over this disc.
  const img = gradient(S, S);
  const hole = discMask(S, S, 80, 76, 40);
  const oneOff = holeMae(shifted(img, 1, 0), img, hole);
  assert.ok(oneOff < 0.6);
  const out = fill(img, hole);
  assertGoodFill('gradient', img, hole, out, 2);
});

test('deterministic: the same input and seed give the same bytes; the seed is used', () => {
  // value noise: many equally plausible answers, so the random choices show
  const noise = makeImage(96, 96, (x, y) => {
    let h = Math.imul(x * 73856093 ^ y * 19349663, 0x9e3779b1);
    h ^= h >>> 15;
    const v = (h >>> 0) % 200;
    return [30 + v, 40 + ((v * 7) % 180), 200 - (v >> 1)];
  });
  const hole = discMask(96, 96, 48, 48, 18);
  const a = fill(noise, hole, 7);
  const b = fill(noise, hole, 7);
  assert.deepEqual(a.data, b.data);
  const others = [8, 9, 10].map((seed) => fill(noise, hole, seed));
  assert.ok(
    others.some((o) => fnv1a(o.data) !== fnv1a(a.data)),
    'different seeds should give different fills on a random texture',
  );
  // The exact bytes, pinned: the fill must give these on every machine and
  // Node version (integer and fixed-order float64 arithmetic only). When the
  // algorithm is changed on purpose, update the hash here.
  assert.equal(fnv1a(a.data), GOLDEN_NOISE_SEED7);
});
const GOLDEN_NOISE_SEED7 = '1ba6c701';

test('deterministic across threads: a worker thread gives the same bytes', async () => {
  const img = gradient(120, 90);
  // some texture on the ramp so that the search has choices to make
  for (let i = 0; i < img.data.length; i += 4) img.data[i] = (img.data[i] + ((i * 2654435761) >>> 28)) & 255;
  const hole = discMask(120, 90, 60, 45, 20);
  const here = contentAwareFill(img, hole, { seed: 11 });
  const tsx = import.meta.resolve('tsx/esm/api');
  const body = new URL('./worker-fill.ts', import.meta.url).href;
  const code = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(body)}); })`;
  const there = await new Promise<Uint8ClampedArray>((resolve, reject) => {
    const worker = new Worker(code, { eval: true, workerData: { width: 120, height: 90, data: img.data, hole, seed: 11 } });
    worker.once('message', (m: Uint8ClampedArray) => {
      resolve(m);
      void worker.terminate();
    });
    worker.once('error', reject);
  });
  assert.deepEqual(there, here.data);
});

test('onScale reports every scale, coarse to fine, full size, outside the hole untouched', () => {
  const img = stripes(S, S, 10);
  const hole = rectMask(S, S, 40, 50, 70, 60);
  const calls: { index: number; count: number; image: RgbaImage }[] = [];
  const out = contentAwareFill(img, hole, {
    seed: 3,
    onScale: (image, index, count) => calls.push({ index, count, image: { ...image, data: new Uint8ClampedArray(image.data) } }),
  });
  assert.ok(calls.length >= 2, `a multi-scale fill (got ${calls.length} scales)`);
  const count = calls[0].count;
  assert.equal(calls.length, count);
  calls.forEach((c, i) => {
    assert.equal(c.index, i);
    assert.equal(c.count, count);
    assert.equal(c.image.width, S);
    assert.equal(c.image.height, S);
    assert.equal(c.image.data.length, S * S * 4);
    assert.equal(changedOutside(c.image, img, hole), 0, `scale ${i}: outside the hole is the input`);
  });
  assert.deepEqual(calls[count - 1].image.data, out.data, 'the last scale is the result');
});

test('an empty hole returns a copy of the input', () => {
  const img = stripes(64, 48, 6);
  let scales = 0;
  const out = contentAwareFill(img, new Uint8Array(64 * 48), { seed: 1, onScale: () => scales++ });
  assert.deepEqual(out.data, img.data);
  assert.notEqual(out.data, img.data);
  assert.equal(out.width, 64);
  assert.equal(out.height, 48);
  assert.ok(scales <= 1);
});

test('a hole covering everything gets a neutral fill and does not crash', () => {
  for (const [w, h] of [
    [1, 1],
    [7, 3],
    [64, 64],
  ]) {
    const img = stripes(w, h, 4);
    const hole = new Uint8Array(w * h).fill(1);
    const out = fill(img, hole);
    for (let i = 0; i < w * h; i++) assert.deepEqual([...out.data.subarray(i * 4, i * 4 + 4)], [128, 128, 128, 255]);
  }
});

test('a hole with no whole patch of known pixels is still filled, smoothly', () => {
  // Only a 2-pixel frame is known: no 3×3 patch fits in it, so there is
  // nothing to copy and the fill falls back to a harmonic membrane through
  // the frame. A linear ramp is harmonic, so it comes back up to rounding and
  // an unconverged remainder: allow one level on average (flat fill: 22).
  const img = gradient(40, 40);
  const hole = rectMask(40, 40, 2, 2, 36, 36);
  const out = fill(img, hole);
  assertGoodFill('frame', img, hole, out, 1);
});

test('holes touching the border', () => {
  const img = stripes(S, S, 10);
  const oneOff = holeMae(shifted(img, 1, 0), img, rectMask(S, S, 0, 0, S, S));
  const cases: [string, Uint8Array][] = [
    ['corner', rectMask(S, S, 120, 0, 40, 40)],
    ['top band', rectMask(S, S, 0, 0, S, 12)],
    ['left edge', rectMask(S, S, 0, 50, 20, 60)],
    ['bottom-right corner disc', discMask(S, S, S, S, 30)],
  ];
  for (const [name, hole] of cases) {
    const out = fill(img, hole);
    assertGoodFill(name, img, hole, out, 0.25 * oneOff);
  }
});

test('very thin holes: one-pixel lines across the image', () => {
  const img = checkerboard(S, S, 8);
  const diag = new Uint8Array(S * S);
  for (let i = 0; i < S; i++) diag[i * S + i] = 1;
  const cases: [string, Uint8Array][] = [
    ['horizontal', rectMask(S, S, 0, 77, S, 1)],
    ['vertical', rectMask(S, S, 90, 0, 1, S)],
    ['diagonal', diag],
  ];
  for (const [name, hole] of cases) {
    const out = fill(img, hole);
    // a thin line has exact copies everywhere: allow 2% of its pixels wrong
    assertGoodFill(name, img, hole, out, 0.02 * CONTRAST);
  }
  // Two pixels wide, on a cell edge. With 4-pixel cells every 7×7 patch sees
  // a whole cell, so only the right answer matches exactly. (With cells wider
  // than the patch, a cell grown by the hole's width is locally
  // indistinguishable from a right one: each 7×7 window of it exists in the
  // picture. That is a limit of any patch-based fill, not tested here.)
  const small = checkerboard(S, S, 4);
  const edge = rectMask(S, S, 79, 0, 2, S);
  assertGoodFill('two-pixel vertical on a cell edge', small, edge, fill(small, edge), 0.02 * CONTRAST);
});

test('tiny images', () => {
  const cases: [number, number, Uint8Array][] = [
    [8, 8, rectMask(8, 8, 3, 3, 2, 2)],
    [8, 8, rectMask(8, 8, 0, 0, 8, 3)],
    [5, 5, rectMask(5, 5, 2, 2, 1, 1)],
    [2, 2, rectMask(2, 2, 1, 1, 1, 1)],
    [1, 9, rectMask(1, 9, 0, 4, 1, 2)],
    [16, 3, rectMask(16, 3, 6, 0, 3, 3)],
  ];
  for (const [w, h, hole] of cases) {
    const img = gradient(w, h);
    const out = fill(img, hole);
    // nothing to compare against at this size but plausibility: within the known range
    for (let i = 0; i < w * h; i++) {
      if (!hole[i]) continue;
      assert.equal(out.data[i * 4 + 3], 255);
    }
  }
  // 8×8 stripes: small, but the texture is still continued exactly
  const img = stripes(8, 8, 4);
  const hole = rectMask(8, 8, 3, 3, 2, 2);
  assert.ok(holeMae(fill(img, hole), img, hole) < 0.1 * CONTRAST);
});

test('alpha inside the hole comes from the source', () => {
  // alpha stripes (varying alpha): the hole's alpha is synthesised like the colour
  const img = makeImage(
    S,
    S,
    (x, y) => [(x * 3) & 255, 90, (y * 2) & 255],
    (x, y) => (((x + y) % 12) < 6 ? 40 : 220),
  );
  const alphaOnly = (im: RgbaImage): RgbaImage => {
    const d = new Uint8ClampedArray(im.data.length);
    for (let i = 0; i < d.length; i += 4) d[i] = d[i + 1] = d[i + 2] = im.data[i + 3];
    return { width: im.width, height: im.height, data: d };
  };
  const hole = rectMask(S, S, 50, 60, 36, 36);
  const out = fill(img, hole);
  const errA = holeMae(alphaOnly(out), alphaOnly(img), hole);
  const flatA = holeMae(alphaOnly(flatFill(img, hole)), alphaOnly(img), hole);
  assert.ok(errA < 0.35 * flatA, `alpha MAE ${errA.toFixed(1)} vs flat ${flatA.toFixed(1)}`);

  // constant alpha (not 255) stays that alpha inside the hole
  const half = makeImage(64, 64, (x, y) => ((x + y) % 8 < 4 ? [200, 0, 0] : [0, 0, 200]), () => 128);
  const hole2 = discMask(64, 64, 30, 30, 10);
  const out2 = fill(half, hole2);
  for (let i = 0; i < hole2.length; i++) if (hole2[i]) assert.equal(out2.data[i * 4 + 3], 128);
});

test('any non-zero hole value marks the hole', () => {
  const img = stripes(S, S, 10);
  const ones = rectMask(S, S, 60, 60, 30, 30);
  const byte = ones.map((v) => v * 255);
  assert.deepEqual(contentAwareFill(img, byte, { seed: 4 }).data, contentAwareFill(img, ones, { seed: 4 }).data);
});

test('shouldStop cancels with FillCancelledError; false lets it finish', () => {
  const img = stripes(S, S, 10);
  const hole = rectMask(S, S, 40, 40, 60, 60);
  let polls = 0;
  assert.throws(
    () => contentAwareFill(img, hole, { seed: 1, shouldStop: () => ++polls > 3 }),
    (e: unknown) => e instanceof FillCancelledError && e.name === 'FillCancelledError',
  );
  assert.equal(polls, 4, 'it stops at the first poll answering true');
  let polled = 0;
  const out = contentAwareFill(img, hole, { seed: 1, shouldStop: () => (polled++, false) });
  assert.ok(polled > 5, 'polled between iterations');
  assert.deepEqual(out.data, contentAwareFill(img, hole, { seed: 1 }).data, 'polling does not change the result');
});

test('bad arguments are refused', () => {
  const img = stripes(16, 16, 4);
  assert.throws(() => contentAwareFill(img, new Uint8Array(15 * 16), { seed: 1 }), RangeError);
  assert.throws(() => contentAwareFill({ width: 16, height: 16, data: new Uint8ClampedArray(10) }, new Uint8Array(256), { seed: 1 }), RangeError);
  assert.throws(() => contentAwareFill({ width: 0, height: 16, data: new Uint8ClampedArray(0) }, new Uint8Array(0), { seed: 1 }), RangeError);
});
