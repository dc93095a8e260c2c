/** The mask conversions the pipeline makes for providers, checked on decoded pixels, from disk or from memory alike. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { HeldBytes } from '../../src/held-bytes.js';
import { asPrepared, imageWithMaskAlpha, whiteMeansEdit } from '../../src/images/mask.js';
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

function input(name: string, bytes: Buffer, where: 'disk' | 'memory', hasAlpha: boolean): InputImage {
  const p = path.join(dir, name);
  if (where === 'disk') fs.writeFileSync(p, bytes);
  const base = { param: name, bytes: bytes.length, format: 'png' as const, width: 40, height: 30, hasAlpha, filename: null };
  return where === 'disk' ? { ...base, path: p } : { ...base, path: '', data: HeldBytes.of(bytes) };
}

const pixels = async (b: Buffer) => (await sharp(b).raw().toBuffer()).toString('base64');

test('white-means-edit and mask-in-alpha: the same pixels from memory or from disk', async () => {
  const photo = await makePng(40, 30);
  const maskBytes = await makeMask(40, 30, { left: 5, top: 5, width: 10, height: 8 });
  const disk = { image: input('photo-40.png', photo, 'disk', false), mask: input('mask-40.png', maskBytes, 'disk', true) };
  const memory = { image: input('photo-40.png', photo, 'memory', false), mask: input('mask-40.png', maskBytes, 'memory', true) };

  const [wd, wm] = await Promise.all([whiteMeansEdit(disk.mask), whiteMeansEdit(memory.mask)]);
  assert.equal(await pixels(wd.bytes!), await pixels(wm.bytes!));
  const white = await sharp(wm.bytes!).raw().toBuffer({ resolveWithObject: true });
  const at = (x: number, y: number) => white.data[(y * 40 + x) * white.info.channels];
  assert.equal(at(7, 7), 255, 'inside the hole: edit');
  assert.equal(at(0, 0), 0, 'outside: keep');

  const [ad, am] = await Promise.all([imageWithMaskAlpha(disk.image, disk.mask), imageWithMaskAlpha(memory.image, memory.mask)]);
  assert.equal(await pixels(ad.bytes!), await pixels(am.bytes!));

  // held in memory: the same HeldBytes, not a copy
  const held = asPrepared(memory.image);
  assert.equal(held.held, memory.image.data);
  assert.deepEqual({ ...held, held: held.held!.buffer }, { held: photo, size: photo.length, format: 'png', width: 40, height: 30 });
  assert.deepEqual(asPrepared(disk.image), { path: disk.image.path, size: photo.length, format: 'png', width: 40, height: 30 });
});
