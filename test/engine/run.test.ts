/**
 * Job-level behaviour of runJob: masks, output size, variants, formats,
 * partial images, background modes, content-aware fill, input errors.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { runJob, EngineInputError } from '../../src/engine/run.js';
import { pngLevel } from '../../src/images/encode.js';
import { variantFactor } from '../../src/engine/apply.js';
import type { ContentAwareFill } from '../../src/engine/fill-bridge.js';
import {
  TempDir, colourful, decodeBytes, diffCount, diffOutside, edit, job, makeImage, maxStep, meanLuma, px, run, subjectOnPlain,
} from './helpers.js';

const tmp = new TempDir();
after(() => tmp.remove());

/** 120×80 picture: sky, grass, and a red box at (40..70, 30..60). */
const scene = () =>
  makeImage(120, 80, (x, y) => {
    if (x >= 40 && x < 70 && y >= 30 && y < 60) return [210, 25, 30, 255];
    if (y < 45) return [100 + y, 160 + (y >> 1), 230, 255];
    return [60 + ((x * 7 + y * 3) % 16), 140 + ((x + y) % 20), 50, 255];
  });
const BOX = { x: 34, y: 24, w: 42, h: 42 };

test('a mask confines pixel ops: outside the region stays byte-identical', async () => {
  const src = scene();
  const p = await tmp.png(src);
  const m = await tmp.mask(120, 80, BOX);
  for (const prompt of ['grayscale', 'blur a lot', 'tint it blue', 'invert', 'brighten by 50%', 'sepia', 'vintage', 'pixelate 8', 'more contrast', 'make it green', 'sharpen', "add the text 'OK' in the center"]) {
    const { out, result } = await run(job({ prompt, images: [{ path: p }], mask: { path: m }, size: { width: 120, height: 80 } }));
    assert.equal(diffOutside(src, out, BOX), 0, `${prompt}: outside changed`);
    assert.ok(diffCount(src, out, BOX) > 50, `${prompt}: inside unchanged`);
    assert.equal(result.understood, true);
  }
});

test('a soft mask blends: partial alpha gives partial edits, alpha 255 none', async () => {
  const src = makeImage(40, 10, () => [200, 40, 40, 255]);
  const p = await tmp.png(src);
  const m = await tmp.png(makeImage(40, 10, (x) => [0, 0, 0, x < 10 ? 0 : x < 20 ? 128 : 255]));
  const { out } = await run(job({ prompt: 'invert', images: [{ path: p }], mask: { path: m }, size: { width: 40, height: 10 } }));
  assert.deepEqual(px(out, 5, 5), [55, 215, 215, 255]);
  const mid = px(out, 15, 5);
  assert.ok(mid[0] > 90 && mid[0] < 160, `blended ${mid}`);
  assert.deepEqual(px(out, 30, 5), [200, 40, 40, 255]);
});

test('text with a mask is placed in the mask bounding box and drawn only there', async () => {
  const src = makeImage(200, 120, () => [70, 110, 160, 255]);
  const p = await tmp.png(src);
  const rect = { x: 100, y: 60, w: 100, h: 60 };
  const m = await tmp.mask(200, 120, rect);
  const { out } = await run(job({ prompt: "add the text 'SALE' at the top", images: [{ path: p }], mask: { path: m }, size: { width: 200, height: 120 } }));
  assert.equal(diffOutside(src, out, rect), 0);
  assert.ok(diffCount(src, out, { x: 100, y: 60, w: 100, h: 25 }) > 50, 'text at the top of the box');
});

test('a mask with no transparent pixel means the whole image (with a warning)', async () => {
  const src = colourful();
  const p = await tmp.png(src);
  const m = await tmp.png(makeImage(96, 64, () => [0, 0, 0, 255]));
  const { out, result } = await run(job({ prompt: 'invert', images: [{ path: p }], mask: { path: m } }));
  assert.deepEqual(px(out, 0, 0).slice(0, 3), px(src, 0, 0).slice(0, 3).map((v) => 255 - v));
  assert.match(result.warnings.join(' '), /no transparent pixels/);
});

test('geometric ops carry the region: rotate then grayscale greys the rotated region only', async () => {
  const src = colourful(80, 40);
  const p = await tmp.png(src);
  const m = await tmp.mask(80, 40, { x: 0, y: 0, w: 20, h: 40 }); // left quarter
  const { out } = await run(job({ prompt: 'rotate right and make it grayscale', images: [{ path: p }], mask: { path: m }, size: { width: 40, height: 80 } }));
  // the left quarter became the top quarter after a clockwise turn
  const grey = (q: number[]) => q[0] === q[1] && q[1] === q[2];
  assert.ok(grey(px(out, 20, 5)));
  assert.ok(!grey(px(out, 20, 70)));
});

test('output is exactly job.size (cover crop, centred) for any input aspect', async () => {
  const p = await tmp.png(colourful(96, 64));
  for (const size of [{ width: 64, height: 64 }, { width: 150, height: 40 }, { width: 40, height: 150 }, { width: 257, height: 131 }]) {
    const { out, result } = await run(job({ prompt: 'sepia', images: [{ path: p }], size }));
    assert.deepEqual([out.width, out.height], [size.width, size.height]);
    assert.deepEqual([result.images[0]!.width, result.images[0]!.height], [size.width, size.height]);
  }
});

test('n = 3: three outputs, variant 0 is the nominal edit, strengths differ', async () => {
  const p = await tmp.png(colourful());
  const three = await run(job({ prompt: 'brighten', images: [{ path: p }], n: 3 }));
  const single = await run(job({ prompt: 'brighten', images: [{ path: p }], n: 1 }));
  assert.equal(three.outs.length, 3);
  assert.equal(diffCount(three.outs[0]!, single.out), 0, 'variant 0 = nominal');
  assert.ok(diffCount(three.outs[0]!, three.outs[1]!) > 0);
  assert.ok(meanLuma(three.outs[1]!) > meanLuma(three.outs[0]!), 'variant 1 is stronger');
  assert.ok(meanLuma(three.outs[2]!) < meanLuma(three.outs[0]!), 'variant 2 is weaker');
  const blur = await run(job({ prompt: 'blur', images: [{ path: await tmp.png(makeImage(64, 32, (x) => (x < 32 ? [0, 0, 0, 255] : [255, 255, 255, 255]))) }], n: 2, size: { width: 64, height: 32 } }));
  assert.ok(maxStep(blur.outs[1]!, 16) < maxStep(blur.outs[0]!, 16));
  assert.deepEqual([0, 1, 2, 3, 4].map(variantFactor), [1, 1.5, 1 / 1.5, 2.25, 1 / 2.25]);
});

test('jpeg output honours compression and has no alpha; webp and png keep alpha', async () => {
  const p = await tmp.png(colourful(160, 120));
  const hi = await runJob(job({ prompt: 'sharpen', images: [{ path: p }], size: { width: 160, height: 120 }, outputFormat: 'jpeg', outputCompression: 95 }), () => {});
  const lo = await runJob(job({ prompt: 'sharpen', images: [{ path: p }], size: { width: 160, height: 120 }, outputFormat: 'jpeg', outputCompression: 10 }), () => {});
  assert.equal(hi.images[0]!.bytes[0], 0xff);
  assert.equal(hi.images[0]!.bytes[1], 0xd8);
  assert.ok(lo.images[0]!.bytes.length < hi.images[0]!.bytes.length * 0.6);
  const meta = await sharp(hi.images[0]!.bytes).metadata();
  assert.deepEqual([meta.format, meta.channels, meta.width, meta.height], ['jpeg', 3, 160, 120]);
  assert.equal(hi.background, 'opaque');
  const webp = await runJob(job({ prompt: 'sepia', images: [{ path: p }], outputFormat: 'webp', outputCompression: 80 }), () => {});
  assert.equal((await sharp(webp.images[0]!.bytes).metadata()).format, 'webp');
  const png = await runJob(job({ prompt: 'sepia', images: [{ path: p }] }), () => {});
  const pm = await sharp(png.images[0]!.bytes).metadata();
  assert.deepEqual([pm.format, pm.channels], ['png', 4]);
  assert.deepEqual([pngLevel(null), pngLevel(0), pngLevel(100), pngLevel(50)], [6, 0, 9, 5]);
});

test('transparent background on jpeg is flattened (jpeg never keeps alpha)', async () => {
  const p = await tmp.png(subjectOnPlain());
  const r = await run(job({ prompt: 'remove the background', images: [{ path: p }], size: { width: 96, height: 96 }, outputFormat: 'jpeg' }));
  assert.equal(r.result.background, 'opaque');
  const c = px(r.out, 2, 2);
  assert.ok(c[0] > 240 && c[1] > 240 && c[2] > 240, 'flattened onto white');
});

test("background 'transparent' removes a uniform background when the edit left none", async () => {
  const p = await tmp.png(subjectOnPlain());
  const { out, result } = await run(job({ prompt: 'sepia', images: [{ path: p }], size: { width: 96, height: 96 }, background: 'transparent' }));
  assert.equal(px(out, 0, 0)[3], 0);
  assert.equal(px(out, 48, 48)[3], 255);
  assert.equal(result.background, 'transparent');
  // nothing uniform to remove: stays opaque, still encoded with alpha
  const noise = (() => { let s = 7; return () => ((s = (s * 1103515245 + 12345) >>> 0) >>> 16) & 255; })();
  const busy = await run(job({ prompt: 'sepia', images: [{ path: await tmp.png(makeImage(96, 64, () => [noise(), noise(), noise(), 255])) }], background: 'transparent' }));
  assert.equal(busy.result.background, 'opaque');
  assert.equal(busy.out.channels, 4);
  assert.match(busy.result.warnings.join(' '), /stays opaque/);
});

test("background 'opaque' flattens transparency; 'auto' keeps it", async () => {
  const cut = makeImage(64, 64, (x, y) => (x > 16 && x < 48 && y > 16 && y < 48 ? [20, 160, 60, 255] : [0, 0, 0, 0]));
  const p = await tmp.png(cut);
  const opaque = await run(job({ prompt: 'sepia', images: [{ path: p }], size: { width: 64, height: 64 }, background: 'opaque' }));
  for (let i = 3; i < opaque.out.data.length; i += 4) assert.equal(opaque.out.data[i], 255);
  assert.deepEqual(px(opaque.out, 0, 0), [255, 255, 255, 255]);
  assert.equal(opaque.result.background, 'opaque');
  const auto = await run(job({ prompt: 'sepia', images: [{ path: p }], size: { width: 64, height: 64 } }));
  assert.equal(px(auto.out, 0, 0)[3], 0);
  assert.equal(auto.result.background, 'transparent');
});

test('partial images: k progressive renders per output, in order, at the output size and format', async () => {
  const p = await tmp.png(colourful(128, 96));
  const events: string[] = [];
  const r = await runJob(job({ prompt: 'blur', images: [{ path: p }], n: 2, size: { width: 128, height: 96 }, partialImages: 3, outputFormat: 'webp' }), (i, k, img) => {
    events.push(`${i}.${k}`);
    assert.deepEqual([img.width, img.height], [128, 96]);
    assert.equal(img.bytes.subarray(8, 12).toString('latin1'), 'WEBP');
  });
  assert.deepEqual(events, ['0.0', '0.1', '0.2', '1.0', '1.1', '1.2']);
  assert.equal(r.images.length, 2);
  const parts = await run(job({ prompt: 'grayscale', images: [{ path: p }], size: { width: 128, height: 96 }, partialImages: 2 }));
  assert.equal(parts.partials.length, 2);
  for (const part of parts.partials) {
    assert.deepEqual([part.image.width, part.image.height], [128, 96]);
    assert.ok(diffCount(part.image, parts.out) > 0, 'a partial is not the final image');
    const q = px(part.image, 60, 40);
    assert.ok(q[0] === q[1] && q[1] === q[2], 'partials show the edit');
  }
  // the later partial is closer to the final result
  const err = (a: typeof parts.out) => { let s = 0; for (let i = 0; i < a.data.length; i++) s += Math.abs(a.data[i]! - parts.out.data[i]!); return s; };
  assert.ok(err(parts.partials[1]!.image) < err(parts.partials[0]!.image));
});

test('an unknown prompt returns the image unchanged and says so', async () => {
  const src = colourful();
  const { out, result } = await edit(tmp, src, 'make it look like a cat');
  assert.equal(result.understood, false);
  assert.deepEqual(result.operations, []);
  assert.equal(diffCount(src, out), 0);
  assert.deepEqual(result.warnings, ["instruction not understood: 'make it look like a cat'; the image was returned unchanged"]);
});

test('partly understood prompts warn about the rest', async () => {
  const { result } = await edit(tmp, colourful(), 'make it look like a cat and blur it');
  assert.equal(result.understood, true);
  assert.deepEqual(result.operations, ['blur']);
  assert.match(result.warnings.join(' '), /not understood and was ignored: 'make it look like a cat'/);
});

test('remove without a mask does nothing and warns', async () => {
  const src = colourful();
  const { out, result } = await edit(tmp, src, 'remove the person', { partialImages: 1 });
  assert.equal(diffCount(src, out), 0);
  assert.match(result.warnings.join(' '), /needs a mask/);
});

test('no input image: the edit is applied to a blank white canvas', async () => {
  const r = await run(job({ prompt: "write 'Hello' in the center", images: [], size: { width: 160, height: 100 } }));
  assert.deepEqual([r.out.width, r.out.height], [160, 100]);
  assert.deepEqual(px(r.out, 2, 2), [255, 255, 255, 255]);
  assert.ok(diffCount(r.out, makeImage(160, 100, () => [255, 255, 255, 255])) > 100);
  assert.match(r.result.warnings.join(' '), /blank white canvas/);
});

test('JPEG EXIF orientation is applied on decode', async () => {
  // stored 40×20 with the red marker top-left; orientation 6 means "rotate 90° clockwise to display"
  const stored = makeImage(40, 20, (x, y) => (x < 6 && y < 6 ? [255, 0, 0, 255] : [255, 255, 255, 255]));
  const bytes = await sharp(Buffer.from(stored.data), { raw: { width: 40, height: 20, channels: 4 } })
    .jpeg({ quality: 100 })
    .withMetadata({ orientation: 6 })
    .toBuffer();
  assert.equal((await sharp(bytes).metadata()).orientation, 6);
  const p = tmp.bytes(bytes, 'oriented.jpg');
  const { out } = await run(job({ prompt: 'brighten by 1%', images: [{ path: p }], size: { width: 20, height: 40 } }));
  const q = px(out, 17, 2);
  assert.ok(q[0] > 200 && q[1] < 90, `marker at the top right after orientation: ${q}`);
});

test('16-bit and greyscale PNG inputs decode to 8-bit RGBA', async () => {
  const grey = await sharp({ create: { width: 20, height: 10, channels: 3, background: { r: 90, g: 90, b: 90 } } }).toColourspace('b-w').png().toBuffer();
  const deep = await sharp({ create: { width: 20, height: 10, channels: 4, background: { r: 10, g: 200, b: 30, alpha: 1 } } }).toColourspace('rgb16').png().toBuffer();
  for (const bytes of [grey, deep]) {
    const r = await run(job({ prompt: 'invert', images: [{ path: tmp.bytes(bytes, 'x.png') }], size: { width: 20, height: 10 } }));
    assert.equal(r.out.width, 20);
  }
  const r = await run(job({ prompt: 'invert', images: [{ path: tmp.bytes(deep, 'd.png') }], size: { width: 20, height: 10 } }));
  assert.deepEqual(px(r.out, 3, 3), [245, 55, 225, 255]);
});

test('undecodable inputs throw EngineInputError naming the input', async () => {
  const good = await tmp.png(colourful());
  const bad = tmp.bytes(Buffer.from('definitely not an image'), 'bad.png');
  await assert.rejects(runJob(job({ prompt: 'blur', images: [{ path: good }, { path: bad }] }), () => {}), (e: unknown) => {
    assert.ok(e instanceof EngineInputError);
    assert.equal(e.code, 'invalid_image');
    assert.equal(e.inputIndex, 1);
    return true;
  });
  await assert.rejects(runJob(job({ prompt: 'blur', images: [{ path: good }], mask: { path: bad } }), () => {}), (e: unknown) => {
    assert.ok(e instanceof EngineInputError);
    assert.equal(e.inputIndex, 'mask');
    return true;
  });
  const truncated = tmp.bytes((await sharp(good).png().toBuffer()).subarray(0, 200), 'trunc.png');
  await assert.rejects(runJob(job({ prompt: 'blur', images: [{ path: truncated }] }), () => {}), (e: unknown) => e instanceof EngineInputError && e.inputIndex === 0);
});

// ---------------------------------------------------------------------------
// content-aware fill: a stand-in where the real one is missing keeps the wiring tested

/** Fills the hole with the mean colour of the known pixels; reports two fake scales. */
const meanFill: ContentAwareFill = (image, hole, { onScale }) => {
  const d = image.data;
  let r = 0, g = 0, b = 0, n = 0;
  for (let i = 0; i < hole.length; i++) if (!hole[i]) { r += d[i * 4]!; g += d[i * 4 + 1]!; b += d[i * 4 + 2]!; n++; }
  const out = new Uint8ClampedArray(d);
  for (let i = 0; i < hole.length; i++) if (hole[i]) out.set([r / n, g / n, b / n, 255], i * 4);
  const res = { width: image.width, height: image.height, data: out };
  onScale?.({ ...res, data: new Uint8ClampedArray(out).map((v, i) => (hole[i >> 2] && (i & 3) !== 3 ? 0 : v)) }, 0, 3);
  onScale?.({ ...res, data: new Uint8ClampedArray(out).map((v, i) => (hole[i >> 2] && (i & 3) !== 3 ? 128 : v)) }, 1, 3);
  onScale?.(res, 2, 3);
  return res;
};

test('remove with a mask: fill wiring, untouched outside, coarse scales become partials (stand-in fill)', async () => {
  const src = scene();
  const p = await tmp.png(src);
  const m = await tmp.mask(120, 80, BOX);
  const seen: number[] = [];
  const r = await runJob(job({ prompt: 'remove the red box', images: [{ path: p }], mask: { path: m }, size: { width: 120, height: 80 }, partialImages: 2 }), (_i, k, img) => {
    seen.push(k);
    void img;
  }, { fill: meanFill });
  assert.deepEqual(seen, [0, 1]);
  const out = await decodeBytes(r.images[0]!.bytes);
  assert.equal(diffOutside(src, out, BOX), 0);
  assert.ok(px(out, 55, 45)[0] < 150, 'red box gone');
  assert.deepEqual(r.operations, ['content-aware fill (remove the red box)']);
  // partials came from the two coarse scales (0 and 128 in the hole)
  const parts: Buffer[] = [];
  await runJob(job({ prompt: 'remove the red box', images: [{ path: p }], mask: { path: m }, size: { width: 120, height: 80 }, partialImages: 2 }), (_i, _k, img) => parts.push(img.bytes), { fill: meanFill });
  assert.deepEqual(px(await decodeBytes(parts[0]!), 55, 45).slice(0, 3), [0, 0, 0]);
  assert.deepEqual(px(await decodeBytes(parts[1]!), 55, 45).slice(0, 3), [128, 128, 128]);
});

test('a masked edit whose prompt is not understood fills the mask (stand-in fill)', async () => {
  const src = scene();
  const p = await tmp.png(src);
  const m = await tmp.mask(120, 80, BOX);
  const r = await runJob(job({ prompt: 'add a unicorn', images: [{ path: p }], mask: { path: m }, size: { width: 120, height: 80 } }), () => {}, { fill: meanFill });
  assert.equal(r.understood, false);
  assert.deepEqual(r.warnings, ["instruction not understood: 'add a unicorn'; the masked region was filled from its surroundings instead"]);
  const out = await decodeBytes(r.images[0]!.bytes);
  assert.equal(diffOutside(src, out, BOX), 0);
  assert.ok(diffCount(src, out, BOX) > 100);
});

test('no fill module: masked remove leaves the region and warns', async () => {
  const src = scene();
  const p = await tmp.png(src);
  const m = await tmp.mask(120, 80, BOX);
  const r = await runJob(job({ prompt: 'erase it', images: [{ path: p }], mask: { path: m }, size: { width: 120, height: 80 } }), () => {}, { fill: null });
  assert.match(r.warnings.join(' '), /not available/);
  assert.equal(diffCount(src, await decodeBytes(r.images[0]!.bytes)), 0);
});

test('DALL·E transparency as the mask: the transparent hole is filled and opaque, the rest untouched', async () => {
  const src = scene();
  const holed = makeImage(120, 80, (x, y) => (x >= BOX.x && x < BOX.x + BOX.w && y >= BOX.y && y < BOX.y + BOX.h ? [0, 0, 0, 0] : px(src, x, y)));
  const p = await tmp.png(holed);
  const r = await runJob(job({ prompt: 'a sunny meadow', images: [{ path: p }], maskFromAlpha: true, size: { width: 120, height: 80 } }), () => {}, { fill: meanFill });
  const out = await decodeBytes(r.images[0]!.bytes);
  assert.equal(diffOutside(holed, out, BOX), 0);
  for (let i = 3; i < out.data.length; i += 4) assert.equal(out.data[i], 255);
  assert.equal(r.background, 'opaque');
  // and a DALL·E edit that is understood applies inside the (filled) hole only
  const g = await runJob(job({ prompt: 'invert', images: [{ path: p }], maskFromAlpha: true, size: { width: 120, height: 80 } }), () => {}, { fill: meanFill });
  const go = await decodeBytes(g.images[0]!.bytes);
  assert.equal(diffOutside(holed, go, BOX), 0);
  assert.deepEqual(g.operations, ['content-aware fill of the transparent area', 'invert colours']);
});

test('real content-aware fill removes the object', async () => {
  const src = scene();
  const p = await tmp.png(src);
  const m = await tmp.mask(120, 80, BOX);
  const parts: number[] = [];
  const r = await run(job({ prompt: 'remove the red box', images: [{ path: p }], mask: { path: m }, size: { width: 120, height: 80 }, partialImages: 1 }));
  parts.push(r.partials.length);
  assert.equal(diffOutside(src, r.out, BOX), 0);
  let red = 0;
  for (let y = BOX.y; y < BOX.y + BOX.h; y++) for (let x = BOX.x; x < BOX.x + BOX.w; x++) { const q = px(r.out, x, y); if (q[0] > 180 && q[1] < 80) red++; }
  assert.ok(red < 20, `red pixels left: ${red}`);
  assert.deepEqual(parts, [1]);
});
