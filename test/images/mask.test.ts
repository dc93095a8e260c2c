/** The mask conversions the pipeline makes for providers, checked on decoded pixels. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { imageWithMaskAlpha, whiteMeansEdit } from '../../src/images/mask.js';
import type { InputImage } from '../../src/types.js';
import { makeMask, makePng } from '../helpers/images.js';

let dir: string;
let image: InputImage;
let mask: InputImage;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imagegate-mask-'));
  const write = async (name: string, bytes: Buffer, hasAlpha: boolean): Promise<InputImage> => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, bytes);
    return { param: name, path: p, bytes: bytes.length, format: 'png', width: 64, height: 48, hasAlpha, filename: name };
  };
  image = await write('image.png', await makePng(64, 48), false);
  mask = await write('mask.png', await makeMask(64, 48, { left: 16, top: 8, width: 20, height: 10 }), true);
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('image-alpha: the image RGB unchanged, the mask alpha as its alpha (transparent = edit)', async () => {
  const out = await imageWithMaskAlpha(image, mask);
  const { data, info } = await sharp(out.bytes!).raw().toBuffer({ resolveWithObject: true });
  assert.equal(info.channels, 4, 'RGBA');
  assert.deepEqual([out.width, out.height, info.width, info.height], [64, 48, 64, 48]);
  const rgb = await sharp(image.path).raw().toBuffer();
  for (const [x, y, a] of [[20, 10, 0], [35, 17, 0], [0, 0, 255], [63, 47, 255], [15, 10, 255]] as const) {
    const i = y * 64 + x;
    assert.equal(data[i * 4 + 3], a, `alpha at ${x},${y}`);
    assert.deepEqual([...data.subarray(i * 4, i * 4 + 3)], [...rgb.subarray(i * 3, i * 3 + 3)], `RGB at ${x},${y}`);
  }
});

test('white: 255 where the mask is transparent, 0 elsewhere, one channel', async () => {
  const out = await whiteMeansEdit(mask);
  assert.equal((await sharp(out.bytes!).metadata()).channels, 1, 'a grayscale PNG');
  const data = await sharp(out.bytes!).extractChannel(0).raw().toBuffer();
  assert.equal(data[10 * 64 + 20], 255);
  assert.equal(data[0], 0);
});
