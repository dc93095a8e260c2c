/**
 * Replicate's predictions API as the real service answers and refuses
 * (provider-apis.md §4 and §10.4): Bearer auth (`Token` too, as old clients
 * send it); `POST /v1/models/{owner}/{name}/predictions` for official models
 * and `POST /v1/predictions` with a `version`; every input checked against
 * the model's schema, with a 422 problem listing `invalid_fields` like
 * Replicate's (an unknown field, a wrong type, a value outside its enum or
 * range, a file input that is not a URI: raw base64 is refused, a data URI
 * is accepted); `Prefer: wait[=N]` honoured (the answer waits until the
 * prediction ends or N seconds pass); statuses starting → processing →
 * succeeded | failed | canceled; `urls.get` / `urls.cancel`; the output a URL
 * served here without credentials, which expires; `GET /v1/account`.
 * Replicate answers 201 to a create, with or without `Prefer: wait`.
 */
import type http from 'node:http';
import crypto from 'node:crypto';
import { EmulatorBase, imageFacts, makeResultImage, sendJson, type Recorded } from './base.js';

export interface ReplicateEmulatorOptions {
  apiKey: string;
  /** time a prediction spends `starting`, then `processing` (ms) */
  startingMs?: number;
  processingMs?: number;
  /** the origin `urls.get`/`urls.cancel` name (default: this emulator); another server's makes them foreign */
  apiOrigin?: string;
  /** the origin output URLs name (default: this emulator) */
  deliveryOrigin?: string;
  /** how long an output URL is served (ms) */
  fileTtlMs?: number;
  /** answer the output as an array of URLs, as some models do */
  arrayOutput?: boolean;
}

type FieldType = 'string' | 'integer' | 'number' | 'boolean' | 'array';
interface Field {
  type: FieldType;
  format?: 'uri';
  enum?: readonly string[];
  minimum?: number;
  maximum?: number;
  maxItems?: number;
  items?: Field;
}
interface ModelDef {
  family: 'kontext' | 'flux-2' | 'flux-1';
  /** runs on `/models/{owner}/{name}/predictions` without a version */
  official: boolean;
  version: string;
  required: string[];
  properties: Record<string, Field>;
}

const URI: Field = { type: 'string', format: 'uri' };
const KONTEXT: Omit<ModelDef, 'official' | 'version'> = {
  family: 'kontext',
  required: ['prompt'],
  properties: {
    prompt: { type: 'string' },
    input_image: URI,
    aspect_ratio: { type: 'string', enum: ['match_input_image', '1:1', '16:9', '9:16', '4:3', '3:4', '3:2', '2:3', '4:5', '5:4', '21:9', '9:21', '2:1', '1:2'] },
    prompt_upsampling: { type: 'boolean' },
    seed: { type: 'integer' },
    output_format: { type: 'string', enum: ['jpg', 'png'] },
    safety_tolerance: { type: 'integer', minimum: 0, maximum: 6 },
  },
};
const FLUX2: Omit<ModelDef, 'official' | 'version'> = {
  family: 'flux-2',
  required: ['prompt'],
  properties: {
    prompt: { type: 'string' },
    input_images: { type: 'array', items: URI, maxItems: 8 },
    aspect_ratio: { type: 'string', enum: ['match_input_image', 'custom', '1:1', '16:9', '3:2', '2:3', '4:5', '5:4', '9:16', '3:4', '4:3'] },
    resolution: { type: 'string', enum: ['match_input_image', '0.5 MP', '1 MP', '2 MP', '4 MP'] },
    width: { type: 'integer', minimum: 256, maximum: 2048 },
    height: { type: 'integer', minimum: 256, maximum: 2048 },
    safety_tolerance: { type: 'integer', minimum: 1, maximum: 5 },
    seed: { type: 'integer' },
    output_format: { type: 'string', enum: ['webp', 'jpg', 'png'] },
    output_quality: { type: 'integer', minimum: 0, maximum: 100 },
  },
};

/** FLUX.1 [schnell] and [dev]: text to image, up to 4 outputs, an array of URLs back (dev also takes an `image` for img2img) */
const FLUX1_RATIOS = ['1:1', '16:9', '21:9', '3:2', '2:3', '4:5', '5:4', '3:4', '4:3', '9:16', '9:21'];
const FLUX1_COMMON: Record<string, Field> = {
  prompt: { type: 'string' },
  aspect_ratio: { type: 'string', enum: FLUX1_RATIOS },
  num_outputs: { type: 'integer', minimum: 1, maximum: 4 },
  seed: { type: 'integer' },
  output_format: { type: 'string', enum: ['webp', 'jpg', 'png'] },
  output_quality: { type: 'integer', minimum: 0, maximum: 100 },
  disable_safety_checker: { type: 'boolean' },
  go_fast: { type: 'boolean' },
  megapixels: { type: 'string', enum: ['1', '0.25'] },
};
const FLUX_SCHNELL: Omit<ModelDef, 'official' | 'version'> = {
  family: 'flux-1',
  required: ['prompt'],
  properties: { ...FLUX1_COMMON, num_inference_steps: { type: 'integer', minimum: 1, maximum: 4 } },
};
const FLUX_DEV: Omit<ModelDef, 'official' | 'version'> = {
  family: 'flux-1',
  required: ['prompt'],
  properties: {
    ...FLUX1_COMMON,
    image: URI,
    prompt_strength: { type: 'number', minimum: 0, maximum: 1 },
    num_inference_steps: { type: 'integer', minimum: 1, maximum: 50 },
    guidance: { type: 'number', minimum: 0, maximum: 10 },
  },
};

export const KONTEXT_PRO_VERSION = '0a1381936934845a14efcc9f309ce7d031cb905867878b5c5830280e00e97606';
export const COMMUNITY_VERSION = '5b3e9a0c1d2f4e6a8b7c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c';

export const MODELS: Record<string, ModelDef> = {
  'black-forest-labs/flux-kontext-pro': { ...KONTEXT, official: true, version: KONTEXT_PRO_VERSION },
  'black-forest-labs/flux-kontext-max': { ...KONTEXT, official: true, version: '8389ed8e4b16016c44fcdcc3ad142cf1e182e0a1ecaf0347b3e5254303f2beac' },
  'black-forest-labs/flux-2-pro': { ...FLUX2, official: true, version: '00b07c32e314ceb5152c1d08e73400e6a61d7d22ba60a405fc76314fc807910c' },
  'black-forest-labs/flux-schnell': { ...FLUX_SCHNELL, official: true, version: 'c846a69991daf4c0e5d016514849d14ee5b2e6846ce6b9d6f21369e564cfe51e' },
  'black-forest-labs/flux-dev': { ...FLUX_DEV, official: true, version: '6e4a938f85952bdabcc15fa9eb4ee3e1e4ab6b0d4cd6d9e1d8a5b1f0c0a7a3c1' },
  // a community fine-tune: only reachable by its version
  'acme/kontext-tuned': { ...KONTEXT, official: false, version: COMMUNITY_VERSION },
};

export type Outcome =
  | { kind: 'ok' }
  | { kind: 'failed'; error: string }
  | { kind: 'canceled' }
  /** never ends on its own */
  | { kind: 'stall' };

interface InvalidField {
  type: string;
  field: string;
  description: string;
}

class Problem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(detail);
  }
}

interface PredictionState {
  id: string;
  model: string;
  version: string;
  input: Record<string, unknown>;
  status: 'starting' | 'processing' | 'succeeded' | 'failed' | 'canceled';
  output: string | string[] | null;
  error: string | null;
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
  timers: NodeJS.Timeout[];
  ended: Promise<void>;
  end(): void;
}

export interface CreateSeen {
  model: string;
  path: string;
  prefer: string | null;
  input: Record<string, unknown>;
}

export class ReplicateEmulator extends EmulatorBase {
  /** every output image, in the order made: a client must get exactly these bytes (or their conversion) */
  readonly emitted: Buffer[] = [];
  /** the creates it accepted */
  readonly creates: CreateSeen[] = [];
  readonly predictions = new Map<string, PredictionState>();
  /** outcomes for the next predictions, in order; 'ok' when empty */
  readonly script: Outcome[] = [];
  fileTtlMs: number;
  private readonly files = new Map<string, { bytes: Buffer; type: string; expires: number }>();
  private counter = 0;

  constructor(readonly options: ReplicateEmulatorOptions) {
    super((req, res) => this.serve(req, res));
    this.fileTtlMs = options.fileTtlMs ?? 60_000;
  }

  /** the baseUrl a gateway config uses */
  get baseUrl(): string {
    return `${this.url}/v1`;
  }

  override reset(): void {
    super.reset();
    this.script.length = 0;
    this.creates.length = 0;
  }

  override async close(): Promise<void> {
    for (const p of this.predictions.values()) p.timers.forEach(clearTimeout);
    await super.close();
  }

  private async serve(req: Recorded, res: http.ServerResponse): Promise<void> {
    const file = /^\/delivery\/([\w-]+)\/([\w.-]+)$/.exec(req.path);
    if (req.method === 'GET' && file) return this.serveFile(file[1], res);
    try {
      if (!req.path.startsWith('/v1/')) throw new Problem(404, 'Not found', 'The requested resource could not be found.');
      this.authorise(req);
      const path = req.path.slice(3);
      let m: RegExpExecArray | null;
      if (req.method === 'GET' && path === '/account') {
        return sendJson(res, 200, { type: 'organization', username: 'acme', name: 'Acme Images', github_url: null });
      }
      if (req.method === 'POST' && (m = /^\/models\/([^/]+)\/([^/]+)\/predictions$/.exec(path))) {
        const model = `${decodeURIComponent(m[1])}/${decodeURIComponent(m[2])}`;
        const def = MODELS[model];
        if (!def || !def.official) throw new Problem(404, 'Not found', 'The requested resource could not be found.');
        return await this.create(req, res, model, def, false);
      }
      if (req.method === 'POST' && path === '/predictions') {
        const version = (req.json as { version?: unknown } | undefined)?.version;
        const entry = Object.entries(MODELS).find(([, d]) => d.version === version);
        if (!entry) {
          throw new Problem(422, 'Invalid version or not permitted', 'The specified version does not exist (or perhaps you don\'t have permission to use it?)');
        }
        return await this.create(req, res, entry[0], entry[1], true);
      }
      if (req.method === 'GET' && (m = /^\/predictions\/([\w]+)$/.exec(path))) {
        const p = this.predictions.get(m[1]);
        if (!p) throw new Problem(404, 'Not found', 'The requested resource could not be found.');
        return sendJson(res, 200, this.view(p));
      }
      if (req.method === 'POST' && (m = /^\/predictions\/([\w]+)\/cancel$/.exec(path))) {
        const p = this.predictions.get(m[1]);
        if (!p) throw new Problem(404, 'Not found', 'The requested resource could not be found.');
        if (p.status === 'starting' || p.status === 'processing') this.finish(p, 'canceled', null, null);
        return sendJson(res, 200, this.view(p));
      }
      throw new Problem(404, 'Not found', 'The requested resource could not be found.');
    } catch (e) {
      if (!(e instanceof Problem)) throw e;
      sendJson(res, e.status, { type: `https://replicate.com/docs/reference/http#${e.status}`, title: e.title, status: e.status, detail: e.detail, ...e.extra }, { 'content-type': 'application/problem+json' });
    }
  }

  private serveFile(token: string, res: http.ServerResponse): void {
    const f = this.files.get(token);
    if (!f || Date.now() > f.expires) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('Not Found');
      return;
    }
    res.writeHead(200, { 'content-type': f.type, 'content-length': String(f.bytes.length) });
    res.end(f.bytes);
  }

  private authorise(req: Recorded): void {
    const auth = req.headers.authorization ?? '';
    const m = /^(Bearer|Token) (.+)$/.exec(auth);
    if (!m || m[2] !== this.options.apiKey) throw new Problem(401, 'Unauthenticated', 'You did not pass a valid authentication token');
  }

  private async create(req: Recorded, res: http.ServerResponse, model: string, def: ModelDef, versioned: boolean): Promise<void> {
    const body = req.json as Record<string, unknown> | undefined;
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw new Problem(400, 'Invalid JSON', 'The request body must be a JSON object.');
    const allowed = new Set(['input', 'webhook', 'webhook_events_filter', 'stream', ...(versioned ? ['version'] : [])]);
    const invalid: InvalidField[] = [];
    for (const k of Object.keys(body)) {
      if (!allowed.has(k)) invalid.push({ type: 'additional_property_not_allowed', field: '(root)', description: `Additional property ${k} is not allowed` });
    }
    if (!('input' in body)) invalid.push({ type: 'required', field: '(root)', description: 'input is required' });
    else invalid.push(...validateInput(def, body.input));
    if (invalid.length > 0) {
      throw new Problem(422, 'Input validation failed', invalid.map((f) => `- ${f.field}: ${f.description}\n`).join(''), { invalid_fields: invalid });
    }
    const wait = parsePrefer(req.headers.prefer);
    const input = body.input as Record<string, unknown>;
    this.creates.push({ model, path: req.path, prefer: typeof req.headers.prefer === 'string' ? req.headers.prefer : null, input });
    const p = this.begin(model, def, input);
    if (wait !== null) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([p.ended, new Promise<void>((r) => (timer = setTimeout(r, wait * 1000)))]);
      clearTimeout(timer);
    }
    sendJson(res, 201, this.view(p));
  }

  private begin(model: string, def: ModelDef, input: Record<string, unknown>): PredictionState {
    const id = crypto.randomBytes(13).toString('hex').slice(0, 26);
    let end!: () => void;
    const ended = new Promise<void>((r) => (end = r));
    const p: PredictionState = {
      id,
      model,
      version: def.version,
      input,
      status: 'starting',
      output: null,
      error: null,
      created_at: new Date().toISOString(),
      started_at: null,
      completed_at: null,
      timers: [],
      ended,
      end,
    };
    this.predictions.set(id, p);
    const outcome = this.script.shift() ?? { kind: 'ok' };
    const startingMs = this.options.startingMs ?? 30;
    const processingMs = this.options.processingMs ?? 200;
    p.timers.push(
      setTimeout(() => {
        if (p.status !== 'starting') return;
        p.status = 'processing';
        p.started_at = new Date().toISOString();
      }, startingMs),
    );
    if (outcome.kind !== 'stall') {
      p.timers.push(setTimeout(() => void this.run(p, def, outcome), startingMs + processingMs));
    }
    return p;
  }

  /** the model's own checks, then its answer */
  private async run(p: PredictionState, def: ModelDef, outcome: Exclude<Outcome, { kind: 'stall' }>): Promise<void> {
    if (p.status !== 'starting' && p.status !== 'processing') return;
    p.started_at ??= new Date().toISOString();
    if (outcome.kind === 'failed') return this.finish(p, 'failed', null, outcome.error);
    if (outcome.kind === 'canceled') return this.finish(p, 'canceled', null, null);
    const inputs =
      def.family === 'kontext' ? (p.input.input_image ? [p.input.input_image] : [])
      : def.family === 'flux-1' ? (p.input.image ? [p.input.image] : [])
      : ((p.input.input_images as unknown[]) ?? []);
    const facts = [];
    for (const [i, uri] of inputs.entries()) {
      const bytes = decodeDataUri(String(uri));
      const f = bytes ? await imageFacts(bytes) : null;
      if (!f || !['jpeg', 'png', 'gif', 'webp'].includes(f.format)) {
        return this.finish(p, 'failed', null, `Failed to load input image ${i}: cannot identify image file`);
      }
      facts.push(f);
    }
    if (def.family === 'kontext' && facts.length > 0 && typeof p.input.safety_tolerance === 'number' && p.input.safety_tolerance > 2) {
      return this.finish(p, 'failed', null, 'safety_tolerance is limited to 2 when an input image is given');
    }
    const size = outputSize(p.input, facts[0] ?? null);
    const format = (p.input.output_format as string | undefined) ?? (def.family === 'kontext' ? 'png' : 'webp');
    const quality = (p.input.output_quality as number | undefined) ?? 80;
    // FLUX.1 makes num_outputs images from one seed and always answers an array
    const count = def.family === 'flux-1' ? ((p.input.num_outputs as number | undefined) ?? 1) : 1;
    const made: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      made.push(await makeResultImage(size.width, size.height, format === 'jpg' ? 'jpeg' : (format as 'png' | 'webp'), ++this.counter, { quality: format === 'png' ? undefined : quality }));
    }
    if (p.status !== 'starting' && p.status !== 'processing') return;
    const urls = made.map((bytes, i) => {
      this.emitted.push(bytes);
      const token = crypto.randomBytes(16).toString('hex');
      this.files.set(token, { bytes, type: `image/${format === 'jpg' ? 'jpeg' : format}`, expires: Date.now() + this.fileTtlMs });
      return `${this.options.deliveryOrigin ?? this.url}/delivery/${token}/out-${i}.${format}`;
    });
    this.finish(p, 'succeeded', def.family === 'flux-1' || this.options.arrayOutput ? urls : urls[0], null);
  }

  private finish(p: PredictionState, status: 'succeeded' | 'failed' | 'canceled', output: string | string[] | null, error: string | null): void {
    p.timers.forEach(clearTimeout);
    p.status = status;
    p.output = output;
    p.error = error;
    p.completed_at = new Date().toISOString();
    p.end();
  }

  private view(p: PredictionState): Record<string, unknown> {
    const api = `${this.options.apiOrigin ?? this.url}/v1/predictions/${p.id}`;
    return {
      id: p.id,
      model: p.model,
      version: p.version,
      input: p.input,
      logs: p.status === 'starting' ? '' : 'Using seed: 1\n',
      output: p.output,
      data_removed: false,
      error: p.error,
      status: p.status,
      created_at: p.created_at,
      started_at: p.started_at,
      completed_at: p.completed_at,
      urls: { cancel: `${api}/cancel`, get: api, web: `https://replicate.com/p/${p.id}` },
      metrics: p.status === 'succeeded' ? { image_count: 1, predict_time: 0.2 } : {},
    };
  }
}

/** `wait` or `wait=N` (1–60 s); null when the header asks nothing. */
function parsePrefer(header: string | string[] | undefined): number | null {
  const h = Array.isArray(header) ? header.join(',') : (header ?? '');
  const m = /(?:^|[,;\s])wait(?:=(\d+))?(?:$|[,;\s])/.exec(h);
  if (!m) return null;
  const n = m[1] === undefined ? 60 : Number(m[1]);
  if (n < 1 || n > 60) throw new Problem(400, 'Invalid Prefer header', 'The wait duration must be between 1 and 60 seconds.');
  return n;
}

function decodeDataUri(uri: string): Buffer | null {
  const m = /^data:image\/[\w.+-]+;base64,([A-Za-z0-9+/]+={0,2})$/.exec(uri);
  return m ? Buffer.from(m[1], 'base64') : null;
}

const isUri = (v: string): boolean => {
  if (/^data:[\w.+-]+\/[\w.+-]+(;[\w-]+=[\w.-]+)*;base64,/.test(v)) return true;
  try {
    const u = new URL(v);
    return u.protocol === 'https:' || u.protocol === 'http:';
  } catch {
    return false;
  }
};

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function checkValue(name: string, f: Field, v: unknown, out: InvalidField[]): void {
  const field = `input.${name}`;
  const t = typeName(v);
  const ok = f.type === t || (f.type === 'number' && t === 'integer');
  if (!ok) {
    out.push({ type: 'invalid_type', field, description: `Invalid type. Expected: ${f.type}, given: ${t}` });
    return;
  }
  if (f.enum && !f.enum.includes(v as string)) {
    out.push({ type: 'enum', field, description: `${name} must be one of the following: ${f.enum.map((e) => `"${e}"`).join(', ')}` });
  }
  if (typeof v === 'number') {
    if (f.minimum !== undefined && v < f.minimum) out.push({ type: 'number_gte', field, description: `Must be greater than or equal to ${f.minimum}` });
    if (f.maximum !== undefined && v > f.maximum) out.push({ type: 'number_lte', field, description: `Must be less than or equal to ${f.maximum}` });
  }
  if (f.format === 'uri' && typeof v === 'string' && !isUri(v)) out.push({ type: 'format', field, description: "Does not match format 'uri'" });
  if (Array.isArray(v)) {
    if (f.maxItems !== undefined && v.length > f.maxItems) out.push({ type: 'array_max_items', field, description: `Array must have at most ${f.maxItems} items` });
    v.forEach((item, i) => checkValue(`${name}.${i}`, f.items!, item, out));
  }
}

function validateInput(def: ModelDef, input: unknown): InvalidField[] {
  if (!input || typeof input !== 'object' || Array.isArray(input)) {
    return [{ type: 'invalid_type', field: 'input', description: `Invalid type. Expected: object, given: ${typeName(input)}` }];
  }
  const out: InvalidField[] = [];
  const o = input as Record<string, unknown>;
  for (const name of def.required) if (!(name in o)) out.push({ type: 'required', field: 'input', description: `${name} is required` });
  for (const [name, v] of Object.entries(o)) {
    const f = def.properties[name];
    if (!f) out.push({ type: 'additional_property_not_allowed', field: 'input', description: `Additional property ${name} is not allowed` });
    else checkValue(name, f, v, out);
  }
  return out;
}

/** about a megapixel in the asked shape (the input's for match_input_image), on multiples of 16; custom sizes as asked */
function outputSize(input: Record<string, unknown>, first: { width: number; height: number } | null): { width: number; height: number } {
  const ar = input.aspect_ratio as string | undefined;
  if (ar === 'custom') return { width: Number(input.width ?? 1024), height: Number(input.height ?? 1024) };
  let r = 1;
  if ((ar === undefined || ar === 'match_input_image') && first) r = first.width / first.height;
  else if (ar && /^\d+:\d+$/.test(ar)) r = Number(ar.split(':')[0]) / Number(ar.split(':')[1]);
  const side = (v: number) => Math.round(v / 16) * 16;
  return { width: side(Math.sqrt(2 ** 20 * r)), height: side(Math.sqrt(2 ** 20 / r)) };
}

export async function startReplicateEmulator(options: ReplicateEmulatorOptions): Promise<ReplicateEmulator> {
  return new ReplicateEmulator(options).start();
}
