/**
 * One engine job, start to finish: decode → parse → edit (per variant) → fit
 * to the requested size → background → encode, with partial images. Runs in
 * a worker thread (see worker.ts) but has no thread-specific code, so tests
 * can call it directly.
 */
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import type { EngineImage, EngineJob, EngineResult, RgbaImage } from './types.js';
import type { Background } from '../types.js';
import { instructionWarnings, parseInstructions, type Op } from './instructions.js';
import { applyOps, composeInputs, type ApplyContext, type EditState, type FillSnapshot } from './apply.js';
import { defaultFill, type ContentAwareFill } from './fill-bridge.js';
import { EngineInputError } from './errors.js';
import { createImage, hasTransparency } from './image.js';
import { regionFromAlpha, type Region } from './ops/region.js';
import { fitCover } from './ops/geometry.js';
import { detectBackground, flatten, removeBackground } from './ops/background.js';
import { CONFIDENT, segmentForeground } from './segment/index.js';
import { resize, toSharp } from './ops/sharp-raw.js';

export { EngineInputError } from './errors.js';

export type EmitPartial = (imageIndex: number, partialIndex: number, image: EngineImage) => void;

export interface RunDependencies {
  /** override the content-aware fill (tests); undefined = ./fill, null = none */
  fill?: ContentAwareFill | null;
}

/**
 * Decode to 8-bit RGBA, no larger than the edit needs: the shorter side at
 * most `maxShortSide` (never enlarged). The output is at most that big, so a
 * 50-megapixel upload costs a few megapixels of work and memory, not 2 GB.
 */
async function decode(path: string, which: number | 'mask', maxShortSide: number): Promise<RgbaImage> {
  const name = which === 'mask' ? 'mask' : `image ${which}`;
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new EngineInputError(which, `could not read ${name}: ${(err as Error).message}`, { cause: err });
  }
  try {
    // rotate() with no angle applies the EXIF orientation (JPEG, WebP); toColourspace gives 8-bit sRGB from grey or 16-bit input
    const { data, info } = await sharp(bytes, { limitInputPixels: false })
      .rotate()
      .resize({ width: maxShortSide, height: maxShortSide, fit: 'outside', withoutEnlargement: true })
      .toColourspace('srgb')
      .ensureAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 4) throw new Error(`decoded to ${info.channels} channels`);
    return { width: info.width, height: info.height, data: new Uint8ClampedArray(data.buffer, data.byteOffset, data.byteLength) };
  } catch (err) {
    throw new EngineInputError(which, `${name} could not be decoded: ${(err as Error).message}`, { cause: err });
  }
}

/** PNG zlib level: compression 0-100 → 0-9 (always lossless); engine default 6. */
export const pngLevel = (compression: number | null): number =>
  compression === null ? 6 : Math.max(0, Math.min(9, Math.round((compression * 9) / 100)));

export async function encode(img: RgbaImage, format: EngineJob['outputFormat'], compression: number | null): Promise<Buffer> {
  const s = toSharp(img);
  switch (format) {
    case 'png':
      return s.png({ compressionLevel: pngLevel(compression), adaptiveFiltering: false, palette: false }).toBuffer();
    case 'jpeg': {
      const q = Math.max(1, Math.min(100, compression ?? 100));
      const flat = hasTransparency(img) ? flatten(img, [255, 255, 255]) : img;
      return toSharp(flat)
        .removeAlpha()
        .jpeg({ quality: q, chromaSubsampling: q >= 90 ? '4:4:4' : '4:2:0' })
        .toBuffer();
    }
    case 'webp': {
      const q = Math.max(1, Math.min(100, compression ?? 100));
      return s.webp({ quality: q, alphaQuality: 100, effort: 4 }).toBuffer();
    }
  }
}

/** What finishing did: notes (a leading '!' marks a warning) and the confidence of a background removal. */
interface FinishFacts {
  notes: string[];
  backgroundConfidence: number | null;
}

/**
 * Fit to the exact output size, then honour `background`. Asked for
 * transparency without asking to cut anything out, the subject is cut out
 * only when the segmentation is confident; otherwise the picture stays
 * opaque, which is the safer answer than a wrong cut.
 */
async function finishPixels(img: RgbaImage, job: EngineJob, facts: FinishFacts | null): Promise<RgbaImage> {
  let out = await fitCover(img, job.size.width, job.size.height);
  if (job.background === 'transparent' && job.outputFormat !== 'jpeg') {
    if (!hasTransparency(out)) {
      const seg = segmentForeground(out);
      if (facts) facts.backgroundConfidence = seg.confidence;
      if (seg.confidence >= CONFIDENT) {
        const r = removeBackground(out, seg);
        if (r.removed > 0) {
          out = r.image;
          facts?.notes.push('remove background (background=transparent)');
        }
      } else {
        const why = seg.doubts.length > 0 ? `: ${seg.doubts.join(', ')}` : '';
        facts?.notes.push(`!background=transparent: no background could be told from the subject with confidence (${seg.confidence.toFixed(2)}${why}); the image stays opaque`);
      }
    }
  } else if (job.background === 'opaque' || job.outputFormat === 'jpeg') {
    if (hasTransparency(out)) out = flatten(out, detectBackground(out)?.color ?? [255, 255, 255]);
  }
  return out;
}

function spread<T>(items: readonly T[], k: number): T[] {
  if (items.length <= k) return [...items];
  if (k === 1) return [items[Math.floor((items.length - 1) / 2)]!];
  const out: T[] = [];
  for (let j = 0; j < k; j++) out.push(items[Math.round((j * (items.length - 1)) / (k - 1))]!);
  return out;
}

/** Scales of the progressive previews used when no fill supplies real coarse results. */
const PROGRESSIVE: readonly number[] = [1 / 8, 1 / 4, 1 / 2];

async function progressive(img: RgbaImage, scale: number): Promise<RgbaImage> {
  const w = Math.max(1, Math.round(img.width * scale));
  const h = Math.max(1, Math.round(img.height * scale));
  return resize(await resize(img, w, h), img.width, img.height);
}

const toEngineImage = (bytes: Buffer, job: EngineJob): EngineImage => ({ bytes, width: job.size.width, height: job.size.height });

/** Run one job. Partial images go to `emitPartial` in order, each output's before the next output starts. */
export async function runJob(job: EngineJob, emitPartial: EmitPartial, deps: RunDependencies = {}): Promise<EngineResult> {
  const parsed = parseInstructions(job.prompt);
  const warnings: string[] = [];

  const images: RgbaImage[] = [];
  // a rotation or square crop may still need the output's longer side from the shorter one
  const workSide = Math.max(job.size.width, job.size.height);
  for (let i = 0; i < job.images.length; i++) images.push(await decode(job.images[i]!.path, i, workSide));
  if (images.length === 0) {
    images.push(createImage(job.size.width, job.size.height, [255, 255, 255, 255]));
    warnings.push('no input image: the edit was applied to a blank white canvas');
  }

  // the edit region: an explicit mask, else (DALL·E) the first image's own transparency
  let region: Region = null;
  let prefill = false;
  const first = images[0]!;
  if (job.mask) {
    let mask = await decode(job.mask.path, 'mask', workSide);
    if (mask.width !== first.width || mask.height !== first.height) mask = await resize(mask, first.width, first.height);
    region = regionFromAlpha(mask);
    if (region === null) warnings.push('the mask has no transparent pixels, so the whole image was edited');
  } else if (job.maskFromAlpha && job.images.length > 0) {
    region = regionFromAlpha(first);
    // transparent pixels hold no picture: fill them from the surroundings before editing
    prefill = region !== null;
  }

  let ops: Op[] = parsed.ops;
  if (!parsed.understood && region !== null && !prefill) ops = [{ kind: 'fill', target: null }];
  warnings.push(...instructionWarnings(parsed, job.prompt, region !== null));
  const merging = ops.some((o) => o.kind === 'merge');
  if (job.images.length > 1 && !merging) {
    warnings.push(`only the first of ${job.images.length} images was edited; ask to "merge" or put them "side by side" to combine them`);
  }
  if (merging && job.images.length < 2) warnings.push('merge needs at least two input images; there was only one');

  const needsFill = prefill || ops.some((o) => o.kind === 'fill');
  const fill = needsFill ? (deps.fill !== undefined ? deps.fill : defaultFill) : null;

  const canvas = { width: job.size.width, height: job.size.height };
  const composed = await composeInputs(images, region, ops, canvas);
  const k = Math.max(0, Math.min(3, Math.floor(job.partialImages)));

  const outputs: EngineImage[] = [];
  let operations: string[] = [];
  let transparent = false;
  let backgroundConfidence: number | null = null;
  for (let v = 0; v < Math.max(1, job.n); v++) {
    const ctx: ApplyContext = { variant: v, fill, canvas, captureFill: k > 0, prefill };
    const res = await applyOps(composed.state, ops, ctx);
    const facts: FinishFacts = { notes: [], backgroundConfidence: null };
    const final = await finishPixels(res.state.image, job, facts);
    const notes = facts.notes;
    if (v === 0) {
      const seen = [res.backgroundConfidence, facts.backgroundConfidence].filter((c): c is number => c !== null);
      if (seen.length > 0) backgroundConfidence = Math.min(...seen);
      operations = [...composed.applied, ...res.applied, ...notes.filter((n) => !n.startsWith('!'))];
      warnings.push(...res.warnings, ...notes.filter((n) => n.startsWith('!')).map((n) => n.slice(1)));
    }

    if (k > 0) {
      const partials = await partialFrames(res.snapshots, ops, ctx, final, k, job);
      for (let p = 0; p < partials.length; p++) {
        emitPartial(v, p, toEngineImage(await encode(partials[p]!, job.outputFormat, job.outputCompression), job));
      }
    }
    if (job.outputFormat !== 'jpeg' && hasTransparency(final)) transparent = true;
    outputs.push(toEngineImage(await encode(final, job.outputFormat, job.outputCompression), job));
  }

  const background: Background = transparent ? 'transparent' : 'opaque';
  return {
    images: outputs,
    background,
    operations,
    understood: parsed.understood,
    warnings: [...new Set(warnings)],
    ...(backgroundConfidence !== null ? { backgroundConfidence } : {}),
  };
}

/**
 * k intermediate frames for one output: the fill's coarse scales carried
 * through the rest of the edit when a fill ran, topped up with progressive
 * previews of the final result (1/8, 1/4, 1/2 resolution scaled back up).
 */
async function partialFrames(
  snapshots: readonly FillSnapshot[],
  ops: readonly Op[],
  ctx: ApplyContext,
  final: RgbaImage,
  k: number,
  job: EngineJob,
): Promise<RgbaImage[]> {
  const frames: RgbaImage[] = [];
  const quiet: ApplyContext = { ...ctx, captureFill: false };
  for (const snap of spread(snapshots, k)) {
    const start: EditState = snap.state;
    const rest = await applyOps(start, ops, quiet, snap.opIndex + 1, true);
    frames.push(await finishPixels(rest.state.image, job, null));
  }
  const scales = PROGRESSIVE.slice(PROGRESSIVE.length - (k - frames.length));
  for (const s of scales) frames.push(await progressive(final, s));
  return frames.slice(0, k);
}
