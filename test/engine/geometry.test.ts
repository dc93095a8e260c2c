/**
 * Geometry keeps the picture: size 'auto' follows the edited picture's shape,
 * an explicit size letterboxes the whole picture, and only a prompt that asks
 * to crop crops. Facts are read off decoded output pixels.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { letterbox, nearestSize } from '../../src/engine/ops/geometry.js';
import type { EngineJob } from '../../src/engine/types.js';
import {
  CORNER_COLOURS, TempDir, bbox, cornerMarkers, job, landscape, makeImage, near, px, run, type Px,
} from './helpers.js';

const tmp = new TempDir();
after(() => tmp.remove());

/** The GPT image sizes, as providers/local offers them for size=auto. */
const AUTO: EngineJob['size'] = {
  auto: [{ width: 1024, height: 1024 }, { width: 1536, height: 1024 }, { width: 1024, height: 1536 }],
};

const same = (a: Px, b: readonly number[]): boolean => a[0] === b[0] && a[1] === b[1] && a[2] === b[2];

test('nearestSize: the candidate of the nearest shape (log aspect), first on a tie', () => {
  const c = [{ width: 1024, height: 1024 }, { width: 1536, height: 1024 }, { width: 1024, height: 1536 }];
  assert.deepEqual(nearestSize(c, 1024, 768), c[1]); // 4:3 is nearer 3:2 than 1:1
  assert.deepEqual(nearestSize(c, 768, 1024), c[2]);
  assert.deepEqual(nearestSize(c, 1100, 1000), c[0]);
  assert.deepEqual(nearestSize(c, 1000, 1000), c[0]);
  // the boundary between square and 3:2 is √1.5 ≈ 1.2247
  assert.deepEqual(nearestSize(c, 1224, 1000), c[0]);
  assert.deepEqual(nearestSize(c, 1226, 1000), c[1]);
});

test('letterbox: the whole picture centred, bars of the chosen fill, tiny mismatches covered instead', async () => {
  const src = cornerMarkers(40, 20, 4);
  const clear = await letterbox(src, 40, 40, 'transparent');
  assert.deepEqual([clear.width, clear.height], [40, 40]);
  assert.equal(px(clear, 20, 5)[3], 0, 'bar above');
  assert.equal(px(clear, 20, 34)[3], 0, 'bar below');
  assert.ok(same(px(clear, 1, 11), CORNER_COLOURS.tl) && same(px(clear, 38, 28), CORNER_COLOURS.br));
  const coloured = await letterbox(src, 40, 40, [10, 20, 30, 255]);
  assert.deepEqual(px(coloured, 20, 2), [10, 20, 30, 255]);
  // the bars continue the edge they touch: red/green/grey above, blue/yellow/grey below
  const edges = await letterbox(makeImage(60, 20, (x, y) => (y < 10 ? [200, 40, 40, 255] : [40, 40, 200, 255])), 60, 60, 'edges');
  assert.deepEqual(px(edges, 30, 3), [200, 40, 40, 255]);
  assert.deepEqual(px(edges, 30, 57), [40, 40, 200, 255]);
  const near1 = await letterbox(src, 41, 20, 'transparent');
  for (let i = 3; i < near1.data.length; i += 4) assert.equal(near1.data[i], 255, 'a 1-pixel difference is stretched, not barred');
});

test("rotate 90° on a 1024x768 picture with size 'auto': portrait 1024x1536, nothing cropped", async () => {
  const p = await tmp.png(cornerMarkers(1024, 768, 60));
  const { out, result } = await run(job({ prompt: 'rotate it 90 degrees to the right', images: [{ path: p }], size: AUTO }));
  assert.deepEqual(result.size, { width: 1024, height: 1536 });
  assert.deepEqual([out.width, out.height], [1024, 1536]);
  // 768x1024 scaled by 4/3 fills the width: 1024x1365 in the middle, 85-86 px bars above and below
  // clockwise: top-left → top-right, top-right → bottom-right, bottom-right → bottom-left, bottom-left → top-left
  const where = (c: readonly number[]) => bbox(out, near(c, 10))!;
  const tl = where(CORNER_COLOURS.tl), tr = where(CORNER_COLOURS.tr), bl = where(CORNER_COLOURS.bl), br = where(CORNER_COLOURS.br);
  assert.ok(tl.x1 === 1023 && tl.y0 >= 85 && tl.y0 <= 86, `red at the top right: ${JSON.stringify(tl)}`);
  assert.ok(tr.x1 === 1023 && tr.y1 >= 1449 && tr.y1 <= 1450, `green at the bottom right: ${JSON.stringify(tr)}`);
  assert.ok(br.x0 === 0 && br.y1 >= 1449, `yellow at the bottom left: ${JSON.stringify(br)}`);
  assert.ok(bl.x0 === 0 && bl.y0 <= 86, `blue at the top left: ${JSON.stringify(bl)}`);
  // each marker whole: 60 px scaled by 4/3 = 80 px square
  for (const b of [tl, tr, bl, br]) assert.ok(Math.abs(b.x1 - b.x0 + 1 - 80) <= 1 && Math.abs(b.y1 - b.y0 + 1 - 80) <= 1, JSON.stringify(b));
  assert.ok(same(px(out, 512, 40), [128, 128, 128]), 'a grey field gives grey bars');
});

test("crop to square with size 'auto' answers 1024x1024 with no bars", async () => {
  const p = await tmp.png(landscape(1024, 768));
  const { out, result } = await run(job({ prompt: 'crop to square', images: [{ path: p }], size: AUTO }));
  assert.deepEqual(result.size, { width: 1024, height: 1024 });
  // the centred 768x768 square scaled up: its top rows are the picture's sky, its bottom rows the grass
  const top = px(out, 512, 2), bottom = px(out, 512, 1021);
  assert.ok(top[2] > 200 && bottom[1] > bottom[2] + 40, `sky on top ${top}, grass below ${bottom}`);
});

test('an explicit size letterboxes the whole picture; transparent bars when asked; crop only when the prompt says so', async () => {
  const p = await tmp.png(cornerMarkers(400, 300, 40));
  const size = { width: 200, height: 200 };
  const all = (o: typeof out) => Object.values(CORNER_COLOURS).map((c) => bbox(o, near(c, 10)) !== null);
  // 400x300 into 200x200: 200x150, bars of 25 rows
  const { out, result } = await run(job({ prompt: 'make it brighter by 1%', images: [{ path: p }], size }));
  assert.deepEqual(result.size, size);
  assert.deepEqual(all(out), [true, true, true, true], 'every corner kept');
  assert.equal(bbox(out, near(CORNER_COLOURS.tl, 10))!.y0, 25);
  assert.equal(px(out, 100, 10)[3], 255, 'opaque bars by default');
  assert.equal(result.background, 'opaque');

  const clear = await run(job({ prompt: 'make it brighter by 1%', images: [{ path: p }], size, background: 'transparent' }));
  assert.equal(px(clear.out, 100, 10)[3], 0);
  assert.equal(px(clear.out, 100, 190)[3], 0);
  // (the uniform grey field is removed too: background=transparent takes a plain background away)
  assert.deepEqual(px(clear.out, 5, 30), [255, 3, 3, 255]);

  const jpeg = await run(job({ prompt: 'make it brighter by 1%', images: [{ path: p }], size, outputFormat: 'jpeg' }));
  assert.equal(jpeg.out.channels, 3);

  const cropped = await run(job({ prompt: 'brighten by 1% and crop to fit', images: [{ path: p }], size }));
  // cover: 267x200 cropped to the centre 200 columns, so the corner markers (the outer 53 px) are gone
  assert.deepEqual(all(cropped.out), [false, false, false, false]);
  for (let i = 3; i < cropped.out.data.length; i += 4) assert.equal(cropped.out.data[i], 255);
  assert.deepEqual(cropped.result.operations, ['brighten 1%', 'crop to fill the output size']);
});

test('a picture on a plain background gets bars of that background', async () => {
  const p = await tmp.png(makeImage(300, 150, (x, y) => ((x - 150) ** 2 + (y - 75) ** 2 < 50 ** 2 ? [200, 30, 40, 255] : [240, 238, 230, 255])));
  const { out } = await run(job({ prompt: 'sharpen', images: [{ path: p }], size: { width: 150, height: 150 } }));
  assert.deepEqual(px(out, 75, 5), [240, 238, 230, 255]);
  assert.deepEqual(px(out, 75, 145), [240, 238, 230, 255]);
});

test("'auto' with two images side by side picks a landscape canvas; stacked, a portrait one", async () => {
  const a = await tmp.png(landscape(300, 300));
  const b = await tmp.png(cornerMarkers(300, 300, 30));
  const row = await run(job({ prompt: 'put them side by side', images: [{ path: a }, { path: b }], size: AUTO }));
  assert.deepEqual(row.result.size, { width: 1536, height: 1024 });
  const col = await run(job({ prompt: 'stack them vertically', images: [{ path: a }, { path: b }], size: AUTO }));
  assert.deepEqual(col.result.size, { width: 1024, height: 1536 });
});
