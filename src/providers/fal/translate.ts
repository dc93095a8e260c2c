/**
 * fal.ai's queue (provider-apis.md §6), pure translation: the neutral call to
 * the model's input JSON, the queue's answers (submit, status, result) back,
 * errors classified.
 *
 * The FLUX.1 Kontext endpoints (`fal-ai/flux-pro/kontext`, `…/kontext/max`)
 * take one `image_url`; their `/multi` variants take `image_urls`. Images go
 * as data URIs. Up to 4 images per call (`num_images`); an `aspect_ratio`
 * from an enum; jpeg or png. No mask, background, quality or fidelity.
 *
 * Generations (no input image):
 * - a single-image Kontext deployment (`…/kontext`, `…/kontext/max`) sends
 *   them to its text-to-image sibling, the same id with `/text-to-image`
 *   appended: the same input without `image_url`, `aspect_ratio` 1:1 for
 *   size 'auto';
 * - a deployment of a text-to-image endpoint (`…/kontext/text-to-image`, or
 *   FLUX.1 `fal-ai/flux/dev`, `fal-ai/flux/schnell`, `fal-ai/flux-1/…`) does
 *   generations only; FLUX.1's take an exact `image_size` `{width,height}`
 *   (`square_hd` for 'auto');
 * - the multi-image endpoints do edits only.
 */
import type { ProviderConfig } from '../../config/index.js';
import { nearestRatio } from '../aspect.js';
import { excerpt, httpFailure, malformed, moderated, UpstreamError } from '../errors.js';
import type { Capabilities, ProviderCall } from '../types.js';

export interface FalEndpoint {
  owner: string;
  alias: string;
  /** the sub-path after `owner/alias` ('kontext', 'kontext/max/multi'), '' for none */
  path: string;
}

/** `owner/alias[/path…]`, as fal's clients split it; null for anything else. */
export function parseEndpoint(id: string): FalEndpoint | null {
  const parts = id.trim().replace(/^\/+|\/+$/g, '').split('/');
  if (parts.length < 2 || !parts.every((p) => /^[A-Za-z0-9][\w.-]*$/.test(p))) return null;
  return { owner: parts[0], alias: parts[1], path: parts.slice(2).join('/') };
}

/** The endpoints that take several images as `image_urls`. */
export const isMultiEndpoint = (model: string): boolean => /\/multi$/i.test(model.trim().replace(/\/+$/, ''));

/**
 * How an endpoint takes its input:
 * - 'kontext': one `image_url` (edits) — its `/text-to-image` sibling generates;
 * - 'kontext-multi': `image_urls` (edits only);
 * - 'kontext-t2i': Kontext's text to image (generations only, `aspect_ratio`);
 * - 'flux-1': FLUX.1 [dev]/[schnell] text to image (generations only, `image_size`);
 * - 'other': any other endpoint, sent Kontext's edit input as before; no
 *   generations, since which text-to-image endpoint goes with it is unknown.
 */
export type FalFamily = 'kontext' | 'kontext-multi' | 'kontext-t2i' | 'flux-1' | 'other';

export function familyOf(model: string): FalFamily {
  const id = model.trim().replace(/^\/+|\/+$/g, '');
  if (/^fal-ai\/flux(-1)?\/(dev|schnell)$/i.test(id)) return 'flux-1';
  if (/\/text-to-image$/i.test(id)) return 'kontext-t2i';
  if (isMultiEndpoint(id)) return 'kontext-multi';
  return /\/kontext(\/max)?$/i.test(id) ? 'kontext' : 'other';
}

/** The endpoint id a call is submitted to: a Kontext deployment's generations go to its text-to-image sibling. */
export function endpointFor(model: string, operation: ProviderCall['request']['operation']): string {
  const id = model.trim().replace(/^\/+|\/+$/g, '');
  return operation === 'generation' && familyOf(id) === 'kontext' ? `${id}/text-to-image` : id;
}

/** Kontext's `aspect_ratio` enum. */
export const FAL_RATIOS = ['21:9', '16:9', '4:3', '3:2', '1:1', '2:3', '3:4', '9:16', '9:21'] as const;
/** `num_images` is 1 to 4 */
export const FAL_MAX_IMAGES_PER_CALL = 4;
/** the multi endpoints: BFL's experimental multi-reference, which takes up to 4 images */
export const FAL_MULTI_MAX_IMAGES = 4;

export function falCapabilities(model: string): Capabilities {
  const family = familyOf(model);
  const generationOnly = family === 'kontext-t2i' || family === 'flux-1';
  return {
    maxImages: generationOnly ? 0 : family === 'kontext-multi' ? FAL_MULTI_MAX_IMAGES : 1,
    mask: null,
    sizes: family === 'flux-1' ? { kind: 'exact', sizes: 'free' } : { kind: 'aspect', ratios: FAL_RATIOS },
    outputFormats: ['png', 'jpeg'],
    outputCompression: false,
    background: [],
    quality: [],
    inputFidelity: false,
    moderation: false,
    partialImages: false,
    maxImagesPerCall: FAL_MAX_IMAGES_PER_CALL,
    mode: 'polling',
    operations: generationOnly ? ['generation'] : family === 'kontext' ? ['edit', 'generation'] : ['edit'],
    promptRequired: true,
  };
}

/**
 * The model input, sent as the whole body. `safety_tolerance` is a string
 * enum "1"–"6" on fal; "2" is the default (and BFL's maximum with an input
 * image). `sync_mode` stays false: results come as URLs kept in the
 * request history, not as data URIs in the answer.
 */
export function submitBody(call: ProviderCall, images: readonly string[]): Record<string, unknown> {
  const req = call.request;
  const body: Record<string, unknown> = { prompt: req.prompt };
  const family = familyOf(endpointFor(call.model, req.operation));
  if (family === 'flux-1') {
    body.image_size = req.size === 'auto' ? 'square_hd' : { width: req.size.width, height: req.size.height };
    body.num_images = call.n;
    body.output_format = call.outputFormat === 'jpeg' ? 'jpeg' : 'png';
    body.seed = call.seed;
    body.sync_mode = false;
    return body;
  }
  if (family === 'kontext-t2i') {
    body.num_images = call.n;
    body.aspect_ratio = req.size === 'auto' ? '1:1' : nearestRatio(req.size, FAL_RATIOS);
    body.output_format = call.outputFormat === 'jpeg' ? 'jpeg' : 'png';
    body.seed = call.seed;
    body.safety_tolerance = '2';
    body.sync_mode = false;
    return body;
  }
  if (family === 'kontext-multi') body.image_urls = [...images];
  else if (images.length > 0) body.image_url = images[0];
  body.num_images = call.n;
  // 'auto' leaves it out: the model then follows the input image
  if (req.size !== 'auto') body.aspect_ratio = nearestRatio(req.size, FAL_RATIOS);
  body.output_format = call.outputFormat === 'jpeg' ? 'jpeg' : 'png';
  body.seed = call.seed;
  body.safety_tolerance = '2';
  body.sync_mode = false;
  return body;
}

export function authHeaders(config: Pick<ProviderConfig, 'apiKey'>): Record<string, string> {
  return config.apiKey ? { authorization: `Key ${config.apiKey}` } : {};
}

export interface QueueUrls {
  requestId: string;
  statusUrl: string;
  responseUrl: string;
}

/**
 * The submit answer. Its URLs name only `owner/alias` (the sub-path is
 * dropped); they are used as given. When a host leaves them out, they are
 * built the way fal's clients build them.
 */
export function parseSubmit(json: unknown, endpoint: FalEndpoint, baseUrl: string): QueueUrls {
  const j = json as Record<string, unknown> | null;
  if (!j || typeof j !== 'object' || typeof j.request_id !== 'string' || j.request_id === '') throw malformed('the queue answer has no request_id');
  const built = `${baseUrl}/${endpoint.owner}/${endpoint.alias}/requests/${encodeURIComponent(j.request_id)}`;
  return {
    requestId: j.request_id,
    statusUrl: typeof j.status_url === 'string' && j.status_url ? j.status_url : `${built}/status`,
    responseUrl: typeof j.response_url === 'string' && j.response_url ? j.response_url : built,
  };
}

export type QueueStatus = 'IN_QUEUE' | 'IN_PROGRESS' | 'COMPLETED';

export function parseStatus(json: unknown): QueueStatus {
  const s = (json as { status?: unknown } | null)?.status;
  if (s === 'IN_QUEUE' || s === 'IN_PROGRESS' || s === 'COMPLETED') return s;
  throw malformed(`the queue status is ${typeof s === 'string' ? `'${excerpt(s, 40)}'` : 'missing'}`);
}

/** The images of a completed request: their URLs (data URIs included) for the first `n`. */
export function parseResult(json: unknown, n: number): string[] {
  const j = json as { images?: unknown; has_nsfw_concepts?: unknown } | null;
  if (!j || typeof j !== 'object' || !Array.isArray(j.images) || j.images.length === 0) throw malformed('the result has no images');
  const images = j.images.slice(0, n);
  // an image fal's checker flagged comes back blacked out: refuse the call rather than deliver it
  const flags = Array.isArray(j.has_nsfw_concepts) ? j.has_nsfw_concepts.slice(0, images.length) : [];
  const flagged = flags.filter((f) => f === true).length;
  if (flagged > 0) {
    throw moderated(`the provider's safety checker flagged ${flagged === 1 && images.length === 1 ? 'the image' : `${flagged} of ${images.length} images`} (has_nsfw_concepts)`);
  }
  return images.map((img, i) => {
    const url = (img as { url?: unknown } | null)?.url;
    if (typeof url !== 'string' || url === '') throw malformed(`images[${i}] has no url`);
    return url;
  });
}

interface DetailItem {
  loc?: unknown;
  msg?: unknown;
  type?: unknown;
}

const str = (v: unknown): string | null => (typeof v === 'string' && v.trim() !== '' ? v.trim() : null);

function describe(item: DetailItem): string {
  const loc = Array.isArray(item.loc) ? item.loc.filter((l) => l !== 'body').join('.') : '';
  const msg = str(item.msg) ?? str(item.type) ?? 'invalid';
  return loc ? `${loc}: ${msg}` : msg;
}

/**
 * An error answer as an UpstreamError. fal's body is `{"detail": …}`, a
 * string or a list of `{loc, msg, type}` (422); a `content_policy_violation`
 * item is a moderation refusal. `X-Fal-Retryable` says whether trying the
 * same request again may help: `false` on a 5xx sends it to the next
 * deployment at once, `true` on a 4xx retries it.
 */
export function classifyError(status: number, bodyText: string, headers: Record<string, string>): UpstreamError {
  let detail: unknown = null;
  try {
    const parsed = JSON.parse(bodyText) as { detail?: unknown; message?: unknown; error?: unknown } | null;
    detail = parsed?.detail ?? parsed?.message ?? parsed?.error ?? null;
  } catch {
    detail = excerpt(bodyText, 200);
  }
  const items: DetailItem[] = Array.isArray(detail) ? detail.filter((d): d is DetailItem => !!d && typeof d === 'object') : [];
  const message = items.length > 0 ? items.map(describe).join('; ') : (str(detail) ?? '');
  const policy = items.find((d) => d.type === 'content_policy_violation');
  if (policy) return moderated(describe(policy), status);
  const retryable = headers['x-fal-retryable']?.toLowerCase();
  if (retryable === 'false' && status >= 500) return httpFailure(status, message, headers, { kind: 'unavailable' });
  if (retryable === 'true' && status >= 400 && status < 500 && status !== 401 && status !== 403) {
    return httpFailure(status, message, headers, { kind: 'retryable' });
  }
  return httpFailure(status, message, headers);
}
