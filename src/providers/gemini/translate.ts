/**
 * Google's Gemini API image models (gemini-2.5-flash-image, gemini-3-pro-image-
 * preview, …) through `POST /models/{model}:generateContent` (provider-apis.md
 * §2a). Pure translation: the neutral call to one JSON request with the
 * images inline, the answer's image parts back, and Google's error envelope
 * and in-band refusals classified.
 */
import type { ProviderConfig } from '../../config/index.js';
import type { ImageFormat, Size } from '../../types.js';
import { nearestRatio } from '../aspect.js';
import { excerpt, httpFailure, malformed, moderated, UpstreamError, type UpstreamErrorInit } from '../errors.js';
import type { UpstreamRequest } from '../http.js';
import { decodeB64 } from '../openai/translate.js';
import type { Capabilities, ProviderCall } from '../types.js';

/**
 * `imageConfig.aspectRatio` values: the SDK's ImageConfig docstring lists
 * eight, Vertex's image-generation page adds 4:5 and 5:4. Newer flash models
 * take 1:4, 4:1, 1:8 and 8:1 as well (unverified), so they are not used.
 */
export const GEMINI_RATIOS = ['1:1', '2:3', '3:2', '3:4', '4:3', '4:5', '5:4', '9:16', '16:9', '21:9'] as const;

/** The whole request must stay under this (Google answers "Request payload size exceeds the limit: 20971520 bytes."). */
export const MAX_REQUEST_BYTES = 20 * 1024 * 1024;

const MIME: Record<ImageFormat, string> = { png: 'image/png', jpeg: 'image/jpeg', webp: 'image/webp' };

/** `models/gemini-…` (as ListModels names them) and `gemini-…` are the same model. */
export const modelId = (model: string): string => model.replace(/^models\//, '');

/** Gemini 3 image models (Nano Banana Pro, Nano Banana 2) take `imageSize` and up to 14 inputs. */
const isGemini3 = (model: string): boolean => /^gemini-3/i.test(modelId(model));

/**
 * Input images one call takes: 14 for the Gemini 3 image models (Vertex's
 * limits table for Gemini 3 Pro Image); 3 otherwise, Google's guidance for
 * gemini-2.5-flash-image ("works best with up to 3 images as input"), which
 * is the safe reading for any other model this type is pointed at.
 */
export function maxInputImages(model: string): number {
  return isGemini3(model) ? 14 : 3;
}

export function geminiCapabilities(model: string): Capabilities {
  return {
    maxImages: maxInputImages(model),
    // generateContent has no mask; describing the region in the prompt would be a guess
    mask: null,
    sizes: { kind: 'aspect', ratios: GEMINI_RATIOS },
    // the Gemini API takes no output format and answers PNG; whatever arrives is probed and converted by the gateway
    outputFormats: ['png'],
    outputCompression: false,
    background: [],
    quality: [],
    inputFidelity: false,
    moderation: false,
    partialImages: false,
    // one candidate with one image per call; candidateCount is not documented for image models
    maxImagesPerCall: 1,
    mode: 'sync',
    // the same generateContent call draws from text alone (the prompt as the only part)
    operations: ['edit', 'generation'],
    promptRequired: true,
  };
}

/**
 * `imageSize` for Gemini 3 models: the smallest tier whose long side reaches
 * the asked one (1K ≈ 1024, 2K ≈ 2048, 4K ≈ 4096 px on the long side), so the
 * gateway scales down rather than up. Omitted at 1K, the default; never sent
 * to other models (2.5-flash-image has one output size per ratio).
 */
export function imageSizeFor(model: string, size: Size): '2K' | '4K' | null {
  if (!isGemini3(model)) return null;
  const long = Math.max(size.width, size.height);
  if (long <= 1024) return null;
  return long <= 2048 ? '2K' : '4K';
}

export interface GeminiInlineImage {
  format: ImageFormat;
  bytes: Buffer;
}

export interface GenerateContentBody {
  contents: Array<{ role: 'user'; parts: Array<{ inlineData: { mimeType: string; data: string } } | { text: string }> }>;
  generationConfig: {
    responseModalities: Array<'TEXT' | 'IMAGE'>;
    seed: number;
    imageConfig?: { aspectRatio?: string; imageSize?: string };
  };
}

/**
 * The JSON of one call: the input images first, as raw base64 (a data URI is
 * refused by the protobuf bytes parser), then the prompt, as Google's
 * editing examples order them. A generation has no input image: the prompt
 * is the only part. `size` auto sends no ratio: the model then follows the
 * first input's shape, or draws a square (1:1, its default) from text alone.
 * Vertex-only fields (outputMimeType, compression, personGeneration) are
 * never sent: the Gemini API refuses them.
 */
export function generateContentBody(call: ProviderCall, images: readonly GeminiInlineImage[]): GenerateContentBody {
  const parts: GenerateContentBody['contents'][number]['parts'] = images.map((img) => ({
    inlineData: { mimeType: MIME[img.format], data: img.bytes.toString('base64') },
  }));
  parts.push({ text: call.request.prompt });
  // TEXT as well as IMAGE: every image model accepts the pair, and the text is the model's own explanation when it draws nothing
  const generationConfig: GenerateContentBody['generationConfig'] = { responseModalities: ['TEXT', 'IMAGE'], seed: call.seed };
  const size = call.request.size;
  if (size !== 'auto') {
    const imageSize = imageSizeFor(call.model, size);
    generationConfig.imageConfig = { aspectRatio: nearestRatio(size, GEMINI_RATIOS), ...(imageSize ? { imageSize } : {}) };
  }
  return { contents: [{ role: 'user', parts }], generationConfig };
}

export function authHeaders(config: Pick<ProviderConfig, 'apiKey'>): Record<string, string> {
  // the header, never `?key=`: a query string ends up in access logs and error messages
  return config.apiKey ? { 'x-goog-api-key': config.apiKey } : {};
}

/** The base64 inline data a request will carry, measured before encoding anything. */
export function inlineBytes(sizes: readonly number[]): number {
  return sizes.reduce((sum, n) => sum + 4 * Math.ceil(n / 3), 0);
}

/**
 * Refuses, before uploading it, a request the API would refuse for its size:
 * the client can send 16 images of 50 MB to the gateway, Gemini takes 20 MB
 * per request inline.
 */
export function checkRequestSize(imageSizes: readonly number[], promptBytes: number): void {
  const total = inlineBytes(imageSizes) + promptBytes + 1024;
  if (total > MAX_REQUEST_BYTES) {
    throw new UpstreamError({
      kind: 'rejected',
      reason: `the request would be ${(total / 1024 / 1024).toFixed(1)} MB with its images as base64; the Gemini API takes at most 20 MB per request`,
    });
  }
}

export function generateContentRequest(config: ProviderConfig, call: ProviderCall, images: readonly GeminiInlineImage[]): UpstreamRequest {
  return {
    method: 'POST',
    url: `/models/${encodeURIComponent(modelId(call.model))}:generateContent`,
    headers: { ...authHeaders(config), accept: 'application/json' },
    json: generateContentBody(call, images),
  };
}

/** `GET /models?pageSize=1`: the cheapest authenticated call there is. */
export function pingRequest(config: ProviderConfig): UpstreamRequest {
  return { url: '/models', query: { pageSize: '1' }, headers: authHeaders(config) };
}

// ---------------------------------------------------------------- answers

type Json = Record<string, unknown>;

const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

/** Answers come in camelCase; snake_case is what Google's REST samples write, and costs nothing to read. */
function pick(o: Json, camel: string, snake: string): unknown {
  return o[camel] ?? o[snake];
}

/**
 * Safety-type reasons, from the SDK's FinishReason and BlockedReason enums:
 * refusals of this request's content. Recitation counts too: the model
 * declines to reproduce a source, and the same request gets the same answer.
 */
const REFUSAL_REASONS = new Set([
  'SAFETY',
  'BLOCKLIST',
  'PROHIBITED_CONTENT',
  'SPII',
  'IMAGE_SAFETY',
  'IMAGE_PROHIBITED_CONTENT',
  'MODEL_ARMOR',
  'JAILBREAK',
  'RECITATION',
  'IMAGE_RECITATION',
]);

export interface ParsedAnswer {
  images: Buffer[];
  /** the model's words besides the image (not its thoughts) */
  text: string;
}

/**
 * The image parts of an answer. Parts marked `thought: true` are the
 * model's drafts (Gemini 3 thinks in images too) and are skipped.
 *
 * A 200 without an image part is a failure carrying Google's reason:
 * - `promptFeedback.blockReason` (the prompt itself was blocked, no
 *   candidates) and the safety-type finish reasons above are moderation:
 *   answered 400 with the reason and the model's words, never retried;
 * - any other finish reason (NO_IMAGE, IMAGE_OTHER, OTHER, STOP with only
 *   text, MAX_TOKENS, …) is the model not drawing this time, which a new
 *   sample often does: retryable, so the provider's retries and the next
 *   deployment get their chance, and the last reason reaches the client;
 * - an answer with neither candidates nor a block reason is malformed.
 */
export function parseGenerateContent(json: unknown): ParsedAnswer {
  if (!isObj(json)) throw malformed('the generateContent answer is not a JSON object');
  const candidates = Array.isArray(json.candidates) ? json.candidates.filter(isObj) : [];
  const images: Buffer[] = [];
  const texts: string[] = [];
  candidates.forEach((c, ci) => {
    const content = isObj(c.content) ? c.content : {};
    const parts = Array.isArray(content.parts) ? content.parts.filter(isObj) : [];
    parts.forEach((p, pi) => {
      if (p.thought === true) return;
      const blob = pick(p, 'inlineData', 'inline_data');
      if (isObj(blob)) {
        const mime = str(pick(blob, 'mimeType', 'mime_type')) ?? '';
        const data = str(blob.data);
        if (!mime.startsWith('image/')) return;
        if (data === null) throw malformed(`candidates[${ci}].content.parts[${pi}].inlineData has no data`);
        images.push(decodeB64(data, `candidates[${ci}].content.parts[${pi}].inlineData.data`));
      } else if (typeof p.text === 'string' && p.text.trim() !== '') {
        texts.push(p.text.trim());
      }
    });
  });
  const text = texts.join(' ');
  if (images.length > 0) return { images, text };

  const said = (extra: string | null) => {
    const words = [extra, text].filter((s): s is string => Boolean(s)).join(' ');
    return words ? `: ${excerpt(words, 200)}` : '';
  };
  const feedback = pick(json, 'promptFeedback', 'prompt_feedback');
  const blockReason = isObj(feedback) ? str(pick(feedback, 'blockReason', 'block_reason')) : null;
  if (blockReason) {
    const message = isObj(feedback) ? str(pick(feedback, 'blockReasonMessage', 'block_reason_message')) : null;
    return refuse(`Gemini blocked the prompt (${blockReason})${said(message)}`);
  }
  if (candidates.length === 0) throw malformed('the generateContent answer has neither candidates nor a block reason');
  const first = candidates[0];
  const finish = str(pick(first, 'finishReason', 'finish_reason')) ?? 'FINISH_REASON_UNSPECIFIED';
  const finishMessage = str(pick(first, 'finishMessage', 'finish_message'));
  if (REFUSAL_REASONS.has(finish)) return refuse(`Gemini withheld the image (${finish})${said(finishMessage)}`);
  throw new UpstreamError({ kind: 'retryable', status: 200, reason: `the model answered without an image (${finish})${said(finishMessage)}` });
}

function refuse(reason: string): never {
  throw moderated(reason, 200);
}

// ---------------------------------------------------------------- errors

interface GoogleError {
  code?: unknown;
  message?: unknown;
  status?: unknown;
  details?: unknown;
}

/** A protobuf Duration as JSON ("37s", "1.500s") in milliseconds; null when it is not one. */
export function durationMs(v: unknown): number | null {
  const m = typeof v === 'string' ? /^(\d{1,9})(?:\.(\d{1,9}))?s$/.exec(v.trim()) : null;
  if (!m) return null;
  return Math.round(Number(`${m[1]}.${m[2] ?? '0'}`) * 1000);
}

const detailsOf = (e: GoogleError): Json[] => (Array.isArray(e.details) ? e.details.filter(isObj) : []);
const typeIs = (d: Json, name: string): boolean => typeof d['@type'] === 'string' && (d['@type'] as string).endsWith(`google.rpc.${name}`);

/** RetryInfo's delay: Google's only retry hint, as its errors come without Retry-After. */
export function retryDelayOf(e: GoogleError): number | null {
  for (const d of detailsOf(e)) if (typeIs(d, 'RetryInfo')) return durationMs(d.retryDelay ?? d.retry_delay);
  return null;
}

function errorReasons(e: GoogleError): string[] {
  return detailsOf(e)
    .filter((d) => typeIs(d, 'ErrorInfo') || typeof d.reason === 'string')
    .map((d) => str(d.reason))
    .filter((r): r is string => r !== null);
}

/**
 * A quota that will not refill in the next minutes: a per-day quota, or a
 * limit of 0 (the model is not in the key's tier). Retrying is pointless, so
 * the next deployment is tried at once, as for OpenAI's insufficient_quota.
 */
function exhaustedForNow(e: GoogleError, message: string): boolean {
  for (const d of detailsOf(e)) {
    if (!typeIs(d, 'QuotaFailure') || !Array.isArray(d.violations)) continue;
    for (const v of d.violations.filter(isObj)) {
      if (/PerDay/i.test(String(v.quotaId ?? v.quota_id ?? ''))) return true;
      if (String(v.quotaValue ?? v.quota_value ?? '') === '0') return true;
    }
  }
  return /\blimit: 0\b/.test(message);
}

/**
 * Google's error envelope `{"error":{"code","message","status","details"}}`
 * (some Google front ends wrap it in an array) as an UpstreamError:
 * - 400 INVALID_ARGUMENT: the request's fault, answered 400 with Google's words;
 * - 400 with ErrorInfo API_KEY_INVALID (how the Gemini API answers a wrong
 *   key), 400 FAILED_PRECONDITION (billing or region), 401, 403
 *   PERMISSION_DENIED, 404 NOT_FOUND (unknown model): this deployment cannot
 *   serve, the next one is tried at once;
 * - 429 RESOURCE_EXHAUSTED: retried after RetryInfo's delay, unless the quota
 *   is a daily one (above); 500 INTERNAL, 503 UNAVAILABLE, 504: retried.
 */
export function classifyError(status: number, bodyText: string, headers: Record<string, string>): UpstreamError {
  let err: GoogleError = {};
  try {
    let parsed = JSON.parse(bodyText) as unknown;
    if (Array.isArray(parsed)) parsed = parsed[0];
    if (isObj(parsed) && isObj(parsed.error)) err = parsed.error;
  } catch {
    // an HTML page from a proxy or Google's front end: its words, shortened
    err = { message: excerpt(bodyText.replace(/<[^>]*>/g, ' '), 200) };
  }
  const message = str(err.message) ?? '';
  const state = str(err.status);
  const words = state ? `${state}: ${message}` : message;
  const retryAfterMs = retryDelayOf(err);
  const extra: Partial<UpstreamErrorInit> = retryAfterMs !== null ? { retryAfterMs } : {};
  if (status === 400 && (errorReasons(err).includes('API_KEY_INVALID') || state === 'FAILED_PRECONDITION')) {
    return httpFailure(status, words, headers, { ...extra, kind: 'unavailable' });
  }
  if (status === 429 && exhaustedForNow(err, message)) return httpFailure(status, words, headers, { ...extra, kind: 'unavailable' });
  return httpFailure(status, words, headers, extra);
}
