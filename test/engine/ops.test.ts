/** The pure building blocks, without files or encoders. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blendRegion, regionBounds, regionFromAlpha, regionFromImage, regionToImage } from '../../src/engine/ops/region.js';
import { mergeLayout } from '../../src/engine/ops/merge.js';
import { detectBackground, flatten, removeBackground } from '../../src/engine/ops/background.js';
import { border, cropSquare, flip, rotate, zoom } from '../../src/engine/ops/geometry.js';
import { recolor, sepia, grayscale, brightness } from '../../src/engine/ops/color.js';
import { gaussianBlur } from '../../src/engine/ops/blur.js';
import { pixelate } from '../../src/engine/ops/pixelate.js';
import { addText } from '../../src/engine/ops/text.js';
import { scaleOp, variantFactor, applyOps } from '../../src/engine/apply.js';
import { parseColor } from '../../src/engine/colors.js';
import { parseInstructions } from '../../src/engine/instructions.js';
import { colourful, makeImage, px, subjectOnPlain, diffCount } from './helpers.js';

test('blendRegion: weight 0 keeps bytes, 255 takes the edit, between blends', () => {
  const a = makeImage(3, 1, () => [10, 20, 30, 40]);
  const b = makeImage(3, 1, () => [210, 220, 230, 240]);
  const out = blendRegion(a, b, new Uint8Array([0, 255, 128]));
  assert.deepEqual(px(out, 0, 0), [10, 20, 30, 40]);
  assert.deepEqual(px(out, 1, 0), [210, 220, 230, 240]);
  assert.deepEqual(px(out, 2, 0), [110, 120, 130, 140]);
  assert.equal(blendRegion(a, b, null), b);
});

test('regions from alpha, bounds, and packing round-trip', () => {
  const m = makeImage(4, 3, (x, y) => [0, 0, 0, x === 2 && y >= 1 ? 0 : 255]);
  const r = regionFromAlpha(m)!;
  assert.deepEqual([...r], [0, 0, 0, 0, 0, 0, 255, 0, 0, 0, 255, 0]);
  assert.deepEqual(regionBounds(r, 4, 3), { x: 2, y: 1, width: 1, height: 2 });
  assert.deepEqual([...regionFromImage(regionToImage(r, 4, 3))], [...r]);
  assert.equal(regionFromAlpha(makeImage(2, 2, () => [0, 0, 0, 255])), null);
});

test('exact geometry: rotate 90/-90/180, flips, square crop', async () => {
  const img = makeImage(3, 2, (x, y) => [x, y, 0, 255]);
  const cw = await rotate(img, 90);
  assert.deepEqual([cw.width, cw.height], [2, 3]);
  assert.deepEqual(px(cw, 1, 0), [0, 0, 0, 255]); // (0,0) → (h-1-0, 0)
  assert.deepEqual(px(cw, 0, 2), [2, 1, 0, 255]); // (2,1) → (0, 2)
  const ccw = await rotate(img, -90);
  assert.deepEqual(px(ccw, 0, 2), [0, 0, 0, 255]);
  assert.deepEqual(px(await rotate(img, 180), 0, 0), [2, 1, 0, 255]);
  assert.deepEqual(px(await rotate(img, 450), 1, 0), [0, 0, 0, 255]);
  assert.deepEqual(px(flip(img, 'horizontal'), 0, 0), [2, 0, 0, 255]);
  assert.deepEqual(px(flip(img, 'vertical'), 0, 0), [0, 1, 0, 255]);
  const sq = cropSquare(makeImage(5, 3, (x) => [x, 0, 0, 255]));
  assert.deepEqual([sq.width, sq.height, px(sq, 0, 0)[0]], [3, 3, 1]);
});

test('zoom and border keep the canvas size', async () => {
  const img = colourful(40, 30);
  const z = await zoom(img, 2);
  assert.deepEqual([z.width, z.height], [40, 30]);
  const b = await border(img, [1, 2, 3, 255], 4);
  assert.deepEqual([b.width, b.height], [40, 30]);
  assert.deepEqual(px(b, 3, 3), [1, 2, 3, 255]);
  assert.notDeepEqual(px(b, 4, 4), [1, 2, 3, 255]);
});

test('mergeLayout: row, column, and the best grid for the canvas', () => {
  const sq = { width: 100, height: 100 };
  const row = mergeLayout([sq, sq], 400, 200, 'row');
  assert.ok(row[0]!.cell.x < row[1]!.cell.x && row[0]!.cell.y === row[1]!.cell.y);
  const col = mergeLayout([sq, sq], 400, 200, 'column');
  assert.ok(col[0]!.cell.y < col[1]!.cell.y);
  const wide = mergeLayout([sq, sq], 400, 200, 'grid');
  assert.ok(wide[1]!.cell.x > wide[0]!.cell.x, 'two squares on a wide canvas go side by side');
  const tall = mergeLayout([sq, sq], 200, 400, 'grid');
  assert.ok(tall[1]!.cell.y > tall[0]!.cell.y, 'and stack on a tall one');
  const three = mergeLayout([sq, sq, sq], 300, 300, 'grid');
  for (const p of three) {
    assert.ok(p.content.x >= 0 && p.content.y >= 0 && p.content.x + p.content.width <= 300 && p.content.y + p.content.height <= 300);
    assert.equal(p.content.width, p.content.height, 'aspect kept');
  }
});

test('detectBackground finds a plain colour and its share; removal keeps the subject exactly', () => {
  const img = subjectOnPlain(80, 80, [20, 200, 90, 255]);
  const bg = detectBackground(img)!;
  assert.deepEqual(bg.color, [20, 200, 90]);
  assert.equal(bg.share, 1);
  const { image, removed, confidence, doubts } = removeBackground(img);
  // hard-edged disc on a flat colour: every background pixel goes, every disc pixel stays
  let background = 0;
  for (let i = 0; i < 80 * 80; i++) if (img.data[i * 4] === 20) background++;
  assert.equal(removed, background);
  for (let i = 0; i < 80 * 80; i++) assert.equal(image.data[i * 4 + 3], img.data[i * 4] === 20 ? 0 : 255);
  assert.ok(confidence >= 0.9, `confidence ${confidence}`);
  assert.deepEqual(doubts, []);
  assert.equal(px(image, 0, 0)[3], 0);
  assert.equal(px(image, 40, 40)[3], 255);
  assert.deepEqual(px(flatten(image, [9, 9, 9]), 0, 0), [9, 9, 9, 255]);
  let s = 1;
  const noise = makeImage(40, 40, () => { s = (s * 16807) % 2147483647; return [s & 255, (s >> 8) & 255, (s >> 16) & 255, 255]; });
  assert.equal(detectBackground(noise), null);
});

test('recolor keeps luminance and clips chroma at the gamut edge (white stays white)', () => {
  const img = makeImage(3, 1, (x) => (x === 0 ? [255, 255, 255, 255] : x === 1 ? [0, 0, 0, 255] : [128, 128, 128, 255]));
  const out = recolor(img, [255, 0, 0]);
  assert.deepEqual(px(out, 0, 0), [255, 255, 255, 255]);
  assert.deepEqual(px(out, 1, 0), [0, 0, 0, 255]);
  const mid = px(out, 2, 0);
  assert.ok(mid[0] > mid[1] && mid[1] === mid[2]);
  assert.deepEqual(px(recolor(img, [128, 128, 128]), 2, 0), [128, 128, 128, 255]);
});

test('colour helpers: sepia ordering, grayscale, brightness extremes', () => {
  const img = colourful(30, 20);
  const s = sepia(img);
  for (let p = 0; p < s.data.length; p += 4) assert.ok(s.data[p]! >= s.data[p + 1]! && s.data[p + 1]! >= s.data[p + 2]!);
  const g = grayscale(img);
  assert.equal(px(g, 5, 5)[0], px(g, 5, 5)[2]);
  assert.deepEqual(px(brightness(img, 1), 3, 3).slice(0, 3), [255, 255, 255]);
  assert.deepEqual(parseColor('Dark Slate Gray')?.rgb, [0x2f, 0x4f, 0x4f]);
  assert.deepEqual(parseColor('#abc')?.rgb, [0xaa, 0xbb, 0xcc]);
  assert.equal(parseColor('blurple'), null);
});

test('blur keeps transparent pixels from bleeding colour', async () => {
  const img = makeImage(40, 4, (x) => (x < 20 ? [255, 0, 0, 0] : [0, 0, 255, 255]));
  const out = await gaussianBlur(img, 3);
  const edge = px(out, 19, 2);
  assert.ok(edge[3] > 0 && edge[3] < 255);
  assert.ok(edge[0] < 10, `no red from transparent pixels: ${edge}`);
});

test('pixelate averages with alpha weighting', () => {
  const img = makeImage(2, 1, (x) => (x === 0 ? [255, 0, 0, 255] : [0, 0, 255, 255]));
  assert.deepEqual(px(pixelate(img, 2), 1, 0), [128, 0, 128, 255]);
});

test('addText inside an area leaves the rest alone', async () => {
  const img = makeImage(200, 100, () => [40, 40, 40, 255]);
  const out = await addText(img, 'Hi', 'center', { color: [255, 255, 255] }, { x: 100, y: 0, width: 100, height: 100 });
  let outside = 0;
  for (let y = 0; y < 100; y++) for (let x = 0; x < 95; x++) if (px(out, x, y)[0] !== 40) outside++;
  assert.equal(outside, 0);
  assert.ok(diffCount(img, out) > 30);
});

test('variant strengths: 0 nominal, then 1.5^k up and down; fixed ops unchanged', () => {
  assert.equal(variantFactor(0), 1);
  assert.equal(variantFactor(5), 1.5 ** 3);
  assert.equal(variantFactor(6), 1.5 ** -3);
  assert.deepEqual(scaleOp({ kind: 'brightness', amount: 0.2 }, 1.5), { kind: 'brightness', amount: 0.30000000000000004 });
  assert.deepEqual(scaleOp({ kind: 'sepia', amount: 1 }, 2.25), { kind: 'sepia', amount: 1.5 });
  assert.deepEqual(scaleOp({ kind: 'zoom', factor: 2 }, 0.8), { kind: 'zoom', factor: 1.8 });
  assert.deepEqual(scaleOp({ kind: 'grayscale' }, 1.5), { kind: 'grayscale' });
  assert.equal(parseInstructions('brighten by 1%').ops[0]!.kind === 'brightness' && (parseInstructions('brighten by 1%').ops[0] as { amount: number }).amount, 0.01);
});

test('applyOps is deterministic, vintage grain follows the variant seed', async () => {
  const img = colourful(60, 40);
  const ops = parseInstructions('vintage').ops;
  const ctx = { variant: 0, fill: null, canvas: { width: 60, height: 40 }, captureFill: false, prefill: false };
  const a = await applyOps({ image: img, region: null }, ops, ctx);
  const b = await applyOps({ image: img, region: null }, ops, ctx);
  assert.equal(diffCount(a.state.image, b.state.image), 0);
  const c = await applyOps({ image: img, region: null }, ops, { ...ctx, variant: 1 });
  assert.ok(diffCount(a.state.image, c.state.image) > 0);
});
