/**
 * probeImage: the same answer whether it reads the header in JS from the
 * bytes intake kept, in JS from the file, or through libvips (layouts the JS
 * reader leaves to it, headers longer than the kept bytes).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { HEAD_BYTES } from '../../src/images/header.js';
import { probeImage, type ProbedImage } from '../../src/images/probe.js';
import { makeGif, makeMask, makePng, pngDeclaring } from '../helpers/images.js';

let dir: string;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imagegate-probe-'));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A JPEG whose COM segments push the frame header past `offset`. */
async function jpegWithLongHeader(offset: number): Promise<Buffer> {
  const j = await sharp(await makePng(40, 30)).jpeg().withMetadata({ orientation: 6 }).toBuffer();
  const segments: Buffer[] = [];
  for (let n = 0; n < offset; n += 65535) {
    const s = Buffer.alloc(65535 + 2, 0x20);
    s[0] = 0xff;
    s[1] = 0xfe;
    s.writeUInt16BE(65535, 2);
    segments.push(s);
  }
  return Buffer.concat([j.subarray(0, 2), ...segments, j.subarray(2)]);
}

async function three(name: string, bytes: Buffer): Promise<ProbedImage[]> {
  const file = path.join(dir, name);
  fs.writeFileSync(file, bytes);
  return Promise.all([
    probeImage(file, { size: bytes.length, head: bytes.subarray(0, HEAD_BYTES) }),
    probeImage(file, { size: bytes.length }),
    probeImage(file),
  ]);
}

test('kept bytes, the file, or libvips: one answer', async () => {
  const cases: Array<[string, Buffer, ProbedImage]> = [
    ['plain.png', await makePng(64, 48), { format: 'png', width: 64, height: 48, hasAlpha: false }],
    ['alpha.png', await makePng(64, 48, { alpha: true }), { format: 'png', width: 64, height: 48, hasAlpha: true }],
    ['icc.png', await sharp(await makePng(20, 10)).withIccProfile('srgb').png().toBuffer(), { format: 'png', width: 20, height: 10, hasAlpha: false }],
    ['huge.png', pngDeclaring(40000, 40000), { format: 'png', width: 40000, height: 40000, hasAlpha: true }],
    ['turned.jpg', await sharp(await makePng(40, 30)).jpeg().withMetadata({ orientation: 6 }).toBuffer(), { format: 'jpeg', width: 30, height: 40, hasAlpha: false }],
    ['long-header.jpg', await jpegWithLongHeader(200_000), { format: 'jpeg', width: 30, height: 40, hasAlpha: false }],
    ['alpha.webp', await sharp(await makeMask(30, 20, { left: 0, top: 0, width: 5, height: 5 })).webp().toBuffer(), { format: 'webp', width: 30, height: 20, hasAlpha: true }],
    ['a.gif', await makeGif(), { format: 'gif' }],
  ];
  for (const [name, bytes, want] of cases) {
    for (const got of await three(name, bytes)) assert.deepEqual(got, want, name);
  }
});

test('a header that cannot be read: libvips says why, whichever way the bytes came', async () => {
  const cut = (await makePng(64, 48)).subarray(0, 20);
  for (const got of await three('cut.png', cut)) {
    assert.equal(got.format, 'png');
    assert.equal(got.width, undefined);
    assert.ok(got.headerError);
  }
});
