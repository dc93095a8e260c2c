/**
 * fal.ai's queue as the real service answers and refuses (provider-apis.md §6
 * and §10.6): `Authorization: Key …` (a Bearer header is refused); submit with
 * `POST /{endpoint id}` on the FULL id (`fal-ai/flux-pro/kontext`), while
 * status, result and cancel live under `{owner}/{alias}` ONLY
 * (`/fal-ai/flux-pro/requests/{id}/status`): a client that builds them from
 * the full id gets 404. A request goes IN_QUEUE → IN_PROGRESS → COMPLETED
 * (the status answers 202 until it is done, then 200). The model checks its
 * input when it runs, as fal's apps do, so a bad input is a COMPLETED request
 * whose result answers 422 `{"detail":[{loc,msg,type}]}` in pydantic's words:
 * an unknown field, a wrong type (`safety_tolerance` must be a string
 * "1"–"6", `num_images` an integer 1–4), a value outside its enum, an image
 * that is neither a URL nor a data URI of a picture. The result is
 * `{images:[{url,content_type,width,height}], has_nsfw_concepts, seed, …}`
 * with the images served here, without credentials, until they expire.
 */
import type http from 'node:http';
import crypto from 'node:crypto';
import sharp from 'sharp';
import { EmulatorBase, imageFacts, makeResultImage, sendJson, type Recorded } from './base.js';

export interface FalEmulatorOptions {
  apiKey: string;
  /** time a request spends IN_QUEUE, then IN_PROGRESS (ms) */
  queueMs?: number;
  processingMs?: number;
  /** the origin the queue URLs name (default: this emulator); another server's makes them foreign */
  queueOrigin?: string;
  /** the origin image URLs name (default: this emulator) */
  cdnOrigin?: string;
  fileTtlMs?: number;
}

type Kind = 'string' | 'integer' | 'number' | 'boolean' | 'array' | 'image_size';
interface Field {
  kind: Kind;
  enum?: readonly string[];
  ge?: number;
  le?: number;
  minItems?: number;
  image?: boolean;
}

const RATIOS = ['21:9', '16:9', '4:3', '3:2', '1:1', '2:3', '3:4', '9:16', '9:21'];
const COMMON: Record<string, Field> = {
  prompt: { kind: 'string' },
  seed: { kind: 'integer' },
  guidance_scale: { kind: 'number', ge: 1, le: 20 },
  sync_mode: { kind: 'boolean' },
  num_images: { kind: 'integer', ge: 1, le: 4 },
  output_format: { kind: 'string', enum: ['jpeg', 'png'] },
  safety_tolerance: { kind: 'string', enum: ['1', '2', '3', '4', '5', '6'] },
  enhance_prompt: { kind: 'boolean' },
  aspect_ratio: { kind: 'string', enum: RATIOS },
};
interface Schema {
  fields: Record<string, Field>;
  required: string[];
}
const SINGLE: Schema = { fields: { ...COMMON, image_url: { kind: 'string', image: true } }, required: ['prompt', 'image_url'] };
const MULTI: Schema = { fields: { ...COMMON, image_urls: { kind: 'array', minItems: 1, image: true } }, required: ['prompt', 'image_urls'] };
/** Kontext's text to image: the same input without an image */
const KONTEXT_T2I: Schema = { fields: { ...COMMON }, required: ['prompt'] };
/** FLUX.1 [dev] / [schnell] text to image: `image_size` an enum name or `{width, height}`, no aspect_ratio or safety_tolerance */
const FLUX1_COMMON: Record<string, Field> = {
  prompt: { kind: 'string' },
  image_size: { kind: 'image_size' },
  seed: { kind: 'integer' },
  sync_mode: { kind: 'boolean' },
  num_images: { kind: 'integer', ge: 1, le: 4 },
  enable_safety_checker: { kind: 'boolean' },
  output_format: { kind: 'string', enum: ['jpeg', 'png'] },
  acceleration: { kind: 'string', enum: ['none', 'regular', 'high'] },
};
const FLUX_DEV: Schema = { fields: { ...FLUX1_COMMON, num_inference_steps: { kind: 'integer', ge: 1, le: 50 }, guidance_scale: { kind: 'number', ge: 1, le: 20 } }, required: ['prompt'] };
const FLUX_SCHNELL: Schema = { fields: { ...FLUX1_COMMON, num_inference_steps: { kind: 'integer', ge: 1, le: 12 } }, required: ['prompt'] };

/** fal's named sizes */
export const IMAGE_SIZES: Record<string, { width: number; height: number }> = {
  square_hd: { width: 1024, height: 1024 },
  square: { width: 512, height: 512 },
  portrait_4_3: { width: 768, height: 1024 },
  portrait_16_9: { width: 576, height: 1024 },
  landscape_4_3: { width: 1024, height: 768 },
  landscape_16_9: { width: 1024, height: 576 },
};
const MAX_SIDE = 14142;

export const ENDPOINTS: Record<string, Schema> = {
  'fal-ai/flux-pro/kontext': SINGLE,
  'fal-ai/flux-pro/kontext/max': SINGLE,
  'fal-ai/flux-pro/kontext/multi': MULTI,
  'fal-ai/flux-pro/kontext/max/multi': MULTI,
  'fal-ai/flux-pro/kontext/text-to-image': KONTEXT_T2I,
  'fal-ai/flux-pro/kontext/max/text-to-image': KONTEXT_T2I,
  'fal-ai/flux/dev': FLUX_DEV,
  'fal-ai/flux/schnell': FLUX_SCHNELL,
};

export type FalOutcome =
  | { kind: 'ok' }
  /** the checker flags the images: blacked out, has_nsfw_concepts true */
  | { kind: 'nsfw' }
  /** the result answers this error */
  | { kind: 'error'; status: number; detail: unknown; retryable?: boolean }
  /** never completes */
  | { kind: 'stall' };

interface DetailItem {
  loc: Array<string | number>;
  msg: string;
  type: string;
  input?: unknown;
}

interface QueuedRequest {
  id: string;
  endpoint: string;
  /** owner/alias: where its status and result live */
  app: string;
  input: unknown;
  status: 'IN_QUEUE' | 'IN_PROGRESS' | 'COMPLETED';
  outcome: FalOutcome;
  result: { status: number; body: unknown; headers: Record<string, string> } | null;
  timers: NodeJS.Timeout[];
}

export class FalEmulator extends EmulatorBase {
  /** every image it made, in order */
  readonly emitted: Buffer[] = [];
  /** the submits it accepted: endpoint and body */
  readonly submits: Array<{ endpoint: string; input: unknown }> = [];
  readonly queue = new Map<string, QueuedRequest>();
  /** outcomes for the next submits, in order; 'ok' when empty */
  readonly script: FalOutcome[] = [];
  fileTtlMs: number;
  private readonly files = new Map<string, { bytes: Buffer; type: string; expires: number }>();
  private counter = 0;

  constructor(readonly options: FalEmulatorOptions) {
    super((req, res) => this.serve(req, res));
    this.fileTtlMs = options.fileTtlMs ?? 60_000;
  }

  get baseUrl(): string {
    return this.url;
  }

  override reset(): void {
    super.reset();
    this.script.length = 0;
    this.submits.length = 0;
  }

  override async close(): Promise<void> {
    for (const q of this.queue.values()) q.timers.forEach(clearTimeout);
    await super.close();
  }

  private async serve(req: Recorded, res: http.ServerResponse): Promise<void> {
    const file = /^\/files\/([\w-]+)\/([\w.-]+)$/.exec(req.path);
    if (req.method === 'GET' && file) {
      const f = this.files.get(file[1]);
      if (!f || Date.now() > f.expires) return sendJson(res, 404, { detail: 'File not found' });
      res.writeHead(200, { 'content-type': f.type, 'content-length': String(f.bytes.length) });
      res.end(f.bytes);
      return;
    }
    const auth = req.headers.authorization ?? '';
    if (!/^Key .+/.test(auth)) return sendJson(res, 401, { detail: 'Missing or malformed Authorization header: expected "Key <key>"' });
    if (auth !== `Key ${this.options.apiKey}`) return sendJson(res, 401, { detail: 'No user found for Key ID and Secret' });

    const q = /^\/([^/]+)\/([^/]+)\/requests\/([^/]+)(\/status|\/cancel)?$/.exec(req.path);
    if (q) {
      const item = this.queue.get(q[3]);
      // a request lives under its app (owner/alias) and nowhere else
      if (!item || item.app !== `${q[1]}/${q[2]}`) return sendJson(res, 404, { detail: `Request ${q[3]} not found` });
      if (q[4] === '/status' && req.method === 'GET') return sendJson(res, item.status === 'COMPLETED' ? 200 : 202, this.statusView(item));
      if (q[4] === '/cancel' && req.method === 'PUT') {
        if (item.status === 'COMPLETED') return sendJson(res, 400, { status: 'ALREADY_COMPLETED' });
        item.timers.forEach(clearTimeout);
        item.status = 'COMPLETED';
        item.result = { status: 400, body: { detail: 'Request was cancelled' }, headers: {} };
        return sendJson(res, 202, { status: 'CANCELLATION_REQUESTED' });
      }
      if (q[4] === undefined && req.method === 'GET') {
        if (item.status !== 'COMPLETED' || !item.result) return sendJson(res, 400, { detail: 'Request is still in progress' });
        return sendJson(res, item.result.status, item.result.body, { 'x-fal-request-id': item.id, ...item.result.headers });
      }
      return sendJson(res, 405, { detail: 'Method Not Allowed' });
    }
    if (req.method === 'POST' && req.path.includes('/requests/')) return sendJson(res, 404, { detail: 'Not Found' });
    if (req.method !== 'POST') return sendJson(res, 404, { detail: 'Not Found' });

    const endpoint = req.path.replace(/^\/+|\/+$/g, '');
    if (!ENDPOINTS[endpoint]) return sendJson(res, 404, { detail: `Application '${endpoint}' not found` });
    if (req.json === undefined) return sendJson(res, 422, { detail: [{ loc: ['body'], msg: 'Input should be a valid dictionary or object to extract fields from', type: 'model_attributes_type' }] });
    this.submits.push({ endpoint, input: req.json });
    const item = this.enqueue(endpoint, req.json);
    sendJson(res, 200, { ...this.statusView(item), logs: null, metrics: {}, queue_position: 0 });
  }

  private urls(item: QueuedRequest): Record<string, string> {
    const base = `${this.options.queueOrigin ?? this.url}/${item.app}/requests/${item.id}`;
    return { response_url: base, status_url: `${base}/status`, cancel_url: `${base}/cancel` };
  }

  private statusView(item: QueuedRequest): Record<string, unknown> {
    const view: Record<string, unknown> = { status: item.status, request_id: item.id, ...this.urls(item) };
    if (item.status === 'IN_QUEUE') view.queue_position = 0;
    if (item.status !== 'IN_QUEUE') view.logs = [];
    if (item.status === 'COMPLETED') {
      view.metrics = { inference_time: 0.2 };
      if (item.result && item.result.status >= 400) {
        view.error = 'Request failed';
        view.error_type = 'request_error';
      }
    }
    return view;
  }

  private enqueue(endpoint: string, input: unknown): QueuedRequest {
    const [owner, alias] = endpoint.split('/');
    const item: QueuedRequest = {
      id: crypto.randomUUID(),
      endpoint,
      app: `${owner}/${alias}`,
      input,
      status: 'IN_QUEUE',
      outcome: this.script.shift() ?? { kind: 'ok' },
      result: null,
      timers: [],
    };
    this.queue.set(item.id, item);
    const queueMs = this.options.queueMs ?? 50;
    const processingMs = this.options.processingMs ?? 200;
    item.timers.push(setTimeout(() => (item.status = 'IN_PROGRESS'), queueMs));
    if (item.outcome.kind !== 'stall') item.timers.push(setTimeout(() => void this.run(item), queueMs + processingMs));
    return item;
  }

  /** the app runs: its input checked, then its answer made */
  private async run(item: QueuedRequest): Promise<void> {
    const complete = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      item.result = { status, body, headers };
      item.status = 'COMPLETED';
    };
    const problems = validate(ENDPOINTS[item.endpoint], item.input);
    if (problems.length > 0) return complete(422, { detail: problems }, { 'x-fal-retryable': 'false' });
    const input = item.input as Record<string, unknown>;
    const schema = ENDPOINTS[item.endpoint];
    const uris = (Array.isArray(input.image_urls) ? input.image_urls : 'image_url' in schema.fields ? [input.image_url] : []) as string[];
    const facts = [];
    for (const [i, uri] of uris.entries()) {
      const bytes = decodeDataUri(uri);
      const f = bytes ? await imageFacts(bytes) : null;
      const loc = Array.isArray(input.image_urls) ? ['body', 'image_urls', i] : ['body', 'image_url'];
      if (!bytes && /^https?:\/\//.test(uri)) {
        return complete(422, { detail: [{ loc, msg: 'Failed to download the file. Please check if the URL is accessible.', type: 'file_download_error', url: 'https://docs.fal.ai/errors#file_download_error', input: uri }] }, { 'x-fal-retryable': 'false' });
      }
      if (!f) return complete(422, { detail: [{ loc, msg: 'Failed to load the image. Please ensure the image file is not corrupted and is in a supported format.', type: 'image_load_error', url: 'https://docs.fal.ai/errors#image_load_error' }] }, { 'x-fal-retryable': 'false' });
      facts.push(f);
    }
    const o = item.outcome;
    if (o.kind === 'error') return complete(o.status, { detail: o.detail }, o.retryable === undefined ? {} : { 'x-fal-retryable': String(o.retryable) });
    const n = (input.num_images as number | undefined) ?? 1;
    const format = (input.output_format as 'jpeg' | 'png' | undefined) ?? 'jpeg';
    const size =
      'image_size' in schema.fields ? imageSize(input.image_size)
      : !('image_url' in schema.fields) && !('image_urls' in schema.fields) && input.aspect_ratio === undefined ? outputSize('1:1', undefined)
      : outputSize(input.aspect_ratio as string | undefined, facts[0]);
    const images = [];
    for (let i = 0; i < n; i++) {
      const bytes =
        o.kind === 'nsfw'
          ? await sharp({ create: { width: size.width, height: size.height, channels: 3, background: '#000' } })[format]().toBuffer()
          : await makeResultImage(size.width, size.height, format, ++this.counter);
      if (o.kind !== 'nsfw') this.emitted.push(bytes);
      const token = crypto.randomBytes(12).toString('hex');
      this.files.set(token, { bytes, type: `image/${format}`, expires: Date.now() + this.fileTtlMs });
      images.push({
        url: `${this.options.cdnOrigin ?? this.url}/files/${token}/${crypto.randomBytes(6).toString('hex')}.${format === 'jpeg' ? 'jpg' : 'png'}`,
        content_type: `image/${format}`,
        file_name: `image.${format === 'jpeg' ? 'jpg' : 'png'}`,
        file_size: bytes.length,
        width: size.width,
        height: size.height,
      });
    }
    if (item.status !== 'COMPLETED') {
      complete(200, { images, timings: { inference: 0.2 }, seed: input.seed ?? 42, has_nsfw_concepts: images.map(() => o.kind === 'nsfw'), prompt: input.prompt });
    }
  }
}

function decodeDataUri(uri: string): Buffer | null {
  const m = /^data:image\/[\w.+-]+;base64,([A-Za-z0-9+/]+={0,2})$/.exec(uri);
  return m ? Buffer.from(m[1], 'base64') : null;
}

/** pydantic's checks and words for the model's input */
function validate(schema: Schema, input: unknown): DetailItem[] {
  if (!input || typeof input !== 'object' || Array.isArray(input)) {
    return [{ loc: ['body'], msg: 'Input should be a valid dictionary or object to extract fields from', type: 'model_attributes_type', input }];
  }
  const out: DetailItem[] = [];
  const o = input as Record<string, unknown>;
  const fields = schema.fields as Record<string, Field>;
  for (const name of schema.required) if (!(name in o)) out.push({ loc: ['body', name], msg: 'Field required', type: 'missing' });
  for (const [name, v] of Object.entries(o)) {
    const f = fields[name];
    const loc = ['body', name];
    if (!f) {
      out.push({ loc, msg: 'Extra inputs are not permitted', type: 'extra_forbidden', input: v });
      continue;
    }
    if (f.kind === 'image_size') {
      out.push(...checkImageSize(v));
      continue;
    }
    if (f.enum) {
      if (typeof v !== 'string' || !f.enum.includes(v)) out.push({ loc, msg: `Input should be ${f.enum.map((e) => `'${e}'`).join(', ').replace(/, ([^,]*)$/, ' or $1')}`, type: 'enum', input: v });
      continue;
    }
    if (f.kind === 'string' && typeof v !== 'string') out.push({ loc, msg: 'Input should be a valid string', type: 'string_type', input: v });
    else if (f.kind === 'boolean' && typeof v !== 'boolean') out.push({ loc, msg: 'Input should be a valid boolean', type: 'bool_type', input: v });
    else if (f.kind === 'integer' && !(typeof v === 'number' && Number.isInteger(v))) out.push({ loc, msg: 'Input should be a valid integer', type: 'int_type', input: v });
    else if (f.kind === 'number' && typeof v !== 'number') out.push({ loc, msg: 'Input should be a valid number', type: 'float_type', input: v });
    else if (f.kind === 'array') {
      if (!Array.isArray(v)) out.push({ loc, msg: 'Input should be a valid list', type: 'list_type', input: v });
      else {
        if (f.minItems !== undefined && v.length < f.minItems) out.push({ loc, msg: `List should have at least ${f.minItems} item after validation, not ${v.length}`, type: 'too_short', input: v });
        v.forEach((item, i) => {
          if (typeof item !== 'string') out.push({ loc: [...loc, i], msg: 'Input should be a valid string', type: 'string_type', input: item });
        });
      }
    }
    if (typeof v === 'number') {
      if (f.ge !== undefined && v < f.ge) out.push({ loc, msg: `Input should be greater than or equal to ${f.ge}`, type: 'greater_than_equal', input: v });
      if (f.le !== undefined && v > f.le) out.push({ loc, msg: `Input should be less than or equal to ${f.le}`, type: 'less_than_equal', input: v });
    }
  }
  return out;
}

/** `image_size`: one of the named sizes, or `{width, height}` integers 1–14142 and nothing else */
function checkImageSize(v: unknown): DetailItem[] {
  const loc = ['body', 'image_size'];
  if (typeof v === 'string') {
    const names = Object.keys(IMAGE_SIZES);
    return names.includes(v) ? [] : [{ loc: [...loc, 'enum[…]'], msg: `Input should be ${names.map((e) => `'${e}'`).join(', ').replace(/, ([^,]*)$/, ' or $1')}`, type: 'enum', input: v }];
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return [{ loc: [...loc, 'ImageSize'], msg: 'Input should be a valid dictionary or instance of ImageSize', type: 'model_type', input: v }];
  const out: DetailItem[] = [];
  const o = v as Record<string, unknown>;
  for (const [k, x] of Object.entries(o)) {
    if (k !== 'width' && k !== 'height') out.push({ loc: [...loc, 'ImageSize', k], msg: 'Extra inputs are not permitted', type: 'extra_forbidden', input: x });
  }
  for (const k of ['width', 'height']) {
    const x = o[k];
    if (x === undefined) continue; // both default to 512
    if (!(typeof x === 'number' && Number.isInteger(x))) out.push({ loc: [...loc, 'ImageSize', k], msg: 'Input should be a valid integer', type: 'int_type', input: x });
    else if (x < 1 || x > MAX_SIDE) out.push({ loc: [...loc, 'ImageSize', k], msg: x < 1 ? 'Input should be greater than 0' : `Input should be less than or equal to ${MAX_SIDE}`, type: x < 1 ? 'greater_than' : 'less_than_equal', input: x });
  }
  return out;
}

/** the size FLUX.1 makes: the named size, or the asked one on multiples of 16 (default landscape_4_3) */
function imageSize(v: unknown): { width: number; height: number } {
  if (v === undefined) return IMAGE_SIZES.landscape_4_3;
  if (typeof v === 'string') return IMAGE_SIZES[v];
  const o = v as { width?: number; height?: number };
  const side = (x: number) => Math.max(16, Math.round(x / 16) * 16);
  return { width: side(o.width ?? 512), height: side(o.height ?? 512) };
}

/** about a megapixel in the asked ratio, else the input's shape; multiples of 16 */
function outputSize(ratio: string | undefined, first: { width: number; height: number } | undefined): { width: number; height: number } {
  let r = first ? first.width / first.height : 1;
  if (ratio && /^\d+:\d+$/.test(ratio)) r = Number(ratio.split(':')[0]) / Number(ratio.split(':')[1]);
  const side = (v: number) => Math.round(v / 16) * 16;
  return { width: side(Math.sqrt(2 ** 20 * r)), height: side(Math.sqrt(2 ** 20 / r)) };
}

export async function startFalEmulator(options: FalEmulatorOptions): Promise<FalEmulator> {
  return new FalEmulator(options).start();
}
