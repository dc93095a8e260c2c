/**
 * One engine job, start to finish: decode → parse → edit (per variant) → fit
 * to the requested size → background → encode, with partial images. Runs in
 * a worker thread (see worker.ts) but has no thread-specific code, so tests
 * can call it directly.
 */
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import type { AutoSize, EngineImage, EngineInput, EngineJob, EngineResult, RgbaImage } from './types.js';
import type { Background, Size } from '../types.js';
import { describeOp, drawingWarnings, instructionWarnings, parseInstructions, type MergeLayout, type Op } from './instructions.js';
import { variationSpread, varyColours, varyCrop } from './ops/vary.js';
import { applyOps, composeInputs, variesByVariant, type ApplyContext, type EditState, type FillSnapshot } from './apply.js';
import { defaultFill, type ContentAwareFill } from './fill-bridge.js';
import { EngineInputError } from './errors.js';
import { createImage, hasTransparency } from './image.js';
import { regionFromAlpha, type Region } from './ops/region.js';
import { fitCover, letterbox, nearestSize, type BarFill } from './ops/geometry.js';
import { detectBackground, flatten, removeBackground } from './ops/background.js';
import { CONFIDENT, segmentForeground } from './segment/index.js';
import { resize, toSharp } from './ops/sharp-raw.js';
import { encodeAs } from '../images/encode.js';
import { decodePlainPng } from './png-decode.js';

export { EngineInputError } from './errors.js';

export type EmitPartial = (imageIndex: number, partialIndex: number, image: EngineImage) => void;

export interface RunDependencies {
  /** override the content-aware fill (tests); undefined = ./fill, null = none */
  fill?: ContentAwareFill | null;
}

/** Above this, libvips's threads decode faster than one JS thread. */
const PLAIN_PNG_MAX_PIXELS = 1024 * 1024;

/**
 * Decode to 8-bit RGBA, no larger than the edit needs: the shorter side at
 * most `maxShortSide` (never enlarged). The output is at most that big, so a
 * 50-megapixel upload costs a few megapixels of work and memory, not 2 GB.
 */
async function decode(input: EngineInput, which: number | 'mask', maxShortSide: number): Promise<RgbaImage> {
  const name = which === 'mask' ? 'mask' : `image ${which}`;
  let bytes: Buffer;
  try {
    // a small upload comes with its bytes (copied across the thread boundary as a Uint8Array)
    bytes = input.bytes ? Buffer.from(input.bytes.buffer, input.bytes.byteOffset, input.bytes.byteLength) : await readFile(input.path);
  } catch (err) {
    throw new EngineInputError(which, `could not read ${name}: ${(err as Error).message}`, { cause: err });
  }
  // a small plain PNG decodes in JS, to the same pixels, when sharp would not scale it down (png-decode.ts)
  const plain = decodePlainPng(bytes, (w, h) => Math.min(w, h) <= maxShortSide && w * h <= PLAIN_PNG_MAX_PIXELS);
  if (plain) return plain;
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

export async function encode(img: RgbaImage, format: EngineJob['outputFormat'], compression: number | null): Promise<Buffer> {
  // JPEG has no alpha: the engine flattens with its own compositing, then the shared encoder settings apply
  const pixels = format === 'jpeg' && hasTransparency(img) ? flatten(img, [255, 255, 255]) : img;
  const s = format === 'jpeg' ? toSharp(pixels).removeAlpha() : toSharp(pixels);
  return encodeAs(s, format, compression).toBuffer();
}

export type FitMode = 'cover' | 'contain';

const isAuto = (size: EngineJob['size']): size is AutoSize => 'auto' in size;

/** The longest side any output of the job can have (what decoding must keep). */
function maxOutputSide(job: EngineJob): number {
  const sizes = isAuto(job.size) ? job.size.auto : [job.size];
  return Math.max(...sizes.map((s) => Math.max(s.width, s.height)));
}

/** The job's size for a picture of this shape: fixed, or the nearest 'auto' candidate. */
export function sizeFor(job: EngineJob, width: number, height: number): Size {
  return isAuto(job.size) ? nearestSize(job.size.auto, width, height) : job.size;
}

/** The merged canvas's natural shape: a row is as wide as its pictures side by side, a column as tall. */
function mergeShape(images: readonly RgbaImage[], layout: MergeLayout): { width: number; height: number } {
  if (layout === 'row') return { width: images.reduce((s, i) => s + i.width / i.height, 0), height: 1 };
  if (layout === 'column') return { width: 1, height: images.reduce((s, i) => s + i.height / i.width, 0) };
  // a grid picks its own rows and columns for the canvas; the first picture's shape is as good a guess as any
  return images[0]!;
}

/** What finishing did: notes (a leading '!' marks a warning) and the confidence of a background removal. */
interface FinishFacts {
  notes: string[];
  backgroundConfidence: number | null;
}

/**
 * Fit to the exact output size, then honour `background`. 'contain' (the
 * default) keeps the whole picture and letterboxes: transparent bars when the
 * output keeps transparency and the picture has some or asked for it, else
 * the uniform background colour, else each side's edge colour. 'cover' (the
 * prompt asked to crop) fills the size and crops the centre. Asked for
 * transparency without asking to cut anything out, the subject is cut out
 * only when the segmentation is confident; otherwise the picture stays
 * opaque, which is the safer answer than a wrong cut.
 */
async function finishPixels(img: RgbaImage, size: Size, mode: FitMode, job: EngineJob, facts: FinishFacts | null): Promise<RgbaImage> {
  let pic = img;
  const keepsAlpha = job.outputFormat !== 'jpeg';
  if (job.background === 'transparent' && keepsAlpha && !hasTransparency(pic)) {
    // before the letterbox, whose transparent bars would otherwise hide the opaque background from this check
    const seg = segmentForeground(pic);
    if (facts) facts.backgroundConfidence = seg.confidence;
    if (seg.confidence >= CONFIDENT) {
      const r = removeBackground(pic, seg);
      if (r.removed > 0) {
        pic = r.image;
        facts?.notes.push('remove background (background=transparent)');
      }
    } else {
      const why = seg.doubts.length > 0 ? `: ${seg.doubts.join(', ')}` : '';
      facts?.notes.push(`!background=transparent: no background could be told from the subject with confidence (${seg.confidence.toFixed(2)}${why}); the image stays opaque`);
    }
  }
  let out: RgbaImage;
  if (mode === 'cover') out = await fitCover(pic, size.width, size.height);
  else {
    const clear = keepsAlpha && job.background !== 'opaque' && (job.background === 'transparent' || hasTransparency(pic));
    const bars = (): BarFill => {
      if (clear) return 'transparent';
      const bg = detectBackground(pic);
      return bg ? [bg.color[0], bg.color[1], bg.color[2], 255] : 'edges';
    };
    out = await letterbox(pic, size.width, size.height, needsBars(pic, size) ? bars() : 'transparent');
  }
  if (job.background === 'opaque' || !keepsAlpha) {
    if (hasTransparency(out)) out = flatten(out, detectBackground(out)?.color ?? [255, 255, 255]);
  }
  return out;
}

/** Whether letterbox() will add bars (so the bar colour is worth working out). */
function needsBars(img: RgbaImage, size: Size): boolean {
  const s = Math.min(size.width / img.width, size.height / img.height);
  return size.width - Math.min(size.width, Math.round(img.width * s)) > 2 || size.height - Math.min(size.height, Math.round(img.height * s)) > 2;
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

const toEngineImage = (bytes: Buffer, size: Size): EngineImage => ({ bytes, width: size.width, height: size.height });

/** Run one job. Partial images go to `emitPartial` in order, each output's before the next output starts. */
export async function runJob(job: EngineJob, emitPartial: EmitPartial, deps: RunDependencies = {}): Promise<EngineResult> {
  if (job.kind === 'vary') return runVariation(job, emitPartial);
  const drawing = job.kind === 'generate';
  const parsed = job.parsed ?? parseInstructions(job.prompt, { generation: drawing });
  const warnings: string[] = [];

  const images: RgbaImage[] = [];
  // a rotation or square crop may still need the output's longer side from the shorter one
  const workSide = maxOutputSide(job);
  if (!drawing) for (let i = 0; i < job.images.length; i++) images.push(await decode(job.images[i]!, i, workSide));
  if (images.length === 0) {
    // a generation draws on an empty canvas of the output size (square for 'auto'): white, or clear when asked
    const blank = sizeFor(job, 1, 1);
    const clear = drawing && job.background === 'transparent' && job.outputFormat !== 'jpeg';
    images.push(createImage(blank.width, blank.height, clear ? [255, 255, 255, 0] : [255, 255, 255, 255]));
    if (!drawing) warnings.push('no input image: the edit was applied to a blank white canvas');
  }

  // the edit region: an explicit mask, else (DALL·E) the first image's own transparency
  let region: Region = null;
  let prefill = false;
  const first = images[0]!;
  if (job.mask) {
    let mask = await decode(job.mask, 'mask', workSide);
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
  warnings.push(...(drawing ? drawingWarnings(parsed, job.prompt) : instructionWarnings(parsed, job.prompt, region !== null)));
  const merging = ops.some((o) => o.kind === 'merge');
  if (job.images.length > 1 && !merging) {
    warnings.push(`only the first of ${job.images.length} images was edited; ask to "merge" or put them "side by side" to combine them`);
  }
  if (merging && job.images.length < 2) warnings.push('merge needs at least two input images; there was only one');

  const needsFill = prefill || ops.some((o) => o.kind === 'fill');
  const fill = needsFill ? (deps.fill !== undefined ? deps.fill : defaultFill) : null;

  const mergeOp = ops.find((o): o is Extract<Op, { kind: 'merge' }> => o.kind === 'merge');
  const shape = mergeOp && images.length > 1 ? mergeShape(images, mergeOp.layout) : first;
  const canvas = sizeFor(job, shape.width, shape.height);
  const composed = await composeInputs(images, region, ops, canvas);
  const k = Math.max(0, Math.min(3, Math.floor(job.partialImages)));
  const fitOp = ops.filter((o) => o.kind === 'fit').pop();
  const mode: FitMode = fitOp?.kind === 'fit' ? fitOp.mode : 'contain';
  if (job.n > 1 && ops.length > 0 && !needsFill && !ops.some(variesByVariant)) {
    warnings.push(`${describeList(ops)} has nothing to vary, so the ${job.n} images are identical`);
  }

  const outputs: EngineImage[] = [];
  let operations: string[] = [];
  let transparent = false;
  // 'auto' follows the edited picture's shape; every variant shares variant 0's size
  let size: Size | null = null;
  let backgroundConfidence: number | null = null;
  for (let v = 0; v < Math.max(1, job.n); v++) {
    const ctx: ApplyContext = {
      variant: v, fill, canvas, captureFill: k > 0, prefill,
      ...(drawing ? { drawing: { transparentCanvas: job.background === 'transparent' && job.outputFormat !== 'jpeg' } } : {}),
    };
    const res = await applyOps(composed.state, ops, ctx);
    size ??= sizeFor(job, res.state.image.width, res.state.image.height);
    const facts: FinishFacts = { notes: [], backgroundConfidence: null };
    const final = await finishPixels(res.state.image, size, mode, job, facts);
    const notes = facts.notes;
    if (v === 0) {
      const seen = [res.backgroundConfidence, facts.backgroundConfidence].filter((c): c is number => c !== null);
      if (seen.length > 0) backgroundConfidence = Math.min(...seen);
      operations = [...composed.applied, ...res.applied, ...notes.filter((n) => !n.startsWith('!'))];
      warnings.push(...res.warnings, ...notes.filter((n) => n.startsWith('!')).map((n) => n.slice(1)));
    }

    if (k > 0) {
      const partials = await partialFrames(res.snapshots, ops, ctx, final, k, job, size, mode);
      for (let p = 0; p < partials.length; p++) {
        emitPartial(v, p, toEngineImage(await encode(partials[p]!, job.outputFormat, job.outputCompression), size));
      }
    }
    if (job.outputFormat !== 'jpeg' && hasTransparency(final)) transparent = true;
    outputs.push(toEngineImage(await encode(final, job.outputFormat, job.outputCompression), size));
  }

  const background: Background = transparent ? 'transparent' : 'opaque';
  return {
    images: outputs,
    size: size!,
    background,
    operations,
    understood: parsed.understood,
    warnings: [...new Set(warnings)],
    ...(backgroundConfidence !== null ? { backgroundConfidence } : {}),
  };
}

/** "rotate 90° clockwise and invert colours" */
function describeList(ops: readonly Op[]): string {
  const words = ops.map(describeOp);
  return words.length === 1 ? words[0]! : `${words.slice(0, -1).join(', ')} and ${words[words.length - 1]}`;
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
  size: Size,
  mode: FitMode,
): Promise<RgbaImage[]> {
  const frames: RgbaImage[] = [];
  const quiet: ApplyContext = { ...ctx, captureFill: false };
  for (const snap of spread(snapshots, k)) {
    const start: EditState = snap.state;
    const rest = await applyOps(start, ops, quiet, snap.opIndex + 1, true);
    frames.push(await finishPixels(rest.state.image, size, mode, job, null));
  }
  const scales = PROGRESSIVE.slice(PROGRESSIVE.length - (k - frames.length));
  for (const s of scales) frames.push(await progressive(final, s));
  return frames.slice(0, k);
}

/**
 * A variation job: n versions of the first image, each with its own seeded
 * spread of hue, saturation, tone and crop (ops/vary.ts), covering the output
 * size. No prompt is read.
 */
async function runVariation(job: EngineJob, emitPartial: EmitPartial): Promise<EngineResult> {
  const input = job.images[0];
  if (!input) throw new EngineInputError(0, 'a variation needs an image');
  const first = await decode(input, 0, maxOutputSide(job));
  const size = sizeFor(job, first.width, first.height);
  const k = Math.max(0, Math.min(3, Math.floor(job.partialImages)));
  const outputs: EngineImage[] = [];
  let operations: string[] = [];
  let transparent = false;
  for (let v = 0; v < Math.max(1, job.n); v++) {
    const spread = variationSpread(v);
    const varied = varyColours(varyCrop(first, spread), spread);
    const final = await finishPixels(varied, size, 'cover', job, null);
    if (v === 0) {
      const sign = (x: number): string => (x >= 0 ? `+${x.toFixed(0)}` : x.toFixed(0));
      operations = [
        `variation: hue ${sign(spread.hue)}°, saturation ×${spread.saturation.toFixed(2)}, brightness ${sign(spread.brightness)}, ` +
          `contrast ×${spread.contrast.toFixed(2)}, crop ${Math.round(spread.keep * 100)}%`,
      ];
    }
    for (const [p, s] of PROGRESSIVE.slice(PROGRESSIVE.length - k).entries()) {
      emitPartial(v, p, toEngineImage(await encode(await progressive(final, s), job.outputFormat, job.outputCompression), size));
    }
    if (job.outputFormat !== 'jpeg' && hasTransparency(final)) transparent = true;
    outputs.push(toEngineImage(await encode(final, job.outputFormat, job.outputCompression), size));
  }
  return { images: outputs, size, background: transparent ? 'transparent' : 'opaque', operations, understood: true, warnings: [] };
}
