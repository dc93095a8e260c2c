/**
 * The images contract: a taken-apart body (intake/) becomes one neutral
 * EditRequest, or a GatewayError naming the parameter at fault. Edits,
 * generations (no input image) and variations (one image, no prompt) share
 * every rule they have in common.
 */
import {
  arrayTooLong,
  duplicateParameter,
  invalidImageFile,
  invalidType,
  invalidValue,
  missingParameter,
  modelNotFound,
  payloadTooLarge,
  unknownParameter,
  unsupportedFileType,
} from '../errors.js';
import type { LimitsConfig } from '../config/index.js';
import type { FieldValue, IntakeResult, SpooledFile } from '../intake/types.js';
import { MIME_OF, probeImage } from '../images/probe.js';
import type { EditRequest, ImageFormat, InputImage, Operation, Size } from '../types.js';
import { invalidEnum, present, readBoolean, readEnum, readInteger, readString, stringTooLong, unsupportedForModel } from './fields.js';
import { isValidFreeSize, parseSize, rulesFor, type ModelRules } from './models.js';
import { BACKGROUNDS, INPUT_FIDELITIES, MODERATIONS, N_RANGE, OUTPUT_COMPRESSION_RANGE, OUTPUT_FORMATS, PARTIAL_IMAGES_RANGE, RESPONSE_FORMATS, STYLES } from './params.js';

export const SCALAR_FIELDS = [
  'model',
  'prompt',
  'n',
  'size',
  'quality',
  'background',
  'output_format',
  'output_compression',
  'input_fidelity',
  'moderation',
  'response_format',
  'stream',
  'partial_images',
  'user',
  'style',
] as const;
type ScalarField = (typeof SCALAR_FIELDS)[number];

/** the scalars each operation takes (OpenAI's CreateImageEditRequest, CreateImageRequest, CreateImageVariationRequest) */
export const FIELDS_OF: Record<Operation, ReadonlySet<ScalarField>> = {
  edit: new Set(SCALAR_FIELDS.filter((f) => f !== 'style')),
  generation: new Set(SCALAR_FIELDS.filter((f) => f !== 'input_fidelity')),
  variation: new Set(['model', 'n', 'size', 'response_format', 'user']),
};

const FILE_FIELD = /^(image(\[\d*\])?|mask)$/;

export interface ValidateContext {
  requestId: string;
  defaultModel: string;
  limits: LimitsConfig;
  /** whether routing serves this model name */
  isServed: (model: string) => boolean;
}

/** Scalars by name, with duplicates and names the operation does not take refused. */
function collectScalars(intake: IntakeResult, operation: Operation): Map<ScalarField, FieldValue> {
  const out = new Map<ScalarField, FieldValue>();
  const allowed = FIELDS_OF[operation];
  for (const [name, value] of intake.fields) {
    if (operation !== 'generation' && (FILE_FIELD.test(name) || (intake.kind === 'json' && name === 'images'))) {
      if (present(value) === undefined) continue;
      throw invalidType(name, `Invalid type for '${name}': expected a file, but got ${typeof value === 'string' ? 'a string' : 'a value'} instead.`);
    }
    if (!allowed.has(name as ScalarField)) throw unknownParameter(name);
    const key = name as ScalarField;
    if (out.has(key)) throw duplicateParameter(name);
    out.set(key, value);
  }
  return out;
}

function codePoints(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function readSize(rules: ModelRules, raw: FieldValue | undefined): 'auto' | Size {
  const v = readString('size', raw) ?? rules.defaultSize;
  if (v === 'auto' && rules.sizes.includes('auto')) return 'auto';
  if (rules.sizes.includes(v)) return parseSize(v)!;
  if (rules.freeSize) {
    const s = parseSize(v);
    if (s && isValidFreeSize(s)) return s;
    throw invalidValue(
      'size',
      `Invalid value for 'size': '${v.slice(0, 64)}'. Use 'auto' or WIDTHxHEIGHT with both sides multiples of 16, the longest side at most 3840, an aspect ratio between 1:3 and 3:1, and 655,360 to 8,294,400 pixels.`,
    );
  }
  throw invalidEnum('size', v, rules.sizes);
}

/** Images in their final order: indexed parts by index when every part is indexed, else as they arrived. */
function orderImages(files: SpooledFile[]): SpooledFile[] {
  const images = files.filter((f) => f.role === 'image');
  if (images.length > 1 && images.every((f) => f.explicitIndex !== null)) {
    const seen = new Set<number>();
    for (const f of images) {
      if (seen.has(f.explicitIndex!)) throw duplicateParameter(f.field);
      seen.add(f.explicitIndex!);
    }
    return [...images].sort((a, b) => a.explicitIndex! - b.explicitIndex!);
  }
  return images;
}

function imageParam(intake: IntakeResult, file: SpooledFile, position: number, count: number): string {
  if (intake.kind === 'json') return file.param;
  return count === 1 && file.field === 'image' ? 'image' : `image[${position}]`;
}

const MIMES = (formats: readonly ImageFormat[]): string[] => formats.map((f) => MIME_OF[f]);

async function probeInput(
  file: SpooledFile,
  param: string,
  allowed: readonly ImageFormat[],
  limits: LimitsConfig,
): Promise<InputImage> {
  // from the bytes intake kept, when it kept them: no file read, nothing on the threadpool
  const held = file.data;
  const p = await probeImage(file.path, { size: file.size, head: file.head ?? held?.buffer, whole: held ? () => held.buffer : undefined });
  if (!(allowed as readonly string[]).includes(p.format)) {
    throw unsupportedFileType(param, p.format === 'unknown' ? 'not a recognised image' : MIME_OF[p.format], MIMES(allowed));
  }
  if (p.headerError || p.width === undefined || p.height === undefined) {
    throw invalidImageFile(param, `Invalid image file '${param}': it looks like ${MIME_OF[p.format]} but its header cannot be read (corrupt or truncated).`);
  }
  const pixels = p.width * p.height;
  if (pixels > limits.maxInputPixels) {
    throw invalidImageFile(
      param,
      `Invalid image file '${param}': ${p.width}x${p.height} is ${pixels.toLocaleString('en-US')} pixels; the limit is ${limits.maxInputPixels.toLocaleString('en-US')} pixels.`,
    );
  }
  return {
    param,
    path: file.path,
    ...(file.data ? { data: file.data } : {}),
    bytes: file.size,
    format: p.format as ImageFormat,
    width: p.width,
    height: p.height,
    hasAlpha: p.hasAlpha ?? false,
    filename: file.filename,
  };
}

export function validateEdit(intake: IntakeResult, ctx: ValidateContext): Promise<EditRequest> {
  return validateImageRequest('edit', intake, ctx);
}

export async function validateImageRequest(operation: Operation, intake: IntakeResult, ctx: ValidateContext): Promise<EditRequest> {
  const f = collectScalars(intake, operation);

  // the model first: an unknown model is a 404 whatever else is wrong
  const requestedModel = readString('model', f.get('model')) ?? null;
  // variations are DALL·E 2's: without a model, that is the one asked for
  const modelId = requestedModel ?? (operation === 'variation' ? 'dall-e-2' : ctx.defaultModel);
  if (!ctx.isServed(modelId)) throw modelNotFound(modelId);
  const rules = rulesFor(modelId, operation);

  let prompt = '';
  if (operation !== 'variation') {
    const given = readString('prompt', f.get('prompt'));
    if (given === undefined) throw missingParameter('prompt');
    const promptChars = codePoints(given);
    if (promptChars > rules.maxPromptChars) throw stringTooLong('prompt', rules.maxPromptChars, promptChars);
    prompt = given;
  }

  const n = readInteger('n', f.get('n'), N_RANGE.min, N_RANGE.max) ?? 1;
  if (n > rules.maxN) throw invalidValue('n', `Invalid 'n': model '${modelId}' makes ${rules.maxN} image${rules.maxN === 1 ? '' : 's'} per request; got ${n}.`);
  const size = readSize(rules, f.get('size'));
  const quality = readEnum('quality', f.get('quality'), rules.qualities) ?? 'auto';

  const optionIfSupported = <T>(name: ScalarField, read: () => T | undefined, fallback: T, supported: boolean): T => {
    const value = read();
    if (value === undefined) return fallback;
    if (!supported && value !== fallback) throw unsupportedForModel(name, modelId);
    return value;
  };
  const background = optionIfSupported(
    'background',
    () => readEnum('background', f.get('background'), BACKGROUNDS),
    'auto' as const,
    rules.outputOptions,
  );
  const outputFormat = optionIfSupported(
    'output_format',
    () => readEnum('output_format', f.get('output_format'), OUTPUT_FORMATS),
    'png' as const,
    rules.outputOptions,
  );
  const outputCompression = optionIfSupported(
    'output_compression',
    () => readInteger('output_compression', f.get('output_compression'), OUTPUT_COMPRESSION_RANGE.min, OUTPUT_COMPRESSION_RANGE.max) ?? null,
    null,
    rules.outputOptions,
  );
  if (background === 'transparent' && outputFormat === 'jpeg') {
    throw invalidValue(
      'background',
      `Invalid value for 'background': 'transparent' needs an output format that keeps transparency; use output_format 'png' or 'webp', not 'jpeg'.`,
    );
  }
  const inputFidelity = readEnum('input_fidelity', f.get('input_fidelity'), INPUT_FIDELITIES) ?? null;
  if (inputFidelity !== null && !rules.inputFidelity) throw unsupportedForModel('input_fidelity', modelId);
  const moderation = readEnum('moderation', f.get('moderation'), MODERATIONS) ?? 'auto';
  const responseFormat = readEnum('response_format', f.get('response_format'), RESPONSE_FORMATS) ?? rules.defaultResponseFormat;
  const stream = readBoolean('stream', f.get('stream')) ?? false;
  if (stream && !rules.stream) throw unsupportedForModel('stream', modelId);
  const partialImages = readInteger('partial_images', f.get('partial_images'), PARTIAL_IMAGES_RANGE.min, PARTIAL_IMAGES_RANGE.max) ?? 0;
  if (partialImages > 0 && !rules.stream) throw unsupportedForModel('partial_images', modelId);
  const user = readString('user', f.get('user')) ?? null;
  const style = readEnum('style', f.get('style'), STYLES) ?? null;
  if (style !== null && !rules.style) throw unsupportedForModel('style', modelId);

  // files
  if (operation === 'generation') {
    // a generation starts from nothing: an image or a mask is a parameter it does not take
    const file = intake.files[0];
    if (file) throw unknownParameter(intake.kind === 'json' ? (file.role === 'mask' ? 'mask' : 'images') : file.field);
  } else if (operation === 'variation' && intake.files.some((x) => x.role === 'mask')) {
    throw unknownParameter('mask');
  }
  const ordered = orderImages(intake.files);
  if (ordered.length === 0 && operation !== 'generation') throw missingParameter(intake.kind === 'json' ? 'images' : 'image');
  if (ordered.length > rules.maxImages) {
    const param = intake.kind === 'json' ? 'images' : 'image';
    if (rules.maxImages > 1) throw arrayTooLong(param, rules.maxImages, ordered.length);
    throw invalidValue(param, `Model '${modelId}' edits exactly one image; got ${ordered.length}.`);
  }
  const images: InputImage[] = [];
  for (const [i, file] of ordered.entries()) {
    const param = imageParam(intake, file, i, ordered.length);
    if (rules.family === 'dall-e' && file.size > ctx.limits.maxDalleImageBytes) {
      throw payloadTooLarge(param, `Image '${param}' is ${file.size} bytes; ${modelId} accepts images up to ${ctx.limits.maxDalleImageBytes} bytes.`);
    }
    const img = await probeInput(file, param, rules.inputFormats, ctx.limits);
    if (rules.squareInput && img.width !== img.height) {
      throw invalidValue(param, `Invalid image '${param}': ${modelId} needs a square image, got ${img.width}x${img.height}.`);
    }
    images.push(img);
  }

  const masks = intake.files.filter((x) => x.role === 'mask');
  if (masks.length > 1) throw duplicateParameter('mask');
  let mask: InputImage | null = null;
  if (masks.length === 1) {
    const m = masks[0];
    mask = await probeInput(m, m.param, ['png'], ctx.limits);
    if (!mask.hasAlpha) {
      throw invalidImageFile(
        m.param,
        `Invalid mask '${m.param}': the mask must be a PNG with an alpha channel; its fully transparent pixels (alpha 0) mark where to edit.`,
      );
    }
    const first = images[0];
    if (mask.width !== first.width || mask.height !== first.height) {
      throw invalidImageFile(
        m.param,
        `Invalid mask '${m.param}': it is ${mask.width}x${mask.height} but the first image is ${first.width}x${first.height}; they must be the same size.`,
      );
    }
  }

  return {
    id: ctx.requestId,
    operation,
    model: { requested: requestedModel, id: modelId, family: rules.family },
    prompt,
    images,
    mask,
    n,
    size,
    quality,
    background,
    outputFormat,
    outputCompression,
    inputFidelity,
    moderation,
    responseFormat,
    stream,
    partialImages,
    user,
    style,
  };
}
