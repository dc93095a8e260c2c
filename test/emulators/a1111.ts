/**
 * AUTOMATIC1111's `/sdapi/v1/*` API as the real server answers and refuses
 * (provider-apis.md §8, §10.8; modules/api/api.py and models.py):
 * - `--api-auth user:pass`: HTTP Basic on every route, 401 through the API's
 *   exception middleware ("Not authenticated" / "Incorrect username or
 *   password");
 * - `POST /sdapi/v1/img2img` JSON, validated like its generated pydantic
 *   model: FastAPI's 422 `{"detail":[{loc,msg,type}]}` for a body that is not
 *   JSON or a field of the wrong type (pydantic 1's coercions: "512" is an
 *   int, "abc" is not). The model is created without `extra='forbid'`, so
 *   pydantic IGNORES unknown top-level fields, and so does this emulator
 *   (it records them in `ignored`, so a test can still see a misspelling);
 * - images as raw base64 or a `data:image/…;base64,` URL (an http URL is
 *   refused: requests disabled); an undecodable one is the middleware's
 *   500 "Invalid encoded image"; no init image is 404 "Init image not
 *   found"; an unknown sampler 404 "Sampler not found"; an unknown script
 *   422;
 * - the mask read by A1111's own `create_binary_mask`: an RGBA mask whose
 *   alpha is not all 255 is read by its ALPHA, alpha > 128 = repaint (the
 *   inverse of OpenAI's convention); anything else by its luminance,
 *   > 128 = repaint; then `inpainting_mask_invert`. The binary mask it
 *   derived is recorded, so a wrongly polarised mask shows in tests;
 * - an unknown `override_settings.sd_model_checkpoint` is silently replaced
 *   by the loaded checkpoint, as upstream's select_checkpoint does (some
 *   builds answer 404 "Model not found": `unknownCheckpoint: '404'`);
 * - the answer `{images, parameters, info}` with `info` a JSON STRING,
 *   images raw base64 PNG, `X-Process-Time`; `extraImages` appends images
 *   after the batch the way ControlNet appends its detected maps.
 * - `POST /sdapi/v1/txt2img`: the txt2img model's fields (no init_images,
 *   mask or inpainting fields: those are ignored like any unknown field and
 *   recorded in `ignored`), the same checkpoint, sampler and script checks,
 *   the same answer. A missing prompt is not refused: A1111's model defaults
 *   it to "" (the gateway requires one before anything is sent).
 * The "generation" paints the repaint area of the resized init image with a
 * colour derived from each image's seed (seed, seed+1, …); txt2img paints
 * the whole picture with it.
 */
import crypto from 'node:crypto';
import type http from 'node:http';
import sharp from 'sharp';
import { EmulatorBase, sendJson, type Recorded } from './base.js';
import { decodeRgba, encodePng, paint, resizeGray, resizeRgba, type Gray } from './pixels.js';

export interface A1111EmulatorOptions {
  /** `--api-auth user:pass` */
  auth?: string;
  /** installed checkpoints, as titles `name.safetensors [hash]` */
  checkpoints?: string[];
  unknownCheckpoint?: 'fallback' | '404';
  /** images appended after the batch (an extension's extras) */
  extraImages?: number;
}

type FieldType = 'int' | 'float' | 'str' | 'bool' | 'dict' | 'list';

/** The img2img model's fields the emulator type-checks (a subset of the generated model; the rest are accepted as they come). */
const FIELDS: Record<string, FieldType> = {
  init_images: 'list',
  mask: 'str',
  prompt: 'str',
  negative_prompt: 'str',
  styles: 'list',
  seed: 'int',
  subseed: 'int',
  subseed_strength: 'float',
  seed_resize_from_h: 'int',
  seed_resize_from_w: 'int',
  sampler_name: 'str',
  sampler_index: 'str',
  scheduler: 'str',
  batch_size: 'int',
  n_iter: 'int',
  steps: 'int',
  cfg_scale: 'float',
  image_cfg_scale: 'float',
  width: 'int',
  height: 'int',
  restore_faces: 'bool',
  tiling: 'bool',
  do_not_save_samples: 'bool',
  do_not_save_grid: 'bool',
  denoising_strength: 'float',
  resize_mode: 'int',
  mask_blur: 'int',
  mask_blur_x: 'int',
  mask_blur_y: 'int',
  mask_round: 'bool',
  inpainting_fill: 'int',
  inpaint_full_res: 'bool',
  inpaint_full_res_padding: 'int',
  inpainting_mask_invert: 'int',
  initial_noise_multiplier: 'float',
  override_settings: 'dict',
  override_settings_restore_afterwards: 'bool',
  disable_extra_networks: 'bool',
  script_name: 'str',
  script_args: 'list',
  send_images: 'bool',
  save_images: 'bool',
  include_init_images: 'bool',
  alwayson_scripts: 'dict',
  force_task_id: 'str',
  infotext: 'str',
  firstpass_image: 'str',
  comments: 'dict',
  s_min_uncond: 'float',
  s_churn: 'float',
  s_tmax: 'float',
  s_tmin: 'float',
  s_noise: 'float',
  refiner_checkpoint: 'str',
  refiner_switch_at: 'float',
  hr_checkpoint_name: 'str',
};

/** The txt2img model's fields: the shared ones, less img2img's own, plus the hires-fix ones. */
const IMG2IMG_OWN = ['init_images', 'mask', 'image_cfg_scale', 'resize_mode', 'mask_blur', 'mask_blur_x', 'mask_blur_y', 'mask_round', 'inpainting_fill', 'inpaint_full_res', 'inpaint_full_res_padding', 'inpainting_mask_invert', 'initial_noise_multiplier', 'include_init_images'];
const TXT2IMG_FIELDS: Record<string, FieldType> = {
  ...Object.fromEntries(Object.entries(FIELDS).filter(([k]) => !IMG2IMG_OWN.includes(k))),
  eta: 'float',
  enable_hr: 'bool',
  firstphase_width: 'int',
  firstphase_height: 'int',
  hr_scale: 'float',
  hr_upscaler: 'str',
  hr_second_pass_steps: 'int',
  hr_resize_x: 'int',
  hr_resize_y: 'int',
  hr_sampler_name: 'str',
  hr_scheduler: 'str',
  hr_prompt: 'str',
  hr_negative_prompt: 'str',
};

const SAMPLERS = ['DPM++ 2M', 'DPM++ SDE', 'Euler a', 'Euler', 'LMS', 'Heun', 'DPM2', 'DDIM', 'UniPC'];

interface Detail {
  loc: Array<string | number>;
  msg: string;
  type: string;
}

/** pydantic 1's coercion of one value, or the error it raises. */
function coerce(type: FieldType, v: unknown): { ok: true; value: unknown } | { ok: false; msg: string; type: string } {
  if (v === null) return { ok: true, value: null }; // every field is Optional
  switch (type) {
    case 'int':
      if (typeof v === 'boolean') return { ok: true, value: v ? 1 : 0 };
      if (typeof v === 'number' && Number.isFinite(v)) return { ok: true, value: Math.trunc(v) };
      if (typeof v === 'string' && /^\s*[+-]?\d+\s*$/.test(v)) return { ok: true, value: Number(v) };
      return { ok: false, msg: 'value is not a valid integer', type: 'type_error.integer' };
    case 'float':
      if (typeof v === 'number' && Number.isFinite(v)) return { ok: true, value: v };
      if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return { ok: true, value: Number(v) };
      return { ok: false, msg: 'value is not a valid float', type: 'type_error.float' };
    case 'str':
      if (typeof v === 'string') return { ok: true, value: v };
      if (typeof v === 'number') return { ok: true, value: String(v) };
      return { ok: false, msg: 'str type expected', type: 'type_error.str' };
    case 'bool':
      if (typeof v === 'boolean') return { ok: true, value: v };
      if (v === 0 || v === 1) return { ok: true, value: v === 1 };
      if (typeof v === 'string' && /^(0|1|true|false|yes|no|on|off|t|f|y|n)$/i.test(v)) return { ok: true, value: /^(1|true|yes|on|t|y)$/i.test(v) };
      return { ok: false, msg: 'value could not be parsed to a boolean', type: 'type_error.bool' };
    case 'dict':
      if (v && typeof v === 'object' && !Array.isArray(v)) return { ok: true, value: v };
      return { ok: false, msg: 'value is not a valid dict', type: 'type_error.dict' };
    case 'list':
      if (Array.isArray(v)) return { ok: true, value: v };
      return { ok: false, msg: 'value is not a valid list', type: 'type_error.list' };
  }
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly name_ = 'HTTPException',
  ) {
    super(detail);
  }
}

export interface Img2ImgSeen {
  body: Record<string, unknown>;
  /** top-level fields pydantic ignored */
  ignored: string[];
  /** the binary mask create_binary_mask derived (255 = repaint), after inpainting_mask_invert; at the mask's own size */
  binaryMask: Gray | null;
  /** the checkpoint title that ran */
  checkpoint: string;
  seeds: number[];
}

export class A1111Emulator extends EmulatorBase {
  /** every batch image answered, in order (extras excluded): a client must get exactly these bytes */
  readonly emitted: Buffer[] = [];
  readonly edits: Img2ImgSeen[] = [];
  /** the txt2img calls (binaryMask always null) */
  readonly generations: Img2ImgSeen[] = [];
  readonly checkpoints: string[];
  loaded: string;

  constructor(readonly options: A1111EmulatorOptions = {}) {
    super((req, res) => this.serve(req, res));
    this.checkpoints = options.checkpoints ?? ['sd-v1-5-inpainting.safetensors [c6bbc15e32]', 'sdxl/juggernautXL_v9.safetensors [c9e3e68f89]'];
    this.loaded = this.checkpoints[0];
  }

  get baseUrl(): string {
    return this.url;
  }

  private fail(res: http.ServerResponse, e: ApiError): void {
    // api_middleware's handle_exception: the same four keys whatever the exception
    sendJson(res, e.status, { error: e.name_, detail: e.detail, body: '', errors: e.name_ === 'HTTPException' ? `${e.status}: ${e.detail}` : e.detail }, { 'x-process-time': '0.0012' });
  }

  private authorise(req: Recorded): void {
    if (!this.options.auth) return;
    const m = /^Basic (.+)$/i.exec(req.headers.authorization ?? '');
    if (!m) throw new ApiError(401, 'Not authenticated');
    const [user, ...rest] = Buffer.from(m[1], 'base64').toString('utf8').split(':');
    const [wantUser, ...wantRest] = this.options.auth.split(':');
    if (user !== wantUser || rest.join(':') !== wantRest.join(':')) throw new ApiError(401, 'Incorrect username or password');
  }

  private async serve(req: Recorded, res: http.ServerResponse): Promise<void> {
    const routes: Record<string, string> = { '/sdapi/v1/img2img': 'POST', '/sdapi/v1/txt2img': 'POST', '/sdapi/v1/sd-models': 'GET', '/sdapi/v1/options': 'GET' };
    if (!routes[req.path]) return sendJson(res, 404, { detail: 'Not Found' });
    if (routes[req.path] !== req.method) return sendJson(res, 405, { detail: 'Method Not Allowed' });
    try {
      this.authorise(req);
      if (req.path === '/sdapi/v1/sd-models') {
        return sendJson(
          res,
          200,
          this.checkpoints.map((title) => {
            const file = title.replace(/\s*\[.*\]$/, '');
            return { title, model_name: file.replace(/\.[^.]+$/, ''), hash: /\[(\w+)\]/.exec(title)?.[1] ?? null, sha256: null, filename: `/models/Stable-diffusion/${file}`, config: null };
          }),
        );
      }
      if (req.path === '/sdapi/v1/options') return sendJson(res, 200, { sd_model_checkpoint: this.loaded, samples_format: 'png', api_enable_requests: false });
      if (req.path === '/sdapi/v1/txt2img') await this.txt2img(req, res);
      else await this.img2img(req, res);
    } catch (e) {
      if (e instanceof ApiError) return this.fail(res, e);
      throw e;
    }
  }

  /** The checkpoint a name selects (title, file name, model name or hash), as checkpoint_aliases do. */
  private findCheckpoint(name: string): string | null {
    for (const title of this.checkpoints) {
      const file = title.replace(/\s*\[.*\]$/, '');
      const base = file.split('/').pop()!;
      const hash = /\[(\w+)\]/.exec(title)?.[1];
      if ([title, file, base, file.replace(/\.[^.]+$/, ''), base.replace(/\.[^.]+$/, ''), hash].includes(name)) return title;
    }
    return null;
  }

  private async decodeImage(encoding: unknown): Promise<Buffer> {
    if (typeof encoding !== 'string') throw new ApiError(500, `'${typeof encoding}' object has no attribute 'startswith'`, 'AttributeError');
    if (/^https?:\/\//.test(encoding)) throw new ApiError(500, 'Requests not allowed');
    let b64 = encoding;
    if (b64.startsWith('data:image/')) b64 = b64.split(';')[1]?.split(',')[1] ?? '';
    // Python's b64decode drops characters outside the alphabet, then PIL must recognise an image
    const bytes = Buffer.from(b64.replace(/[^A-Za-z0-9+/=]/g, ''), 'base64');
    try {
      await sharp(bytes).metadata();
    } catch {
      throw new ApiError(500, 'Invalid encoded image');
    }
    return bytes;
  }

  /** modules/processing.py create_binary_mask, with mask_round on. */
  private async binaryMask(bytes: Buffer): Promise<Gray> {
    const meta = await sharp(bytes).metadata();
    const { data, info } = await sharp(bytes).raw().toBuffer({ resolveWithObject: true });
    const n = info.width * info.height;
    const out = Buffer.alloc(n);
    // PIL's mode: palette images are 'P' and 2-channel ones 'LA', neither is 'RGBA'
    const rgba = !meta.isPalette && info.channels === 4;
    let alphaAllOpaque = true;
    if (rgba) for (let i = 0; i < n; i++) if (data[i * 4 + 3] !== 255) alphaAllOpaque = false;
    if (rgba && !alphaAllOpaque) {
      for (let i = 0; i < n; i++) out[i] = data[i * 4 + 3] > 128 ? 255 : 0;
    } else {
      const c = info.channels;
      for (let i = 0; i < n; i++) {
        const l = c >= 3 ? (data[i * c] * 299 + data[i * c + 1] * 587 + data[i * c + 2] * 114) / 1000 : data[i * c];
        out[i] = l > 128 ? 255 : 0;
      }
    }
    return { width: info.width, height: info.height, data: out };
  }

  /** FastAPI's parse of a body into the model's fields: null when it answered 422 */
  private parseBody(req: Recorded, res: http.ServerResponse, fields: Record<string, FieldType>): { body: Record<string, unknown>; ignored: string[] } | null {
    let raw: unknown;
    try {
      raw = JSON.parse(req.body.toString('utf8'));
    } catch (e) {
      sendJson(res, 422, { detail: [{ loc: ['body', 0], msg: (e as Error).message, type: 'value_error.jsondecode' }] });
      return null;
    }
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
      sendJson(res, 422, { detail: [{ loc: ['body'], msg: 'value is not a valid dict', type: 'type_error.dict' }] });
      return null;
    }
    const body: Record<string, unknown> = {};
    const ignored: string[] = [];
    const details: Detail[] = [];
    for (const [k, v] of Object.entries(raw)) {
      const type = fields[k];
      if (!type) {
        ignored.push(k);
        continue;
      }
      const c = coerce(type, v);
      if (c.ok) body[k] = c.value;
      else details.push({ loc: ['body', k], msg: c.msg, type: c.type });
    }
    if (details.length > 0) {
      sendJson(res, 422, { detail: details });
      return null;
    }
    return { body, ignored };
  }

  private checkpointOf(body: Record<string, unknown>): string {
    const overrides = (body.override_settings ?? {}) as Record<string, unknown>;
    if (typeof overrides.sd_model_checkpoint === 'string') {
      const found = this.findCheckpoint(overrides.sd_model_checkpoint);
      if (found) return found;
      if (this.options.unknownCheckpoint === '404') throw new ApiError(404, 'Model not found');
    }
    return this.loaded;
  }

  private async txt2img(req: Recorded, res: http.ServerResponse): Promise<void> {
    const parsed = this.parseBody(req, res, TXT2IMG_FIELDS);
    if (!parsed) return;
    const { body, ignored } = parsed;
    const checkpoint = this.checkpointOf(body);
    const sampler = (body.sampler_name as string | undefined) || (body.sampler_index as string | undefined) || 'Euler';
    if (!SAMPLERS.includes(sampler)) throw new ApiError(404, 'Sampler not found');
    if (body.script_name) throw new ApiError(422, `Script '${String(body.script_name)}' not found`);
    for (const name of Object.keys((body.alwayson_scripts ?? {}) as object)) throw new ApiError(422, `always on script ${name} not found`);
    const width = (body.width as number | undefined) ?? 512;
    const height = (body.height as number | undefined) ?? 512;
    const batch = ((body.batch_size as number | undefined) ?? 1) * ((body.n_iter as number | undefined) ?? 1);
    const seed = body.seed === undefined || body.seed === null || body.seed === -1 ? crypto.randomInt(0, 2 ** 31) : (body.seed as number);
    const seeds = Array.from({ length: batch }, (_, i) => seed + i);
    const blank = { width, height, data: Buffer.alloc(width * height * 4) };
    const out: Buffer[] = [];
    for (const s of seeds) out.push(await encodePng(paint(blank, null, s)));
    this.emitted.push(...out);
    this.generations.push({ body, ignored, binaryMask: null, checkpoint, seeds });
    const prompt = (body.prompt as string | undefined) ?? '';
    const name = checkpoint.replace(/\s*\[.*\]$/, '').split('/').pop()!.replace(/\.[^.]+$/, '');
    const hash = /\[(\w+)\]/.exec(checkpoint)?.[1] ?? null;
    const info = {
      prompt,
      all_prompts: seeds.map(() => prompt),
      seed,
      all_seeds: seeds,
      width,
      height,
      sampler_name: sampler,
      steps: (body.steps as number | undefined) ?? 50,
      batch_size: (body.batch_size as number | undefined) ?? 1,
      sd_model_name: name,
      sd_model_hash: hash,
      infotexts: seeds.map((s) => `${prompt}\nSteps: ${(body.steps as number) ?? 50}, Sampler: ${sampler}, Seed: ${s}, Size: ${width}x${height}, Model hash: ${hash}, Model: ${name}`),
      version: 'v1.10.1',
    };
    const parameters = { ...Object.fromEntries(Object.keys(TXT2IMG_FIELDS).map((k) => [k, null])), ...body };
    sendJson(res, 200, { images: out.map((b) => b.toString('base64')), parameters, info: JSON.stringify(info) }, { 'x-process-time': '0.9876' });
  }

  private async img2img(req: Recorded, res: http.ServerResponse): Promise<void> {
    const parsed = this.parseBody(req, res, FIELDS);
    if (!parsed) return;
    const { body, ignored } = parsed;
    const checkpoint = this.checkpointOf(body);
    const init = body.init_images as unknown[] | null | undefined;
    if (init === null || init === undefined) throw new ApiError(404, 'Init image not found');
    const maskBytes = body.mask ? await this.decodeImage(body.mask) : null;
    const sampler = (body.sampler_name as string | undefined) || (body.sampler_index as string | undefined) || 'Euler';
    if (!SAMPLERS.includes(sampler)) throw new ApiError(404, 'Sampler not found');
    if (body.script_name) throw new ApiError(422, `Script '${String(body.script_name)}' not found`);
    for (const name of Object.keys((body.alwayson_scripts ?? {}) as object)) throw new ApiError(422, `always on script ${name} not found`);
    if (init.length === 0) throw new ApiError(500, 'list index out of range', 'IndexError');
    const images = [];
    for (const i of init) images.push(await this.decodeImage(i));

    const width = (body.width as number | undefined) ?? 512;
    const height = (body.height as number | undefined) ?? 512;
    const batch = ((body.batch_size as number | undefined) ?? 1) * ((body.n_iter as number | undefined) ?? 1);
    const seed = body.seed === undefined || body.seed === null || body.seed === -1 ? crypto.randomInt(0, 2 ** 31) : (body.seed as number);
    let mask: Gray | null = null;
    if (maskBytes) {
      mask = await this.binaryMask(maskBytes);
      if (body.inpainting_mask_invert) for (let i = 0; i < mask.data.length; i++) mask.data[i] = 255 - mask.data[i];
    }
    const base = await resizeRgba((await decodeRgba(images[0])).image, width, height);
    const scaledMask = mask ? await resizeGray(mask, width, height) : null;
    const seeds = Array.from({ length: batch }, (_, i) => seed + i);
    const out: Buffer[] = [];
    for (const s of seeds) out.push(await encodePng(paint(base, scaledMask, s)));
    this.emitted.push(...out);
    this.edits.push({ body, ignored, binaryMask: mask, checkpoint, seeds });
    const extras: Buffer[] = [];
    for (let i = 0; i < (this.options.extraImages ?? 0); i++) extras.push(await encodePng(paint(base, null, 9999 + i)));

    const prompt = (body.prompt as string | undefined) ?? '';
    const name = checkpoint.replace(/\s*\[.*\]$/, '').split('/').pop()!.replace(/\.[^.]+$/, '');
    const hash = /\[(\w+)\]/.exec(checkpoint)?.[1] ?? null;
    const infotext = (s: number) => `${prompt}\nSteps: ${(body.steps as number) ?? 50}, Sampler: ${sampler}, CFG scale: 7.0, Seed: ${s}, Size: ${width}x${height}, Model hash: ${hash}, Model: ${name}, Denoising strength: ${(body.denoising_strength as number) ?? 0.75}`;
    const info = {
      prompt,
      all_prompts: seeds.map(() => prompt),
      negative_prompt: (body.negative_prompt as string | undefined) ?? '',
      all_negative_prompts: seeds.map(() => (body.negative_prompt as string | undefined) ?? ''),
      seed,
      all_seeds: seeds,
      subseed: 1234,
      all_subseeds: seeds.map(() => 1234),
      subseed_strength: 0,
      width,
      height,
      sampler_name: sampler,
      cfg_scale: (body.cfg_scale as number | undefined) ?? 7,
      steps: (body.steps as number | undefined) ?? 50,
      batch_size: (body.batch_size as number | undefined) ?? 1,
      restore_faces: false,
      face_restoration_model: null,
      sd_model_name: name,
      sd_model_hash: hash,
      sd_vae_name: null,
      sd_vae_hash: null,
      seed_resize_from_w: -1,
      seed_resize_from_h: -1,
      denoising_strength: (body.denoising_strength as number | undefined) ?? 0.75,
      extra_generation_params: {},
      index_of_first_image: 0,
      infotexts: seeds.map(infotext),
      styles: [],
      job_timestamp: '20260101120000',
      clip_skip: 1,
      is_using_inpainting_conditioning: Boolean(mask),
      version: 'v1.10.1',
    };
    const parameters = { ...Object.fromEntries(Object.keys(FIELDS).map((k) => [k, null])), ...body };
    if (!body.include_init_images) {
      parameters.init_images = null;
      parameters.mask = null;
    }
    sendJson(res, 200, { images: [...out, ...extras].map((b) => b.toString('base64')), parameters, info: JSON.stringify(info) }, { 'x-process-time': '1.2345' });
  }
}

export async function startA1111Emulator(options: A1111EmulatorOptions = {}): Promise<A1111Emulator> {
  return new A1111Emulator(options).start();
}
