/**
 * OpenAI's `POST /v1/images/edits` and Azure OpenAI's deployment flavour of
 * it, as the real services answer and refuse (reference/openai-images-edits-
 * spec.md, provider-apis.md §1): Bearer or `api-key` auth, multipart only,
 * `image` or `image[]` parts with an image Content-Type, a PNG mask with
 * alpha of the first image's size, per-model parameters (`response_format`
 * refused for GPT image models, `input_fidelity` refused on mini, DALL·E's
 * one square PNG), JSON or server-sent-event answers with usage, and Azure's
 * 404 "Resource not found" for a wrong path or api-version.
 */
import type http from 'node:http';
import { EmulatorBase, imageFacts, makeResultImage, sendJson, type FilePart, type Recorded } from './base.js';

export interface OpenAiEmulatorOptions {
  flavour?: 'openai' | 'azure';
  apiKey: string;
  /** azure: deployment name → the model it runs */
  deployments?: Record<string, string>;
  /** answer at once with one tiny image, without decoding anything (bench/overhead) */
  noWork?: boolean;
  /** with noWork: the image answered instead of the tiny one (a realistic answer size) */
  noWorkImage?: Buffer;
  /** answer `data[].url` links (served here, on `urlHost`) instead of base64, as some compatible hosts do */
  answerUrls?: boolean;
  /** the host name the links use (another name of loopback makes a "foreign" host) */
  urlHost?: string;
}

const GPT_MODELS = ['gpt-image-1', 'gpt-image-1-mini', 'gpt-image-1.5', 'gpt-image-2', 'chatgpt-image-latest'];
const KNOWN_FIELDS = new Set([
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
]);
const AZURE_API_VERSIONS = new Set(['2025-04-01-preview', '2025-03-01-preview', '2025-08-01-preview', 'preview']);
const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/webp'];

class Refusal extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = 'invalid_value',
    readonly type = 'invalid_request_error',
  ) {
    super(message);
  }
}

export interface EditSeen {
  model: string;
  fields: Map<string, string>;
  images: FilePart[];
  mask: FilePart | null;
}

export class OpenAiEmulator extends EmulatorBase {
  /** every image this emulator answered, in order: a client must get exactly these bytes */
  readonly emitted: Buffer[] = [];
  /** usage of the last answer */
  lastUsage: Record<string, unknown> | null = null;
  /** the edit requests it accepted, parsed */
  readonly edits: EditSeen[] = [];
  /** the generation requests it accepted: model and JSON body */
  readonly generations: Array<{ model: string; body: Record<string, unknown> }> = [];
  /** the variation requests it accepted */
  readonly variations: Array<{ fields: Map<string, string>; image: FilePart }> = [];
  counter = 0;
  private tiny: Buffer | null = null;

  constructor(readonly options: OpenAiEmulatorOptions) {
    super((req, res) => this.serve(req, res));
  }

  /** the baseUrl a gateway config uses */
  get baseUrl(): string {
    return this.options.flavour === 'azure' ? this.url : `${this.url}/v1`;
  }

  private refuse(res: http.ServerResponse, r: Refusal): void {
    if (this.options.flavour === 'azure' && r.status === 404) {
      sendJson(res, 404, { error: { code: r.code ?? '404', message: r.message } });
      return;
    }
    sendJson(res, r.status, { error: { message: r.message, type: r.type, param: r.param, code: r.code } });
  }

  private readonly files = new Map<string, Buffer>();

  private async serve(req: Recorded, res: http.ServerResponse): Promise<void> {
    const file = /^\/files\/([\w.]+)$/.exec(req.path);
    if (req.method === 'GET' && file) {
      const bytes = this.files.get(file[1]);
      if (!bytes) return sendJson(res, 404, { error: { message: 'expired' } });
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': String(bytes.length) });
      res.end(bytes);
      return;
    }
    try {
      const route = this.route(req);
      this.authorise(req);
      if (route.kind === 'models') {
        sendJson(res, 200, { object: 'list', data: GPT_MODELS.concat('dall-e-2').map((id) => ({ id, object: 'model', created: 1, owned_by: 'system' })) });
        return;
      }
      if (route.kind === 'generations') await this.generate(req, res, route.model);
      else if (route.kind === 'variations') await this.vary(req, res, route.model);
      else await this.edit(req, res, route.model);
    } catch (e) {
      if (e instanceof Refusal) this.refuse(res, e);
      else throw e;
    }
  }

  private route(req: Recorded): { kind: 'models' } | { kind: 'edits' | 'generations' | 'variations'; model: string | null } {
    const notFound = new Refusal(404, 'Resource not found', null, '404');
    if (this.options.flavour === 'azure') {
      if (req.method === 'GET' && req.path === '/openai/models') {
        if (!AZURE_API_VERSIONS.has(req.query.get('api-version') ?? '')) throw notFound;
        return { kind: 'models' };
      }
      const v1 = /^\/openai\/v1\/images\/(edits|generations|variations)$/.exec(req.path);
      if (req.method === 'POST' && v1) return { kind: v1[1] as 'edits', model: null };
      const m = /^\/openai\/deployments\/([^/]+)\/images\/(edits|generations|variations)$/.exec(req.path);
      if (req.method !== 'POST' || !m || !AZURE_API_VERSIONS.has(req.query.get('api-version') ?? '')) throw notFound;
      const dep = decodeURIComponent(m[1]);
      const model = this.options.deployments?.[dep];
      if (!model) {
        throw new Refusal(404, 'The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again.', null, 'DeploymentNotFound');
      }
      return { kind: m[2] as 'edits', model };
    }
    if (req.method === 'GET' && req.path === '/v1/models') return { kind: 'models' };
    const op = /^\/v1\/images\/(edits|generations|variations)$/.exec(req.path);
    if (req.method === 'POST' && op) return { kind: op[1] as 'edits', model: null };
    throw new Refusal(404, `Invalid URL (${req.method} ${req.path})`, null, null);
  }

  private authorise(req: Recorded): void {
    const key = this.options.apiKey;
    if (this.options.flavour === 'azure') {
      if (req.headers['api-key'] === key || req.headers.authorization === `Bearer ${key}`) return;
      throw new Refusal(
        401,
        'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.',
        null,
        '401',
      );
    }
    const auth = req.headers.authorization;
    if (!auth) throw new Refusal(401, "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).", null, null);
    const m = /^Bearer (.+)$/.exec(auth);
    if (!m || m[1] !== key) {
      const presented = m?.[1] ?? '';
      const masked = presented.length > 8 ? `${presented.slice(0, 3)}${'*'.repeat(presented.length - 7)}${presented.slice(-4)}` : '***';
      throw new Refusal(401, `Incorrect API key provided: ${masked}. You can find your API key at https://platform.openai.com/account/api-keys.`, null, 'invalid_api_key');
    }
  }

  private async edit(req: Recorded, res: http.ServerResponse, azureModel: string | null): Promise<void> {
    if (!req.fields || !req.files) {
      throw new Refusal(400, "Invalid Content-Type header (expected multipart/form-data).", null, 'invalid_request');
    }
    const fields = new Map<string, string>();
    for (const [name, value] of req.fields) {
      if (!KNOWN_FIELDS.has(name)) throw new Refusal(400, `Unknown parameter: '${name}'.`, name, 'unknown_parameter');
      if (fields.has(name)) throw new Refusal(400, `Duplicate parameter: '${name}'.`, name, 'duplicate_parameter');
      fields.set(name, value);
    }
    const model = azureModel ?? fields.get('model') ?? 'dall-e-2';
    const dalle = model === 'dall-e-2';
    if (!dalle && !GPT_MODELS.includes(model)) {
      throw new Refusal(404, `The model \`${model}\` does not exist or you do not have access to it.`, null, 'model_not_found');
    }
    if (this.options.noWork) {
      this.tiny ??= this.options.noWorkImage ?? (await makeResultImage(16, 16, 'png', 0));
      sendJson(res, 200, { created: 1, data: [{ b64_json: this.tiny.toString('base64') }], usage: { input_tokens: 1, input_tokens_details: { text_tokens: 1, image_tokens: 0 }, output_tokens: 1, total_tokens: 2 } });
      return;
    }

    // files
    const bare = req.files.filter((f) => f.name === 'image');
    const arr = req.files.filter((f) => f.name === 'image[]');
    const masks = req.files.filter((f) => f.name === 'mask');
    const other = req.files.find((f) => !['image', 'image[]', 'mask'].includes(f.name));
    if (other) throw new Refusal(400, `Unknown parameter: '${other.name}'.`, other.name, 'unknown_parameter');
    if (bare.length > 1) throw new Refusal(400, "Duplicate parameter: 'image'. To send several images use 'image[]'.", 'image', 'duplicate_parameter');
    if (masks.length > 1) throw new Refusal(400, "Duplicate parameter: 'mask'.", 'mask', 'duplicate_parameter');
    const images = bare.length ? [...bare, ...arr] : arr;
    if (images.length === 0) throw new Refusal(400, "Missing required parameter: 'image'.", 'image', 'missing_required_parameter');
    const label = (i: number) => (bare.length && i === 0 ? 'image' : `image[${i}]`);
    if (dalle && arr.length > 0) throw new Refusal(400, "Invalid type for 'image': expected a file, but got an array instead.", 'image', 'invalid_type');
    if (images.length > 16) throw new Refusal(400, `Invalid 'image': array too long. Expected an array with maximum length 16, but got an array with length ${images.length} instead.`, 'image', 'array_above_max_length');
    const allowed = dalle ? ['image/png'] : IMAGE_TYPES;
    const facts = [];
    for (const [i, f] of images.entries()) {
      if (!allowed.includes(f.contentType)) {
        throw new Refusal(400, `Invalid file '${label(i)}': unsupported mimetype ('${f.contentType}'). Supported file formats are ${allowed.map((t) => `'${t}'`).join(', ')}.`, label(i), 'unsupported_file_mimetype');
      }
      const fa = await imageFacts(f.bytes);
      if (!fa || `image/${fa.format}` !== f.contentType) throw new Refusal(400, `Invalid image file '${label(i)}'.`, label(i), 'invalid_image_file');
      facts.push(fa);
    }
    if (dalle && (facts[0].width !== facts[0].height || images[0].bytes.length >= 4 * 1024 * 1024)) {
      throw new Refusal(400, 'Uploaded image must be a PNG and less than 4 MB, and square.', 'image', 'invalid_image');
    }
    let mask: FilePart | null = null;
    if (masks.length === 1) {
      mask = masks[0];
      const mf = await imageFacts(mask.bytes);
      if (!mf || mf.format !== 'png' || mask.contentType !== 'image/png') throw new Refusal(400, "Invalid file 'mask': unsupported mimetype. Supported file formats are 'image/png'.", 'mask', 'unsupported_file_mimetype');
      if (!mf.hasAlpha) throw new Refusal(400, 'Invalid mask image format - mask image missing alpha channel', 'mask', 'invalid_image_file');
      if (mf.width !== facts[0].width || mf.height !== facts[0].height) throw new Refusal(400, 'Invalid mask image format - mask size does not match image size', 'mask', 'invalid_image_file');
    }

    // scalars
    const prompt = fields.get('prompt');
    if (!prompt) throw new Refusal(400, "Missing required parameter: 'prompt'.", 'prompt', 'missing_required_parameter');
    const n = Number(fields.get('n') ?? '1');
    if (!Number.isInteger(n) || n < 1 || n > 10) throw new Refusal(400, `Invalid 'n': integer between 1 and 10 expected.`, 'n', 'invalid_value');
    const refuseFor = (name: string) => {
      if (fields.has(name)) throw new Refusal(400, `Unknown parameter: '${name}'.`, name, 'unknown_parameter');
    };
    if (dalle) {
      for (const f of ['background', 'output_format', 'output_compression', 'input_fidelity', 'moderation', 'stream', 'partial_images']) refuseFor(f);
    } else {
      refuseFor('response_format');
    }
    if (fields.has('input_fidelity') && (model === 'gpt-image-1-mini' || model === 'gpt-image-2')) {
      throw new Refusal(400, `input_fidelity is not supported for ${model}.`, 'input_fidelity', 'unsupported_parameter');
    }
    const size = fields.get('size') ?? (dalle ? '1024x1024' : 'auto');
    const sizes = dalle ? ['256x256', '512x512', '1024x1024'] : ['1024x1024', '1536x1024', '1024x1536', 'auto'];
    const free = model === 'gpt-image-2' && /^\d+x\d+$/.test(size);
    if (!sizes.includes(size) && !free) {
      throw new Refusal(400, `Invalid value: '${size}'. Supported values are: ${sizes.map((s) => `'${s}'`).join(', ')}.`, 'size', 'invalid_value');
    }
    const quality = fields.get('quality') ?? 'auto';
    const qualities = dalle ? ['standard', 'auto'] : ['low', 'medium', 'high', 'auto'];
    if (!qualities.includes(quality)) throw new Refusal(400, `Invalid value: '${quality}'. Supported values are: ${qualities.map((s) => `'${s}'`).join(', ')}.`, 'quality', 'invalid_value');
    const format = (fields.get('output_format') ?? 'png') as 'png' | 'jpeg' | 'webp';
    if (!['png', 'jpeg', 'webp'].includes(format)) throw new Refusal(400, `Invalid value: '${format}'.`, 'output_format', 'invalid_value');
    if (fields.has('output_compression') && format === 'png') {
      throw new Refusal(400, 'Compression less than 100 is not supported for PNG output format.', 'output_compression', 'invalid_value');
    }
    const background = fields.get('background') ?? 'auto';
    if (background === 'transparent' && format === 'jpeg') throw new Refusal(400, 'Transparent background is not supported for jpeg.', 'background', 'invalid_value');
    const stream = fields.get('stream') === 'true';
    const partials = Number(fields.get('partial_images') ?? '0');
    if (fields.has('partial_images') && !stream) throw new Refusal(400, "'partial_images' requires 'stream' to be true.", 'partial_images', 'invalid_value');
    if (/moderation-test|forbidden/i.test(prompt)) {
      throw new Refusal(400, 'Your request was rejected by the safety system. If you believe this is an error, contact us at help.openai.com and include the request ID req_123.', null, 'moderation_blocked', 'image_generation_user_error');
    }
    this.edits.push({ model, fields, images, mask });

    const first = facts[0];
    const resolved =
      size !== 'auto' ? size : first.width > first.height * 1.22 ? '1536x1024' : first.height > first.width * 1.22 ? '1024x1536' : '1024x1024';
    await this.answer(res, { event: 'image_edit', dalle, n, size, resolved, quality, background, format, stream, partials, prompt, inputImages: images.length });
  }

  /** the answer of any operation: n made images, their usage, as JSON or events */
  private async answer(
    res: http.ServerResponse,
    a: { event: string; dalle: boolean; n: number; size: string; resolved: string; quality: string; background: string; format: 'png' | 'jpeg' | 'webp'; stream: boolean; partials: number; prompt: string; inputImages: number },
  ): Promise<void> {
    const { dalle, n, size, resolved, quality, background, format, stream, partials, prompt } = a;
    const [w, h] = resolved.split('x').map(Number);
    const q = quality === 'auto' ? (dalle ? 'standard' : 'medium') : quality;
    const outTokens = ({ low: 272, medium: 1056, high: 4160, standard: 0, hd: 0 } as Record<string, number>)[q] ?? 0;
    const textTokens = prompt.split(/\s+/).filter(Boolean).length;
    const usage = {
      input_tokens: textTokens + 300 * a.inputImages,
      input_tokens_details: { text_tokens: textTokens, image_tokens: 300 * a.inputImages },
      output_tokens: outTokens * n + 100 * (stream ? partials : 0),
      total_tokens: textTokens + 300 * a.inputImages + outTokens * n + 100 * (stream ? partials : 0),
    };
    const bg = background === 'transparent' ? 'transparent' : 'opaque';
    const made: Buffer[] = [];
    for (let i = 0; i < n; i++) made.push(await makeResultImage(w, h, dalle ? 'png' : format, ++this.counter, { alpha: bg === 'transparent' }));
    this.emitted.push(...made);
    this.lastUsage = dalle ? null : usage;
    if (stream) {
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
      const common = { created_at: 1748231162, size, quality, background, output_format: format };
      for (const [i, img] of made.entries()) {
        for (let p = 0; p < partials; p++) {
          const partial = await makeResultImage(w, h, format, 1000 + i * 10 + p);
          res.write(`event: ${a.event}.partial_image\ndata: ${JSON.stringify({ type: `${a.event}.partial_image`, b64_json: partial.toString('base64'), ...common, partial_image_index: p })}\n\n`);
        }
        res.write(`event: ${a.event}.completed\ndata: ${JSON.stringify({ type: `${a.event}.completed`, b64_json: img.toString('base64'), ...common, size: resolved, quality: q, background: bg, usage })}\n\n`);
      }
      res.end();
      return;
    }
    const data = made.map((b, i) => {
      if (!this.options.answerUrls) return { b64_json: b.toString('base64') };
      const name = `img${this.counter}_${i}.${format === 'jpeg' ? 'jpg' : format}`;
      this.files.set(name, b);
      return { url: `http://${this.options.urlHost ?? '127.0.0.1'}:${this.port}/files/${name}` };
    });
    const body: Record<string, unknown> = { created: 1748231162, data };
    if (!dalle) Object.assign(body, { background: bg, output_format: format, size: resolved, quality: q, usage });
    sendJson(res, 200, body, { 'x-request-id': `req_emu_${this.counter}` });
  }

  /** POST /images/generations: JSON only (CreateImageRequest), per-model rules as OpenAI's */
  private async generate(req: Recorded, res: http.ServerResponse, azureModel: string | null): Promise<void> {
    const body = req.json as Record<string, unknown> | undefined;
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw new Refusal(400, 'We could not parse the JSON body of your request.', null, 'invalid_request');
    const known = new Set(['model', 'prompt', 'n', 'size', 'quality', 'response_format', 'output_format', 'output_compression', 'stream', 'partial_images', 'moderation', 'background', 'style', 'user']);
    for (const k of Object.keys(body)) if (!known.has(k)) throw new Refusal(400, `Unknown parameter: '${k}'.`, k, 'unknown_parameter');
    const model = azureModel ?? (typeof body.model === 'string' ? body.model : 'dall-e-2');
    const dalle = model === 'dall-e-2' || model === 'dall-e-3';
    if (!dalle && !GPT_MODELS.includes(model)) throw new Refusal(404, `The model \`${model}\` does not exist or you do not have access to it.`, null, 'model_not_found');
    if (typeof body.prompt !== 'string' || body.prompt === '') throw new Refusal(400, "Missing required parameter: 'prompt'.", 'prompt', 'missing_required_parameter');
    const n = body.n === undefined ? 1 : Number(body.n);
    if (!Number.isInteger(n) || n < 1 || n > 10) throw new Refusal(400, "Invalid 'n'.", 'n', 'invalid_value');
    if (model === 'dall-e-3' && n !== 1) throw new Refusal(400, 'You must provide n=1 for this model.', 'n', 'invalid_value');
    const onlyFor = (name: string, ok: boolean) => {
      if (name in body && !ok) throw new Refusal(400, `Unknown parameter: '${name}'.`, name, 'unknown_parameter');
    };
    onlyFor('style', model === 'dall-e-3');
    onlyFor('response_format', dalle);
    for (const f of ['background', 'output_format', 'output_compression', 'moderation', 'stream', 'partial_images']) onlyFor(f, !dalle);
    const sizes = model === 'dall-e-3' ? ['1024x1024', '1792x1024', '1024x1792'] : model === 'dall-e-2' ? ['256x256', '512x512', '1024x1024'] : ['1024x1024', '1536x1024', '1024x1536', 'auto'];
    const size = typeof body.size === 'string' ? body.size : dalle ? '1024x1024' : 'auto';
    if (!sizes.includes(size) && !(model === 'gpt-image-2' && /^\d+x\d+$/.test(size))) {
      throw new Refusal(400, `Invalid value: '${size}'. Supported values are: ${sizes.map((x) => `'${x}'`).join(', ')}.`, 'size', 'invalid_value');
    }
    const qualities = model === 'dall-e-3' ? ['standard', 'hd', 'auto'] : model === 'dall-e-2' ? ['standard', 'auto'] : ['low', 'medium', 'high', 'auto'];
    const quality = typeof body.quality === 'string' ? body.quality : 'auto';
    if (!qualities.includes(quality)) throw new Refusal(400, `Invalid value: '${quality}'.`, 'quality', 'invalid_value');
    const format = (typeof body.output_format === 'string' ? body.output_format : 'png') as 'png' | 'jpeg' | 'webp';
    const stream = body.stream === true;
    const partials = typeof body.partial_images === 'number' ? body.partial_images : 0;
    if (/moderation-test|forbidden/i.test(body.prompt)) {
      throw new Refusal(400, 'Your request was rejected by the safety system.', null, 'moderation_blocked', 'image_generation_user_error');
    }
    this.generations.push({ model, body });
    const resolved = size === 'auto' ? '1024x1024' : size;
    const background = typeof body.background === 'string' ? body.background : 'auto';
    await this.answer(res, { event: 'image_generation', dalle, n, size, resolved, quality, background, format, stream, partials, prompt: body.prompt, inputImages: 0 });
  }

  /** POST /images/variations: DALL·E 2 only, one square PNG under 4 MB, no prompt */
  private async vary(req: Recorded, res: http.ServerResponse, azureModel: string | null): Promise<void> {
    if (!req.fields || !req.files) throw new Refusal(400, 'Invalid Content-Type header (expected multipart/form-data).', null, 'invalid_request');
    const fields = new Map(req.fields);
    for (const k of fields.keys()) if (!['model', 'n', 'size', 'response_format', 'user'].includes(k)) throw new Refusal(400, `Unknown parameter: '${k}'.`, k, 'unknown_parameter');
    const model = azureModel ?? fields.get('model') ?? 'dall-e-2';
    if (model !== 'dall-e-2') throw new Refusal(400, "Invalid model. The model argument should be left blank or set to 'dall-e-2'.", 'model', 'invalid_value');
    const image = req.files.find((f) => f.name === 'image');
    if (!image || req.files.length !== 1) throw new Refusal(400, "Missing required parameter: 'image'.", 'image', 'missing_required_parameter');
    const fa = await imageFacts(image.bytes);
    if (!fa || fa.format !== 'png' || fa.width !== fa.height || image.bytes.length >= 4 * 1024 * 1024) {
      throw new Refusal(400, 'Uploaded image must be a PNG and less than 4 MB, and square.', 'image', 'invalid_image');
    }
    const n = Number(fields.get('n') ?? '1');
    const size = fields.get('size') ?? '1024x1024';
    if (!['256x256', '512x512', '1024x1024'].includes(size)) throw new Refusal(400, `Invalid value: '${size}'.`, 'size', 'invalid_value');
    this.variations.push({ fields, image });
    await this.answer(res, { event: 'image_variation', dalle: true, n, size, resolved: size, quality: 'standard', background: 'auto', format: 'png', stream: false, partials: 0, prompt: '', inputImages: 1 });
  }
}

export async function startOpenAiEmulator(options: OpenAiEmulatorOptions): Promise<OpenAiEmulator> {
  return new OpenAiEmulator(options).start();
}
