/**
 * Generates the before/after pictures of docs/engine/README.md into
 * docs/engine/examples/ by running the real engine (worker pool) on synthetic
 * inputs drawn here; no downloaded photos.
 *
 *   node --import tsx scripts/engine-examples.ts
 */
import { mkdir, mkdtemp, rm, writeFile, readdir, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { createEngine } from '../src/engine/index.js';
import type { EngineJob, RgbaImage } from '../src/engine/types.js';
import { mugShot } from '../bench/lib/cutout.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outDir = path.join(root, 'docs', 'engine', 'examples');

/** Size of each half of an example picture; the picture is 2·W + GAP wide. */
const W = 184;
const H = 138;
const GAP = 8;

function draw(width: number, height: number, fn: (x: number, y: number) => [number, number, number, number]): RgbaImage {
  const data = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set(fn(x, y), (y * width + x) * 4);
  return { width, height, data };
}

/** Cheap deterministic texture noise in [-1, 1]. */
function noise(x: number, y: number): number {
  let h = (x * 374761393 + y * 668265263) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 1274126177) >>> 0;
  return ((h ^ (h >>> 16)) & 1023) / 511.5 - 1;
}

/** A landscape: sky, sun, hills, a house with a red roof, a tree. */
function landscape(width = 368, height = 276): RgbaImage {
  const s = width / 368;
  return draw(width, height, (X, Y) => {
    const x = X / s, y = Y / s;
    const n = noise(X, Y);
    let c: [number, number, number] = [95 + y * 0.35, 160 + y * 0.25, 235 - y * 0.1];
    const sx = x - 300, sy = y - 60;
    if (sx * sx + sy * sy < 26 * 26) c = [255, 214, 70];
    const hill1 = 175 + 18 * Math.sin(x / 55);
    const hill2 = 200 + 12 * Math.sin(x / 31 + 1);
    if (y > hill1) c = [70 + 10 * n, 150 + 14 * n, 70];
    if (y > hill2) c = [55 + 12 * n, 128 + 16 * n, 48];
    // house
    if (x > 90 && x < 170 && y > 150 && y < 215) c = [230 - 10 * n, 215, 180];
    if (y <= 150 && y > 110 && Math.abs(x - 130) < (y - 110) * 1.15) c = [190, 50, 45];
    if (x > 118 && x < 140 && y > 180 && y < 215) c = [110, 70, 40];
    if (x > 150 && x < 164 && y > 162 && y < 176) c = [120, 180, 230];
    // tree
    const tx = x - 245, ty = y - 150;
    if (x > 240 && x < 250 && y > 160 && y < 212) c = [100, 70, 40];
    if (tx * tx + ty * ty < 28 * 28) c = [40 + 20 * n, 120 + 25 * n, 50];
    return [c[0], c[1], c[2], 255];
  });
}

/** A "product shot": a mug on a plain light background. */
function product(width = 368, height = 276): RgbaImage {
  const s = width / 368;
  return draw(width, height, (X, Y) => {
    const x = X / s, y = Y / s;
    let c: [number, number, number] = [238, 236, 232];
    const body = x > 130 && x < 230 && y > 80 && y < 210;
    const hx = x - 238, hy = y - 140;
    const handle = hx * hx + hy * hy < 34 * 34 && hx * hx + hy * hy > 20 * 20 && x > 228;
    if (body || handle) {
      const shade = body ? 0.75 + 0.25 * Math.cos((x - 165) / 70) : 0.8;
      c = [30 + 20 * shade, 90 * shade + 20, 170 * shade + 30];
    }
    if (body && y > 120 && y < 150 && x > 150 && x < 210) c = [250, 200, 60];
    return [c[0], c[1], c[2], 255];
  });
}

/** The GPT image sizes scaled to the example panels' height, as providers/local offers them for size=auto. */
const AUTO: EngineJob['size'] = {
  auto: [{ width: H, height: H }, { width: (H * 3) / 2, height: H }, { width: H, height: (H * 3) / 2 }],
};

const portrait = (): RgbaImage =>
  draw(240, 320, (x, y) => {
    const dx = x - 120, dy = y - 140;
    let c: [number, number, number] = [60 + y * 0.3, 40, 90 + y * 0.2];
    if (dx * dx + (dy * dy) / 1.4 < 70 * 70) c = [235, 190, 150];
    if (y > 240 && Math.abs(dx) < 110 - (320 - y) * 0.3) c = [40, 130, 120];
    return [c[0], c[1], c[2], 255];
  });

interface Example {
  file: string;
  prompt: string;
  /** none: a generation (drawn from nothing), shown without a before panel */
  input: RgbaImage | RgbaImage[];
  /** edit region (alpha 0 in the mask) in input pixels */
  mask?: { x: number; y: number; w: number; h: number };
  job?: Partial<EngineJob>;
}

async function savePng(img: RgbaImage, file: string): Promise<void> {
  await sharp(Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength), {
    raw: { width: img.width, height: img.height, channels: 4 },
  })
    .png()
    .toFile(file);
}

/** A grey checkerboard so transparency shows. */
function checker(width: number, height: number): Promise<Buffer> {
  const img = draw(width, height, (x, y) => (((x >> 3) + (y >> 3)) & 1 ? [205, 205, 205, 255] : [250, 250, 250, 255]));
  return sharp(Buffer.from(img.data.buffer), { raw: { width, height, channels: 4 } }).png().toBuffer();
}

async function panel(bytes: Buffer): Promise<Buffer> {
  // contain, not cover: a square result (crop to square) must look square
  const fitted = await sharp(bytes).resize(W, H, { fit: 'contain', background: { r: 0, g: 0, b: 0, alpha: 0 } }).ensureAlpha().png().toBuffer();
  return sharp(await checker(W, H)).composite([{ input: fitted }]).png().toBuffer();
}

async function main(): Promise<void> {
  await mkdir(outDir, { recursive: true });
  for (const f of await readdir(outDir)) if (f.endsWith('.png')) await unlink(path.join(outDir, f));
  const tmp = await mkdtemp(path.join(tmpdir(), 'engine-examples-'));
  const engine = createEngine({ threads: 2 });
  const land = landscape();
  const examples: Example[] = [
    { file: '01-bw-text', prompt: "make it black and white and add the text 'Hello' at the bottom", input: land },
    { file: '02-high-contrast-bw', prompt: 'high contrast black and white', input: land },
    { file: '03-sepia', prompt: 'sepia', input: land },
    { file: '04-vintage', prompt: 'make it vintage', input: land },
    { file: '05-warmer', prompt: 'make it warmer', input: land },
    { file: '06-cooler', prompt: 'a lot cooler', input: land },
    { file: '07-invert', prompt: 'invert the colours', input: land },
    { file: '08-blur', prompt: 'blur a lot', input: land },
    { file: '09-sharpen', prompt: 'sharpen', input: landscape(368, 276) },
    { file: '10-brighten', prompt: 'brighten by 30%', input: land },
    { file: '11-darken', prompt: 'make it darker', input: land },
    { file: '12-contrast', prompt: 'more contrast', input: land },
    { file: '13-muted', prompt: 'muted colours', input: land },
    { file: '14-vivid', prompt: 'more vivid', input: land },
    { file: '15-tint', prompt: 'tint it blue', input: land },
    { file: '16-recolour', prompt: 'change the colour to #cc33aa', input: land },
    { file: '17-pixelate', prompt: 'pixelate with 12px blocks', input: land },
    { file: '18-rotate-30', prompt: 'rotate 30 degrees', input: land },
    { file: '19-mirror', prompt: 'mirror', input: land },
    { file: '20-text-top', prompt: "add the text 'SALE' at the top", input: land },
    { file: '21-text-corner', prompt: "write “Summer 2024” in the bottom right corner", input: land },
    // a photo-like product shot: gradient wall, wooden table, a shadow, the handle's hole
    { file: '22-remove-background', prompt: 'remove the background', input: mugShot(368, 276).image },
    { file: '23-replace-background', prompt: 'replace the background with #3366ff', input: product() },
    { file: '24-crop-square', prompt: 'crop to square', input: land, job: { size: { width: H, height: H } } },
    { file: '25-zoom', prompt: 'zoom in 2x', input: land },
    { file: '26-border', prompt: 'add a thick gold border', input: land },
    { file: '27-merge', prompt: 'put them side by side', input: [land, portrait()] },
    { file: '28-remove-masked', prompt: 'remove the house', input: land, mask: { x: 84, y: 104, w: 92, h: 116 } },
    { file: '29-masked-grayscale', prompt: 'make it black and white', input: land, mask: { x: 200, y: 100, w: 100, h: 120 } },
    { file: '30-combo', prompt: "sepia, add a thin white border and write 'Home' at the top", input: land },
    // size 'auto' follows the edited shape: a landscape turned 90° answers a portrait size, whole
    { file: '31-rotate-90-auto', prompt: 'rotate it 90 degrees to the right', input: land, job: { size: AUTO } },
    { file: '32-text-big-red', prompt: "add 'SALE' in big red letters at the top", input: land },
    { file: '33-text-styles', prompt: "write 'Hi' in yellow at the top with a red outline and add 'Hello' in small white text bottom-right", input: land },
    // an explicit size of another shape keeps the whole picture: bars continue the edges
    { file: '34-letterbox', prompt: 'make it warmer', input: land, job: { size: { width: H, height: H } } },
    { file: '35-crop-to-fit', prompt: 'make it warmer and crop to fit', input: land, job: { size: { width: H, height: H } } },
    // n = 3: the nominal edit, then stronger and weaker, each caption moved and sized a little
    { file: '36-variants-text', prompt: "add 'SALE' at the top and make it black and white", input: land, job: { n: 3 } },
    { file: '37-variants-vintage', prompt: 'vintage', input: land, job: { n: 3 } },
    // generations: drawn from nothing (no before panel), n = 3 variants each
    { file: '38-generate-poster', prompt: "a poster that says 'Grand Opening' in big white letters on dark green", input: [], job: { kind: 'generate', n: 3 } },
    { file: '39-generate-gradient', prompt: 'a gradient from navy to orange', input: [], job: { kind: 'generate', n: 3 } },
    { file: '40-generate-stripes', prompt: 'blue and white stripes', input: [], job: { kind: 'generate', n: 3 } },
    { file: '41-generate-dots', prompt: 'white polka dots on red', input: [], job: { kind: 'generate', n: 3 } },
    { file: '42-generate-checkerboard', prompt: "a checkerboard with a thick red border", input: [], job: { kind: 'generate', n: 3 } },
    // variations (DALL·E 2's operation): no prompt; before, then three variations
    { file: '43-variations', prompt: '', input: land, job: { kind: 'vary', n: 3 } },
    // a fill's variants: each seed takes its sources from its own parts of the picture
    { file: '44-variants-remove', prompt: 'remove the house', input: land, mask: { x: 84, y: 104, w: 92, h: 116 }, job: { n: 3 } },
  ];

  for (const ex of examples) {
    const inputs = Array.isArray(ex.input) ? ex.input : [ex.input];
    const paths: string[] = [];
    for (const [i, img] of inputs.entries()) {
      const p = path.join(tmp, `${ex.file}-${i}.png`);
      await savePng(img, p);
      paths.push(p);
    }
    let maskPath: string | null = null;
    const first = inputs[0];
    if (ex.mask) {
      const m = ex.mask;
      maskPath = path.join(tmp, `${ex.file}-mask.png`);
      await savePng(draw(first!.width, first!.height, (x, y) => [0, 0, 0, x >= m.x && x < m.x + m.w && y >= m.y && y < m.y + m.h ? 0 : 255]), maskPath);
    }
    const job: EngineJob = {
      prompt: ex.prompt,
      images: paths.map((p) => ({ path: p })),
      mask: maskPath ? { path: maskPath } : null,
      maskFromAlpha: false,
      n: 1,
      size: { width: W, height: H },
      background: 'auto',
      outputFormat: 'png',
      outputCompression: null,
      partialImages: 0,
      ...ex.job,
    };
    const started = performance.now();
    const result = await engine.run(job);
    const ms = performance.now() - started;

    // before: the first input (all inputs side by side for a merge), with the mask outlined; none for a generation
    let before: Buffer | null = null;
    if (!first) {
      before = null;
    } else if (inputs.length > 1) {
      const halves = await Promise.all(
        inputs.map(async (img) =>
          sharp(Buffer.from(img.data.buffer), { raw: { width: img.width, height: img.height, channels: 4 } })
            .resize(Math.floor(W / inputs.length), H, { fit: 'cover' })
            .png()
            .toBuffer(),
        ),
      );
      before = await sharp({ create: { width: W, height: H, channels: 4, background: '#ffffff' } })
        .composite(halves.map((input, i) => ({ input, left: i * Math.floor(W / inputs.length), top: 0 })))
        .png()
        .toBuffer();
    } else {
      const img = ex.mask
        ? draw(first.width, first.height, (x, y) => {
            const m = ex.mask!;
            const p = (y * first.width + x) * 4;
            const onEdge = (x === m.x || x === m.x + m.w - 1 || y === m.y || y === m.y + m.h - 1) && x >= m.x && x < m.x + m.w && y >= m.y && y < m.y + m.h;
            const thick = onEdge || ((x === m.x + 1 || x === m.x + m.w - 2 || y === m.y + 1 || y === m.y + m.h - 2) && x > m.x && x < m.x + m.w - 1 && y > m.y && y < m.y + m.h - 1);
            return thick ? [255, 0, 200, 255] : [first.data[p]!, first.data[p + 1]!, first.data[p + 2]!, 255];
          })
        : first;
      before = await sharp(Buffer.from(img.data.buffer), { raw: { width: img.width, height: img.height, channels: 4 } }).png().toBuffer();
    }
    // before, then every output (n > 1: the variants side by side)
    const panels = [...(before ? [before] : []), ...result.images.map((i) => i.bytes)];
    const sheet = await sharp({ create: { width: panels.length * W + (panels.length - 1) * GAP, height: H, channels: 4, background: '#ffffff' } })
      .composite(await Promise.all(panels.map(async (b, i) => ({ input: await panel(b), left: i * (W + GAP), top: 0 }))))
      .png({ compressionLevel: 9, palette: true, quality: 90 })
      .toBuffer();
    await writeFile(path.join(outDir, `${ex.file}.png`), sheet);
    console.log(`${ex.file}.png  ${(sheet.length / 1024).toFixed(0)} KB  ${ms.toFixed(0)} ms  ${result.size.width}x${result.size.height}  ${JSON.stringify(ex.prompt)} → ${result.operations.join(' | ')}${result.warnings.length ? `  warnings: ${result.warnings.join('; ')}` : ''}`);
  }
  await engine.close();
  await rm(tmp, { recursive: true, force: true });
}

await main();
