/**
 * The JS header reader against the reference it replaces, libvips through
 * sharp.metadata(): on valid files of every kind it must answer, and answer
 * what libvips reads; on thousands of damaged files (every prefix, every
 * early byte changed) it may only answer when libvips reads the file too,
 * and then the same. `null` (ask libvips) is always allowed for damage.
 */
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { before, describe, test } from 'node:test';
import sharp, { type JpegOptions, type PngOptions, type Sharp, type WebpOptions } from 'sharp';
import { readHeader, type HeaderFacts } from '../../src/images/header.js';
import { pngDeclaring } from '../helpers/images.js';

interface Sample {
  name: string;
  bytes: Buffer;
  /** the reader must decide this one (a common, valid layout) */
  decides: boolean;
}

/** A picture with some structure, so encoders produce ordinary streams. */
function pixels(width: number, height: number, channels: number): Buffer {
  const px = Buffer.alloc(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) px[(y * width + x) * channels + c] = (x * 37 + y * 11 + c * 70) & 0xff;
      if (channels === 4 || channels === 2) px[(y * width + x) * channels + channels - 1] = x < width / 2 ? 255 : (x * 9) & 0xff;
    }
  }
  return px;
}

const raw = (w: number, h: number, ch: 1 | 2 | 3 | 4) => sharp(pixels(w, h, ch), { raw: { width: w, height: h, channels: ch } });

function crc(type: string, data: Buffer): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(zlib.crc32(Buffer.concat([Buffer.from(type, 'latin1'), data])));
  return out;
}
function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  return Buffer.concat([len, Buffer.from(type, 'latin1'), data, crc(type, data)]);
}
/** `extra` chunks inserted right after IHDR. */
function withChunks(png: Buffer, extra: Buffer[]): Buffer {
  return Buffer.concat([png.subarray(0, 33), ...extra, png.subarray(33)]);
}

/** A JPEG with its APP segments replaced by one EXIF block holding `tiff`. */
function withExif(jpeg: Buffer, tiff: Buffer): Buffer {
  let at = 2;
  while (jpeg[at + 1]! >= 0xe0 && jpeg[at + 1]! <= 0xef) at += 2 + jpeg.readUInt16BE(at + 2);
  const payload = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff]);
  const head = Buffer.from([0xff, 0xe1, 0, 0]);
  head.writeUInt16BE(payload.length + 2, 2);
  return Buffer.concat([jpeg.subarray(0, 2), head, payload, jpeg.subarray(at)]);
}

/** A minimal TIFF block whose IFD0 holds one orientation entry (type SHORT). */
function tiffWithOrientation(value: number, order: 'II' | 'MM'): Buffer {
  const t = Buffer.alloc(8 + 2 + 12 + 4);
  const le = order === 'II';
  const w16 = (v: number, o: number) => (le ? t.writeUInt16LE(v, o) : t.writeUInt16BE(v, o));
  const w32 = (v: number, o: number) => (le ? t.writeUInt32LE(v, o) : t.writeUInt32BE(v, o));
  t.write(order, 0, 'latin1');
  w16(42, 2);
  w32(8, 4);
  w16(1, 8);
  w16(0x0112, 10);
  w16(3, 12);
  w32(1, 14);
  w16(value, 18);
  w32(0, 22);
  return t;
}

let samples: Sample[] = [];

before(async () => {
  const add = (name: string, bytes: Buffer, decides = true) => samples.push({ name, bytes, decides });
  const png = (s: Sharp, o: PngOptions = {}) => s.png(o).toBuffer();
  add('png rgb', await png(raw(32, 24, 3)));
  add('png rgba', await png(raw(32, 24, 4)));
  add('png gray', await png(raw(17, 9, 1).toColourspace('b-w')));
  add('png gray+alpha', await png(raw(17, 9, 2).toColourspace('b-w')));
  add('png gray 16-bit', await png(raw(16, 16, 1).toColourspace('grey16')));
  add('png rgb 16-bit', await png(raw(16, 16, 3).toColourspace('rgb16')));
  add('png palette', await png(raw(32, 24, 3), { palette: true }));
  add('png palette + tRNS', await png(raw(32, 24, 4), { palette: true }));
  add('png interlaced', await png(raw(32, 24, 3), { progressive: true }));
  add('png with an ICC profile', await png(raw(16, 16, 3).withIccProfile('srgb')), false);
  const plain = await png(raw(20, 10, 3));
  const gray = await png(raw(20, 10, 1).toColourspace('b-w'));
  add('png gray + tRNS', withChunks(gray, [chunk('tRNS', Buffer.from([0, 7]))]));
  add('png rgb + tRNS', withChunks(plain, [chunk('tRNS', Buffer.from([0, 1, 0, 2, 0, 3]))]));
  // sharp's own PNGs carry pHYs already
  add('png gAMA sRGB pHYs', withChunks(plain, [chunk('gAMA', Buffer.from([0, 0, 0xb1, 0x8f])), chunk('sRGB', Buffer.from([0]))]));
  add('png pHYs twice', withChunks(plain, [chunk('pHYs', Buffer.from([0, 0, 0x0b, 0x13, 0, 0, 0x0b, 0x13, 1]))]), false);
  add('png tEXt', withChunks(plain, [chunk('tEXt', Buffer.from('Software\0test', 'latin1'))]), false);
  add('png declaring 40000x40000', pngDeclaring(40000, 40000));

  const jpeg = (s: Sharp, o: JpegOptions = {}) => s.jpeg(o).toBuffer();
  add('jpeg 4:2:0', await jpeg(raw(33, 21, 3)));
  add('jpeg 4:4:4 q100', await jpeg(raw(33, 21, 3), { quality: 100, chromaSubsampling: '4:4:4' }));
  add('jpeg progressive', await jpeg(raw(40, 30, 3), { progressive: true }));
  add('jpeg gray', await jpeg(raw(16, 16, 1).toColourspace('b-w')));
  add('jpeg cmyk', await jpeg(raw(16, 16, 3).toColourspace('cmyk')));
  add('jpeg mozjpeg', await jpeg(raw(40, 30, 3), { mozjpeg: true }));
  for (let o = 1; o <= 8; o++) add(`jpeg orientation ${o}`, await jpeg(raw(24, 16, 3).withMetadata({ orientation: o })));
  const base = await jpeg(raw(24, 16, 3));
  add('jpeg exif big-endian orientation 6', withExif(base, tiffWithOrientation(6, 'MM')));
  add('jpeg exif orientation 0', withExif(base, tiffWithOrientation(0, 'II')), false);
  add('jpeg exif orientation 9', withExif(base, tiffWithOrientation(9, 'II')), false);
  add('jpeg with an ICC profile', await jpeg(raw(16, 16, 3).withIccProfile('srgb')));

  const webp = (s: Sharp, o: WebpOptions = {}) => s.webp(o).toBuffer();
  add('webp lossy', await webp(raw(30, 20, 3)));
  add('webp lossy + alpha', await webp(raw(30, 20, 4)));
  add('webp lossless', await webp(raw(30, 20, 3), { lossless: true }));
  add('webp lossless + alpha', await webp(raw(30, 20, 4), { lossless: true }));
  add('webp with an ICC profile', await webp(raw(16, 16, 3).withIccProfile('srgb')));
  add('webp with exif', await webp(raw(16, 16, 3).withMetadata({ orientation: 6 })), false);
  const frame = (red: number) => sharp({ create: { width: 16, height: 16, channels: 3, background: { r: red, g: 0, b: 0 } } }).png().toBuffer();
  add('webp animated', await sharp([await frame(10), await frame(200)], { join: { animated: true } }).webp({ loop: 0 }).toBuffer(), false);
});

type Reference = { width: number; height: number; hasAlpha: boolean; orientation: number; format: string } | null;

/** What libvips reads, the way probe.ts asks it; null when it refuses the header. */
async function reference(bytes: Buffer): Promise<Reference> {
  try {
    const m = await sharp(bytes, { limitInputPixels: false, sequentialRead: true }).metadata();
    if (!m.width || !m.height) return null;
    return { width: m.width, height: m.height, hasAlpha: Boolean(m.hasAlpha), orientation: m.orientation ?? 1, format: m.format ?? '' };
  } catch {
    return null;
  }
}

function agrees(js: HeaderFacts, ref: Reference): string | null {
  if (ref === null) return 'libvips refuses this header';
  const format = js.format === 'jpeg' ? 'jpeg' : js.format;
  const got = { width: js.width, height: js.height, hasAlpha: js.hasAlpha, orientation: js.orientation, format };
  const want = { ...ref, format: ref.format === 'jpg' ? 'jpeg' : ref.format };
  return JSON.stringify(got) === JSON.stringify(want) ? null : `js ${JSON.stringify(got)} vs libvips ${JSON.stringify(want)}`;
}

/** Runs the checks a few dozen at a time (libvips answers on the threadpool). */
async function each<T>(items: T[], f: (x: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += 32) await Promise.all(items.slice(i, i + 32).map(f));
}

/** Each damaged file: no answer, or libvips's answer; and some answers at all, or the test proves nothing. */
async function onlyWhenLibvipsAgrees(cases: Array<{ name: string; bytes: Buffer }>): Promise<void> {
  let decided = 0;
  await each(cases, async (c) => {
    const js = readHeader(c.bytes, c.bytes.length);
    if (js === null || js === 'more') return;
    decided++;
    assert.equal(agrees(js, await reference(c.bytes)), null, c.name);
  });
  assert.ok(decided > 0);
}

describe('readHeader', () => {
  test('valid files: answers what libvips reads', async () => {
    for (const s of samples) {
      const js = readHeader(s.bytes, s.bytes.length);
      const ref = await reference(s.bytes);
      if (js === null || js === 'more') {
        assert.ok(!s.decides, `${s.name}: the reader should decide this common layout, it said ${js}`);
        continue;
      }
      assert.equal(agrees(js, ref), null, s.name);
    }
  });

  test('the first bytes of a longer file: the answer for the whole file, or "more"', async () => {
    for (const s of samples) {
      const whole = readHeader(s.bytes, s.bytes.length);
      for (let n = 0; n < s.bytes.length; n += n < 400 ? 1 : 29) {
        const part = readHeader(s.bytes.subarray(0, n), s.bytes.length);
        if (part === null || part === 'more') continue;
        assert.deepEqual(part, whole, `${s.name}, first ${n} bytes`);
      }
    }
  });

  test('truncated files: answers only when libvips reads them, and the same', async () => {
    const cases: Array<{ name: string; bytes: Buffer }> = [];
    for (const s of samples) {
      for (let n = 0; n < s.bytes.length; n += n < 400 ? 1 : 23) cases.push({ name: `${s.name} cut at ${n}`, bytes: s.bytes.subarray(0, n) });
    }
    await onlyWhenLibvipsAgrees(cases);
  });

  test('one byte changed anywhere in the header: answers only when libvips reads it, and the same', async () => {
    const cases: Array<{ name: string; bytes: Buffer }> = [];
    for (const s of samples) {
      const upto = Math.min(s.bytes.length, 300);
      for (let at = 0; at < upto; at++) {
        for (const v of [s.bytes[at]! ^ 0xff, s.bytes[at]! ^ 0x01, s.bytes[at]! ^ 0x10, 0x00]) {
          if (v === s.bytes[at]) continue;
          const b = Buffer.from(s.bytes);
          b[at] = v;
          cases.push({ name: `${s.name} byte ${at} = ${v}`, bytes: b });
        }
      }
    }
    await onlyWhenLibvipsAgrees(cases);
  });
});
