/**
 * Runs a parsed operation list over decoded images: the edit region, variant
 * strengths, geometric ops moving the region along, merge, content-aware fill.
 * No file or encoder I/O here (runner's job); sharp is used only as a pixel
 * library on raw buffers.
 */
import type { RgbaImage } from './types.js';
import type { Op } from './instructions.js';
import { describeOp } from './instructions.js';
import type { ContentAwareFill } from './fill-bridge.js';
import {
  blendRegion, regionBounds, regionFromImage, regionIsEmpty, regionToImage, type Region,
} from './ops/region.js';
import * as color from './ops/color.js';
import { gaussianBlur, sharpen } from './ops/blur.js';
import { pixelate } from './ops/pixelate.js';
import { border, cropSquare, flip, rotate, zoom } from './ops/geometry.js';
import { addText } from './ops/text.js';
import { removeBackground, replaceBackground } from './ops/background.js';
import { CONFIDENT, segmentForeground } from './segment/index.js';
import { composeAt, merge } from './ops/merge.js';
import { drawGradient, drawPattern, fillCanvas, spreadColor } from './ops/draw.js';
import { luma, type Rgb } from './colors.js';

/** A text block lower than this (in pixels) cannot be read: the engine says so rather than drawing a speck. */
const MIN_LEGIBLE_TEXT_PX = 8;

/**
 * Strength multiplier of variant i: 1 for variant 0 (the nominal edit), then
 * alternately stronger and weaker by powers of 1.5: 1.5, 0.67, 2.25, 0.44, …
 * Steps of 1.5 keep neighbours clearly apart (a 20% brighten against 30% and
 * 13%) without the extremes of the first few variants leaving the sensible
 * range.
 */
export function variantFactor(i: number): number {
  if (i <= 0) return 1;
  const k = Math.ceil(i / 2);
  return Math.pow(1.5, i % 2 === 1 ? k : -k);
}

/**
 * Black-and-white channel mixes by variant, per mille of R, G, B (each sums
 * to 1000, so greys stay the same grey): variant 0 is Rec. 601 luma, the
 * others are the classic filters of black-and-white film (red darkens blue
 * skies, green lightens foliage, blue lifts skies and darkens skin, orange
 * between red and neutral).
 */
export const GRAYSCALE_MIXES: readonly (readonly [number, number, number])[] = [
  [299, 587, 114],
  [650, 300, 50],
  [100, 850, 50],
  [200, 300, 500],
  [450, 480, 70],
];

/**
 * Where variant i moves a caption, in the units of addText's jitter (4% of
 * the width, 2.5% of the height): points on a circle, each a golden angle
 * further on, so no two of the first variants share a direction.
 */
export function textJitter(i: number): [number, number] {
  if (i <= 0) return [0, 0];
  const a = i * 2.399963;
  return [Math.round(Math.cos(a) * 1000) / 1000, Math.round(Math.sin(a) * 1000) / 1000];
}

/**
 * The op with its natural intensity scaled by f (ops without one are returned
 * as they are). Blur, sharpening, warmth, contrast and saturation take f²:
 * a 1.5× step of theirs is hard to tell apart (blur changes only edges, the
 * others move colours by a few levels), so their variants spread twice as far
 * in log terms.
 */
export function scaleOp(op: Op, f: number): Op {
  if (f === 1) return op;
  const f2 = f * f;
  switch (op.kind) {
    // above 1 the sepia tone deepens (see color.sepia), so stronger variants differ too
    case 'sepia': return { ...op, amount: Math.min(1.5, op.amount * f) };
    case 'vintage': return { ...op, strength: op.strength * f };
    case 'temperature': return { ...op, amount: Math.max(-1, Math.min(1, op.amount * f2)) };
    case 'blur': return op.sigma !== null ? { ...op, sigma: op.sigma * f2 } : { ...op, strength: op.strength * f2 };
    case 'sharpen': return { ...op, strength: op.strength * f2 };
    case 'brightness': return { ...op, amount: Math.max(-0.95, Math.min(1, op.amount * f)) };
    case 'contrast': return { ...op, amount: Math.max(-1, op.amount * f2) };
    case 'saturation': return { ...op, amount: Math.max(-1, op.amount * f2) };
    case 'tint': return { ...op, amount: Math.min(1, op.amount * f) };
    case 'pixelate': return op.block !== null ? { ...op, block: Math.max(2, Math.round(op.block * f)) } : { ...op, strength: op.strength * f };
    case 'zoom': return { ...op, factor: 1 + (op.factor - 1) * f };
    case 'border': return op.thickness !== null ? { ...op, thickness: Math.max(1, Math.round(op.thickness * f)) } : { ...op, strength: op.strength * f };
    default: return op;
  }
}

/** Ops whose variants differ: a strength, a channel mix, a caption's place and size, or a random seed. */
export function variesByVariant(op: Op): boolean {
  switch (op.kind) {
    case 'invert': case 'recolor': case 'rotate': case 'flip': case 'crop-square': case 'fit':
    case 'remove-background': case 'replace-background': case 'merge':
      return false;
    // drawn ops (canvas, gradient, pattern) vary their colours, tilt, width and phase
    default:
      return true;
  }
}

/** Variant i of a pattern: its width × 1.5^k like any strength, and shifted by a golden fraction of its period. */
const patternPhase = (variant: number): number => (variant * 0.618034) % 1;

/**
 * Where letters or a pattern of no stated colour go: black on a light
 * picture, white on a dark or transparent one (the mean luma of the opaque
 * pixels, sampled).
 */
function standOut(img: RgbaImage): Rgb {
  const d = img.data;
  let sum = 0, count = 0;
  const step = Math.max(1, Math.floor(d.length / 4 / 4096)) * 4;
  for (let p = 0; p < d.length; p += step) {
    if (d[p + 3]! < 128) continue;
    sum += luma(d[p]!, d[p + 1]!, d[p + 2]!);
    count++;
  }
  return count > 0 && sum / count > 140 ? [17, 17, 17] : [255, 255, 255];
}

export interface EditState {
  image: RgbaImage;
  /** where pixel ops act (null = everywhere); moves with geometric ops */
  region: Region;
}

export interface FillSnapshot {
  /** index in the op list of the op that ran the fill (-1 = the implicit pre-fill) */
  opIndex: number;
  scaleIndex: number;
  scaleCount: number;
  state: EditState;
}

export interface ApplyContext {
  /** variant number: the seed of anything random, and the strength factor */
  variant: number;
  fill: ContentAwareFill | null;
  /** size of the output (the merge canvas) */
  canvas: { width: number; height: number };
  /** collect coarse fill scales for partial images */
  captureFill: boolean;
  /** fill the region first (DALL·E: the transparent area has no content to edit) */
  prefill: boolean;
  /**
   * A generation: captions of no stated colour stand out from what is drawn
   * below; with `transparentCanvas` (background=transparent) the canvas,
   * gradient and pattern backgrounds are left out, so only what lies on them
   * is drawn.
   */
  drawing?: { transparentCanvas: boolean };
}

export interface ApplyResult {
  state: EditState;
  /** human words for what was done, in order */
  applied: string[];
  warnings: string[];
  snapshots: FillSnapshot[];
  /** whether a content-aware fill actually ran */
  filled: boolean;
  /** the lowest confidence of the background removals that ran (null: none ran) */
  backgroundConfidence: number | null;
}

/**
 * A cut-out with almost no subject or almost no background is a failure to
 * find either, not a result: below / above these foreground shares nothing
 * is removed.
 */
const NOTHING_FOUND = 0.005;
const EVERYTHING_FOUND = 0.97;

/** Blur sigma when none was given: 0.5% of the longer side, at least 1.5 px. */
export const defaultBlurSigma = (img: RgbaImage): number => Math.max(1.5, 0.005 * Math.max(img.width, img.height));
/** Pixelate block when none was given: 1/48 of the longer side, at least 2 px. */
export const defaultPixelBlock = (img: RgbaImage): number => Math.max(2, Math.round(Math.max(img.width, img.height) / 48));
/** Border thickness when none was given: 3% of the shorter side, at least 1 px. */
export const defaultBorder = (img: RgbaImage): number => Math.max(1, Math.round(0.03 * Math.min(img.width, img.height)));

/** Move the region with a geometric op applied to the image (new canvas = outside the region). */
async function moveRegion(state: EditState, next: RgbaImage, fn: (img: RgbaImage) => Promise<RgbaImage> | RgbaImage): Promise<EditState> {
  if (state.region === null) return { image: next, region: null };
  const moved = await fn(regionToImage(state.region, state.image.width, state.image.height));
  if (moved.width !== next.width || moved.height !== next.height) throw new Error('region and image diverged');
  return { image: next, region: regionFromImage(moved) };
}

/** Pixel op confined to the region. */
async function inRegion(state: EditState, fn: (img: RgbaImage) => Promise<RgbaImage> | RgbaImage): Promise<EditState> {
  if (state.region !== null && regionIsEmpty(state.region)) return state;
  const edited = await fn(state.image);
  return { image: blendRegion(state.image, edited, state.region), region: state.region };
}

function holeOf(region: Uint8Array): Uint8Array {
  const hole = new Uint8Array(region.length);
  for (let i = 0; i < region.length; i++) hole[i] = region[i] !== 0 ? 1 : 0;
  return hole;
}

/**
 * Content-aware fill of the region. With `opaque` (the pre-fill of a
 * transparent DALL·E area) the original colour is kept in proportion to its
 * alpha and the result is opaque; otherwise the fill is blended by the region
 * weights like any pixel op.
 */
function runFill(
  state: EditState,
  fill: ContentAwareFill,
  seed: number,
  opaque: boolean,
  onScale: ((img: RgbaImage, i: number, n: number) => void) | null,
): EditState {
  const region = state.region!;
  const finish = (filled: RgbaImage): RgbaImage => {
    if (!opaque) return blendRegion(state.image, filled, region);
    const o = state.image.data;
    const f = filled.data;
    const out = new Uint8ClampedArray(o);
    for (let i = 0; i < region.length; i++) {
      const w = region[i]!;
      if (w === 0) continue;
      const p = i * 4;
      const keep = o[p + 3]! / 255;
      out[p] = o[p]! * keep + f[p]! * (1 - keep);
      out[p + 1] = o[p + 1]! * keep + f[p + 1]! * (1 - keep);
      out[p + 2] = o[p + 2]! * keep + f[p + 2]! * (1 - keep);
      out[p + 3] = 255;
    }
    return { width: state.image.width, height: state.image.height, data: out };
  };
  const result = fill(state.image, holeOf(region), {
    seed,
    ...(onScale ? { onScale: (img: RgbaImage, i: number, n: number) => onScale(finish(img), i, n) } : {}),
  });
  return { image: finish(result), region };
}

/**
 * Apply ops[from..] to a state. `resumed` continues a run from a fill
 * snapshot (partial images): the pre-fill is not repeated.
 */
export async function applyOps(
  start: EditState,
  ops: readonly Op[],
  ctx: ApplyContext,
  from = 0,
  resumed = false,
): Promise<ApplyResult> {
  let state = start;
  const applied: string[] = [];
  const warnings: string[] = [];
  const snapshots: FillSnapshot[] = [];
  let filled = false;
  let backgroundConfidence: number | null = null;
  // the region a fill last ran on: a second "remove …" on the same region has nothing left to do
  let filledRegion: Region | undefined = resumed ? start.region : undefined;
  const f = variantFactor(ctx.variant);
  const seed = ctx.variant;

  /** true when the fill ran */
  const doFill = (opIndex: number, opaque: boolean): boolean => {
    const region = state.region;
    if (region === null || regionIsEmpty(region)) {
      warnings.push('content-aware fill needs a mask (or transparent area) marking what to remove; nothing was removed');
      return false;
    }
    if (!region.some((w) => w === 0)) {
      warnings.push('the mask covers the whole image, so there is nothing to fill it from; nothing was removed');
      return false;
    }
    if (!ctx.fill) {
      warnings.push('content-aware fill is not available; the masked region was left unchanged');
      return false;
    }
    const onScale = ctx.captureFill
      ? (img: RgbaImage, i: number, n: number): void => {
          if (i < n - 1) snapshots.push({ opIndex, scaleIndex: i, scaleCount: n, state: { image: img, region } });
        }
      : null;
    state = runFill(state, ctx.fill, seed, opaque, onScale);
    filled = true;
    filledRegion = state.region;
    return true;
  };

  if (!resumed && ctx.prefill && doFill(-1, true)) applied.push('content-aware fill of the transparent area');

  for (let i = from; i < ops.length; i++) {
    const op = scaleOp(ops[i]!, f);
    const img = state.image;
    let label: string | null = describeOp(ops[i]!);
    switch (op.kind) {
      case 'grayscale': {
        const mix = GRAYSCALE_MIXES[ctx.variant % GRAYSCALE_MIXES.length]!;
        state = await inRegion(state, (m) => color.grayscale(m, mix));
        break;
      }
      case 'sepia': state = await inRegion(state, (m) => color.sepia(m, op.amount)); break;
      case 'vintage': state = await inRegion(state, (m) => color.vintage(m, op.strength, seed)); break;
      case 'temperature': state = await inRegion(state, (m) => color.temperature(m, op.amount)); break;
      case 'invert': state = await inRegion(state, color.invert); break;
      case 'brightness': state = await inRegion(state, (m) => color.brightness(m, op.amount)); break;
      case 'contrast': state = await inRegion(state, (m) => color.contrast(m, op.amount)); break;
      case 'saturation': state = await inRegion(state, (m) => color.saturation(m, op.amount)); break;
      case 'tint': state = await inRegion(state, (m) => color.tint(m, op.color, op.amount)); break;
      case 'recolor': state = await inRegion(state, (m) => color.recolor(m, op.color)); break;
      case 'blur': {
        const sigma = op.sigma ?? defaultBlurSigma(img) * op.strength;
        state = await inRegion(state, (m) => gaussianBlur(m, sigma));
        break;
      }
      case 'sharpen': {
        const sigma = Math.max(1, 0.0015 * Math.max(img.width, img.height));
        state = await inRegion(state, (m) => sharpen(m, 0.8 * op.strength, sigma));
        break;
      }
      case 'pixelate': {
        const block = op.block ?? Math.max(2, Math.round(defaultPixelBlock(img) * op.strength));
        state = await inRegion(state, (m) => pixelate(m, block));
        break;
      }
      case 'text': {
        const area = state.region !== null ? regionBounds(state.region, img.width, img.height) : null;
        if (state.region !== null && area === null) { label = null; break; }
        const style = {
          color: op.color ?? (ctx.drawing ? standOut(img) : ([255, 255, 255] as const)),
          size: op.size,
          weight: op.weight,
          outline: op.outline,
          // on a drawn poster the words are the picture: boxes half as tall again
          scale: Math.sqrt(f) * (ctx.drawing ? 1.5 : 1),
          jitter: textJitter(ctx.variant),
        };
        const laidOut: { height: number | null } = { height: null };
        state = await inRegion(state, (m) => addText(m, op.text, op.position, style, area ?? undefined, (b) => (laidOut.height = b?.height ?? null)));
        if (laidOut.height === null || laidOut.height < MIN_LEGIBLE_TEXT_PX) {
          const shown = op.text.length > 40 ? `${op.text.slice(0, 40)}...` : op.text;
          warnings.push(`the text '${shown}' (${op.text.length} characters) does not fit legibly; it was drawn ${laidOut.height === null ? 'not at all' : `${laidOut.height} px high`}`);
        }
        break;
      }
      case 'remove-background':
      case 'replace-background': {
        const seg = segmentForeground(img);
        backgroundConfidence = Math.min(backgroundConfidence ?? 1, seg.confidence);
        const unsure = `(confidence ${seg.confidence.toFixed(2)}${seg.doubts.length > 0 ? `: ${seg.doubts.join(', ')}` : ''})`;
        if (seg.foregroundShare < NOTHING_FOUND || seg.foregroundShare > EVERYTHING_FOUND) {
          warnings.push(`${describeOp(op)}: could not tell a subject from the background ${unsure}; nothing was changed`);
          label = null;
          break;
        }
        if (seg.confidence < CONFIDENT) warnings.push(`${describeOp(op)}: unsure where the subject ends ${unsure}`);
        state = await inRegion(state, (m) =>
          op.kind === 'remove-background' ? removeBackground(m, seg).image : replaceBackground(m, op.color, seg).image,
        );
        break;
      }
      case 'rotate': {
        const next = await rotate(img, op.degrees);
        state = await moveRegion(state, next, (r) => rotate(r, op.degrees));
        break;
      }
      case 'flip': {
        state = await moveRegion(state, flip(img, op.axis), (r) => flip(r, op.axis));
        break;
      }
      case 'crop-square': {
        state = await moveRegion(state, cropSquare(img), cropSquare);
        break;
      }
      case 'zoom': {
        state = await moveRegion(state, await zoom(img, op.factor), (r) => zoom(r, op.factor));
        break;
      }
      case 'border': {
        const t = op.thickness ?? Math.max(1, Math.round(defaultBorder(img) * op.strength));
        const c = [op.color[0], op.color[1], op.color[2], 255] as const;
        state = await moveRegion(state, await border(img, c, t), (r) => border(r, [0, 0, 0, 0], t));
        break;
      }
      case 'merge':
        // merging happens before any op (see composeInputs); nothing to do in sequence
        label = null;
        break;
      case 'fit':
        // how the result meets the output size is the runner's last step (run.ts finishPixels)
        break;
      case 'canvas':
      case 'gradient': {
        if (ctx.drawing?.transparentCanvas) {
          warnings.push(`background=transparent: the ${describeOp(op)} was left out`);
          label = null;
          break;
        }
        state = {
          image: op.kind === 'canvas'
            ? fillCanvas(img, spreadColor(op.color, ctx.variant))
            // variants tilt a linear gradient by ±10°, ±20°, … as well as moving its colours
            : drawGradient(img, spreadColor(op.from, ctx.variant), spreadColor(op.to, ctx.variant), op.direction, op.direction === 'radial' ? 0 : textJitter(ctx.variant)[1] * 10 * Math.ceil(ctx.variant / 2)),
          region: state.region,
        };
        break;
      }
      case 'pattern': {
        const fg = op.fg ? spreadColor(op.fg, ctx.variant) : standOut(img);
        const bg = op.bg && !ctx.drawing?.transparentCanvas ? spreadColor(op.bg, ctx.variant) : null;
        if (op.bg && !bg) warnings.push(`background=transparent: the ${op.bgName} between the ${op.pattern === 'dots' ? 'dots' : op.pattern} was left out`);
        state = await inRegion(state, (m) => drawPattern(m, { pattern: op.pattern, fg, bg, direction: op.direction, scale: op.scale * variantFactor(ctx.variant), phase: patternPhase(ctx.variant) }));
        break;
      }
      case 'fill': {
        // the transparent area was already filled, or this region was just filled
        if (ctx.prefill || (filledRegion !== undefined && filledRegion === state.region)) { label = null; break; }
        if (!doFill(i, false)) label = null;
        break;
      }
    }
    if (label) applied.push(label);
  }
  return { state, applied, warnings, snapshots, filled, backgroundConfidence };
}

/**
 * The starting state: the first image (others are references), or all inputs
 * composed when the ops contain a merge. The region belongs to the first image
 * and follows it into its cell.
 */
export async function composeInputs(
  images: readonly RgbaImage[],
  region: Region,
  ops: readonly Op[],
  canvas: { width: number; height: number },
): Promise<{ state: EditState; applied: string[] }> {
  const mergeOp = ops.find((o): o is Extract<Op, { kind: 'merge' }> => o.kind === 'merge');
  if (!mergeOp || images.length < 2) return { state: { image: images[0]!, region }, applied: [] };
  const { image, placements } = await merge(images, canvas.width, canvas.height, mergeOp.layout, [255, 255, 255, 255]);
  let mergedRegion: Region = null;
  if (region !== null) {
    // the mask covers the first input only; it lands where that input went
    const first = images[0]!;
    const packed = regionToImage(region, first.width, first.height);
    mergedRegion = regionFromImage(await composeAt([packed], [placements[0]!], canvas.width, canvas.height, [0, 0, 0, 0]));
  }
  return { state: { image, region: mergedRegion }, applied: [describeOp(mergeOp)] };
}
