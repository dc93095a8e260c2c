/**
 * Makes docs/sample.png, the picture the README's first request sends, and
 * docs/sample-mask.png, a mask over its house (transparent = the area to
 * edit) for the masked example: drawn here (bench/lib/photo.ts), no
 * downloaded photo, the same bytes on every machine.
 *
 *   node --import tsx scripts/sample-image.ts
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { makeLandscape } from '../bench/lib/photo.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SIZE = 512;

/** where makeLandscape puts the house and its roof, with a margin, in pixels */
const HOUSE = { left: Math.floor(0.6 * SIZE), top: Math.floor(0.57 * SIZE), right: Math.ceil(0.8 * SIZE), bottom: Math.ceil(0.82 * SIZE) };

async function main(): Promise<void> {
  const photo = makeLandscape(SIZE);
  // a palette PNG: the grain of the drawing makes a true-colour one three times larger, for no visible gain
  const sample = await sharp(Buffer.from(photo.data.buffer), { raw: { width: SIZE, height: SIZE, channels: 4 } })
    .removeAlpha()
    .png({ compressionLevel: 9, palette: true, quality: 90 })
    .toBuffer();
  const mask = Buffer.alloc(SIZE * SIZE * 4, 255);
  for (let y = HOUSE.top; y < HOUSE.bottom; y++) for (let x = HOUSE.left; x < HOUSE.right; x++) mask[(y * SIZE + x) * 4 + 3] = 0;
  const maskPng = await sharp(mask, { raw: { width: SIZE, height: SIZE, channels: 4 } }).png({ compressionLevel: 9 }).toBuffer();
  await writeFile(path.join(root, 'docs/sample.png'), sample);
  await writeFile(path.join(root, 'docs/sample-mask.png'), maskPng);
  console.log(`docs/sample.png (${sample.length} bytes), docs/sample-mask.png (${maskPng.length} bytes)`);
}

await main();
