/**
 * n > 1: variants that a person can tell apart, and the same bytes every run.
 *
 * The measure: the mean absolute difference per colour channel between two
 * variants, taken over the pixels the nominal edit moved by more than 6
 * levels (where the edit acts; a caption or a fill touches a small part of
 * the picture, a blur only its outlines). The threshold, 6 levels (0-255), is
 * one just-noticeable difference: ΔE*ab ≈ 2.3 is the usual side-by-side JND,
 * and one 8-bit level moves L* by about 0.39 in the mid-tones, so 2.3 / 0.39
 * ≈ 6. Every pair of the first three variants must be at least that far
 * apart on average, so no two of them look the same.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { runJob } from '../../src/engine/run.js';
import type { RgbaImage } from '../../src/engine/types.js';
import { TempDir, decodeBytes, job, landscape } from './helpers.js';

const tmp = new TempDir();
after(() => tmp.remove());

const W = 480, H = 360;
const JND = 6;

/** Mean |a − b| over R, G, B where `nominal` differs from `src` by more than one JND in some channel. */
function actingDiff(src: RgbaImage, nominal: RgbaImage, a: RgbaImage, b: RgbaImage): number {
  let s = 0, n = 0;
  for (let i = 0; i < src.data.length; i += 4) {
    let moved = false;
    for (let k = 0; k < 3; k++) if (Math.abs(nominal.data[i + k]! - src.data[i + k]!) > JND) moved = true;
    if (!moved) continue;
    n++;
    for (let k = 0; k < 3; k++) s += Math.abs(a.data[i + k]! - b.data[i + k]!);
  }
  assert.ok(n > 0, 'the edit changed something');
  return s / n / 3;
}

async function variants(src: RgbaImage, prompt: string, mask?: string): Promise<{ bytes: Buffer[]; images: RgbaImage[]; warnings: string[] }> {
  const p = await tmp.png(src);
  const r = await runJob(job({ prompt, images: [{ path: p }], size: { width: W, height: H }, n: 3, mask: mask ? { path: mask } : null }), () => {});
  return { bytes: r.images.map((i) => i.bytes), images: await Promise.all(r.images.map((i) => decodeBytes(i.bytes))), warnings: r.warnings };
}

test('every pair of three variants differs by more than one JND where the edit acts', async () => {
  const textured = landscape(W, H);
  // blur, sharpening and pixelation act on outlines; the texture's pixel noise would drown them
  const outlines = landscape(W, H, false);
  const cases: [RgbaImage, string][] = [
    ...['brighten', 'make it darker', 'make it black and white', 'sepia', 'vintage', 'tint it blue', 'more contrast',
      'make it warmer', 'cooler', 'more vivid', 'muted colours', "add 'SALE' at the top", 'add a border', 'zoom in']
      .map((p): [RgbaImage, string] => [textured, p]),
    ...['blur', 'blur slightly', 'sharpen', 'pixelate'].map((p): [RgbaImage, string] => [outlines, p]),
  ];
  const report: string[] = [];
  for (const [src, prompt] of cases) {
    const { images: [v0, v1, v2] } = await variants(src, prompt);
    const d = [actingDiff(src, v0!, v0!, v1!), actingDiff(src, v0!, v0!, v2!), actingDiff(src, v0!, v1!, v2!)];
    if (d.some((x) => x < JND)) report.push(`${prompt}: ${d.map((x) => x.toFixed(1)).join(', ')}`);
  }
  assert.deepEqual(report, []);
});

test('a masked remove: each variant fills with its own seed', async () => {
  const src = landscape(W, H);
  const rect = { x: 120, y: 180, w: 120, h: 130 };
  const mask = await tmp.mask(W, H, rect);
  const { images: [v0, v1, v2] } = await variants(src, 'remove the house', mask);
  for (const [a, b] of [[v0!, v1!], [v0!, v2!], [v1!, v2!]] as const) {
    assert.ok(actingDiff(src, v0!, a, b) > JND);
  }
});

test('variants are deterministic: the same job gives the same bytes, image by image', async () => {
  const src = landscape(W, H);
  for (const prompt of ["vintage and add 'Hello' at the top", 'make it black and white']) {
    const a = await variants(src, prompt);
    const b = await variants(src, prompt);
    assert.deepEqual(a.bytes.map((x, i) => x.equals(b.bytes[i]!)), [true, true, true], prompt);
    assert.ok(!a.bytes[0]!.equals(a.bytes[1]!), `${prompt}: variants differ`);
  }
});

test('an edit with nothing to vary says its variants are identical', async () => {
  const { bytes, warnings } = await variants(landscape(W, H), 'invert the colours and flip it');
  assert.ok(bytes[0]!.equals(bytes[1]!) && bytes[1]!.equals(bytes[2]!));
  assert.deepEqual(warnings, ['invert colours and flip vertically has nothing to vary, so the 3 images are identical']);
});
