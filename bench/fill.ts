/**
 * Content-aware fill bench: `npx tsx bench/fill.ts [runs] [size]`
 *
 * Scenes with a known right answer (bench/lib/structure.ts): a horizon, a
 * hill's outline and a road crossing the hole, a landscape with a van pasted
 * over a ridge (truth: the landscape without it), all `size` wide (default
 * 512), and the 1024×1024 landscape with a centred elliptical hole of 25%.
 * For each: the mean absolute error inside the hole against the truth (per
 * RGB channel, 0-255) of the engine's fill, a flat mean-colour fill, and
 * OpenCV's two inpainting methods (Telea 2004 and Navier-Stokes, radius 3,
 * through @techstark/opencv-js, WASM, offline); and the median wall time of
 * `runs` runs (default 5) of each, on this thread. Pictures go to
 * .tmp/bench-fill/ (hole, engine, Telea, Navier-Stokes, truth, side by side).
 */
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import sharp from 'sharp';
import { contentAwareFill } from '../src/engine/fill/index.js';
import type { RgbaImage } from '../src/engine/types.js';
import { landscapeQuarter, structureScenes, type FillScene } from './lib/structure.js';

const RUNS = Number(process.argv[2] ?? 5);
const SIZE = Number(process.argv[3] ?? 512);
const OUT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '.tmp', 'bench-fill');

/** The OpenCV.js module (Emscripten): ready once its runtime has initialised. */
interface Cv {
  Mat: { new (rows: number, cols: number, type: number): CvMat; zeros(rows: number, cols: number, type: number): CvMat };
  matFromArray(rows: number, cols: number, type: number, data: ArrayLike<number>): CvMat;
  inpaint(src: CvMat, mask: CvMat, dst: CvMat, radius: number, flags: number): void;
  CV_8UC1: number;
  CV_8UC3: number;
  INPAINT_TELEA: number;
  INPAINT_NS: number;
  onRuntimeInitialized?: () => void;
}
interface CvMat {
  data: Uint8Array;
  delete(): void;
}

/**
 * Wrapped, because the module must never be awaited or resolved itself: it
 * has a `then` that resolves to itself, which would await forever.
 */
async function loadCv(): Promise<{ cv: Cv }> {
  const cv = createRequire(import.meta.url)('@techstark/opencv-js') as Cv;
  if (!(cv as Partial<Cv>).Mat) await new Promise<void>((resolve) => (cv.onRuntimeInitialized = resolve));
  return { cv };
}

function mae(a: Uint8ClampedArray, b: Uint8ClampedArray, hole: Uint8Array): number {
  let s = 0;
  let n = 0;
  for (let i = 0; i < hole.length; i++) {
    if (!hole[i]) continue;
    for (let c = 0; c < 3; c++) s += Math.abs(a[i * 4 + c] - b[i * 4 + c]);
    n += 3;
  }
  return s / n;
}

function flatFill(img: RgbaImage, hole: Uint8Array): Uint8ClampedArray {
  const sum = [0, 0, 0];
  let n = 0;
  for (let i = 0; i < hole.length; i++) {
    if (hole[i]) continue;
    for (let c = 0; c < 3; c++) sum[c] += img.data[i * 4 + c];
    n++;
  }
  const out = new Uint8ClampedArray(img.data);
  for (let i = 0; i < hole.length; i++) if (hole[i]) for (let c = 0; c < 3; c++) out[i * 4 + c] = Math.round(sum[c] / n);
  return out;
}

function opencvInpaint(cv: Cv, img: RgbaImage, hole: Uint8Array, flags: number): Uint8ClampedArray {
  const { width: w, height: h } = img;
  const rgb = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) for (let c = 0; c < 3; c++) rgb[i * 3 + c] = hole[i] ? 0 : img.data[i * 4 + c];
  const src = cv.matFromArray(h, w, cv.CV_8UC3, rgb);
  const mask = cv.matFromArray(h, w, cv.CV_8UC1, hole.map((v) => (v ? 255 : 0)));
  const dst = new cv.Mat(h, w, cv.CV_8UC3);
  try {
    cv.inpaint(src, mask, dst, 3, flags);
    const out = new Uint8ClampedArray(img.data);
    for (let i = 0; i < w * h; i++) for (let c = 0; c < 3; c++) out[i * 4 + c] = dst.data[i * 3 + c];
    return out;
  } finally {
    src.delete();
    mask.delete();
    dst.delete();
  }
}

/** Median wall time of `runs` calls, and the last result. */
function timed<T>(runs: number, fn: () => T): { ms: number; result: T } {
  const times: number[] = [];
  let result!: T;
  for (let r = 0; r < runs; r++) {
    const t = performance.now();
    result = fn();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { ms: times[Math.floor(times.length / 2)], result };
}

async function sheet(file: string, scene: FillScene, panels: Uint8ClampedArray[]): Promise<void> {
  const { width: w, height: h } = scene.image;
  const pw = Math.min(w, 400);
  const ph = Math.round((h * pw) / w);
  const pngs = await Promise.all(
    panels.map((d) => sharp(Buffer.from(d.buffer, d.byteOffset, d.byteLength), { raw: { width: w, height: h, channels: 4 } }).resize(pw, ph).png().toBuffer()),
  );
  await sharp({ create: { width: panels.length * (pw + 6), height: ph, channels: 4, background: '#ffffff' } })
    .composite(pngs.map((input, i) => ({ input, left: i * (pw + 6), top: 0 })))
    .png()
    .toFile(path.join(OUT, file));
}

async function main(): Promise<void> {
  fs.mkdirSync(OUT, { recursive: true });
  const { cv } = await loadCv();
  const scenes = [...structureScenes(SIZE), landscapeQuarter(1024)];
  console.log(`${RUNS} runs each, median wall time, one thread; MAE = mean absolute error per RGB channel inside the hole against the truth`);
  console.log('scene'.padEnd(22) + 'hole'.padStart(13) + '  engine (ms)'.padEnd(20) + 'flat'.padEnd(8) + 'Telea (ms)'.padEnd(18) + 'Navier-Stokes (ms)');
  for (const scene of scenes) {
    const { width: w, height: h } = scene.image;
    let area = 0;
    for (const v of scene.hole) area += v;
    const engine = timed(RUNS, () => contentAwareFill(scene.image, scene.hole, { seed: 0 }).data);
    const flat = flatFill(scene.image, scene.hole);
    const telea = timed(RUNS, () => opencvInpaint(cv, scene.image, scene.hole, cv.INPAINT_TELEA));
    const ns = timed(RUNS, () => opencvInpaint(cv, scene.image, scene.hole, cv.INPAINT_NS));
    const e = (d: Uint8ClampedArray): string => mae(d, scene.truth.data, scene.hole).toFixed(2);
    console.log(
      `${scene.name} ${w}x${h}`.padEnd(22) +
        `${((100 * area) / (w * h)).toFixed(1)}%`.padStart(13) +
        `  ${e(engine.result)} (${engine.ms.toFixed(0)})`.padEnd(20) +
        e(flat).padEnd(8) +
        `${e(telea.result)} (${telea.ms.toFixed(0)})`.padEnd(18) +
        `${e(ns.result)} (${ns.ms.toFixed(0)})`,
    );
    const holed = new Uint8ClampedArray(scene.image.data);
    for (let i = 0; i < scene.hole.length; i++) if (scene.hole[i]) holed.set([255, 0, 255, 255], i * 4);
    await sheet(`${scene.name.replace(/[^a-z0-9]+/gi, '-')}.png`, scene, [holed, engine.result, telea.result, ns.result, scene.truth.data]);
  }
  console.log(`pictures (hole | engine | Telea | Navier-Stokes | truth) in ${OUT}`);
}

await main();
