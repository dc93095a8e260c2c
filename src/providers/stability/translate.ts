/**
 * Stability AI's v2beta Stable Image edit endpoints (provider-apis.md §5),
 * and its generate endpoints for text-to-image (`/v2beta/stable-image/
 * generate/{core,ultra,sd3}`): one synchronous multipart POST per image to
 * `/v2beta/stable-image/edit/{endpoint}` (or `generate/…`), answered with the image's bytes
 * (`accept: image/*`, with `finish-reason` and `seed` headers) or, when a host
 * answers JSON anyway, `{"image","seed","finish_reason"}`. Pure translation:
 * which endpoint serves a request, what each can honour, the form fields,
 * the answer read back, errors classified.
 *
 * Decisions where OpenAI's contract and Stability's do not meet:
 * - `size`: every edit endpoint's output follows its input, so an explicit
 *   size is refused (unless dropped by `dropUnsupported`).
 * - search-and-replace needs `search_prompt` (what to find), which OpenAI has
 *   no field for. It is read from a prompt of the form
 *   `replace <what to find> with <what to put there>` (the first part may be
 *   quoted when it contains " with "); any other prompt is refused with a 400
 *   naming `prompt`. Nothing is guessed.
 * - erase and remove-background take no prompt: the client's prompt (which
 *   the contract requires) is not sent, and the answer's warning header says so.
 * - `auto` (OPERATOR.md): a mask → inpaint, or erase when the prompt is blank
 *   (whitespace only: the contract refuses an empty one); no mask and
 *   `background=transparent` → remove-background; else a 400 naming `mask`.
 * - 422 `public_figure` is a content-policy verdict (moderation); 422
 *   `invalid_language` is a refusal the client can fix (rejected).
 * - 200 with `finish-reason: CONTENT_FILTERED` is a blurred image: a
 *   moderation refusal, never passed on as a result.
 * - 429 has no Retry-After; its text says "timed out for 60 seconds", which
 *   is read as the retry hint (the pipeline does not wait that long on one
 *   provider: the next deployment is tried).
 * - Generations: a deployment whose model is `core`, `ultra`, `sd3` or one of
 *   the SD 3.5 models (`sd3.5-large`, … sent to `sd3` as its `model` field)
 *   does generations only; the edit endpoints do edits only. `size` goes as
 *   the nearest of Stability's nine aspect ratios (the gateway then scales
 *   the answer to the exact size); `auto` sends none (Stability's 1:1).
 */
import type { ProviderConfig } from '../../config/index.js';
import type { EditRequest, ImageFormat } from '../../types.js';
import { nearestRatio } from '../aspect.js';
import { excerpt, httpFailure, malformed, moderated, retryAfterMs, UpstreamError } from '../errors.js';
import { MultipartBody } from '../multipart.js';
import { decodeB64 } from '../openai/translate.js';
import type { Capabilities, PreparedImage, ProviderCall } from '../types.js';

export const ENDPOINTS = ['inpaint', 'erase', 'search-and-replace', 'remove-background'] as const;
export type Endpoint = (typeof ENDPOINTS)[number];

export const isEndpoint = (m: string): m is Endpoint => (ENDPOINTS as readonly string[]).includes(m);

/** Stability's seeds: 0 (random) to 4294967294. */
export const MAX_SEED = 4_294_967_294;

/** A prompt with nothing but whitespace asks for no content: erase, not inpaint. */
const isBlank = (prompt: string): boolean => prompt.trim() === '';

/**
 * The endpoint that serves this request, or why none can. `null` endpoint
 * with a refusal for `auto` without what it needs; an unknown model is a
 * configuration mistake, said as such.
 */
export function endpointFor(model: string, req: Pick<EditRequest, 'mask' | 'prompt' | 'background'>): { endpoint: Endpoint } | { endpoint: null; unknown: boolean } {
  if (isEndpoint(model)) return { endpoint: model };
  if (model !== 'auto') return { endpoint: null, unknown: true };
  if (req.mask) return { endpoint: isBlank(req.prompt) ? 'erase' : 'inpaint' };
  if (req.background === 'transparent') return { endpoint: 'remove-background' };
  return { endpoint: null, unknown: false };
}

/**
 * What to find and what to put there, from "replace X with Y". X may be
 * quoted ("…", '…', “…”) when it contains " with " itself; otherwise the
 * first " with " splits. A trailing full stop or exclamation mark is dropped.
 */
export function splitSearchPrompt(prompt: string): { search: string; prompt: string } | null {
  const m = /^\s*replace\s+(?:"([^"]+)"|'([^']+)'|“([^”]+)”|(.+?))\s+with\s+(.+?)[\s.!]*$/is.exec(prompt);
  if (!m) return null;
  const search = (m[1] ?? m[2] ?? m[3] ?? m[4]).trim();
  const replacement = m[5].trim();
  if (!search || !replacement) return null;
  return { search, prompt: replacement };
}

/** The text-to-image endpoints (`/v2beta/stable-image/generate/{endpoint}`). */
export const GENERATE_ENDPOINTS = ['core', 'ultra', 'sd3'] as const;
export type GenerateEndpoint = (typeof GENERATE_ENDPOINTS)[number];

/** The models the sd3 endpoint serves, named in its `model` field (its default is sd3.5-large). */
export const SD3_MODELS = ['sd3.5-large', 'sd3.5-large-turbo', 'sd3.5-medium', 'sd3.5-flash'] as const;

/** `aspect_ratio` of the generate endpoints (the same nine on core, ultra and sd3). */
export const GENERATE_RATIOS = ['21:9', '16:9', '3:2', '5:4', '1:1', '4:5', '2:3', '9:16', '9:21'] as const;

/** a deployment's model: an edit endpoint, `auto` (an edit endpoint chosen per request), a generate endpoint or an SD 3.5 model */
export const MODELS: readonly string[] = [...ENDPOINTS, 'auto', ...GENERATE_ENDPOINTS, ...SD3_MODELS];

export interface GenerateTarget {
  endpoint: GenerateEndpoint;
  /** the sd3 endpoint's `model` field; null: the endpoint's default */
  sd3Model: string | null;
}

/** Where a deployment's model generates, or null when it is an edit endpoint (or unknown). */
export function generateTarget(model: string): GenerateTarget | null {
  if ((GENERATE_ENDPOINTS as readonly string[]).includes(model)) return { endpoint: model as GenerateEndpoint, sd3Model: null };
  if ((SD3_MODELS as readonly string[]).includes(model)) return { endpoint: 'sd3', sd3Model: model };
  return null;
}

const BASE: Omit<Capabilities, 'mask' | 'outputFormats' | 'background' | 'promptRequired'> = {
  maxImages: 1,
  sizes: { kind: 'none' },
  // no quality knob for the encoder: the gateway asks a lossless format and compresses itself
  outputCompression: false,
  quality: [],
  inputFidelity: false,
  moderation: false,
  partialImages: false,
  maxImagesPerCall: 1,
  mode: 'sync',
  // the edit endpoints only edit; the generate endpoints have their own capabilities
  operations: ['edit'],
};

const ALL_FORMATS: readonly ImageFormat[] = ['png', 'jpeg', 'webp'];

/**
 * What one endpoint honours. 'opaque' is honoured everywhere because the
 * gateway flattens the answer itself; 'transparent' only by remove-background,
 * whose whole point it is.
 */
export function endpointCapabilities(endpoint: Endpoint): Capabilities {
  switch (endpoint) {
    case 'inpaint':
      return { ...BASE, mask: 'white', outputFormats: ALL_FORMATS, background: ['opaque'], promptRequired: true };
    case 'erase':
      return { ...BASE, mask: 'white', outputFormats: ALL_FORMATS, background: ['opaque'], promptRequired: false };
    case 'search-and-replace':
      // no mask: the object to replace is segmented from search_prompt
      return { ...BASE, mask: null, outputFormats: ALL_FORMATS, background: ['opaque'], promptRequired: true };
    case 'remove-background':
      return { ...BASE, mask: null, outputFormats: ['png', 'webp'], background: ['transparent', 'opaque'], promptRequired: false };
  }
}

/**
 * What a generate endpoint honours: no input image, a ratio for `size`, its
 * formats (sd3 makes jpeg and png; the gateway converts to webp), 'opaque'
 * (a generated picture is), nothing else.
 */
export function generateCapabilities(endpoint: GenerateEndpoint): Capabilities {
  return {
    ...BASE,
    maxImages: 0,
    mask: null,
    sizes: { kind: 'aspect', ratios: GENERATE_RATIOS },
    outputFormats: endpoint === 'sd3' ? ['png', 'jpeg'] : ALL_FORMATS,
    background: ['opaque'],
    operations: ['generation'],
    promptRequired: true,
  };
}

export function stabilityCapabilities(model: string, req: EditRequest): Capabilities {
  const gen = generateTarget(model);
  if (gen) return generateCapabilities(gen.endpoint);
  const chosen = endpointFor(model, req);
  if (chosen.endpoint === null) {
    if (chosen.unknown) {
      // a configuration mistake, not the client's: nothing is refused here, the call fails as 'unavailable'
      return { ...BASE, mask: 'white', outputFormats: ALL_FORMATS, background: ['transparent', 'opaque'], sizes: { kind: 'exact', sizes: 'free' }, quality: ['low', 'medium', 'high', 'standard'] };
    }
    return {
      ...endpointCapabilities('inpaint'),
      refusal: {
        param: 'mask',
        code: 'missing_required_parameter',
        message:
          "chooses a Stability edit by what the request holds and needs a mask (inpaint, or erase with a blank prompt) or background 'transparent' (remove-background); this request has neither.",
      },
    };
  }
  const caps = endpointCapabilities(chosen.endpoint);
  if (chosen.endpoint === 'search-and-replace' && !splitSearchPrompt(req.prompt)) {
    return {
      ...caps,
      refusal: {
        param: 'prompt',
        code: 'invalid_value',
        message:
          "is Stability's search-and-replace, which must be told what to replace: write the prompt as 'replace <what to find> with <what to put there>' (quote the first part if it contains ' with ').",
      },
    };
  }
  return caps;
}

/** Things the client should know before the answer: parts of its request an endpoint has no field for. */
export function stabilityPreflight(model: string, req: EditRequest): string[] {
  const chosen = endpointFor(model, req);
  if (chosen.endpoint === 'erase' && !isBlank(req.prompt)) return ['Stability erase takes no prompt: the masked area was erased and the prompt not sent'];
  if (chosen.endpoint === 'remove-background') return ['Stability remove-background takes no prompt: the background was removed and the prompt not sent'];
  return [];
}

/**
 * Operator settings (`params` in the provider's config) for fields OpenAI
 * has no name for, sent to the endpoints that take them. Stability's ranges.
 */
const PARAM_FIELDS: Record<string, { endpoints: ReadonlyArray<Endpoint | GenerateEndpoint>; check: (v: unknown) => boolean; what: string }> = {
  negative_prompt: { endpoints: ['inpaint', 'search-and-replace', 'core', 'ultra', 'sd3'], check: (v) => typeof v === 'string' && v.length >= 1 && v.length <= 10_000, what: 'a string of 1 to 10000 characters' },
  style_preset: {
    endpoints: ['inpaint', 'search-and-replace', 'core'],
    check: (v) =>
      typeof v === 'string' &&
      ['enhance', 'anime', 'photographic', 'digital-art', 'comic-book', 'fantasy-art', 'line-art', 'analog-film', 'neon-punk', 'isometric', 'low-poly', 'origami', 'modeling-compound', 'cinematic', '3d-model', 'pixel-art', 'tile-texture'].includes(v),
    what: 'one of Stability\'s style presets (photographic, cinematic, …)',
  },
  // inpaint allows 0-100, erase and search-and-replace 0-20: the narrower range for all
  grow_mask: { endpoints: ['inpaint', 'erase', 'search-and-replace'], check: (v) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 20, what: 'an integer from 0 to 20' },
};

/** The operator's `params`, checked: a list of problems (empty when fine). */
export function checkParams(params: Record<string, unknown>): string[] {
  const problems: string[] = [];
  for (const [k, v] of Object.entries(params)) {
    const f = PARAM_FIELDS[k];
    if (!f) problems.push(`params.${k} is not a Stability edit field the gateway sets (${Object.keys(PARAM_FIELDS).join(', ')})`);
    else if (!f.check(v)) problems.push(`params.${k} must be ${f.what}`);
  }
  return problems;
}

export interface StabilityRequest {
  endpoint: Endpoint;
  /** under baseUrl */
  path: string;
  headers: Record<string, string>;
  body: MultipartBody;
}

/** The one request of a call. `image` is the first input image, as uploaded. */
export function editRequest(call: ProviderCall, config: Pick<ProviderConfig, 'apiKey' | 'params'>, endpoint: Endpoint, image: PreparedImage): StabilityRequest {
  const req = call.request;
  const body = new MultipartBody();
  body.file('image', image, 'image');
  if (endpoint === 'inpaint' || endpoint === 'erase') {
    if (call.mask) body.file('mask', call.mask, 'mask');
  }
  if (endpoint === 'inpaint') body.field('prompt', req.prompt);
  if (endpoint === 'search-and-replace') {
    // capabilities refused any other prompt before this call was made
    const split = splitSearchPrompt(req.prompt)!;
    body.field('prompt', split.prompt);
    body.field('search_prompt', split.search);
  }
  addParams(body, config, endpoint);
  if (endpoint !== 'remove-background') body.field('seed', stabilitySeed(call.seed));
  body.field('output_format', call.outputFormat);
  return { endpoint, path: `/v2beta/stable-image/edit/${endpoint}`, headers: requestHeaders(config, req), body };
}

const stabilitySeed = (seed: number): number => Math.min(MAX_SEED, Math.max(0, Math.trunc(seed)));

function addParams(body: MultipartBody, config: Pick<ProviderConfig, 'params'>, endpoint: Endpoint | GenerateEndpoint): void {
  for (const [k, v] of Object.entries(config.params)) {
    if (PARAM_FIELDS[k]?.endpoints.includes(endpoint)) body.field(k, v as string | number);
  }
}

function requestHeaders(config: Pick<ProviderConfig, 'apiKey'>, req: EditRequest): Record<string, string> {
  const headers: Record<string, string> = { accept: 'image/*', 'stability-client-id': 'imagegate' };
  if (config.apiKey) headers.authorization = `Bearer ${config.apiKey}`;
  // OpenAI's `user` is Stability's end-user id; a header value must be plain ASCII
  if (req.user !== null) headers['stability-client-user-id'] = encodeURIComponent(req.user).slice(0, 256);
  return headers;
}

export interface StabilityGenerateRequest {
  endpoint: GenerateEndpoint;
  path: string;
  headers: Record<string, string>;
  body: MultipartBody;
}

/**
 * The one request of a generation call: the prompt, the sd3 model when the
 * deployment names one, the nearest ratio when a size is asked, the
 * operator's params the endpoint takes, the seed and the format. sd3's
 * `mode` is left at its default, text-to-image.
 */
export function generateRequest(call: ProviderCall, config: Pick<ProviderConfig, 'apiKey' | 'params'>, target: GenerateTarget): StabilityGenerateRequest {
  const req = call.request;
  const body = new MultipartBody();
  body.field('prompt', req.prompt);
  if (target.sd3Model) body.field('model', target.sd3Model);
  if (req.size !== 'auto') body.field('aspect_ratio', nearestRatio(req.size, GENERATE_RATIOS));
  addParams(body, config, target.endpoint);
  body.field('seed', stabilitySeed(call.seed));
  body.field('output_format', call.outputFormat);
  return { endpoint: target.endpoint, path: `/v2beta/stable-image/generate/${target.endpoint}`, headers: requestHeaders(config, req), body };
}

interface StabilityErrorBody {
  id?: unknown;
  name?: unknown;
  errors?: unknown;
  message?: unknown;
}

/** `{"id","name","errors":[…]}` as its name and one line of text. */
export function readErrorBody(text: string): { name: string | null; message: string } {
  let j: StabilityErrorBody;
  try {
    j = JSON.parse(text) as StabilityErrorBody;
  } catch {
    return { name: null, message: excerpt(text, 200) };
  }
  if (!j || typeof j !== 'object') return { name: null, message: excerpt(text, 200) };
  const name = typeof j.name === 'string' && j.name !== '' ? j.name : null;
  const errors = Array.isArray(j.errors) ? j.errors.filter((e): e is string => typeof e === 'string') : [];
  const message = errors.length > 0 ? errors.join('; ') : typeof j.message === 'string' ? j.message : name ?? '';
  return { name, message };
}

/** "…, and have been timed out for 60 seconds." → 60000 */
export function rateLimitHintMs(message: string): number | null {
  const m = /timed out for (\d+(?:\.\d+)?) ?(seconds?|secs?|s|minutes?|mins?)\b/i.exec(message);
  if (!m) return null;
  const n = Number(m[1]);
  return Math.round(n * (/^m/i.test(m[2]) ? 60_000 : 1000));
}

export function classifyError(status: number, bodyText: string, headers: Record<string, string>): UpstreamError {
  const { name, message } = readErrorBody(bodyText);
  const text = message || name || '';
  const labelled = name && message && !message.startsWith(name) ? `${name}: ${message}` : text;
  if (status === 403 && (name === 'content_moderation' || /moderation/i.test(text))) {
    return moderated(message || 'the request was flagged by the content moderation system', status);
  }
  if (status === 422 && name === 'public_figure') return moderated(message || 'the request depicts a public figure', status);
  // a Retry-After header, should one come, wins over the words
  const hint = status === 429 && retryAfterMs(headers) === null ? rateLimitHintMs(text) : null;
  return httpFailure(status, labelled, headers, hint === null ? {} : { retryAfterMs: hint });
}

const IMAGE_TYPES = /^image\/(png|jpeg|webp)\b/i;

/** The image of a 200 answer, raw bytes or JSON; a blurred one is a moderation refusal. */
export function parseEditResponse(status: number, headers: Record<string, string>, body: Buffer): Buffer {
  if (status !== 200) throw classifyError(status, body.toString('utf8'), headers);
  const type = headers['content-type'] ?? '';
  if (/^application\/json\b/i.test(type)) {
    let j: { image?: unknown; finish_reason?: unknown };
    try {
      j = JSON.parse(body.toString('utf8')) as typeof j;
    } catch (e) {
      throw bad200(`HTTP 200 with a body that is not JSON (${type})`, e);
    }
    if (!j || typeof j !== 'object') throw bad200('the JSON answer is not an object');
    checkFinish(typeof j.finish_reason === 'string' ? j.finish_reason : null);
    if (typeof j.image !== 'string') throw bad200('the JSON answer has no "image"');
    try {
      return decodeB64(j.image, 'image');
    } catch (e) {
      throw bad200('the JSON answer\'s "image" is not base64', e);
    }
  }
  checkFinish(headers['finish-reason'] ?? null);
  if (!IMAGE_TYPES.test(type)) throw bad200(`HTTP 200 with content-type ${type || 'none'}, not an image`);
  if (body.length === 0) throw bad200('HTTP 200 with an empty body');
  return body;
}

/** A 200 that is not Stability's answer: retried like any malformed body, with the status the log shows. */
function bad200(what: string, cause?: unknown): UpstreamError {
  const e = malformed(what, cause);
  return new UpstreamError({ kind: e.kind, status: 200, reason: e.message, cause });
}

function checkFinish(reason: string | null): void {
  if (reason !== null && reason.trim().toUpperCase() === 'CONTENT_FILTERED') {
    throw moderated('the output was blurred by the provider\'s content filter (finish-reason: CONTENT_FILTERED)', 200);
  }
}
