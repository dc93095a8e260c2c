/**
 * The engine's generations and variations: the drawing vocabulary the parser
 * reads for a generation (and still does not read in an edit), what runJob
 * draws (pixel facts), transparency, variants, and variation jobs.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { describeOp, drawingWarnings, parseInstructions, type Op } from '../../src/engine/instructions.js';
import { TempDir, colourful, job, px, run } from './helpers.js';

const tmp = new TempDir();
after(() => tmp.remove());

const drawn = (prompt: string): string[] => parseInstructions(prompt, { generation: true }).ops.map(describeOp);
const draw = (prompt: string, extra: Parameters<typeof job>[0] extends infer J ? Partial<J> : never = {}) =>
  run(job({ kind: 'generate', prompt, images: [], size: { width: 120, height: 96 }, ...extra }));

test('the drawing vocabulary, read only for a generation', () => {
  const table: [string, string[]][] = [
    ['a red square canvas', ['red canvas']],
    ['solid navy', ['navy canvas']],
    ['red', ['red canvas']],
    ['make it green', ['green canvas']],
    ['a blank canvas', ['white canvas']],
    ['a gradient from navy to orange', ['vertical gradient from navy to orange']],
    ['a blue to purple gradient', ['vertical gradient from blue to purple']],
    ['a horizontal gradient from red to yellow', ['horizontal gradient from red to yellow']],
    ['a gradient from black to white from the bottom to the top', ['vertical gradient from white to black']],
    ['a radial gradient from gold to crimson', ['radial gradient from gold to crimson']],
    ['teal fading to white', ['vertical gradient from teal to white']],
    ['blue and white stripes', ['blue and white vertical stripes']],
    ['thin horizontal red and white stripes', ['red and white horizontal stripes (×0.5)']],
    ['a checkerboard', ['black and white checkerboard']],
    ['a red and black checkerboard', ['red and black checkerboard']],
    ['polka dots', ['polka dots']],
    ['white polka dots on red', ['red canvas', 'white polka dots']],
    ["a poster that says 'Grand Opening' in big white letters on dark green", ['darkgreen canvas', "text 'Grand Opening' at centre in white (large)"]],
    ["'SALE' in red on yellow", ['yellow canvas', "text 'SALE' at centre in red"]],
    ["an orange background with the text 'Hi' at the top", ['orange canvas', "text 'Hi' at top"]],
    ['a red canvas with a white border', ['red canvas', 'white border']],
  ];
  for (const [prompt, ops] of table) {
    assert.deepEqual(drawn(prompt), ops, prompt);
    assert.deepEqual(parseInstructions(prompt, { generation: true }).unmatched, [], prompt);
  }
  // an edit reads none of it: the caption stays at the bottom, a background colour is a replacement
  assert.deepEqual(parseInstructions('blue and white stripes').ops, []);
  assert.deepEqual(parseInstructions("'SALE' in red on a yellow background").ops.map((o) => o.kind), ['replace-background']);
  assert.equal((parseInstructions("add 'Hi'").ops[0] as Extract<Op, { kind: 'text' }>).position, 'bottom');
});

test("what it cannot draw is named, with what it can: 'a cat astronaut'", () => {
  const parsed = parseInstructions('a cat astronaut', { generation: true });
  assert.equal(parsed.understood, false);
  assert.deepEqual(parsed.unmatched, ['a cat astronaut']);
  const [w] = drawingWarnings(parsed, 'a cat astronaut');
  assert.match(w!, /^the built-in engine cannot draw 'a cat astronaut'; it drew a plain white canvas\. It can draw: a plain canvas/);
  const part = parseInstructions('a cat astronaut on a blue background', { generation: true });
  assert.deepEqual(part.ops.map(describeOp), ['blue canvas']);
  assert.match(drawingWarnings(part, '')[0]!, /^part of the prompt could not be drawn and was left out: 'a cat astronaut'\./);
});

test('a canvas is its colour; a gradient runs from one colour to the other', async () => {
  const red = await draw('a red square canvas');
  assert.deepEqual(red.result.size, { width: 120, height: 96 });
  for (const [x, y] of [[0, 0], [119, 95], [60, 48]] as const) assert.deepEqual(px(red.out, x, y), [255, 0, 0, 255]);

  const g = await draw('a horizontal gradient from black to white');
  assert.deepEqual(px(g.out, 0, 50).slice(0, 3), [0, 0, 0]);
  assert.deepEqual(px(g.out, 119, 50).slice(0, 3), [255, 255, 255]);
  for (let x = 8; x < 120; x += 8) assert.ok(px(g.out, x, 50)[0] > px(g.out, x - 8, 50)[0], `rises at ${x}`);

  const radial = await draw('a radial gradient from white to black');
  assert.ok(px(radial.out, 60, 48)[0] > 250, 'white centre');
  assert.ok(px(radial.out, 0, 0)[0] < 5, 'black corners');
});

test('stripes alternate at a sixth of the shorter side per pair; a checkerboard and dots', async () => {
  // 96 px short side: period 16, blue over [16k, 16k + 8)
  const s = await draw('red and white horizontal stripes');
  for (let k = 0; k < 6; k++) {
    assert.deepEqual(px(s.out, 30, 16 * k + 3).slice(0, 3), [255, 0, 0], `stripe ${k}`);
    assert.deepEqual(px(s.out, 90, 16 * k + 12).slice(0, 3), [255, 255, 255], `gap ${k}`);
  }
  const diag = await draw('diagonal stripes');
  let dark = 0;
  for (let i = 0; i < 120 * 96; i++) if (diag.out.data[i * 4]! < 128) dark++;
  assert.ok(Math.abs(dark / (120 * 96) - 0.5) < 0.05, `half the picture is stripe: ${dark}`);

  // squares of 96 / 8 = 12 px, white at the top left
  const c = await draw('a checkerboard');
  assert.deepEqual(px(c.out, 6, 6).slice(0, 3), [255, 255, 255]);
  assert.deepEqual(px(c.out, 18, 6).slice(0, 3), [0, 0, 0]);
  assert.deepEqual(px(c.out, 18, 18).slice(0, 3), [255, 255, 255]);
  assert.deepEqual(px(c.out, 6, 90).slice(0, 3), [0, 0, 0]);

  // dots 12 px apart, radius 3.6, on white: black at the centres, white between
  const d = await draw('polka dots');
  assert.deepEqual(px(d.out, 6, 6).slice(0, 3), [17, 17, 17]);
  assert.deepEqual(px(d.out, 12, 6).slice(0, 3), [255, 255, 255]);
});

test('background transparent: the canvas is left out, what lies on it is drawn', async () => {
  const { out, result } = await draw('red polka dots on navy', { background: 'transparent' });
  assert.equal(result.background, 'transparent');
  assert.deepEqual(result.warnings, ['background=transparent: the navy canvas was left out']);
  assert.deepEqual(px(out, 6, 6), [255, 0, 0, 255], 'a dot');
  assert.equal(px(out, 12, 6)[3], 0, 'clear between');
});

test('n = 3 drawings: variant 0 as asked, the others differ; the same bytes again', async () => {
  const a = await draw('blue and white stripes', { n: 3 });
  const b = await draw('blue and white stripes', { n: 3 });
  assert.deepEqual(a.result.images.map((x, i) => x.bytes.equals(b.result.images[i]!.bytes)), [true, true, true]);
  assert.deepEqual(px(a.outs[0]!, 3, 3).slice(0, 3), [0, 0, 255]);
  for (const [i, j] of [[0, 1], [0, 2], [1, 2]] as const) assert.ok(!a.result.images[i]!.bytes.equals(a.result.images[j]!.bytes), `${i} vs ${j}`);
  assert.deepEqual(a.result.warnings, []);
});

test('a variation job: n versions of the picture at the output size, each different, deterministic', async () => {
  const src = colourful(96, 96);
  const p = await tmp.png(src);
  const v = () => run(job({ kind: 'vary', prompt: '', images: [{ path: p }], n: 3, size: { width: 64, height: 64 } }));
  const [a, b] = [await v(), await v()];
  assert.deepEqual(a.result.images.map((x, i) => x.bytes.equals(b.result.images[i]!.bytes)), [true, true, true]);
  assert.deepEqual(a.outs.map((o) => [o.width, o.height]), [[64, 64], [64, 64], [64, 64]]);
  assert.match(a.result.operations[0]!, /^variation: hue [+-]\d+°, saturation ×\d\.\d\d, brightness [+-]\d+, contrast ×\d\.\d\d, crop \d+%$/);
  for (const [i, j] of [[0, 1], [0, 2], [1, 2]] as const) assert.ok(!a.result.images[i]!.bytes.equals(a.result.images[j]!.bytes), `${i} vs ${j}`);
  assert.deepEqual(a.result.warnings, []);
});
