/**
 * AUTOMATIC1111 / Forge `POST /sdapi/v1/img2img` (provider-apis.md §8), and
 * `POST /sdapi/v1/txt2img` for generations. Pure translation: the JSON body
 * of one call, the answer's images and its `info` (a JSON string), errors
 * classified.
 *
 * The decisions, documented once here:
 * - The mask is sent as the pipeline's 'white' form (an L-mode PNG, white =
 *   repaint) with `inpainting_mask_invert: 0`. Never the client's RGBA mask:
 *   A1111 reads a non-opaque RGBA mask by its alpha with alpha > 128 =
 *   repaint, the inverse of OpenAI's.
 * - Size: the requested one, or the first image's for 'auto' (1024x1024
 *   for a generation, which has none), each side rounded to the nearest
 *   multiple of 8 (at least 64), since A1111 works on a latent an eighth of
 *   the size; the gateway resizes back to an exact requested size.
 * - A generation is a txt2img body: the same prompt, size, batch, seed and
 *   checkpoint; `params` reach it too, less the fields only img2img has
 *   (resize_mode, mask_blur, inpainting_fill, …), which txt2img would
 *   silently ignore.
 * - n → `batch_size` (up to 4 per call; the pipeline splits more), one
 *   `n_iter`; seed → `seed` (A1111 numbers the batch seed, seed+1, …).
 * - The deployment's model → `override_settings.sd_model_checkpoint`,
 *   unless it is `default` (whatever the server has loaded). A1111 loads
 *   another checkpoint without a word when the named one is missing; the
 *   answer's `info.sd_model_name` tells, and a mismatch fails the attempt
 *   as 'unavailable' rather than passing off another model's images.
 * - `params` (the provider's config) is merged into every body first, so
 *   it can set anything else (steps, sampler_name, denoising_strength,
 *   negative_prompt, inpainting_fill, override_settings, …) but never the
 *   fields that carry the request: init_images, mask,
 *   inpainting_mask_invert, prompt, width, height, batch_size, n_iter,
 *   seed, send_images, save_images, include_init_images; its
 *   override_settings are kept except sd_model_checkpoint when the
 *   deployment names one.
 * - Output format: PNG (A1111's `samples_format` is a server setting that
 *   `override_settings` cannot change for the API's encoding, which runs
 *   after the overrides are restored); the pipeline converts.
 */
import type { ProviderConfig } from '../../config/index.js';
import type { Size } from '../../types.js';
import { excerpt, httpFailure, malformed, UpstreamError } from '../errors.js';
import type { Capabilities, ProviderCall } from '../types.js';

export const MAX_BATCH = 4;

export function a1111Capabilities(): Capabilities {
  return {
    maxImages: 1,
    mask: 'white',
    sizes: { kind: 'exact', sizes: 'free' },
    outputFormats: ['png'],
    outputCompression: false,
    background: [],
    quality: [],
    inputFidelity: false,
    moderation: false,
    partialImages: false,
    maxImagesPerCall: MAX_BATCH,
    mode: 'sync',
    // generations through /sdapi/v1/txt2img
    operations: ['edit', 'generation'],
  };
}

const to8 = (v: number): number => Math.max(64, Math.round(v / 8) * 8);

/** a generation's size for 'auto': no image to follow */
export const GENERATION_AUTO_SIZE: Size = { width: 1024, height: 1024 };

export function targetSize(call: ProviderCall): Size {
  const s = call.request.size !== 'auto' ? call.request.size : (call.request.images[0] ?? GENERATION_AUTO_SIZE);
  return { width: to8(s.width), height: to8(s.height) };
}

/** The img2img fields txt2img does not have: `params` written for edits must not reach a generation. */
export const IMG2IMG_ONLY = [
  'init_images',
  'resize_mode',
  'image_cfg_scale',
  'mask',
  'mask_blur',
  'mask_blur_x',
  'mask_blur_y',
  'mask_round',
  'inpainting_fill',
  'inpaint_full_res',
  'inpaint_full_res_padding',
  'inpainting_mask_invert',
  'initial_noise_multiplier',
  'latent_mask',
  'include_init_images',
] as const;

/** The txt2img body of one generation call. */
export function txt2imgBody(call: ProviderCall, params: Record<string, unknown>): Record<string, unknown> {
  const body = callBody(call, params, {});
  for (const k of IMG2IMG_ONLY) delete body[k];
  return body;
}

/** The fields that carry the request; `params` cannot set them. */
export const OWN_FIELDS = [
  'init_images',
  'mask',
  'inpainting_mask_invert',
  'prompt',
  'width',
  'height',
  'batch_size',
  'n_iter',
  'seed',
  'send_images',
  'save_images',
  'include_init_images',
] as const;

export const isDefaultModel = (model: string): boolean => model === '' || model === 'default';

/** The img2img body of one call; images arrive as raw base64 (no data: prefix). */
export function img2imgBody(call: ProviderCall, params: Record<string, unknown>, image: Buffer, mask: Buffer | null): Record<string, unknown> {
  const body = callBody(call, params, { init_images: [image.toString('base64')], include_init_images: false });
  if (mask) {
    body.mask = mask.toString('base64');
    body.inpainting_mask_invert = 0;
  } else {
    delete body.mask;
    delete body.inpainting_mask_invert;
  }
  return body;
}

/**
 * What txt2img and img2img bodies share: the operator's `params`, then the
 * call's own fields over them (`own`, the prompt, size, batch, seed), and the
 * checkpoint in `override_settings` beside the operator's overrides.
 */
function callBody(call: ProviderCall, params: Record<string, unknown>, own: Record<string, unknown>): Record<string, unknown> {
  const { width, height } = targetSize(call);
  const body: Record<string, unknown> = { ...params };
  const overrides = params.override_settings && typeof params.override_settings === 'object' && !Array.isArray(params.override_settings)
    ? { ...(params.override_settings as Record<string, unknown>) }
    : {};
  if (!isDefaultModel(call.model)) overrides.sd_model_checkpoint = call.model;
  Object.assign(body, own, {
    prompt: call.request.prompt,
    width,
    height,
    batch_size: call.n,
    n_iter: 1,
    seed: call.seed,
    send_images: true,
    save_images: false,
  });
  if (Object.keys(overrides).length > 0) body.override_settings = overrides;
  else delete body.override_settings;
  return body;
}

/** Basic credentials from `apiKey` written as `user:pass` (A1111's --api-auth). */
export function authHeaders(config: Pick<ProviderConfig, 'apiKey'>): Record<string, string> {
  return config.apiKey ? { authorization: `Basic ${Buffer.from(config.apiKey, 'utf8').toString('base64')}` } : {};
}

export interface Img2ImgAnswer {
  images: Buffer[];
  info: Record<string, unknown> | null;
}

const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

function decodeImage(v: unknown, i: number): Buffer {
  if (typeof v !== 'string' || v.length === 0) throw malformed(`images[${i}] is not a base64 string`);
  const s = v.startsWith('data:') ? v.slice(v.indexOf(',') + 1) : v;
  if (s.length % 4 === 1 || !B64.test(s.slice(0, 1000)) || !B64.test(s.slice(-1000))) throw malformed(`images[${i}] is not base64`);
  return Buffer.from(s, 'base64');
}

/**
 * `{images:[b64…], parameters, info:"<JSON>"}`. Only the first `n` images are
 * the batch: extensions such as ControlNet append their own (detected maps).
 */
export function parseImg2Img(json: unknown, n: number): Img2ImgAnswer {
  const j = json as { images?: unknown; info?: unknown };
  if (!j || typeof j !== 'object' || !Array.isArray(j.images)) throw malformed('no "images" array in the answer');
  if (j.images.length < n) throw malformed(`the answer has ${j.images.length} image${j.images.length === 1 ? '' : 's'}, ${n} were asked`);
  const images = j.images.slice(0, n).map(decodeImage);
  let info: Record<string, unknown> | null = null;
  if (typeof j.info === 'string') {
    try {
      const parsed: unknown = JSON.parse(j.info);
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) info = parsed as Record<string, unknown>;
    } catch {
      info = null; // info is informative; the images are the answer
    }
  }
  return { images, info };
}

/** A checkpoint as A1111 names it in different places: `dir/name.safetensors [hash]` → `name`. */
export function checkpointKey(name: string): string {
  return name
    .replace(/\s*\[[0-9a-f]+\]\s*$/i, '')
    .split(/[\\/]/)
    .pop()!
    .replace(/\.(safetensors|ckpt|pt|pth|bin|gguf)$/i, '')
    .trim()
    .toLowerCase();
}

/** Null when the checkpoint that ran is the one asked (or the answer does not say); else why not. */
export function checkpointMismatch(model: string, info: Record<string, unknown> | null): string | null {
  if (isDefaultModel(model) || !info) return null;
  const ran = typeof info.sd_model_name === 'string' ? info.sd_model_name : null;
  const hash = typeof info.sd_model_hash === 'string' ? info.sd_model_hash.toLowerCase() : null;
  if (!ran) return null;
  const asked = model.trim();
  // a checkpoint may be named by its short or full hash
  if (/^[0-9a-f]{8,64}$/i.test(asked) && hash && (asked.toLowerCase().startsWith(hash) || hash.startsWith(asked.toLowerCase()))) return null;
  if (checkpointKey(asked) === checkpointKey(ran)) return null;
  return `the server ran checkpoint '${ran}' instead of '${asked}' (is it installed?)`;
}

interface ValidationItem {
  loc?: unknown;
  msg?: unknown;
}

/** Failures that a retry cannot mend, though A1111 answers them 500. */
const DETERMINISTIC_500 = /invalid encoded image|invalid image url|requests not allowed|request to local resource not allowed|invalid image format/i;
const OUT_OF_MEMORY = /out of memory|outofmemoryerror/i;

/**
 * A1111's two error shapes: FastAPI's 422 `{"detail":[{loc,msg,type}]}` for a
 * body that does not fit the model (rejected), and its middleware's
 * `{"error","detail","body","errors"}` with the exception's status: 401
 * credentials, 404 "Model/Sampler/Init image not found" (the deployment's
 * configuration: unavailable), 422 a script (rejected), 500 either an input
 * it cannot decode (rejected: classified by its text) or a failure while
 * generating such as CUDA out of memory (retryable).
 */
export function classifyError(status: number, bodyText: string, headers: Record<string, string>): UpstreamError {
  let message = '';
  try {
    const body = JSON.parse(bodyText) as { detail?: unknown; error?: unknown; errors?: unknown };
    if (Array.isArray(body.detail)) {
      message = (body.detail as ValidationItem[])
        .map((d) => {
          const loc = Array.isArray(d?.loc) ? d.loc.filter((p) => p !== 'body').join('.') : '';
          return `${loc ? `${loc}: ` : ''}${typeof d?.msg === 'string' ? d.msg : 'invalid'}`;
        })
        .join('; ');
    } else {
      const detail = typeof body.detail === 'string' ? body.detail : '';
      const errors = typeof body.errors === 'string' ? body.errors : '';
      const error = typeof body.error === 'string' ? body.error : '';
      message = detail || errors || error;
      if (error && detail && error !== 'HTTPException') message = `${error}: ${detail}`;
    }
  } catch {
    message = excerpt(bodyText, 200);
  }
  if (status === 500 && DETERMINISTIC_500.test(message) && !OUT_OF_MEMORY.test(message)) {
    return httpFailure(status, message, headers, { kind: 'rejected' });
  }
  return httpFailure(status, message, headers);
}
