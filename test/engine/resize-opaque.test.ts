/** Resampling an opaque picture without its alpha channel gives exactly the pixels the premultiplied RGBA path gives. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fitCover } from '../../src/engine/ops/geometry.js';
import { fromSharp, resize, toSharp } from '../../src/engine/ops/sharp-raw.js';
import { makeImage } from './helpers.js';

const opaque = (w: number, h: number) => makeImage(w, h, (x, y) => [(x * 7 + y) & 255, (y * 13 + x * 3) & 255, (x * y) & 255, 255]);

test('opaque: byte-identical to the RGBA path, up and down, fill and cover', async () => {
  for (const [w, h, W, H] of [[64, 64, 256, 256], [64, 48, 256, 256], [300, 200, 97, 61], [97, 201, 512, 768], [33, 33, 34, 34]] as const) {
    const img = opaque(w, h);
    const fill = await resize(img, W, H);
    const fillRgba = await fromSharp(toSharp(img).resize(W, H, { fit: 'fill' }));
    assert.ok(Buffer.from(fill.data.buffer, fill.data.byteOffset, fill.data.byteLength).equals(Buffer.from(fillRgba.data.buffer, fillRgba.data.byteOffset, fillRgba.data.byteLength)), `fill ${w}x${h}→${W}x${H}`);
    const cover = await fitCover(img, W, H);
    const coverRgba = await fromSharp(toSharp(img).resize(W, H, { fit: 'cover', position: 'centre' }));
    assert.ok(Buffer.from(cover.data.buffer, cover.data.byteOffset, cover.data.byteLength).equals(Buffer.from(coverRgba.data.buffer, coverRgba.data.byteOffset, coverRgba.data.byteLength)), `cover ${w}x${h}→${W}x${H}`);
  }
});

test('with transparency: still premultiplied, so transparent pixels do not bleed colour', async () => {
  const img = makeImage(40, 40, (x) => (x < 20 ? [255, 0, 0, 0] : [0, 0, 255, 255]));
  const out = await resize(img, 160, 160);
  // just right of the edge: blue, not purple from the invisible red
  const p = (80 * 160 + 84) * 4;
  assert.ok(out.data[p]! < 10, `red ${out.data[p]} leaked`);
});
