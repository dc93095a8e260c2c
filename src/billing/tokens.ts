/**
 * OpenAI's token accounting for GPT image edits, as pure functions.
 * Sources: the image-generation guide (output table, +100 per partial image)
 * and the vision guide (input image tiles: shortest side scaled to 512 px,
 * 65 base + 129 per 512-px tile, high-fidelity surcharge 4160 / 6240).
 */
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import type { Quality, Size, Usage } from '../types.js';

/** Prompt text tokens with the o200k_base encoding. Special-token text counts as plain text, never throws. */
export function textTokens(prompt: string): number {
  return countTokens(prompt, { disallowedSpecial: new Set() });
}

export type AspectClass = 'square' | 'portrait' | 'landscape';

/**
 * The allowed GPT image shape closest to an aspect ratio, compared on a log
 * scale: square (1:1), landscape (3:2) or portrait (2:3). Boundaries sit at
 * the geometric means, ratios sqrt(1.5) and 1/sqrt(1.5).
 */
export function aspectClass(width: number, height: number): AspectClass {
  const r = Math.log(width / height);
  const edge = Math.log(1.5) / 2;
  if (r > edge) return 'landscape';
  if (r < -edge) return 'portrait';
  return 'square';
}

export const BASE_IMAGE_TOKENS = 65;
export const TILE_TOKENS = 129;
export const TILE_SIDE = 512;

/**
 * Tokens for one input image at low fidelity: fit within 2048x2048, then
 * scale so the shortest side is 512 px (down only: smaller images are not
 * enlarged), then 65 + 129 per 512-px tile.
 */
export function inputImageTokens(width: number, height: number): number {
  let w = width;
  let h = height;
  const fit = Math.min(1, 2048 / Math.max(w, h));
  w *= fit;
  h *= fit;
  const shrink = Math.min(1, TILE_SIDE / Math.min(w, h));
  w = Math.floor(w * shrink);
  h = Math.floor(h * shrink);
  const tiles = Math.ceil(Math.max(1, w) / TILE_SIDE) * Math.ceil(Math.max(1, h) / TILE_SIDE);
  return BASE_IMAGE_TOKENS + TILE_TOKENS * tiles;
}

/** The input_fidelity=high surcharge for one image: 4160 when square, 6240 otherwise. */
export function highFidelitySurcharge(width: number, height: number): number {
  return aspectClass(width, height) === 'square' ? 4160 : 6240;
}

/**
 * How many leading input images a model preserves at high fidelity (and so
 * pays the surcharge for): the first for gpt-image-1, the first five for
 * gpt-image-1.5 and later models.
 */
export function highFidelityImageCount(model: string): number {
  return model === 'gpt-image-1' || model === 'gpt-image-1-all' ? 1 : 5;
}

const OUTPUT_TABLE: Record<'low' | 'medium' | 'high', Record<AspectClass, number>> = {
  low: { square: 272, portrait: 408, landscape: 400 },
  medium: { square: 1056, portrait: 1584, landscape: 1568 },
  high: { square: 4160, portrait: 6240, landscape: 6208 },
};

export const PARTIAL_IMAGE_TOKENS = 100;

/**
 * Output tokens of one image. The three table sizes give the table's value;
 * any other size (gpt-image-2's free sizes) scales the square value by area.
 */
export function outputImageTokens(quality: Quality, size: Size): number {
  // DALL·E's own qualities, placed on the GPT image scale for the (rare) token count of one
  const q = quality === 'standard' ? 'medium' : quality === 'hd' ? 'high' : quality;
  const row = OUTPUT_TABLE[q];
  const key = `${size.width}x${size.height}`;
  if (key === '1024x1024') return row.square;
  if (key === '1024x1536') return row.portrait;
  if (key === '1536x1024') return row.landscape;
  return Math.round((row.square * size.width * size.height) / (1024 * 1024));
}

export interface UsageInput {
  model: string;
  prompt: string;
  /** input images in order (the mask is not counted) */
  images: Array<{ width: number; height: number }>;
  inputFidelity: 'low' | 'high' | null;
  quality: Quality;
  size: Size;
  /** images delivered */
  outputCount: number;
  partialImagesSent: number;
}

export function countUsage(u: UsageInput): Usage {
  const text = textTokens(u.prompt);
  const preserved = u.inputFidelity === 'high' ? highFidelityImageCount(u.model) : 0;
  let image = 0;
  u.images.forEach((img, i) => {
    image += inputImageTokens(img.width, img.height);
    if (i < preserved) image += highFidelitySurcharge(img.width, img.height);
  });
  const output = u.outputCount * outputImageTokens(u.quality, u.size) + PARTIAL_IMAGE_TOKENS * u.partialImagesSent;
  return {
    input_tokens: text + image,
    input_tokens_details: { text_tokens: text, image_tokens: image },
    output_tokens: output,
    total_tokens: text + image + output,
  };
}
