/**
 * OpenAI's own images API, and the two that speak it: Azure OpenAI (a
 * deployment path, `api-version`, an `api-key` header) and any
 * OpenAI-compatible host. Pure translation: the neutral call to a multipart
 * body and a URL, the JSON or event answer back, errors classified.
 */
import type { ProviderConfig } from '../../config/index.js';
import { isValidFreeSize } from '../../contract/models.js';
import type { Operation, Size, Usage } from '../../types.js';
import { nearestSize } from '../aspect.js';
import { excerpt, httpFailure, malformed, moderated, UpstreamError } from '../errors.js';
import { MultipartBody } from '../multipart.js';
import type { Capabilities, PreparedImage, ProviderCall } from '../types.js';

export type OpenAiFlavour = 'openai' | 'azure-openai' | 'openai-compatible';

const GPT_SIZES: Size[] = [
  { width: 1024, height: 1024 },
  { width: 1536, height: 1024 },
  { width: 1024, height: 1536 },
];
const DALLE_SIZES: Size[] = [
  { width: 256, height: 256 },
  { width: 512, height: 512 },
  { width: 1024, height: 1024 },
];

export const isDalleModel = (model: string): boolean => /^dall-e/i.test(model);
/** gpt-image-2 takes free sizes; the 1.x models and mini their three. */
const isFreeSizeModel = (model: string): boolean => /^gpt-image-2/i.test(model);
/** input_fidelity: gpt-image-1 and 1.5 (not mini, not 2, not DALL·E) */
const takesFidelity = (model: string): boolean => /^(gpt-image-1(\.5)?|gpt-image-1-all|chatgpt-image)/i.test(model) && !/mini/i.test(model);

const DALLE3_SIZES: Size[] = [
  { width: 1024, height: 1024 },
  { width: 1792, height: 1024 },
  { width: 1024, height: 1792 },
];

export function openAiCapabilities(flavour: OpenAiFlavour, model: string): Capabilities {
  if (isDalleModel(model)) {
    const three = /^dall-e-3/i.test(model);
    return {
      maxImages: 1,
      mask: 'alpha',
      sizes: { kind: 'exact', sizes: three ? DALLE3_SIZES : DALLE_SIZES },
      outputFormats: ['png'],
      outputCompression: false,
      background: ['opaque'],
      quality: three ? ['standard', 'hd'] : ['standard'],
      inputFidelity: false,
      moderation: false,
      partialImages: false,
      maxImagesPerCall: 10,
      mode: 'sync',
      // DALL·E 3 only generates; DALL·E 2 also edits and makes variations
      operations: /^dall-e-3/i.test(model) ? ['generation'] : ['edit', 'generation', 'variation'],
    };
  }
  return {
    maxImages: 16,
    mask: 'alpha',
    sizes: { kind: 'exact', sizes: isFreeSizeModel(model) ? 'free' : GPT_SIZES },
    // Azure's schema lists png and jpeg only; the gateway converts to webp itself
    outputFormats: flavour === 'azure-openai' ? ['png', 'jpeg'] : ['png', 'jpeg', 'webp'],
    outputCompression: true,
    background: ['transparent', 'opaque'],
    quality: ['low', 'medium', 'high'],
    inputFidelity: takesFidelity(model),
    moderation: true,
    partialImages: true,
    maxImagesPerCall: 10,
    mode: 'sync',
    operations: ['edit', 'generation'],
  };
}

/** The size field: as asked when the model takes it, else the nearest it takes (the gateway resizes back). */
export function sizeField(call: ProviderCall, caps: Capabilities): string | null {
  const size = call.request.size;
  if (size === 'auto') return isDalleModel(call.model) ? null : 'auto';
  if (caps.sizes.kind !== 'exact') return null;
  if (caps.sizes.sizes === 'free') {
    const s = isValidFreeSize(size) ? size : nearestSize(size, GPT_SIZES);
    return `${s.width}x${s.height}`;
  }
  const s = nearestSize(size, caps.sizes.sizes);
  return `${s.width}x${s.height}`;
}

export interface OpenAiTarget {
  /** path under baseUrl, with query */
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  /** whether the multipart body names the model (not on Azure's deployment path) */
  sendsModel: boolean;
}

/** Azure's v1 API (`…/openai/v1`) takes OpenAI's paths and the deployment in `model`. */
const isAzureV1 = (baseUrl: string): boolean => /\/openai\/v1$/i.test(baseUrl);

export type OpenAiOp = 'edits' | 'generations' | 'variations' | 'models';

/** the images route of an operation */
export const OP_OF: Record<Operation, OpenAiOp> = { edit: 'edits', generation: 'generations', variation: 'variations' };

export function target(flavour: OpenAiFlavour, config: ProviderConfig, model: string, op: OpenAiOp): OpenAiTarget {
  const headers: Record<string, string> = {};
  const route = op === 'models' ? 'models' : `images/${op}`;
  if (flavour === 'azure-openai') {
    if (config.apiKey) headers['api-key'] = config.apiKey;
    if (isAzureV1(config.baseUrl)) return { path: `/${route}`, query: {}, headers, sendsModel: true };
    const path = op === 'models' ? '/openai/models' : `/openai/deployments/${encodeURIComponent(model)}/${route}`;
    return { path, query: { 'api-version': config.apiVersion }, headers, sendsModel: false };
  }
  if (config.apiKey) headers.authorization = `Bearer ${config.apiKey}`;
  if (flavour === 'openai') {
    if (config.organization) headers['openai-organization'] = config.organization;
    if (config.project) headers['openai-project'] = config.project;
  }
  return { path: `/${route}`, query: {}, headers, sendsModel: true };
}

/**
 * A generation's JSON body (OpenAI's CreateImageRequest): the edit's
 * parameters without images, plus DALL·E 3's style.
 */
export function generationBody(call: ProviderCall, caps: Capabilities, sendsModel: boolean): Record<string, unknown> {
  const req = call.request;
  const dalle = isDalleModel(call.model);
  const body: Record<string, unknown> = {};
  if (sendsModel) body.model = call.model;
  body.prompt = req.prompt;
  body.n = call.n;
  const size = sizeField(call, caps);
  if (size) body.size = size;
  if (req.quality !== 'auto') body.quality = req.quality;
  if (dalle) {
    body.response_format = 'b64_json';
    if (req.style !== null) body.style = req.style;
  } else {
    if (req.background !== 'auto') body.background = req.background;
    body.output_format = call.outputFormat;
    if (req.outputCompression !== null && call.outputFormat !== 'png') body.output_compression = req.outputCompression;
    if (req.moderation !== 'auto') body.moderation = req.moderation;
    if (req.stream) {
      body.stream = true;
      if (req.partialImages > 0) body.partial_images = req.partialImages;
    }
  }
  if (req.user !== null) body.user = req.user;
  return body;
}

/** A variation's multipart body (DALL·E 2's CreateImageVariationRequest). */
export function variationBody(call: ProviderCall, caps: Capabilities, sendsModel: boolean, image: PreparedImage): MultipartBody {
  const body = new MultipartBody();
  if (sendsModel) body.field('model', call.model);
  body.file('image', image, 'image');
  body.field('n', call.n);
  const size = sizeField(call, caps);
  if (size) body.field('size', size);
  body.field('response_format', 'b64_json');
  if (call.request.user !== null) body.field('user', call.request.user);
  return body;
}

/** The multipart body of one call. Arrays go as `image[]`, as the official SDKs send them. */
export function editBody(call: ProviderCall, caps: Capabilities, sendsModel: boolean, image: (i: number) => PreparedImage): MultipartBody {
  const req = call.request;
  const body = new MultipartBody();
  if (sendsModel) body.field('model', call.model);
  const dalle = isDalleModel(call.model);
  const many = req.images.length > 1;
  req.images.forEach((_, i) => body.file(many ? 'image[]' : 'image', image(i), `image${i}`));
  if (call.mask) body.file('mask', call.mask, 'mask');
  body.field('prompt', req.prompt);
  body.field('n', call.n);
  const size = sizeField(call, caps);
  if (size) body.field('size', size);
  if (req.quality !== 'auto') body.field('quality', req.quality);
  if (dalle) {
    // DALL·E answers URLs by default; the gateway wants the bytes (it hosts `url` answers itself)
    body.field('response_format', 'b64_json');
  } else {
    if (req.background !== 'auto') body.field('background', req.background);
    body.field('output_format', call.outputFormat);
    if (req.outputCompression !== null && call.outputFormat !== 'png') body.field('output_compression', req.outputCompression);
    if (req.inputFidelity !== null) body.field('input_fidelity', req.inputFidelity);
    if (req.moderation !== 'auto') body.field('moderation', req.moderation);
    if (req.stream) {
      body.field('stream', 'true');
      if (req.partialImages > 0) body.field('partial_images', req.partialImages);
    }
  }
  if (req.user !== null) body.field('user', req.user);
  return body;
}

interface ApiError {
  message?: unknown;
  type?: unknown;
  code?: unknown;
  param?: unknown;
  inner_error?: { code?: unknown };
  innererror?: { code?: unknown };
}

const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : null);

const MODERATION_CODES = new Set(['moderation_blocked', 'content_policy_violation', 'contentfilter', 'content_filter', 'responsibleaipolicyviolation']);

/** An error body (OpenAI's envelope, Azure's variant, or anything) as an UpstreamError. */
export function classifyError(status: number, bodyText: string, headers: Record<string, string>): UpstreamError {
  let err: ApiError = {};
  try {
    const parsed = JSON.parse(bodyText) as { error?: ApiError | string };
    if (parsed && typeof parsed.error === 'object' && parsed.error) err = parsed.error;
    else if (parsed && typeof parsed.error === 'string') err = { message: parsed.error };
  } catch {
    err = { message: excerpt(bodyText, 200) };
  }
  const code = str(err.code);
  const inner = str(err.inner_error?.code) ?? str(err.innererror?.code);
  const message = str(err.message) ?? '';
  const codes = [code, inner, str(err.type)].filter((c): c is string => c !== null).map((c) => c.toLowerCase());
  if (status === 400 && codes.some((c) => MODERATION_CODES.has(c) || c === 'image_generation_user_error' && /safety/i.test(message))) {
    return moderated(message || 'the request was refused by the safety system', status);
  }
  // an exhausted quota is the account's state, not a passing rate limit: fall back, do not retry
  if (status === 429 && code === 'insufficient_quota') return httpFailure(status, message, headers, { kind: 'unavailable' });
  const shouldRetry = headers['x-should-retry'];
  const extra = shouldRetry === 'true' ? { kind: 'retryable' as const } : {};
  return httpFailure(status, message, headers, { ...extra, code: status < 500 ? code : null, param: str(err.param) });
}

interface ImagesJson {
  data?: Array<{ b64_json?: unknown; url?: unknown }>;
  usage?: unknown;
  size?: unknown;
  quality?: unknown;
  background?: unknown;
  output_format?: unknown;
}

const n = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.round(v) : null);

/** Usage in OpenAI's shape, when the answer carries a well-formed one. */
export function readUsage(u: unknown): Usage | null {
  if (!u || typeof u !== 'object') return null;
  const o = u as Record<string, unknown>;
  const input = n(o.input_tokens);
  const output = n(o.output_tokens);
  if (input === null || output === null) return null;
  const d = (o.input_tokens_details ?? {}) as Record<string, unknown>;
  const text = n(d.text_tokens) ?? 0;
  const image = n(d.image_tokens) ?? Math.max(0, input - text);
  return {
    input_tokens: input,
    input_tokens_details: { text_tokens: text, image_tokens: image },
    output_tokens: output,
    total_tokens: n(o.total_tokens) ?? input + output,
  };
}

export function readSize(v: unknown): Size | undefined {
  const m = typeof v === 'string' ? /^(\d{1,5})x(\d{1,5})$/.exec(v) : null;
  return m ? { width: Number(m[1]), height: Number(m[2]) } : undefined;
}

export interface ParsedImages {
  /** base64 images decoded (with the text they came as, when the answer can reuse it), or URLs to download */
  images: Array<{ bytes: Buffer; base64?: string } | { url: string }>;
  usage: Usage | null;
  size?: Size;
  quality?: 'low' | 'medium' | 'high';
  background?: 'transparent' | 'opaque';
}

const B64 = /^[A-Za-z0-9+/]+={0,2}$/;

export function decodeB64(v: string, what: string): Buffer {
  const s = v.startsWith('data:') ? v.slice(v.indexOf(',') + 1) : v;
  if (s.length === 0 || s.length % 4 === 1 || !B64.test(s.slice(0, 1000)) || !B64.test(s.slice(-1000))) throw malformed(`${what} is not base64`);
  return Buffer.from(s, 'base64');
}

/**
 * The base64 text as sent, when it is plain standard base64 of exactly these
 * bytes: no data: prefix, nothing the decoder skipped (line breaks, stray
 * characters: any would leave fewer bytes than the length promises) and no
 * URL-safe letters. Only such text is reused in an answer instead of
 * encoding the bytes again; it needs no escaping in JSON.
 */
export function reusableBase64(v: string, bytes: Buffer): string | undefined {
  const s = v.startsWith('data:') ? v.slice(v.indexOf(',') + 1) : v;
  const padding = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
  if (s.length % 4 !== 0 || bytes.length !== (s.length / 4) * 3 - padding) return undefined;
  if (s.includes('-') || s.includes('_')) return undefined;
  return s;
}

function decodedImage(v: string, what: string): { bytes: Buffer; base64?: string } {
  const bytes = decodeB64(v, what);
  const base64 = reusableBase64(v, bytes);
  return base64 === undefined ? { bytes } : { bytes, base64 };
}

export function parseImagesResponse(json: unknown): ParsedImages {
  const j = json as ImagesJson;
  if (!j || typeof j !== 'object' || !Array.isArray(j.data)) throw malformed('no "data" array in the images answer');
  const images = j.data.map((d, i) => {
    if (d && typeof d.b64_json === 'string') return decodedImage(d.b64_json, `data[${i}].b64_json`);
    if (d && typeof d.url === 'string') return { url: d.url };
    throw malformed(`data[${i}] has neither b64_json nor url`);
  });
  const q = j.quality;
  const bg = j.background;
  return {
    images,
    usage: readUsage(j.usage),
    size: readSize(j.size),
    quality: q === 'low' || q === 'medium' || q === 'high' ? q : undefined,
    background: bg === 'transparent' || bg === 'opaque' ? bg : undefined,
  };
}

/** One streamed event: a partial, a completed image, or an error. */
export type StreamEvent =
  | { kind: 'partial'; bytes: Buffer; partialIndex: number }
  | { kind: 'completed'; bytes: Buffer; base64?: string; usage: Usage | null; size?: Size; quality?: ParsedImages['quality']; background?: ParsedImages['background'] }
  | { kind: 'error'; error: UpstreamError }
  | { kind: 'other' };

export function parseStreamEvent(data: string): StreamEvent {
  if (data === '[DONE]') return { kind: 'other' };
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(data) as Record<string, unknown>;
  } catch (e) {
    throw malformed('an event of the stream is not JSON', e);
  }
  if (j.error) {
    const body = JSON.stringify({ error: j.error });
    const e = j.error as ApiError;
    const code = str(e.code)?.toLowerCase() ?? '';
    const status = MODERATION_CODES.has(code) ? 400 : 500;
    return { kind: 'error', error: classifyError(status, body, {}) };
  }
  const type = typeof j.type === 'string' ? j.type : '';
  if (/\.partial_image$/.test(type) && typeof j.b64_json === 'string') {
    return { kind: 'partial', bytes: decodeB64(j.b64_json, 'a partial image'), partialIndex: n(j.partial_image_index) ?? 0 };
  }
  if (/\.completed$/.test(type) && typeof j.b64_json === 'string') {
    const q = j.quality;
    const bg = j.background;
    return {
      kind: 'completed',
      ...decodedImage(j.b64_json, 'a completed image'),
      usage: readUsage(j.usage),
      size: readSize(j.size),
      quality: q === 'low' || q === 'medium' || q === 'high' ? q : undefined,
      background: bg === 'transparent' || bg === 'opaque' ? bg : undefined,
    };
  }
  return { kind: 'other' };
}
