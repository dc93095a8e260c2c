/**
 * The JS enlargement (ops/upscale.ts) gives exactly sharp's bytes: noise and
 * gradients, thin and 1-pixel pictures, integer and fractional scales, fill
 * and cover (with its centre crop), colour and grey. If a sharp/libvips upgrade changes how it
 * enlarges, this fails and the JS path must follow it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { upscaleLikeSharp } from '../../src/engine/ops/upscale.js';
import { fromSharp, toSharpForResize } from '../../src/engine/ops/sharp-raw.js';
import { seededRandom } from '../../src/engine/image.js';
import type { RgbaImage } from '../../src/engine/types.js';

const bytes = (img: RgbaImage): Buffer => Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength);

test('upscaleLikeSharp: byte-identical to sharp over 150 random shapes, fill and cover', async () => {
  const rnd = seededRandom(7);
  const int = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1));
  const cases: [number, number, number, number][] = [[64, 64, 256, 256], [1, 1, 5, 3], [1, 40, 90, 41], [3, 2, 1024, 7]];
  while (cases.length < 150) {
    const w = int(1, 90), h = int(1, 90);
    cases.push([w, h, int(w + 1, w * 5 + 2), int(h + 1, h * 5 + 2)]);
  }
  for (const [w, h, W, H] of cases) {
    // colour noise, a colour gradient, grey noise (computed as one channel)
    const kind = Math.floor(rnd() * 3);
    const data = new Uint8ClampedArray(w * h * 4);
    for (let i = 0; i < w * h; i++) {
      const g = Math.floor(rnd() * 256);
      for (let c = 0; c < 3; c++) data[i * 4 + c] = kind === 0 ? Math.floor(rnd() * 256) : kind === 1 ? ((i % w) * 5 + Math.floor(i / w) * 3 + c * 60) & 255 : g;
      data[i * 4 + 3] = 255;
    }
    const img = { width: w, height: h, data };
    for (const fit of ['fill', 'cover'] as const) {
      const mine = upscaleLikeSharp(img, W, H, fit);
      assert.ok(mine, `${fit} ${w}x${h}→${W}x${H} is an enlargement`);
      const ref = await fromSharp(toSharpForResize(img).resize(W, H, { fit, position: 'centre' }));
      assert.deepEqual([mine.width, mine.height], [ref.width, ref.height], `${fit} ${w}x${h}→${W}x${H} size`);
      assert.ok(bytes(mine).equals(bytes(ref)), `${fit} ${w}x${h}→${W}x${H} pixels`);
    }
  }
});

test('upscaleLikeSharp: declines what is not an enlargement both ways', () => {
  const img = { width: 10, height: 10, data: new Uint8ClampedArray(400).fill(255) };
  assert.equal(upscaleLikeSharp(img, 10, 20, 'fill'), null);
  assert.equal(upscaleLikeSharp(img, 5, 20, 'fill'), null);
  assert.equal(upscaleLikeSharp(img, 8, 8, 'cover'), null);
  // cover scales by the larger factor: 20/10 = 2 both ways, then crops to 10 wide
  assert.deepEqual([upscaleLikeSharp(img, 10, 20, 'cover')!.width, upscaleLikeSharp(img, 10, 20, 'cover')!.height], [10, 20]);
});

test('upscaleLikeSharp: declines an image with any transparency (sharp premultiplies it)', () => {
  const data = new Uint8ClampedArray(400).fill(255);
  data[4 * 37 + 3] = 254;
  assert.equal(upscaleLikeSharp({ width: 10, height: 10, data }, 30, 30, 'fill'), null);
  assert.equal(upscaleLikeSharp({ width: 10, height: 10, data }, 30, 30, 'cover'), null);
});
