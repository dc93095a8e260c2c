/** Mask conversions read an upload the same whether intake held it in memory or spooled it to disk. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { asPrepared, imageWithMaskAlpha, whiteMeansEdit } from '../../src/images/mask.js';
import type { InputImage } from '../../src/types.js';
import { makeMask, makePng } from '../helpers/images.js';

let dir: string;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imagegate-mask-'));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function input(name: string, bytes: Buffer, where: 'disk' | 'memory', hasAlpha: boolean): InputImage {
  const p = path.join(dir, name);
  if (where === 'disk') fs.writeFileSync(p, bytes);
  const base = { param: name, bytes: bytes.length, format: 'png' as const, width: 40, height: 30, hasAlpha, filename: null };
  return where === 'disk' ? { ...base, path: p } : { ...base, path: '', data: bytes };
}

const pixels = async (b: Buffer) => (await sharp(b).raw().toBuffer()).toString('base64');

test('white-means-edit and mask-in-alpha: the same pixels from memory or from disk', async () => {
  const photo = await makePng(40, 30);
  const mask = await makeMask(40, 30, { left: 5, top: 5, width: 10, height: 8 });
  const disk = { image: input('photo.png', photo, 'disk', false), mask: input('mask.png', mask, 'disk', true) };
  const memory = { image: input('photo.png', photo, 'memory', false), mask: input('mask.png', mask, 'memory', true) };

  const [wd, wm] = await Promise.all([whiteMeansEdit(disk.mask), whiteMeansEdit(memory.mask)]);
  assert.equal(await pixels(wd.bytes!), await pixels(wm.bytes!));
  const white = await sharp(wm.bytes!).raw().toBuffer({ resolveWithObject: true });
  const at = (x: number, y: number) => white.data[(y * 40 + x) * white.info.channels];
  assert.equal(at(7, 7), 255, 'inside the hole: edit');
  assert.equal(at(0, 0), 0, 'outside: keep');

  const [ad, am] = await Promise.all([imageWithMaskAlpha(disk.image, disk.mask), imageWithMaskAlpha(memory.image, memory.mask)]);
  assert.equal(await pixels(ad.bytes!), await pixels(am.bytes!));

  assert.deepEqual(asPrepared(memory.image), { bytes: photo, size: photo.length, format: 'png', width: 40, height: 30 });
  assert.deepEqual(asPrepared(disk.image), { path: disk.image.path, size: photo.length, format: 'png', width: 40, height: 30 });
});
