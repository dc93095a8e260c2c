/**
 * Stability AI's v2beta Stable Image edit endpoints as the real service
 * answers and refuses them (provider-apis.md §5, the official v2beta
 * OpenAPI): `Authorization: Bearer`, multipart only, `accept: image/*` (the
 * image's bytes with `finish-reason` and `seed` headers) or
 * `application/json` (`{"image","seed","finish_reason"}` with content-type
 * `application/json; type=image/png`), each endpoint's own fields and
 * nothing else, its value ranges, the input pixel limits, the 10 MiB body
 * limit, and errors as `{"id","name","errors"}`.
 *
 * The mask is read as Stability reads it, as a grayscale image with white =
 * edit (an OpenAI alpha mask sent as it is reads as all white), and recorded
 * decoded so a test can check the polarity on pixels.
 *
 * The generate endpoints (`/v2beta/stable-image/generate/{core,ultra,sd3}`)
 * likewise take their own fields only (an edit's `mask`, `grow_mask` or
 * `search_prompt` is refused), `prompt` required, `aspect_ratio` one of the
 * nine, sd3's `model` one of the SD 3.5 models and its formats jpeg and png;
 * ultra and sd3's image-to-image (`image` with `strength`) is checked but
 * not drawn from. Output sizes per ratio are SDXL's one-megapixel buckets
 * (ultra: twice each side).
 *
 * Prompts that play the provider's verdicts: "forbidden" → 403
 * content_moderation; "blur-me" → 200 CONTENT_FILTERED (a blurred image);
 * "public-figure" → 422 public_figure; Cyrillic or CJK letters → 422
 * invalid_language. Bodies marked UNVERIFIED in the reference (401, 404, the
 * wording of 400s) follow the same envelope.
 */
import crypto from 'node:crypto';
import type http from 'node:http';
import sharp from 'sharp';
import { EmulatorBase, imageFacts, makeResultImage, sendJson, type FilePart, type Recorded } from './base.js';

export interface StabilityEmulatorOptions {
  apiKey: string;
}

type Endpoint = 'inpaint' | 'erase' | 'search-and-replace' | 'remove-background';

interface EndpointRules {
  files: readonly string[];
  fields: readonly string[];
  required: readonly string[];
  formats: readonly string[];
  growMaskMax: number;
  maxPixels: number;
}

const STYLE_PRESETS = [
  'enhance', 'anime', 'photographic', 'digital-art', 'comic-book', 'fantasy-art', 'line-art', 'analog-film', 'neon-punk',
  'isometric', 'low-poly', 'origami', 'modeling-compound', 'cinematic', '3d-model', 'pixel-art', 'tile-texture',
];

const RULES: Record<Endpoint, EndpointRules> = {
  inpaint: {
    files: ['image', 'mask'],
    fields: ['prompt', 'negative_prompt', 'grow_mask', 'seed', 'output_format', 'style_preset'],
    required: ['image', 'prompt'],
    formats: ['jpeg', 'png', 'webp'],
    growMaskMax: 100,
    maxPixels: 9_437_184,
  },
  erase: {
    files: ['image', 'mask'],
    fields: ['grow_mask', 'seed', 'output_format'],
    required: ['image'],
    formats: ['jpeg', 'png', 'webp'],
    growMaskMax: 20,
    maxPixels: 9_437_184,
  },
  'search-and-replace': {
    files: ['image'],
    fields: ['prompt', 'search_prompt', 'negative_prompt', 'grow_mask', 'seed', 'output_format', 'style_preset'],
    required: ['image', 'prompt', 'search_prompt'],
    formats: ['jpeg', 'png', 'webp'],
    growMaskMax: 20,
    maxPixels: 9_437_184,
  },
  'remove-background': {
    files: ['image'],
    fields: ['output_format'],
    required: ['image'],
    formats: ['png', 'webp'],
    growMaskMax: 0,
    maxPixels: 4_194_304,
  },
};

const MAX_BODY = 10 * 1024 * 1024;

type GenerateEndpoint = 'core' | 'ultra' | 'sd3';

const GENERATE_RULES: Record<GenerateEndpoint, { files: readonly string[]; fields: readonly string[]; formats: readonly string[] }> = {
  core: { files: [], fields: ['prompt', 'negative_prompt', 'aspect_ratio', 'seed', 'style_preset', 'output_format'], formats: ['jpeg', 'png', 'webp'] },
  ultra: { files: ['image'], fields: ['prompt', 'negative_prompt', 'aspect_ratio', 'seed', 'output_format', 'strength'], formats: ['jpeg', 'png', 'webp'] },
  sd3: {
    files: ['image'],
    fields: ['prompt', 'mode', 'aspect_ratio', 'model', 'seed', 'output_format', 'negative_prompt', 'cfg_scale', 'strength'],
    formats: ['jpeg', 'png'],
  },
};

const SD3_MODELS = ['sd3.5-large', 'sd3.5-large-turbo', 'sd3.5-medium', 'sd3.5-flash'];

/** one-megapixel output per aspect ratio */
const RATIO_SIZES: Record<string, [number, number]> = {
  '21:9': [1536, 640],
  '16:9': [1344, 768],
  '3:2': [1216, 832],
  '5:4': [1088, 896],
  '1:1': [1024, 1024],
  '4:5': [896, 1088],
  '2:3': [832, 1216],
  '9:16': [768, 1344],
  '9:21': [640, 1536],
};

/** An error answer: its status, short name and messages. */
class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly errorName: string,
    readonly errors: string[],
  ) {
    super(errors.join('; '));
  }
}

const bad = (...errors: string[]) => new Refusal(400, 'bad_request', errors);

/** Stability's error envelope, for tests that inject faults. */
export function stabilityError(name: string, errors: string[]): { id: string; name: string; errors: string[] } {
  return { id: crypto.randomBytes(16).toString('hex'), name, errors };
}

export interface EditSeen {
  endpoint: Endpoint;
  accept: string;
  fields: Map<string, string>;
  image: FilePart;
  mask: FilePart | null;
  /** the mask as Stability reads it: one grayscale byte per pixel, white = edit */
  maskLuma: { width: number; height: number; data: Buffer } | null;
  headers: http.IncomingHttpHeaders;
}

export interface GenerateSeen {
  endpoint: GenerateEndpoint;
  accept: string;
  fields: Map<string, string>;
  headers: http.IncomingHttpHeaders;
  width: number;
  height: number;
}

export class StabilityEmulator extends EmulatorBase {
  /** every image this emulator answered, in order: a client must get exactly these bytes */
  readonly emitted: Buffer[] = [];
  /** the edit requests it accepted, parsed */
  readonly edits: EditSeen[] = [];
  /** the generate requests it accepted, parsed */
  readonly generations: GenerateSeen[] = [];
  counter = 0;

  constructor(readonly options: StabilityEmulatorOptions) {
    super((req, res) => this.serve(req, res));
  }

  get baseUrl(): string {
    return this.url;
  }

  /** forgets what was received and answered, and the queued faults */
  override reset(): void {
    super.reset();
    this.edits.length = 0;
    this.generations.length = 0;
    this.emitted.length = 0;
  }

  private async serve(req: Recorded, res: http.ServerResponse): Promise<void> {
    try {
      this.authorise(req);
      if (req.method === 'GET' && req.path === '/v1/user/account') {
        sendJson(res, 200, { id: 'user-emulated', email: 'someone@example.com', profile_picture: '', organizations: [] });
        return;
      }
      if (req.method === 'GET' && req.path === '/v1/user/balance') {
        sendJson(res, 200, { credits: 42.5 });
        return;
      }
      const g = /^\/v2beta\/stable-image\/generate\/([\w-]+)$/.exec(req.path);
      if (req.method === 'POST' && g && g[1] in GENERATE_RULES) {
        await this.generate(req, res, g[1] as GenerateEndpoint);
        return;
      }
      const m = /^\/v2beta\/stable-image\/edit\/([\w-]+)$/.exec(req.path);
      if (req.method !== 'POST' || !m || !(m[1] in RULES)) throw new Refusal(404, 'not_found', [`${req.method} ${req.path}: not found`]);
      await this.edit(req, res, m[1] as Endpoint);
    } catch (e) {
      if (!(e instanceof Refusal)) throw e;
      sendJson(res, e.status, stabilityError(e.errorName, e.errors));
    }
  }

  private authorise(req: Recorded): void {
    const auth = req.headers.authorization;
    if (auth !== `Bearer ${this.options.apiKey}`) {
      throw new Refusal(401, 'unauthorized', [auth ? 'authorization: invalid API key' : 'authorization: missing']);
    }
  }

  private async edit(req: Recorded, res: http.ServerResponse, endpoint: Endpoint): Promise<void> {
    if (req.body.length > MAX_BODY) throw new Refusal(413, 'payload_too_large', ['body: payloads cannot be larger than 10MiB in size']);
    const accept = (req.headers.accept ?? 'image/*').trim();
    if (accept !== 'image/*' && accept !== 'application/json') throw bad(`accept: must be one of image/* or application/json, got "${accept}"`);
    if (!req.fields || !req.files) throw bad('content-type: must be multipart/form-data');
    const rules = RULES[endpoint];

    const fields = new Map<string, string>();
    for (const [name, value] of req.fields) {
      if (!rules.fields.includes(name)) throw bad(`${name}: is not a parameter of ${endpoint}`);
      if (fields.has(name)) throw bad(`${name}: sent more than once`);
      fields.set(name, value);
    }
    const files = new Map<string, FilePart>();
    for (const f of req.files) {
      if (!rules.files.includes(f.name)) throw bad(`${f.name}: is not a parameter of ${endpoint}`);
      if (files.has(f.name)) throw bad(`${f.name}: sent more than once`);
      files.set(f.name, f);
    }
    for (const r of rules.required) {
      if (!fields.has(r) && !files.has(r)) throw bad(`${r}: is required`);
    }

    // the image
    const image = files.get('image')!;
    const facts = await imageFacts(image.bytes);
    if (!facts || !['png', 'jpeg', 'webp'].includes(facts.format)) throw bad('image: must be a jpeg, png or webp image');
    if (facts.width < 64 || facts.height < 64) throw bad(`image: every side must be at least 64 pixels, got ${facts.width}x${facts.height}`);
    const pixels = facts.width * facts.height;
    if (pixels < 4096 || pixels > rules.maxPixels) {
      throw bad(`image: total pixel count must be between 4,096 and ${rules.maxPixels.toLocaleString('en-US')} pixels, got ${pixels.toLocaleString('en-US')}`);
    }
    if (endpoint === 'search-and-replace') {
      const ratio = facts.width / facts.height;
      if (ratio > 2.5 || ratio < 1 / 2.5) throw bad('image: aspect ratio must be between 1:2.5 and 2.5:1');
    }

    // scalars
    for (const name of ['prompt', 'search_prompt', 'negative_prompt'] as const) {
      const v = fields.get(name);
      if (v !== undefined && (v.trim().length < 1 || v.length > 10_000)) throw bad(`${name}: must be between 1 and 10000 characters`);
    }
    const format = fields.get('output_format') ?? 'png';
    if (!rules.formats.includes(format)) throw bad(`output_format: must be one of ${rules.formats.join(', ')}`);
    const seedText = fields.get('seed');
    if (seedText !== undefined && (!/^\d+$/.test(seedText) || Number(seedText) > 4_294_967_294)) throw bad('seed: must be an integer between 0 and 4294967294');
    const grow = fields.get('grow_mask');
    if (grow !== undefined && (!/^\d+$/.test(grow) || Number(grow) > rules.growMaskMax)) throw bad(`grow_mask: must be an integer between 0 and ${rules.growMaskMax}`);
    const style = fields.get('style_preset');
    if (style !== undefined && !STYLE_PRESETS.includes(style)) throw bad(`style_preset: must be one of ${STYLE_PRESETS.join(', ')}`);

    // the mask, read as grayscale (its alpha plays no part); any size, resized to the image's
    let maskLuma: EditSeen['maskLuma'] = null;
    const mask = files.get('mask') ?? null;
    if (mask) {
      const mf = await imageFacts(mask.bytes);
      if (!mf || !['png', 'jpeg', 'webp'].includes(mf.format)) throw bad('mask: must be a jpeg, png or webp image');
      const { data, info } = await sharp(mask.bytes).removeAlpha().toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
      maskLuma = { width: info.width, height: info.height, data };
    }

    const filtered = judge(fields);
    this.edits.push({ endpoint, accept, fields, image, mask, maskLuma, headers: req.headers });
    await this.reply(res, accept, fields, format, facts.width, facts.height, filtered, endpoint === 'remove-background');
  }

  /** the generate endpoints: text to image (ultra and sd3 also image to image, checked but drawn like text) */
  private async generate(req: Recorded, res: http.ServerResponse, endpoint: GenerateEndpoint): Promise<void> {
    if (req.body.length > MAX_BODY) throw new Refusal(413, 'payload_too_large', ['body: payloads cannot be larger than 10MiB in size']);
    const accept = (req.headers.accept ?? 'image/*').trim();
    if (accept !== 'image/*' && accept !== 'application/json') throw bad(`accept: must be one of image/* or application/json, got "${accept}"`);
    if (!req.fields || !req.files) throw bad('content-type: must be multipart/form-data');
    const rules = GENERATE_RULES[endpoint];
    const fields = new Map<string, string>();
    for (const [name, value] of req.fields) {
      if (!rules.fields.includes(name)) throw bad(`${name}: is not a parameter of generate/${endpoint}`);
      if (fields.has(name)) throw bad(`${name}: sent more than once`);
      fields.set(name, value);
    }
    const files = new Map<string, FilePart>();
    for (const f of req.files) {
      if (!rules.files.includes(f.name)) throw bad(`${f.name}: is not a parameter of generate/${endpoint}`);
      if (files.has(f.name)) throw bad(`${f.name}: sent more than once`);
      files.set(f.name, f);
    }
    if (!fields.has('prompt')) throw bad('prompt: is required');
    for (const name of ['prompt', 'negative_prompt'] as const) {
      const v = fields.get(name);
      if (v !== undefined && (v.trim().length < 1 || v.length > 10_000)) throw bad(`${name}: must be between 1 and 10000 characters`);
    }
    const format = fields.get('output_format') ?? 'png';
    if (!rules.formats.includes(format)) throw bad(`output_format: must be one of ${rules.formats.join(', ')}`);
    const seedText = fields.get('seed');
    if (seedText !== undefined && (!/^\d+$/.test(seedText) || Number(seedText) > 4_294_967_294)) throw bad('seed: must be an integer between 0 and 4294967294');
    const style = fields.get('style_preset');
    if (style !== undefined && !STYLE_PRESETS.includes(style)) throw bad(`style_preset: must be one of ${STYLE_PRESETS.join(', ')}`);
    const model = fields.get('model');
    if (model !== undefined && !SD3_MODELS.includes(model)) throw bad(`model: must be one of ${SD3_MODELS.join(', ')}`);
    const ratio = fields.get('aspect_ratio');
    if (ratio !== undefined && !(ratio in RATIO_SIZES)) throw bad(`aspect_ratio: must be one of ${Object.keys(RATIO_SIZES).join(', ')}`);

    // image to image: sd3 says so in `mode`; ultra by sending an image; either way with a strength and no ratio
    const mode = fields.get('mode') ?? 'text-to-image';
    if (mode !== 'text-to-image' && mode !== 'image-to-image') throw bad('mode: must be one of text-to-image, image-to-image');
    const image = files.get('image') ?? null;
    const strength = fields.get('strength');
    const toImage = endpoint === 'sd3' ? mode === 'image-to-image' : image !== null;
    if (toImage) {
      if (!image) throw bad('image: is required when mode is image-to-image');
      if (strength === undefined) throw bad('strength: is required when an image is given');
      if (!/^(0(\.\d+)?|1(\.0+)?)$/.test(strength)) throw bad('strength: must be a number between 0 and 1');
      if (ratio !== undefined) throw bad('aspect_ratio: is not used in image-to-image mode');
      if (!(await imageFacts(image.bytes))) throw bad('image: must be a jpeg, png or webp image');
    } else {
      if (image) throw bad('image: is only accepted when mode is image-to-image');
      if (strength !== undefined) throw bad('strength: is only accepted when an image is given');
    }
    const cfg = fields.get('cfg_scale');
    if (cfg !== undefined && !(Number(cfg) >= 1 && Number(cfg) <= 10)) throw bad('cfg_scale: must be a number between 1 and 10');

    const filtered = judge(fields);
    const [w, h] = RATIO_SIZES[ratio ?? '1:1'];
    const scale = endpoint === 'ultra' ? 2 : 1;
    this.generations.push({ endpoint, accept, fields, headers: req.headers, width: w * scale, height: h * scale });
    await this.reply(res, accept, fields, format, w * scale, h * scale, filtered, false);
  }

  /** a picture made and answered as bytes or JSON, blurred when the output was filtered */
  private async reply(res: http.ServerResponse, accept: string, fields: Map<string, string>, format: string, width: number, height: number, filtered: boolean, alpha: boolean): Promise<void> {
    const seedText = fields.get('seed');
    const seed = seedText !== undefined && Number(seedText) !== 0 ? Number(seedText) : crypto.randomInt(1, 2 ** 32 - 1);
    let made = await makeResultImage(width, height, format as 'png' | 'jpeg' | 'webp', ++this.counter, { alpha });
    if (filtered) {
      const blurred = sharp(made).blur(30);
      made = await (format === 'jpeg' ? blurred.jpeg() : format === 'webp' ? blurred.webp() : blurred.png()).toBuffer();
    }
    this.emitted.push(made);
    const finish = filtered ? 'CONTENT_FILTERED' : 'SUCCESS';
    const requestId = crypto.randomBytes(16).toString('hex');
    if (accept === 'application/json') {
      sendJson(res, 200, { image: made.toString('base64'), seed, finish_reason: finish }, { 'content-type': `application/json; type=image/${format}`, 'x-request-id': requestId });
      return;
    }
    res.writeHead(200, {
      'content-type': `image/${format}`,
      'content-length': String(made.length),
      'finish-reason': finish,
      seed: String(seed),
      'x-request-id': requestId,
    });
    res.end(made);
  }
}

/** The provider's verdicts on the words: refusals thrown; true when the output is to be blurred. */
function judge(fields: Map<string, string>): boolean {
  const words = `${fields.get('prompt') ?? ''} ${fields.get('search_prompt') ?? ''} ${fields.get('negative_prompt') ?? ''}`;
  if (/forbidden/i.test(words)) {
    throw new Refusal(403, 'content_moderation', ['Your request was flagged by our content moderation system, as a result your request was denied and you were not charged.']);
  }
  if (/public-figure/i.test(words)) throw new Refusal(422, 'public_figure', ['Our system detected the likeness of a public figure in your request, which is not allowed.']);
  if (/[\u0400-\u04ff\u3040-\u30ff\u4e00-\u9fff]/.test(words)) throw new Refusal(422, 'invalid_language', ['English is the only supported language for this service.']);
  return /blur-me/i.test(words);
}

export async function startStabilityEmulator(options: StabilityEmulatorOptions): Promise<StabilityEmulator> {
  return new StabilityEmulator(options).start();
}
