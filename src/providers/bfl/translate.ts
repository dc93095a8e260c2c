/**
 * Black Forest Labs (api.bfl.ai), pure translation: which endpoint a call
 * goes to, its JSON body, and the answers read back — the submit's
 * `{id, polling_url}`, each poll's status, and errors classified. Wire facts
 * from BFL's published OpenAPI document (FluxKontextProInputs,
 * FluxProFillInputs, Flux2Inputs and its Flex/Klein variants, ResultResponse)
 * and provider-apis.md §3.
 *
 * Five request shapes:
 * - Kontext (`flux-kontext-pro`, `-max`): up to 4 images as `input_image`,
 *   `input_image_2..4`; size as an `aspect_ratio`; without an image it
 *   draws from the prompt alone (a generation);
 * - FLUX.2 (`flux-2-*`): up to 8 images (klein: 4); size as `width`/`height`;
 *   generations too, without images;
 * - Fill (the provider's `fillModel`): every request with a mask, whatever
 *   the deployment's model: one `image` and a white-means-edit `mask` of its
 *   size; the output keeps the image's size;
 * - FLUX1.1 [pro] and FLUX.1 [dev] (`flux-pro-1.1`, `flux-dev`,
 *   FluxPro11Inputs/FluxDevInputs): text-to-image only; size as `width`/
 *   `height`, multiples of 32 from 256 to 1440;
 * - FLUX1.1 [pro] Ultra (`flux-pro-1.1-ultra`, FluxUltraInput): text-to-
 *   image only; size as an `aspect_ratio` between 21:9 and 9:21.
 * Their `image_prompt` (an image as a style hint, not an edit) is not used:
 * OpenAI's generations have no field for it, and an edit is not one.
 * Images go as raw base64 (BFL reads a string as base64 or a URL; a data URI
 * is neither).
 */
import type { EditRequest, Size } from '../../types.js';
import { nearestRatio } from '../aspect.js';
import { excerpt, httpFailure, malformed, moderated, UpstreamError } from '../errors.js';
import type { Capabilities, ProviderCall } from '../types.js';

export type BflShape = 'kontext' | 'flux2' | 'fill' | 'pro' | 'ultra';

/**
 * Ratios sent to Kontext, which takes any ratio between 21:9 and 9:21: the
 * usual photo and screen shapes in that range. A size is sent as the nearest
 * of them on a log scale (aspect.ts), so 1536x1024 is exactly 3:2 and a
 * wider-than-21:9 size is clamped to 21:9; the gateway then resizes the
 * answer to the exact size asked.
 */
export const KONTEXT_RATIOS = ['21:9', '16:9', '3:2', '4:3', '5:4', '1:1', '4:5', '3:4', '2:3', '9:16', '9:21'] as const;

/**
 * FLUX.2 takes width and height of at least 64, multiples of 16, at most
 * 4 MP (BFL's skill documentation; its own client checks 4,000,000 pixels,
 * the stricter reading, used here).
 */
export const FLUX2_MAX_PIXELS = 4_000_000;

/**
 * safety_tolerance: 2 is BFL's default and, with input images, also the most
 * it allows (Replicate's and other resellers' notes on Kontext: 0–6 for
 * text-to-image, 0–2 for editing). So `moderation=low` is honoured only
 * without input images (generations), as the schema's maximum: 6 on Kontext
 * and Fill, 5 on FLUX.2. An edit asking for it is refused (or dropped under
 * dropUnsupported) rather than sent at the default and called honoured.
 */
const LOW_MODERATION_TOLERANCE: Record<BflShape, number> = { kontext: 6, fill: 6, flux2: 5, pro: 6, ultra: 6 };

/** FLUX1.1 [pro] and FLUX.1 [dev]: `width`/`height` multiples of 32 from 256 to 1440 (FluxPro11Inputs, FluxDevInputs). */
export const PRO_SIDE = { min: 256, max: 1440, step: 32 } as const;

/** The text-to-image-only endpoints: they take no input image, so a deployment of one does generations only. */
const textOnlyShape = (model: string): 'pro' | 'ultra' | null =>
  /^flux-pro-1\.1-ultra$/i.test(model) ? 'ultra' : /^flux-(pro-1\.1|dev)$/i.test(model) ? 'pro' : null;

/** The request shape of a deployment's model, for a request with or without a mask. */
export function shapeOf(model: string, masked: boolean): BflShape {
  const textOnly = textOnlyShape(model);
  if (textOnly) return textOnly;
  if (masked) return 'fill';
  return /^flux-2-/i.test(model) ? 'flux2' : 'kontext';
}

function maxImagesOf(model: string, shape: BflShape): number {
  if (shape === 'pro' || shape === 'ultra') return 0;
  if (shape === 'fill') return 1;
  if (shape === 'kontext') return 4;
  return /^flux-2-klein/i.test(model) ? 4 : 8;
}

function sizesOf(shape: BflShape): Capabilities['sizes'] {
  if (shape === 'fill') return { kind: 'none' };
  if (shape === 'kontext' || shape === 'ultra') return { kind: 'aspect', ratios: KONTEXT_RATIOS };
  return { kind: 'exact', sizes: 'free' };
}

export function bflCapabilities(model: string, request: Pick<EditRequest, 'mask' | 'images'>): Capabilities {
  const shape = shapeOf(model, request.mask !== null);
  return {
    maxImages: maxImagesOf(model, shape),
    mask: shape === 'fill' ? 'white' : null,
    sizes: sizesOf(shape),
    // the OutputFormat enum of every input schema
    outputFormats: ['png', 'jpeg', 'webp'],
    outputCompression: false,
    background: [],
    quality: [],
    inputFidelity: false,
    moderation: request.images.length === 0,
    partialImages: false,
    // one image per task; n is n tasks
    maxImagesPerCall: 1,
    mode: 'polling',
    // Kontext and FLUX.2 draw from the prompt alone when given no image; FLUX1.1 [pro], Ultra and [dev] only do that
    operations: shape === 'pro' || shape === 'ultra' ? ['generation'] : shape === 'fill' ? ['edit'] : ['edit', 'generation'],
    promptRequired: shape !== 'fill',
  };
}

/** A pixel size FLUX.2 takes: scaled down (never up) to fit its pixel cap, each side a multiple of 16, at least 64. */
export function flux2Size(size: Size): Size {
  const scale = Math.min(1, Math.sqrt(FLUX2_MAX_PIXELS / (size.width * size.height)));
  const side = (v: number) => Math.max(64, Math.floor((v * scale) / 16) * 16);
  return { width: side(size.width), height: side(size.height) };
}

/** A size FLUX1.1 [pro] and [dev] take: scaled down (never up) so both sides fit 1440, each a multiple of 32, at least 256. */
export function proSize(size: Size): Size {
  const scale = Math.min(1, PRO_SIDE.max / size.width, PRO_SIDE.max / size.height);
  const side = (v: number) => Math.min(PRO_SIDE.max, Math.max(PRO_SIDE.min, Math.floor((v * scale) / PRO_SIDE.step) * PRO_SIDE.step));
  return { width: side(size.width), height: side(size.height) };
}

/** `input_image`, `input_image_2`, … in the client's order. */
export const inputImageField = (i: number): string => (i === 0 ? 'input_image' : `input_image_${i + 1}`);

export interface BflSubmit {
  /** path under baseUrl */
  path: string;
  body: Record<string, unknown>;
}

/**
 * The submit of one call. `images` are the client's images as raw base64, in
 * order; `mask` the prepared white-means-edit mask as raw base64 (masked
 * calls only).
 */
export function submitRequest(call: ProviderCall, fillModel: string, images: readonly string[], mask: string | null): BflSubmit {
  const req = call.request;
  // the mask the pipeline prepared for this call decides the endpoint
  const shape = shapeOf(call.model, mask !== null);
  const endpoint = shape === 'fill' ? fillModel : call.model;
  const body: Record<string, unknown> = {};
  if (shape === 'fill') {
    body.image = images[0];
    body.mask = mask;
    body.prompt = req.prompt;
  } else {
    body.prompt = req.prompt;
    images.forEach((b64, i) => (body[inputImageField(i)] = b64));
    // size auto sends nothing: the endpoint's own default (Kontext 1:1 or the first image's shape, Ultra 16:9,
    // FLUX1.1 [pro] 1024x768, FLUX.2 the first image's size or 1024x1024)
    if (req.size !== 'auto') {
      if (shape === 'kontext' || shape === 'ultra') body.aspect_ratio = nearestRatio(req.size, KONTEXT_RATIOS);
      else if (shape === 'pro') Object.assign(body, proSize(req.size));
      else Object.assign(body, flux2Size(req.size));
    }
    // Flex rewrites prompts unless told not to (its default differs from every other endpoint's)
    if (/^flux-2-flex/i.test(call.model)) body.prompt_upsampling = false;
  }
  body.seed = call.seed;
  body.output_format = call.outputFormat;
  if (req.moderation === 'low' && images.length === 0) body.safety_tolerance = LOW_MODERATION_TOLERANCE[shape];
  return { path: `/v1/${encodeURIComponent(endpoint)}`, body };
}

export interface BflTask {
  id: string;
  pollingUrl: string;
}

/** The submit's answer: `AsyncResponse {id, polling_url, cost?, …}`. */
export function parseSubmit(json: unknown): BflTask {
  const j = json as { id?: unknown; polling_url?: unknown } | null;
  if (!j || typeof j !== 'object' || typeof j.id !== 'string' || j.id === '') throw malformed('the submit answer has no task "id"');
  if (typeof j.polling_url !== 'string' || j.polling_url === '') throw malformed('the submit answer has no "polling_url"');
  return { id: j.id, pollingUrl: j.polling_url };
}

/**
 * Whether a poll may carry the key. BFL's spec asks no key of get_result,
 * but its own examples send one; it goes to BFL's API hosts only — the base
 * URL's host name or another name in its domain (api.bfl.ai → api.eu1.bfl.ai,
 * gateway.bfl.ai) — never to another host the operator trusts for
 * downloads, such as a storage account.
 */
export function keyGoesTo(url: string, baseUrl: string): boolean {
  let host: string;
  let base: string;
  try {
    host = new URL(url, baseUrl).hostname.toLowerCase();
    base = new URL(baseUrl).hostname.toLowerCase();
  } catch {
    return false;
  }
  if (host === base) return true;
  const labels = base.split('.');
  // an IP address or a single-label name has no domain to share
  if (labels.length < 2 || /^[\d.]+$|^\[/.test(base)) return false;
  const domain = labels.slice(-2).join('.');
  return host === domain || host.endsWith(`.${domain}`);
}

/** What one poll said. Terminal failures are thrown as UpstreamErrors instead. */
export type PollVerdict = { kind: 'ready'; sample: string } | { kind: 'pending'; status: string } | { kind: 'not-found' };

/**
 * Anything but Ready, a moderation, a failure or "Task not found" means the
 * job is still working: `Pending` is the spec's, and BFL and its resellers
 * also report `Processing`, `Queued`, `Reasoning`, `Generating`… on newer
 * products. An undocumented status is waited on (the attempt's total timeout
 * ends a job that never finishes) rather than failing a job that may be fine.
 */
const MODERATED = new Set(['request moderated', 'content moderated']);
const FAILED = new Set(['error', 'failed']);

/** The words of a job's `details` (or `error`): moderation reasons, an error text. */
function detailWords(j: Record<string, unknown>): string {
  const words: string[] = [];
  const add = (v: unknown) => {
    if (typeof v === 'string' && v.trim()) words.push(v.trim());
    else if (Array.isArray(v)) v.forEach(add);
  };
  const d = j.details;
  if (typeof d === 'string') add(d);
  else if (d && typeof d === 'object') {
    const o = d as Record<string, unknown>;
    add(o['Moderation Reasons'] ?? o.moderation_reasons ?? o.reasons);
    add(o.error ?? o.message ?? o.reason);
  }
  add(j.error);
  if (typeof j.result === 'string') add(j.result);
  return excerpt([...new Set(words)].join(', '), 200);
}

/** One poll's body (`ResultResponse`), read. */
export function readPoll(json: unknown): PollVerdict {
  const j = json as Record<string, unknown> | null;
  if (!j || typeof j !== 'object' || typeof j.status !== 'string') throw malformed('a poll answer has no "status"');
  const status = j.status;
  const s = status.trim().toLowerCase();
  if (s === 'ready') {
    const result = j.result as { sample?: unknown } | null | undefined;
    const sample = result && typeof result === 'object' ? result.sample : undefined;
    if (typeof sample !== 'string' || sample === '') throw malformed('a Ready task without "result.sample"');
    return { kind: 'ready', sample };
  }
  if (s === 'task not found') return { kind: 'not-found' };
  if (MODERATED.has(s)) {
    // "Request Moderated": the inputs were refused; "Content Moderated": the output was
    const why = detailWords(j);
    throw moderated(`${status}${why ? `: ${why}` : ''}`);
  }
  if (FAILED.has(s)) {
    const why = detailWords(j);
    throw new UpstreamError({ kind: 'retryable', reason: `the task ended with status ${status}${why ? `: ${why}` : ''}` });
  }
  return { kind: 'pending', status };
}

/**
 * "Task not found" right after a submit is the result store catching up;
 * for longer, the task is gone: the attempt fails and is tried again.
 */
export const NOT_FOUND_POLLS = 3;

export function taskLost(id: string, polls: number): UpstreamError {
  return new UpstreamError({ kind: 'retryable', reason: `task ${excerpt(id, 80)} was not found (${polls} polls)` });
}

interface FastApiDetail {
  loc?: unknown;
  msg?: unknown;
}

/** The words of an error body: FastAPI's `detail` (a string, or a list of validation errors), or `{error, message}`. */
export function errorMessage(bodyText: string): string {
  let j: unknown;
  try {
    j = JSON.parse(bodyText);
  } catch {
    return excerpt(bodyText, 200);
  }
  if (!j || typeof j !== 'object') return excerpt(bodyText, 200);
  const o = j as Record<string, unknown>;
  const detail = o.detail;
  if (typeof detail === 'string') return detail;
  if (Array.isArray(detail)) {
    return detail
      .map((d: FastApiDetail) => {
        const loc = Array.isArray(d?.loc) ? d.loc.filter((p) => p !== 'body').join('.') : '';
        const msg = typeof d?.msg === 'string' ? d.msg : 'invalid';
        return loc ? `${loc}: ${msg}` : msg;
      })
      .join('; ');
  }
  if (detail && typeof detail === 'object') {
    const m = (detail as Record<string, unknown>).message ?? (detail as Record<string, unknown>).msg;
    if (typeof m === 'string') return m;
  }
  for (const k of ['message', 'error'] as const) if (typeof o[k] === 'string') return o[k];
  return excerpt(bodyText, 200);
}

const MODERATION_WORDS = /moderat|nsfw|safety|content polic/i;

/**
 * A submit's or poll's non-200 answer as an UpstreamError:
 * 422 (FastAPI validation) and other 4xx are the request's fault (rejected),
 * unless the words say a safety filter refused it; 401/403 (key), 402
 * (credits) and 404 (no such endpoint) make the deployment unavailable;
 * 429 (too many active tasks) and 5xx are retried, after Retry-After or the
 * body's `retry_after` seconds.
 */
export function classifyError(status: number, bodyText: string, headers: Record<string, string>): UpstreamError {
  const message = errorMessage(bodyText);
  if ((status === 400 || status === 422) && MODERATION_WORDS.test(message)) return moderated(message, status);
  const err = httpFailure(status, message, headers);
  if (err.retryAfterMs === null && status === 429) {
    const hinted = bodyRetryAfter(bodyText);
    if (hinted !== null) return httpFailure(status, message, headers, { retryAfterMs: hinted });
  }
  return err;
}

function bodyRetryAfter(bodyText: string): number | null {
  try {
    const v = (JSON.parse(bodyText) as { retry_after?: unknown }).retry_after;
    return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.round(v * 1000) : null;
  } catch {
    return null;
  }
}
