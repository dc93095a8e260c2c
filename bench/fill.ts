/**
 * Content-aware fill bench: `npx tsx bench/fill.ts [runs]`
 *
 * A 1024×1024 synthetic landscape, a centred elliptical hole of 10% and of
 * 25% of the area; runs the fill `runs` times (default 5) on this thread and
 * prints median/min/max wall time (and the process CPU time, a steadier
 * figure on a busy machine), and the mean absolute error inside the
 * hole against the original next to that of a flat mean-colour fill.
 * Inputs and outputs go to .tmp/bench-fill/ as PNGs for looking at.
 */
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import sharp from 'sharp';
import { contentAwareFill } from '../src/engine/fill/index.js';
import type { RgbaImage } from '../src/engine/types.js';
import { ellipseMask, makeLandscape } from './lib/photo.js';

const SIZE = 1024;
const RUNS = Number(process.argv[2] ?? 5);
const OUT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '.tmp', 'bench-fill');

function mae(a: Uint8ClampedArray, b: Uint8ClampedArray, mask: Uint8Array): number {
  let s = 0;
  let n = 0;
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    for (let c = 0; c < 3; c++) s += Math.abs(a[i * 4 + c] - b[i * 4 + c]);
    n += 3;
  }
  return s / n;
}

function flatFill(img: RgbaImage, mask: Uint8Array): Uint8ClampedArray {
  const sum = [0, 0, 0, 0];
  let n = 0;
  for (let i = 0; i < mask.length; i++) {
    if (mask[i]) continue;
    for (let c = 0; c < 4; c++) sum[c] += img.data[i * 4 + c];
    n++;
  }
  const out = new Uint8ClampedArray(img.data);
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    for (let c = 0; c < 4; c++) out[i * 4 + c] = Math.round(sum[c] / n);
  }
  return out;
}

async function png(file: string, data: Uint8ClampedArray, w: number, h: number): Promise<void> {
  await sharp(Buffer.from(data.buffer, data.byteOffset, data.byteLength), { raw: { width: w, height: h, channels: 4 } })
    .png()
    .toFile(path.join(OUT, file));
}

async function main(): Promise<void> {
  fs.mkdirSync(OUT, { recursive: true });
  const t0 = performance.now();
  const img = makeLandscape(SIZE);
  console.log(`landscape ${SIZE}x${SIZE} built in ${(performance.now() - t0).toFixed(0)} ms; ${RUNS} runs per mask, single thread`);
  await png('input.png', img.data, SIZE, SIZE);
  for (const frac of [0.1, 0.25]) {
    const mask = ellipseMask(SIZE, SIZE, frac);
    let area = 0;
    for (const m of mask) area += m;
    const holed = new Uint8ClampedArray(img.data);
    for (let i = 0; i < mask.length; i++) if (mask[i]) holed.set([255, 0, 255, 255], i * 4);
    const tag = `${Math.round(frac * 100)}pct`;
    await png(`hole-${tag}.png`, holed, SIZE, SIZE);
    const times: number[] = [];
    const cpus: number[] = [];
    let result: RgbaImage | null = null;
    let scales = 0;
    for (let run = 0; run < RUNS; run++) {
      const t = performance.now();
      const c = process.cpuUsage();
      result = contentAwareFill(img, mask, {
        seed: 1234,
        onScale: run === 0 ? (_r, _i, n) => (scales = n) : undefined,
      });
      times.push(performance.now() - t);
      const cu = process.cpuUsage(c);
      cpus.push((cu.user + cu.system) / 1000);
    }
    times.sort((a, b) => a - b);
    cpus.sort((a, b) => a - b);
    const med = times[Math.floor(times.length / 2)];
    const cpuMed = cpus[Math.floor(cpus.length / 2)];
    const filled = result!.data;
    const e = mae(filled, img.data, mask);
    const ef = mae(flatFill(img, mask), img.data, mask);
    console.log(
      `mask ${(area / (SIZE * SIZE) * 100).toFixed(1)}% (${area} px, ${scales} scales): ` +
        `median ${med.toFixed(0)} ms, min ${times[0].toFixed(0)}, max ${times[times.length - 1].toFixed(0)} ` +
        `(process CPU median ${cpuMed.toFixed(0)} ms); ` +
        `MAE fill ${e.toFixed(2)} vs flat ${ef.toFixed(2)} (ratio ${(e / ef).toFixed(3)})`,
    );
    await png(`fill-${tag}.png`, filled, SIZE, SIZE);
  }
  console.log(`images in ${OUT}`);
}

await main();
