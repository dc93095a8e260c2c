/**
 * Every vocabulary item end to end through runJob: PNG in, prompt, decoded
 * output pixels checked against a fact about the operation.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { rgbToHsv } from '../../src/engine/colors.js';
import {
  TempDir, colourful, edit, hardEdge, lum, lumaStd, makeImage, maxStep, meanChannel, meanHueDistance, meanLuma,
  meanSaturation, px, run, job, subjectOnPlain, diffCount,
} from './helpers.js';

const tmp = new TempDir();
after(() => tmp.remove());

test('grayscale: R = G = B everywhere', async () => {
  const { out, result } = await edit(tmp, colourful(), 'make it black and white');
  for (let p = 0; p < out.data.length; p += 4) {
    assert.equal(out.data[p], out.data[p + 1]);
    assert.equal(out.data[p + 1], out.data[p + 2]);
  }
  assert.deepEqual(result.operations, ['grayscale']);
  assert.equal(result.understood, true);
  assert.deepEqual(result.warnings, []);
});

test('high contrast black and white: grey with a wider spread than plain grayscale', async () => {
  const plain = await edit(tmp, colourful(), 'grayscale');
  const hc = await edit(tmp, colourful(), 'high contrast black and white');
  assert.equal(px(hc.out, 40, 30)[0], px(hc.out, 40, 30)[1]);
  assert.ok(lumaStd(hc.out) > lumaStd(plain.out) * 1.2);
});

test('sepia: brown tone, R ≥ G ≥ B on every pixel', async () => {
  const { out } = await edit(tmp, colourful(), 'sepia');
  let warm = 0;
  for (let p = 0; p < out.data.length; p += 4) {
    assert.ok(out.data[p]! >= out.data[p + 1]! && out.data[p + 1]! >= out.data[p + 2]!, `pixel ${p / 4}`);
    if (out.data[p]! - out.data[p + 2]! > 20) warm++;
  }
  assert.ok(warm > out.data.length / 4 / 2);
});

test('vintage: toned, vignetted (corners darker than centre), deterministic', async () => {
  const flat = makeImage(64, 64, () => [150, 150, 150, 255]);
  const a = await edit(tmp, flat, 'vintage');
  const b = await edit(tmp, flat, 'make it look vintage');
  assert.equal(diffCount(a.out, b.out), 0);
  const corner = (px(a.out, 0, 0)[0] + px(a.out, 63, 63)[0]) / 2;
  assert.ok(corner < px(a.out, 32, 32)[0] - 20);
  assert.ok(meanChannel(a.out, 0) > meanChannel(a.out, 2));
});

test('warm / cool shift red against blue', async () => {
  const src = colourful();
  const warm = await edit(tmp, src, 'make it warmer');
  const cool = await edit(tmp, src, 'cooler');
  assert.ok(meanChannel(warm.out, 0) > meanChannel(src, 0) + 3);
  assert.ok(meanChannel(warm.out, 2) < meanChannel(src, 2) - 3);
  assert.ok(meanChannel(cool.out, 2) > meanChannel(src, 2) + 3);
  assert.ok(meanChannel(cool.out, 0) < meanChannel(src, 0) - 3);
});

test('invert: 255 - x, alpha kept', async () => {
  const src = colourful();
  const { out } = await edit(tmp, src, 'invert the colors');
  for (let p = 0; p < src.data.length; p += 4) {
    assert.equal(out.data[p], 255 - src.data[p]!);
    assert.equal(out.data[p + 1], 255 - src.data[p + 1]!);
    assert.equal(out.data[p + 2], 255 - src.data[p + 2]!);
    assert.equal(out.data[p + 3], 255);
  }
});

test('blur softens a hard edge, more for stronger wording', async () => {
  const src = hardEdge();
  const slight = await edit(tmp, src, 'blur slightly');
  const normal = await edit(tmp, src, 'blur');
  const px5 = await edit(tmp, src, 'blur by 5px');
  assert.equal(maxStep(src, 16), 255);
  assert.ok(maxStep(slight.out, 16) < 200);
  assert.ok(maxStep(px5.out, 16) < maxStep(slight.out, 16));
  assert.ok(maxStep(normal.out, 16) <= maxStep(slight.out, 16));
  // far from the edge nothing changes
  assert.deepEqual(px(px5.out, 0, 16), [0, 0, 0, 255]);
});

test('blur keeps an opaque picture opaque, whatever the sigma', async () => {
  // 1024 px → default sigma 5.12, whose integer libvips mask used to leave alpha 253 in the corners
  const { out, result } = await edit(tmp, makeImage(1024, 64, (x) => [x % 256, 40, 200, 255]), 'blur it');
  for (let p = 3; p < out.data.length; p += 4) assert.equal(out.data[p], 255);
  assert.equal(result.background, 'opaque');
});

test('sharpen steepens a soft edge', async () => {
  const soft = makeImage(64, 16, (x) => {
    const v = Math.round(255 / (1 + Math.exp(-(x - 32) / 2)));
    return [v, v, v, 255];
  });
  const { out } = await edit(tmp, soft, 'sharpen');
  assert.ok(maxStep(out, 8) > maxStep(soft, 8));
});

test('brighten raises and darken lowers mean luminance, by the amount asked', async () => {
  const src = colourful();
  const base = meanLuma(src);
  const b = meanLuma((await edit(tmp, src, 'brighten')).out);
  const b30 = meanLuma((await edit(tmp, src, 'brighten by 30%')).out);
  const d = meanLuma((await edit(tmp, src, 'make it darker')).out);
  const dLot = meanLuma((await edit(tmp, src, 'make it a lot darker')).out);
  assert.ok(b > base + 5);
  assert.ok(b30 > b);
  assert.ok(d < base - 5);
  assert.ok(dLot < d);
});

test('contrast more / less changes the luminance spread', async () => {
  const src = colourful();
  assert.ok(lumaStd((await edit(tmp, src, 'more contrast')).out) > lumaStd(src) * 1.15);
  assert.ok(lumaStd((await edit(tmp, src, 'less contrast')).out) < lumaStd(src) * 0.85);
});

test('saturation more / less / slightly', async () => {
  const src = makeImage(64, 32, (x) => [150 + (x % 40), 110, 90 + (x % 20), 255]);
  const s0 = meanSaturation(src);
  assert.ok(meanSaturation((await edit(tmp, src, 'more vivid')).out) > s0 * 1.2);
  assert.ok(meanSaturation((await edit(tmp, src, 'saturate')).out) > s0 * 1.2);
  const slight = meanSaturation((await edit(tmp, src, 'desaturate slightly')).out);
  const muted = meanSaturation((await edit(tmp, src, 'muted')).out);
  assert.ok(slight < s0 && slight > 0.01);
  assert.ok(muted < slight);
});

test('tint moves the mean hue toward the target colour', async () => {
  const src = makeImage(64, 32, (x, y) => [200 - y, 80 + x, 60, 255]); // reds and oranges
  const before = meanHueDistance(src, 240);
  const blue = await edit(tmp, src, 'tint it blue');
  assert.ok(meanHueDistance(blue.out, 240) < before - 30);
  const teal = await edit(tmp, src, 'give it a teal tint');
  assert.ok(meanHueDistance(teal.out, 180) < meanHueDistance(src, 180) - 20);
  const hex = await edit(tmp, src, 'tint with #0000ff');
  assert.ok(meanHueDistance(hex.out, 240) < before - 30);
});

test('recolour: hue at the target, luminance kept per pixel', async () => {
  const src = colourful();
  for (const [prompt, hue] of [['make it red', 0], ['change the colour to #3366ff', 225], ['recolor to green', 120]] as const) {
    const { out } = await edit(tmp, src, prompt);
    for (let y = 0; y < src.height; y += 3) {
      for (let x = 0; x < src.width; x += 3) {
        const a = px(src, x, y), b = px(out, x, y);
        assert.ok(Math.abs(lum(a) - lum(b)) < 0.02, `${prompt} luminance at ${x},${y}: ${lum(a)} vs ${lum(b)}`);
        const [h, s, v] = rgbToHsv(b[0], b[1], b[2]);
        if (s > 0.15 && v > 0.15) {
          const d = Math.min(Math.abs(h - hue), 360 - Math.abs(h - hue));
          assert.ok(d < 12, `${prompt} hue at ${x},${y}: ${h}`);
        }
      }
    }
  }
});

test('pixelate: constant blocks of the requested size', async () => {
  const src = colourful(64, 64);
  const { out } = await edit(tmp, src, 'pixelate with 16px blocks');
  for (let by = 0; by < 64; by += 16) {
    for (let bx = 0; bx < 64; bx += 16) {
      const ref = px(out, bx, by);
      for (let y = by; y < by + 16; y++) for (let x = bx; x < bx + 16; x++) assert.deepEqual(px(out, x, y), ref);
    }
  }
  assert.notDeepEqual(px(out, 0, 0), px(out, 48, 48));
});

/** White picture with a red marker in the top-left corner. */
const marker = (w: number, h: number) =>
  makeImage(w, h, (x, y) => (x < 8 && y < 8 ? [255, 0, 0, 255] : [255, 255, 255, 255]));
const isRed = (p: number[]) => p[0]! > 200 && p[1]! < 60 && p[2]! < 60;

test('rotate 90 / left / 180 swap dimensions and move a known pixel', async () => {
  const src = marker(60, 40);
  const p = await tmp.png(src);
  const right = await run(job({ prompt: 'rotate 90 degrees', images: [{ path: p }], size: { width: 40, height: 60 } }));
  assert.deepEqual([right.out.width, right.out.height], [40, 60]);
  assert.ok(isRed(px(right.out, 39, 0)), 'clockwise: top-left → top-right');
  assert.ok(!isRed(px(right.out, 0, 0)));
  const left = await run(job({ prompt: 'rotate left', images: [{ path: p }], size: { width: 40, height: 60 } }));
  assert.ok(isRed(px(left.out, 0, 59)), 'counter-clockwise: top-left → bottom-left');
  const half = await edit(tmp, src, 'rotate 180');
  assert.ok(isRed(px(half.out, 59, 39)));
  assert.ok(isRed(px((await edit(tmp, src, 'turn it upside down')).out, 59, 39)));
});

test('rotate by any angle enlarges the canvas with transparent corners, then fits the size', async () => {
  const src = makeImage(64, 64, () => [20, 120, 220, 255]);
  const { out, result } = await edit(tmp, src, 'rotate 30 degrees');
  assert.deepEqual([out.width, out.height], [64, 64]);
  assert.equal(px(out, 0, 0)[3], 0);
  assert.equal(px(out, 32, 32)[3], 255);
  assert.equal(result.background, 'transparent');
});

test('flip vertical and mirror move known pixels', async () => {
  const src = marker(50, 30);
  const v = await edit(tmp, src, 'flip');
  assert.ok(isRed(px(v.out, 0, 29)) && !isRed(px(v.out, 0, 0)));
  const h = await edit(tmp, src, 'mirror');
  assert.ok(isRed(px(h.out, 49, 0)) && !isRed(px(h.out, 0, 0)));
  const h2 = await edit(tmp, src, 'flip horizontally');
  assert.equal(diffCount(h.out, h2.out), 0);
});

/** Count pixels in a band that differ from a flat colour. */
function changedIn(img: { width: number; height: number; data: Uint8ClampedArray }, y0: number, y1: number, x0 = 0, x1 = img.width, ref = [70, 110, 160]): number {
  let n = 0;
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const p = (y * img.width + x) * 4;
      if (Math.abs(img.data[p]! - ref[0]!) + Math.abs(img.data[p + 1]! - ref[1]!) + Math.abs(img.data[p + 2]! - ref[2]!) > 30) n++;
    }
  }
  return n;
}

test('text lands where asked and nowhere else', async () => {
  const flat = makeImage(200, 120, () => [70, 110, 160, 255]);
  const top = (await edit(tmp, flat, "add the text 'SALE' at the top")).out;
  assert.ok(changedIn(top, 0, 40) > 200, 'top band has text');
  assert.equal(changedIn(top, 60, 120), 0, 'bottom half untouched');
  const bottom = (await edit(tmp, flat, 'write "Hello"')).out;
  assert.ok(changedIn(bottom, 80, 120) > 200, 'default position is the bottom');
  assert.equal(changedIn(bottom, 0, 60), 0);
  const centre = (await edit(tmp, flat, "add 'Mid' in the center")).out;
  assert.ok(changedIn(centre, 40, 80) > 100);
  assert.equal(changedIn(centre, 0, 30) + changedIn(centre, 90, 120), 0);
  const tl = (await edit(tmp, flat, "add 'TL' in the top left corner")).out;
  assert.ok(changedIn(tl, 0, 40, 0, 100) > 50);
  assert.equal(changedIn(tl, 0, 120, 110, 200) + changedIn(tl, 60, 120), 0);
  const br = (await edit(tmp, flat, "add 'BR' at the bottom right")).out;
  assert.ok(changedIn(br, 80, 120, 100, 200) > 50);
  assert.equal(changedIn(br, 0, 120, 0, 90) + changedIn(br, 0, 60), 0);
  // white fill with a dark outline: both very light and very dark pixels appear
  let light = 0, dark = 0;
  for (let p = 0; p < top.data.length; p += 4) {
    if (top.data[p]! > 235 && top.data[p + 1]! > 235) light++;
    if (top.data[p]! < 30 && top.data[p + 1]! < 30 && top.data[p + 2]! < 30) dark++;
  }
  assert.ok(light > 50 && dark > 50, `light ${light} dark ${dark}`);
});

test('text in a named colour', async () => {
  const flat = makeImage(200, 120, () => [70, 110, 160, 255]);
  const { out } = await edit(tmp, flat, "add red text 'HOT' at the top");
  let red = 0;
  for (let p = 0; p < out.data.length; p += 4) if (out.data[p]! > 220 && out.data[p + 1]! < 40 && out.data[p + 2]! < 40) red++;
  assert.ok(red > 50);
});

test('remove background: border-connected plain area → alpha 0, subject stays opaque', async () => {
  const src = subjectOnPlain();
  const { out, result } = await edit(tmp, src, 'remove the background');
  assert.equal(px(out, 0, 0)[3], 0);
  assert.equal(px(out, 95, 50)[3], 0);
  assert.equal(px(out, 48, 48)[3], 255);
  assert.equal(px(out, 48, 30)[3], 255);
  assert.equal(result.background, 'transparent');
  assert.deepEqual(result.operations, ['remove background']);
});

test('replace background with a colour keeps the subject', async () => {
  const src = subjectOnPlain();
  const { out } = await edit(tmp, src, 'replace the background with blue');
  assert.deepEqual(px(out, 0, 0), [0, 0, 255, 255]);
  assert.deepEqual(px(out, 48, 48), [200, 30, 40, 255]);
  const hex = await edit(tmp, src, 'replace the background with #336699');
  assert.deepEqual(px(hex.out, 5, 90), [0x33, 0x66, 0x99, 255]);
});

test('background removal on a busy picture changes nothing and says so', async () => {
  // a hue ramp: every colour reaches the edges, so nothing stands apart from them
  const { out, result } = await edit(tmp, colourful(), 'remove the background');
  assert.equal(diffCount(out, colourful()), 0);
  assert.match(result.warnings.join(' '), /could not tell a subject from the background \(confidence 0\.00: /);
  assert.equal(result.backgroundConfidence, 0);
});

test('crop to square keeps the centre', async () => {
  const src = makeImage(120, 80, (x) => (x < 20 ? [0, 200, 0, 255] : x >= 100 ? [0, 0, 200, 255] : [200, 200, 200, 255]));
  const p = await tmp.png(src);
  const { out } = await run(job({ prompt: 'crop to square', images: [{ path: p }], size: { width: 80, height: 80 } }));
  assert.deepEqual([out.width, out.height], [80, 80]);
  for (let y = 0; y < 80; y += 7) for (let x = 0; x < 80; x += 7) assert.deepEqual(px(out, x, y), [200, 200, 200, 255]);
});

test('zoom in 2x doubles a centred marker', async () => {
  const src = makeImage(100, 100, (x, y) => (Math.abs(x - 49.5) < 10 && Math.abs(y - 49.5) < 10 ? [0, 0, 0, 255] : [255, 255, 255, 255]));
  const count = (img: { data: Uint8ClampedArray }) => {
    let n = 0;
    for (let p = 0; p < img.data.length; p += 4) if (img.data[p]! < 128) n++;
    return n;
  };
  const z2 = await edit(tmp, src, 'zoom in 2x');
  const ratio = count(z2.out) / count(src);
  assert.ok(ratio > 3.5 && ratio < 4.5, `area ratio ${ratio}`);
  const z = await edit(tmp, src, 'zoom in');
  assert.ok(count(z.out) > count(src) * 2);
});

test('border: colour at every edge, thickness as asked', async () => {
  const src = makeImage(100, 80, () => [200, 200, 200, 255]);
  const { out } = await edit(tmp, src, 'add a 6px red border');
  for (const [x, y] of [[0, 0], [99, 79], [50, 0], [50, 79], [0, 40], [99, 40], [5, 40], [94, 40]] as const) assert.deepEqual(px(out, x, y), [255, 0, 0, 255]);
  assert.deepEqual(px(out, 50, 40), [200, 200, 200, 255]);
  assert.deepEqual(px(out, 7, 40), [200, 200, 200, 255]);
  const black = await edit(tmp, src, 'add a border');
  assert.deepEqual(px(black.out, 0, 0), [0, 0, 0, 255]);
});

test('merge two images side by side: each colour in its cell', async () => {
  const red = await tmp.png(makeImage(60, 60, () => [230, 20, 20, 255]));
  const blue = await tmp.png(makeImage(60, 60, () => [20, 20, 230, 255]));
  const { out, result } = await run(job({ prompt: 'merge them side by side', images: [{ path: red }, { path: blue }], size: { width: 200, height: 100 } }));
  assert.deepEqual([out.width, out.height], [200, 100]);
  assert.deepEqual(px(out, 50, 50).slice(0, 3), [230, 20, 20]);
  assert.deepEqual(px(out, 150, 50).slice(0, 3), [20, 20, 230]);
  assert.deepEqual(result.operations, ['merge inputs (row)']);
  // a grid on a tall canvas stacks them
  const tall = await run(job({ prompt: 'combine them in one image', images: [{ path: red }, { path: blue }], size: { width: 100, height: 200 } }));
  assert.deepEqual(px(tall.out, 50, 50).slice(0, 3), [230, 20, 20]);
  assert.deepEqual(px(tall.out, 50, 150).slice(0, 3), [20, 20, 230]);
});

test('merge of four makes a 2×2 grid in input order', async () => {
  const colours: [number, number, number][] = [[230, 20, 20], [20, 230, 20], [20, 20, 230], [230, 230, 20]];
  const paths = await Promise.all(colours.map((c) => tmp.png(makeImage(40, 40, () => [...c, 255]))));
  const { out } = await run(job({ prompt: 'make a collage', images: paths.map((path) => ({ path })), size: { width: 200, height: 200 } }));
  assert.deepEqual(px(out, 50, 50).slice(0, 3), colours[0]);
  assert.deepEqual(px(out, 150, 50).slice(0, 3), colours[1]);
  assert.deepEqual(px(out, 50, 150).slice(0, 3), colours[2]);
  assert.deepEqual(px(out, 150, 150).slice(0, 3), colours[3]);
});

test('several inputs without a merge: the first is edited, the rest are references', async () => {
  const red = await tmp.png(makeImage(40, 40, () => [230, 20, 20, 255]));
  const blue = await tmp.png(makeImage(40, 40, () => [20, 20, 230, 255]));
  const { out, result } = await run(job({ prompt: 'invert', images: [{ path: red }, { path: blue }], size: { width: 40, height: 40 } }));
  assert.deepEqual(px(out, 20, 20), [25, 235, 235, 255]);
  assert.match(result.warnings.join(' '), /only the first of 2 images/);
});

test('combination: black and white plus text at the bottom', async () => {
  const src = colourful(200, 120);
  const { out, result } = await edit(tmp, src, "make it black and white and add the text 'Hello' at the bottom");
  assert.deepEqual(result.operations, ['grayscale', "text 'Hello' at bottom"]);
  for (let p = 0; p < out.data.length; p += 4) assert.ok(out.data[p] === out.data[p + 1] && out.data[p + 1] === out.data[p + 2]);
  const gray = (await edit(tmp, src, 'grayscale')).out;
  assert.equal(diffCount(out, gray, { x: 0, y: 0, w: 200, h: 60 }), 0, 'top half is just grey');
  assert.ok(diffCount(out, gray, { x: 0, y: 80, w: 200, h: 40 }) > 200, 'text at the bottom');
});

test('combination order matters: text then grayscale greys the text too', async () => {
  const src = makeImage(200, 120, () => [70, 110, 160, 255]);
  const { out } = await edit(tmp, src, "add red text 'Hi' at the top and then make it black and white");
  for (let p = 0; p < out.data.length; p += 4) assert.ok(out.data[p] === out.data[p + 1]);
});

test('combination: sepia, border and rotate', async () => {
  const src = colourful(80, 60);
  const p = await tmp.png(src);
  const { out, result } = await run(job({ prompt: 'sepia, add a blue border and rotate right', images: [{ path: p }], size: { width: 60, height: 80 } }));
  assert.deepEqual(result.operations.length, 3);
  assert.deepEqual(px(out, 0, 0), [0, 0, 255, 255]);
  const mid = px(out, 30, 40);
  assert.ok(mid[0] >= mid[1] && mid[1] >= mid[2]);
});
