/**
 * Per-model rules of the edit contract. A model name the catalog does not
 * know but routing serves (a custom upstream name) follows the GPT image rules.
 */
import type { EditRequest, ImageFormat, ModelFamily, Operation, Quality, Size } from '../types.js';

export interface ModelRules {
  family: ModelFamily;
  maxImages: number;
  inputFormats: readonly ImageFormat[];
  /** DALL·E: the one input must be square */
  squareInput: boolean;
  maxPromptChars: number;
  sizes: readonly string[];
  /** gpt-image-2: any WxH within bounds besides the listed sizes */
  freeSize: boolean;
  defaultSize: 'auto' | string;
  qualities: readonly ('auto' | Quality)[];
  /** background, output_format, output_compression */
  outputOptions: boolean;
  inputFidelity: boolean;
  stream: boolean;
  defaultResponseFormat: 'url' | 'b64_json';
  /** GPT image answers carry size/quality/background/output_format and usage */
  reportsUsage: boolean;
  /** DALL·E 3 generations: `style` vivid/natural */
  style: boolean;
  /** images one request may ask for */
  maxN: number;
}

export const GPT_SIZES = ['1024x1024', '1536x1024', '1024x1536', 'auto'] as const;
export const DALLE_SIZES = ['256x256', '512x512', '1024x1024'] as const;
export const GPT_QUALITIES = ['auto', 'low', 'medium', 'high'] as const;
export const DALLE_QUALITIES = ['auto', 'standard'] as const;

const gptImage: ModelRules = {
  family: 'gpt-image',
  maxImages: 16,
  inputFormats: ['png', 'jpeg', 'webp'],
  squareInput: false,
  maxPromptChars: 32000,
  sizes: GPT_SIZES,
  freeSize: false,
  defaultSize: 'auto',
  qualities: GPT_QUALITIES,
  outputOptions: true,
  inputFidelity: true,
  stream: true,
  defaultResponseFormat: 'b64_json',
  reportsUsage: true,
  style: false,
  maxN: 10,
};

const dalle: ModelRules = {
  family: 'dall-e',
  maxImages: 1,
  inputFormats: ['png'],
  squareInput: true,
  maxPromptChars: 1000,
  sizes: DALLE_SIZES,
  freeSize: false,
  defaultSize: '1024x1024',
  qualities: DALLE_QUALITIES,
  outputOptions: false,
  inputFidelity: false,
  stream: false,
  defaultResponseFormat: 'url',
  reportsUsage: false,
  style: false,
  maxN: 10,
};

/** Every model name the gateway knows the rules of, with its rules. */
export const MODEL_CATALOG: Readonly<Record<string, ModelRules>> = {
  'gpt-image-1': gptImage,
  'gpt-image-1-all': gptImage,
  'gpt-image-1-mini': { ...gptImage, inputFidelity: false },
  'gpt-image-1.5': gptImage,
  'chatgpt-image-latest': gptImage,
  'gpt-image-2': { ...gptImage, freeSize: true, inputFidelity: false },
  'gpt-image-2-2026-04-21': { ...gptImage, freeSize: true, inputFidelity: false },
  'flux-kontext-pro': gptImage,
  'flux-kontext-max': gptImage,
  'dall-e-2': dalle,
  'dall-e-3': dalle,
};

/**
 * The rules of a model for an operation. Edits: the catalog. Generations:
 * the same, with no input image, and DALL·E 3's own sizes, qualities, style
 * and single image. Variations: DALL·E 2's contract, whatever the model
 * name (one square PNG, no prompt).
 */
export function rulesFor(model: string, operation: Operation = 'edit'): ModelRules {
  const base = MODEL_CATALOG[model] ?? gptImage;
  if (operation === 'variation') return { ...dalle, maxPromptChars: 0 };
  if (operation === 'generation') {
    if (model === 'dall-e-3') {
      return { ...dalle, maxImages: 0, maxPromptChars: 4000, sizes: ['1024x1024', '1792x1024', '1024x1792'], qualities: ['auto', 'standard', 'hd'], style: true, maxN: 1 };
    }
    return { ...base, maxImages: 0 };
  }
  return base;
}

export function isDalle(model: string): boolean {
  return rulesFor(model).family === 'dall-e';
}

export function parseSize(value: string): Size | null {
  const m = /^(\d{1,5})x(\d{1,5})$/.exec(value);
  if (!m) return null;
  return { width: Number(m[1]), height: Number(m[2]) };
}

/**
 * gpt-image-2's free sizes: both sides multiples of 16, longest edge at most
 * 3840, aspect between 1:3 and 3:1, 655,360 to 8,294,400 pixels.
 */
export function isValidFreeSize(s: Size): boolean {
  const { width: w, height: h } = s;
  if (w % 16 !== 0 || h % 16 !== 0) return false;
  if (Math.max(w, h) > 3840) return false;
  if (Math.max(w, h) > 3 * Math.min(w, h)) return false;
  const px = w * h;
  return px >= 655_360 && px <= 8_294_400;
}

export function sizeKey(s: Size): string {
  return `${s.width}x${s.height}`;
}

/** 'auto' quality resolves to the family's best: high for GPT image models, standard for DALL·E. */
export function resolveQuality(req: Pick<EditRequest, 'quality' | 'model'>): Quality {
  if (req.quality !== 'auto') return req.quality;
  return req.model.family === 'dall-e' ? 'standard' : 'high';
}
