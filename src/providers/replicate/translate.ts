/**
 * Replicate's predictions API (provider-apis.md §4), pure translation: a
 * deployment's `owner/name` or `owner/name:version` to the create request,
 * the prediction object back, errors classified.
 *
 * Two input shapes are known, chosen by the model's name:
 * - FLUX.1 Kontext (`…/flux-kontext-pro`, `-max`, and any other model): one
 *   `input_image`, an `aspect_ratio` from an enum or `match_input_image`,
 *   `output_format` png or `jpg`;
 * - FLUX.2 (`…/flux-2-pro`, `-max`, `-flex`): up to 8 `input_images`, and an
 *   exact size through `aspect_ratio: custom` with `width`/`height`.
 * - FLUX.1 [schnell] / [dev] (`…/flux-schnell`, `…/flux-dev`): text to image
 *   only, an `aspect_ratio` from an enum, up to 4 images a prediction
 *   (`num_outputs`, an array of URLs back), `output_format` webp, jpg or png
 *   with `output_quality` for the lossy ones.
 * Kontext and FLUX.2 also generate: the same input without an image. None
 * takes a mask, a background, a quality or an input fidelity; Kontext and
 * FLUX.2 make one image a prediction.
 */
import type { ProviderConfig, TimeoutsConfig } from '../../config/index.js';
import type { ImageFormat, Size } from '../../types.js';
import { nearestRatio } from '../aspect.js';
import { excerpt, httpFailure, malformed, moderated, UpstreamError } from '../errors.js';
import type { Capabilities, ProviderCall } from '../types.js';

export interface ReplicateModel {
  owner: string;
  name: string;
  /** a version id: created through `POST /predictions` instead of the model's own endpoint */
  version: string | null;
}

const SEGMENT = /^[A-Za-z0-9][\w.-]*$/;

/** `owner/name` or `owner/name:version`; null for anything else. */
export function parseModel(model: string): ReplicateModel | null {
  const m = /^([^/:\s]+)\/([^/:\s]+)(?::([0-9A-Za-z]+))?$/.exec(model.trim());
  if (!m || !SEGMENT.test(m[1]) || !SEGMENT.test(m[2])) return null;
  return { owner: m[1], name: m[2], version: m[3] ?? null };
}

export type ReplicateFamily = 'kontext' | 'flux-2' | 'flux-1';

export function familyOf(model: string): ReplicateFamily {
  const name = parseModel(model)?.name ?? model;
  if (/^flux-(schnell|dev)$/i.test(name)) return 'flux-1';
  return /^flux-2(-|$)/i.test(name) ? 'flux-2' : 'kontext';
}

/** Kontext's `aspect_ratio` enum besides `match_input_image` (the model's schema). */
export const KONTEXT_RATIOS = ['1:1', '16:9', '9:16', '4:3', '3:4', '3:2', '2:3', '4:5', '5:4', '21:9', '9:21'] as const;
/** FLUX.1 [schnell]/[dev]'s `aspect_ratio` enum. */
export const FLUX1_RATIOS = ['1:1', '16:9', '21:9', '3:2', '2:3', '4:5', '5:4', '3:4', '4:3', '9:16', '9:21'] as const;
/** FLUX.1 [schnell]/[dev]'s `num_outputs` is 1 to 4. */
export const FLUX1_MAX_OUTPUTS = 4;
/** FLUX.2 takes up to 8 input images. */
export const FLUX2_MAX_IMAGES = 8;
/** FLUX.2's custom `width`/`height`: 256 to 2048, multiples of 16. */
const FLUX2_MIN_SIDE = 256;
const FLUX2_MAX_SIDE = 2048;

export function replicateCapabilities(model: string): Capabilities {
  const family = familyOf(model);
  if (family === 'flux-1') {
    return {
      maxImages: 0,
      mask: null,
      sizes: { kind: 'aspect', ratios: FLUX1_RATIOS },
      outputFormats: ['png', 'jpeg', 'webp'],
      // output_quality, for jpg and webp
      outputCompression: true,
      background: [],
      quality: [],
      inputFidelity: false,
      moderation: false,
      partialImages: false,
      maxImagesPerCall: FLUX1_MAX_OUTPUTS,
      mode: 'polling',
      operations: ['generation'],
      promptRequired: true,
    };
  }
  const flux2 = family === 'flux-2';
  return {
    maxImages: flux2 ? FLUX2_MAX_IMAGES : 1,
    mask: null,
    sizes: flux2 ? { kind: 'exact', sizes: 'free' } : { kind: 'aspect', ratios: KONTEXT_RATIOS },
    outputFormats: flux2 ? ['png', 'jpeg', 'webp'] : ['png', 'jpeg'],
    outputCompression: false,
    background: [],
    quality: [],
    inputFidelity: false,
    moderation: false,
    partialImages: false,
    // one output per prediction; the pipeline makes n of them
    maxImagesPerCall: 1,
    mode: 'polling',
    // a generation is the same input without an image
    operations: ['edit', 'generation'],
    promptRequired: true,
  };
}

/** Replicate spells jpeg `jpg`. */
export const outputFormatField = (f: ImageFormat): string => (f === 'jpeg' ? 'jpg' : f);

/**
 * FLUX.2's exact size: the asked size when it fits 256–2048, else scaled
 * down to fit (keeping its shape; the gateway resizes the answer back), on
 * multiples of 16.
 */
export function flux2Size(size: Size): Size {
  const scale = Math.min(1, FLUX2_MAX_SIDE / Math.max(size.width, size.height));
  const side = (v: number) => Math.min(FLUX2_MAX_SIDE, Math.max(FLUX2_MIN_SIDE, Math.round((v * scale) / 16) * 16));
  return { width: side(size.width), height: side(size.height) };
}

/**
 * The prediction's `input`. Kontext with an input image allows at most
 * safety_tolerance 2, which is also its default; it is sent to pin it (a
 * generation keeps it too: the same tolerance whatever the operation).
 */
export function predictionInput(call: ProviderCall, images: readonly string[]): Record<string, unknown> {
  const req = call.request;
  const input: Record<string, unknown> = { prompt: req.prompt };
  const family = familyOf(call.model);
  if (family === 'flux-1') {
    // text to image: 1:1 unless a size is asked; n outputs from one seed
    input.aspect_ratio = req.size === 'auto' ? '1:1' : nearestRatio(req.size, FLUX1_RATIOS);
    input.num_outputs = call.n;
    input.output_format = outputFormatField(call.outputFormat);
    // OpenAI's output_compression (100 when not given; Replicate's own default is 80)
    if (call.outputFormat !== 'png') input.output_quality = req.outputCompression ?? 100;
    input.seed = call.seed;
    return input;
  }
  if (family === 'flux-2') {
    if (images.length > 0) input.input_images = [...images];
    if (req.size !== 'auto') {
      const s = flux2Size(req.size);
      Object.assign(input, { aspect_ratio: 'custom', width: s.width, height: s.height });
    } else if (images.length > 0) {
      input.aspect_ratio = 'match_input_image';
    }
  } else {
    if (images.length > 0) input.input_image = images[0];
    if (req.size !== 'auto') input.aspect_ratio = nearestRatio(req.size, KONTEXT_RATIOS);
    else if (images.length > 0) input.aspect_ratio = 'match_input_image';
    // a generation has no image to match: a square, as asked explicitly
    else input.aspect_ratio = '1:1';
  }
  input.output_format = outputFormatField(call.outputFormat);
  input.seed = call.seed;
  input.safety_tolerance = 2;
  return input;
}

/**
 * `Prefer: wait=N` holds the create request open until the prediction ends or
 * N seconds pass. N must leave the response room inside the attempt's
 * first-byte and total timeouts (a second to spare); under 1 s nothing is
 * asked and the prediction is polled from the start. Replicate caps N at 60.
 */
export function preferWaitSeconds(timeouts: TimeoutsConfig): number | null {
  const budget = Math.min(timeouts.firstByteMs, timeouts.totalMs) - 1000;
  const n = Math.min(60, Math.floor(budget / 1000));
  return n >= 1 ? n : null;
}

export function authHeaders(config: Pick<ProviderConfig, 'apiKey'>): Record<string, string> {
  return config.apiKey ? { authorization: `Bearer ${config.apiKey}` } : {};
}

export interface CreateRequest {
  /** under baseUrl */
  path: string;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

export function createRequest(config: Pick<ProviderConfig, 'apiKey' | 'timeouts'>, model: ReplicateModel, input: Record<string, unknown>): CreateRequest {
  const headers: Record<string, string> = { ...authHeaders(config), accept: 'application/json' };
  const wait = preferWaitSeconds(config.timeouts);
  if (wait !== null) headers.prefer = `wait=${wait}`;
  if (model.version) return { path: '/predictions', headers, body: { version: model.version, input } };
  const path = `/models/${encodeURIComponent(model.owner)}/${encodeURIComponent(model.name)}/predictions`;
  return { path, headers, body: { input } };
}

export type PredictionStatus = 'starting' | 'processing' | 'succeeded' | 'failed' | 'canceled';
const STATUSES: readonly PredictionStatus[] = ['starting', 'processing', 'succeeded', 'failed', 'canceled'];

export interface Prediction {
  id: string;
  status: PredictionStatus;
  output: unknown;
  error: string | null;
  /** `urls.get`, to poll */
  getUrl: string | null;
}

export function parsePrediction(json: unknown): Prediction {
  const p = json as Record<string, unknown> | null;
  if (!p || typeof p !== 'object' || Array.isArray(p)) throw malformed('the prediction is not a JSON object');
  const status = p.status;
  if (typeof status !== 'string' || !STATUSES.includes(status as PredictionStatus)) {
    throw malformed(`the prediction's status is ${typeof status === 'string' ? `'${excerpt(status, 40)}'` : 'missing'}`);
  }
  const urls = (p.urls ?? {}) as Record<string, unknown>;
  const error = p.error === null || p.error === undefined ? null : typeof p.error === 'string' ? p.error : JSON.stringify(p.error);
  return {
    id: typeof p.id === 'string' ? p.id : '',
    status: status as PredictionStatus,
    output: p.output,
    error,
    getUrl: urls && typeof urls.get === 'string' ? urls.get : null,
  };
}

export const isFinished = (p: Prediction): boolean => p.status === 'succeeded' || p.status === 'failed' || p.status === 'canceled';

/** The output's URLs: one string, or an array of them (models that can make several). */
export function outputUrls(output: unknown): string[] {
  const list = typeof output === 'string' ? [output] : Array.isArray(output) ? output : null;
  if (!list || list.length === 0 || !list.every((u): u is string => typeof u === 'string' && u !== '')) {
    throw malformed('the succeeded prediction has no output URL');
  }
  return list;
}

/**
 * How Replicate says a model's safety checker refused: the prediction's
 * `error` is free text, so this is a heuristic on its words. BFL's models on
 * Replicate fail with "… flagged as sensitive … (E005)"; others say NSFW,
 * content policy or safety filter. Anything else is the model or the
 * machine failing, and is tried again.
 */
const MODERATION_WORDS = /\b(nsfw|flagged|sensitive|content[ _-]?(policy|moderation|filter)|safety (filter|checker|system)|E005)\b/i;

export function isModerationMessage(text: string): boolean {
  return MODERATION_WORDS.test(text);
}

/** The end of a prediction that did not succeed, as an UpstreamError. */
export function predictionFailure(p: Prediction): UpstreamError {
  if (p.status === 'canceled') return new UpstreamError({ kind: 'retryable', reason: `the prediction ${p.id} was canceled` });
  const error = p.error ?? 'no reason given';
  if (isModerationMessage(error)) return moderated(error);
  return new UpstreamError({ kind: 'retryable', reason: `the prediction failed: ${excerpt(error)}` });
}

interface Problem {
  title?: unknown;
  detail?: unknown;
  status?: unknown;
  invalid_fields?: unknown;
}

const str = (v: unknown): string | null => (typeof v === 'string' && v.trim() !== '' ? v.trim() : null);

/** "Request was throttled. Your rate limit resets in ~30s." */
function throttleHint(detail: string): number | null {
  const m = /resets? in ~?\s*(\d+(?:\.\d+)?)\s*s\b/i.exec(detail);
  return m ? Math.round(Number(m[1]) * 1000) : null;
}

/** An error answer (RFC 7807 problem details, or anything) as an UpstreamError. */
export function classifyError(status: number, bodyText: string, headers: Record<string, string>): UpstreamError {
  let problem: Problem = {};
  try {
    const parsed = JSON.parse(bodyText) as unknown;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) problem = parsed as Problem;
  } catch {
    problem = { detail: excerpt(bodyText, 200) };
  }
  const title = str(problem.title);
  let detail = str(problem.detail);
  if (Array.isArray(problem.invalid_fields) && problem.invalid_fields.length > 0) {
    const fields = problem.invalid_fields
      .map((f) => (f && typeof f === 'object' ? `${str((f as Record<string, unknown>).field) ?? 'input'}: ${str((f as Record<string, unknown>).description) ?? 'invalid'}` : null))
      .filter((f): f is string => f !== null);
    if (fields.length > 0) detail = fields.join('; ');
  }
  const message = title && detail ? `${title}: ${detail}` : (detail ?? title ?? '');
  const err = httpFailure(status, message, headers);
  if (status === 429 && err.retryAfterMs === null && detail) {
    return httpFailure(status, message, headers, { retryAfterMs: throttleHint(detail) });
  }
  // a version that does not exist (or is not ours) is the deployment's state, not this request's fault
  if (status === 422 && /version/i.test(`${title ?? ''} ${detail ?? ''}`) && /(not exist|not permitted|invalid version)/i.test(`${title ?? ''} ${detail ?? ''}`)) {
    return httpFailure(status, message, headers, { kind: 'unavailable' });
  }
  return err;
}
