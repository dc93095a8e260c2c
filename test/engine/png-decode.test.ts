/**
 * The JS decode of plain PNGs (engine/png-decode.ts) gives exactly the RGBA
 * pixels sharp's decode in run.ts gives, and leaves everything else to
 * sharp (null).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import sharp from 'sharp';
import { decodePlainPng } from '../../src/engine/png-decode.js';
import { seededRandom } from '../../src/engine/image.js';

const any = (): boolean => true;

/** run.ts's sharp decode, for a picture it does not scale down */
async function viaSharp(png: Buffer): Promise<Buffer> {
  const { data } = await sharp(png, { limitInputPixels: false })
    .rotate().resize({ width: 4096, height: 4096, fit: 'outside', withoutEnlargement: true })
    .toColourspace('srgb').ensureAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  return data;
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** A PNG written by hand: every row with its own filter (0-4 in turn), the data split over several IDATs. */
function handPng(w: number, h: number, colour: number, channels: number, samples: Uint8Array, extra: { before?: Buffer[]; after?: Buffer[] } = {}): Buffer {
  const stride = w * channels;
  const raw = Buffer.alloc((stride + 1) * h);
  let prev: Uint8Array = new Uint8Array(stride);
  for (let y = 0; y < h; y++) {
    const f = y % 5;
    const row = samples.subarray(y * stride, (y + 1) * stride);
    raw[y * (stride + 1)] = f;
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? row[i - channels]! : 0;
      const b = prev[i]!;
      const c = i >= channels ? prev[i - channels]! : 0;
      const p = a + b - c;
      const pred = f === 0 ? 0 : f === 1 ? a : f === 2 ? b : f === 3 ? (a + b) >> 1
        : Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c;
      raw[y * (stride + 1) + 1 + i] = (row[i]! - pred) & 255;
    }
    prev = row;
  }
  const z = zlib.deflateSync(raw);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8;
  ihdr[9] = colour;
  const third = Math.ceil(z.length / 3);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr), ...(extra.before ?? []),
    chunk('IDAT', z.subarray(0, third)), chunk('IDAT', z.subarray(third, 2 * third)), chunk('IDAT', z.subarray(2 * third)),
    ...(extra.after ?? []), chunk('IEND', Buffer.alloc(0)),
  ]);
}

test('plain PNGs: grey, grey+alpha, RGB, RGBA, every filter, sharp-written and hand-written: sharp\'s pixels', async () => {
  const rnd = seededRandom(3);
  let decoded = 0;
  for (let t = 0; t < 40; t++) {
    const w = 1 + Math.floor(rnd() * 70);
    const h = 1 + Math.floor(rnd() * 70);
    const channels = [1, 2, 3, 4][t % 4]!;
    const colour = [0, 4, 2, 6][t % 4]!;
    const samples = new Uint8Array(w * h * channels);
    const smooth = rnd() < 0.5;
    for (let i = 0; i < samples.length; i++) samples[i] = smooth ? (i * 3 + Math.floor(i / (w * channels)) * 7) & 255 : Math.floor(rnd() * 256);
    const pngs = [
      handPng(w, h, colour, channels, samples),
      await sharp(Buffer.from(samples), { raw: { width: w, height: h, channels: channels as 1 | 2 | 3 | 4 } })
        .png({ adaptiveFiltering: rnd() < 0.5, compressionLevel: Math.floor(rnd() * 10), palette: false }).toBuffer(),
    ];
    for (const png of pngs) {
      const mine = decodePlainPng(png, any);
      const ref = await viaSharp(png);
      if (mine === null) continue;
      decoded++;
      assert.ok(Buffer.from(mine.data.buffer, mine.data.byteOffset, mine.data.byteLength).equals(ref), `${w}x${h} colour ${colour}`);
    }
  }
  // sharp writes some of these as it likes (e.g. grey as a palette); the hand-written ones are all plain
  assert.ok(decoded >= 40, `${decoded} decoded in JS`);
});

test('left to sharp: palettes, 16 bits, tRNS, interlacing, chunks after the data, bad CRCs, trailing bytes, too big', async () => {
  const samples = new Uint8Array(8 * 8 * 3).map((_, i) => i * 5);
  const ok = handPng(8, 8, 2, 3, samples);
  assert.ok(decodePlainPng(ok, any));
  assert.equal(decodePlainPng(ok, () => false), null);
  const palette = await sharp(Buffer.from(samples), { raw: { width: 8, height: 8, channels: 3 } }).png({ palette: true }).toBuffer();
  assert.equal(decodePlainPng(palette, any), null);
  const deep = await sharp(Buffer.from(samples), { raw: { width: 8, height: 8, channels: 3 } }).toColourspace('rgb16').png().toBuffer();
  assert.equal(decodePlainPng(deep, any), null);
  const interlaced = await sharp(Buffer.from(samples), { raw: { width: 8, height: 8, channels: 3 } }).png({ progressive: true }).toBuffer();
  assert.equal(decodePlainPng(interlaced, any), null);
  assert.equal(decodePlainPng(handPng(8, 8, 2, 3, samples, { before: [chunk('tRNS', Buffer.alloc(6))] }), any), null);
  assert.equal(decodePlainPng(handPng(8, 8, 2, 3, samples, { after: [chunk('tEXt', Buffer.from('a\0b'))] }), any), null);
  const badCrc = Buffer.from(ok);
  badCrc[badCrc.length - 13] ^= 1; // last IDAT's CRC
  assert.equal(decodePlainPng(badCrc, any), null);
  assert.equal(decodePlainPng(Buffer.concat([ok, Buffer.from([0])]), any), null);
  assert.equal(decodePlainPng(ok.subarray(0, ok.length - 12), any), null);
});

test('gAMA, sRGB and pHYs before the data change nothing: sharp\'s pixels', async () => {
  const samples = new Uint8Array(9 * 7 * 3).map((_, i) => (i * 37) & 255);
  const gama = Buffer.alloc(4);
  gama.writeUInt32BE(100000);
  const phys = Buffer.alloc(9);
  phys.writeUInt32BE(2835, 0);
  phys.writeUInt32BE(2835, 4);
  phys[8] = 1;
  for (const before of [[chunk('gAMA', gama)], [chunk('sRGB', Buffer.from([0]))], [chunk('pHYs', phys)], [chunk('gAMA', gama), chunk('sRGB', Buffer.from([1])), chunk('pHYs', phys)]]) {
    const png = handPng(9, 7, 2, 3, samples, { before });
    const mine = decodePlainPng(png, any);
    assert.ok(mine, 'decoded in JS');
    assert.ok(Buffer.from(mine.data.buffer, mine.data.byteOffset, mine.data.byteLength).equals(await viaSharp(png)));
  }
});

test('a deflate stream that inflates past the rows the header promises is left to sharp, without inflating it all', () => {
  // a 16x16 RGB header over 64 MB of zeros (about 64 KB of deflate): a bomb for a decoder that trusts the stream
  const bomb = zlib.deflateSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 });
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(16, 0);
  ihdr.writeUInt32BE(16, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  const png = Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr), chunk('IDAT', bomb), chunk('IEND', Buffer.alloc(0)),
  ]);
  const before = process.memoryUsage().arrayBuffers;
  assert.equal(decodePlainPng(png, any), null);
  assert.ok(process.memoryUsage().arrayBuffers - before < 16 * 1024 * 1024, 'the stream was not inflated whole');
});
