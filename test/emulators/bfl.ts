/**
 * Black Forest Labs' API as the real service answers and refuses
 * (provider-apis.md §3, its OpenAPI document, §10.3 of the checklist):
 *
 * - `x-key` auth (403 "Not authenticated" without it, 401 with a wrong one);
 * - `POST /v1/{endpoint}` with a JSON body validated against the endpoint's
 *   published schema (bfl-schemas.ts): FastAPI's 422 `{"detail": [...]}` for
 *   a missing, mistyped, out-of-range or unknown field;
 * - beyond the schema, what BFL checks on the content: images are raw base64
 *   of a readable picture (a data URI is refused) or a URL, numbered without
 *   gaps; Kontext's `aspect_ratio` within 21:9..9:21; FLUX.2's width and
 *   height multiples of 16 within 4 MP; Fill's mask readable, black and white
 *   without transparency, of the image's size; `safety_tolerance` at most 2
 *   with input images (resellers' notes on BFL, UNVERIFIED as BFL's own words);
 * - the text-to-image endpoints (`flux-pro-1.1`, `flux-dev`,
 *   `flux-pro-1.1-ultra`) take no `input_image` (unknown there, so refused),
 *   sizes per their schema (width/height multiples of 32 in 256..1440, 1024x768
 *   by default; Ultra an aspect ratio within 21:9..9:21, 16:9 by default, at
 *   about 4 MP), and refuse a request with neither a prompt nor an
 *   `image_prompt` (their schemas default the prompt to ""; that refusal's
 *   words are UNVERIFIED);
 * - the submit answers `{id, polling_url, cost}` with the polling URL on a
 *   SECOND listener (another port, like BFL's regional hosts), so an adapter
 *   that builds the URL from its base instead of following it fails; the API
 *   listener itself does not serve get_result;
 * - `GET /v1/get_result?id=` walks Pending → Ready after `pendingPolls`
 *   polls; `result.sample` is a signed URL on the second listener that
 *   expires (403 AuthenticationFailed, as Azure blob storage answers);
 * - job outcomes by prompt word or a queued plan: Request Moderated,
 *   Content Moderated, Error, a task never found, a job that never ends,
 *   an already expired sample; a "Task not found" phase right after submit;
 * - 402 when the credits run out, 429 beyond the active-task limit (24,
 *   6 for Kontext Max) with Retry-After and BFL's `retry_after`.
 * Everything received is recorded; `emitted` holds the exact bytes served.
 *
 * What BFL does not document and is assumed here (UNVERIFIED): the status
 * and text of a wrong key (401), of no credits (402 `{"detail"}`), the 429
 * body (from BFL's skill documentation), and the words of the content
 * checks (422 `value_error`s). The adapter reads statuses and passes words
 * on, so none of these texts is load-bearing.
 */
import crypto from 'node:crypto';
import type http from 'node:http';
import sharp from 'sharp';
import { EmulatorBase, makeResultImage, sendJson, type Recorded } from './base.js';
import { ENDPOINT_SCHEMAS, FluxDevInputs, FluxKontextProInputs, FluxPro11Inputs, FluxProFillInputs, FluxUltraInput, validateBody, type ValidationIssue } from './bfl-schemas.js';

export type JobPlan =
  /** Pending for `pendingPolls` polls, then Ready */
  | 'ready'
  /** Pending, then Error */
  | 'error'
  /** refused on the first poll: the inputs were moderated */
  | 'request-moderated'
  /** Pending, then the output was moderated */
  | 'content-moderated'
  /** "Task not found" on every poll */
  | 'lost'
  /** Pending forever */
  | 'slow'
  /** Ready, with a sample URL that has already expired */
  | 'expired';

export interface BflEmulatorOptions {
  apiKey: string;
  /** polls answered Pending before the outcome (default 1) */
  pendingPolls?: number;
  /** polls answered "Task not found" right after the submit (default 0) */
  notFoundPolls?: number;
  /** how long a sample URL stays valid (default 10 minutes, as BFL's) */
  sampleTtlMs?: number;
  /** credits on the account (default plenty); a submit that costs more is a 402 */
  credits?: number;
}

/** Prompt words that pick an outcome, so a test can steer one request. */
const PROMPT_PLANS: Array<[RegExp, JobPlan]> = [
  [/\bforbidden\b/i, 'request-moderated'],
  [/\bindecent\b/i, 'content-moderated'],
  [/\bexplode-job\b/i, 'error'],
  [/\bvanish-job\b/i, 'lost'],
];

/** credits per task (1 credit = $0.01), near BFL's prices */
const COST: Record<string, number> = { 'flux-kontext-pro': 4, 'flux-kontext-max': 8, 'flux-pro-1.0-fill': 5, 'flux-pro-1.1': 4, 'flux-dev': 2.5, 'flux-pro-1.1-ultra': 6 };

export interface SubmitSeen {
  endpoint: string;
  body: Record<string, unknown>;
  /** input images decoded from base64, in field order (input_image, _2, …; or Fill's image) */
  images: Buffer[];
  /** Fill's mask, decoded */
  mask: Buffer | null;
  taskId: string;
}

interface Task {
  id: string;
  endpoint: string;
  plan: JobPlan;
  notFoundPolls: number;
  polls: number;
  createdAt: number;
  terminal: boolean;
  prompt: string;
  seed: number;
  format: 'png' | 'jpeg' | 'webp';
  bytes: Buffer;
  width: number;
  height: number;
  pollingUrl: string;
  sampleBase: string;
}

class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(`HTTP ${status}`);
  }
}

const invalid = (issues: ValidationIssue[]) => new Refusal(422, { detail: issues });
const valueError = (field: string, msg: string, input: unknown): ValidationIssue => ({
  type: 'value_error',
  loc: ['body', field],
  msg: `Value error, ${msg}`,
  input: typeof input === 'string' && input.length > 64 ? `${input.slice(0, 64)}…` : input,
  ctx: { error: {} },
});

const B64 = /^[A-Za-z0-9+/]*={0,2}$/;
const FLUX2_MAX_PIXELS = 4_000_000;
const MIME = { png: 'image/png', jpeg: 'image/jpeg', webp: 'image/webp' } as const;

export class BflEmulator extends EmulatorBase {
  /** the second listener: polling and result delivery */
  readonly delivery: EmulatorBase;
  readonly submits: SubmitSeen[] = [];
  /** every sample served, byte for byte, in order */
  readonly emitted: Buffer[] = [];
  readonly tasks = new Map<string, Task>();
  /** outcomes for the next submits, in order (a prompt word wins over this) */
  readonly plans: JobPlan[] = [];
  /** when set, polling URLs point here instead of the second listener (a foreign host) */
  pollingBase: string | null = null;
  /** when set, sample URLs point here instead of the second listener */
  sampleBase: string | null = null;
  credits: number;
  /** polls answered "Task not found" right after each submit, as the result store catches up */
  notFoundPolls: number;
  private counter = 0;
  private readonly secret = crypto.randomBytes(16);

  constructor(readonly options: BflEmulatorOptions) {
    super((req, res) => this.serveApi(req, res));
    this.delivery = new EmulatorBase((req, res) => this.serveDelivery(req, res));
    this.credits = options.credits ?? 1_000_000;
    this.notFoundPolls = options.notFoundPolls ?? 0;
  }

  /** the baseUrl a gateway config uses */
  get baseUrl(): string {
    return this.url;
  }

  /** the second listener's host:port, for the test config's trustedHosts */
  get deliveryHost(): string {
    return new URL(this.delivery.url).host;
  }

  override async start(host = '127.0.0.1'): Promise<this> {
    await super.start(host);
    await this.delivery.start(host);
    return this;
  }

  override async close(): Promise<void> {
    await Promise.all([super.close(), this.delivery.close()]);
  }

  override reset(): void {
    super.reset();
    this.delivery.reset();
    this.submits.length = 0;
    this.emitted.length = 0;
    this.plans.length = 0;
    this.pollingBase = null;
    this.sampleBase = null;
    this.notFoundPolls = this.options.notFoundPolls ?? 0;
  }

  /** get_result requests seen on the second listener */
  get polls(): Recorded[] {
    return this.delivery.requests.filter((r) => r.path === '/v1/get_result');
  }

  /** sample downloads seen on the second listener */
  get downloads(): Recorded[] {
    return this.delivery.requests.filter((r) => r.path.startsWith('/results/'));
  }

  private send(res: http.ServerResponse, e: Refusal): void {
    sendJson(res, e.status, e.body, e.headers);
  }

  private async serveApi(req: Recorded, res: http.ServerResponse): Promise<void> {
    try {
      const m = /^\/v1\/([\w.-]+)$/.exec(req.path);
      if (!m) throw new Refusal(404, { detail: 'Not Found' });
      const name = m[1];
      if (name === 'credits') {
        if (req.method !== 'GET') throw new Refusal(405, { detail: 'Method Not Allowed' });
        this.authorise(req, true);
        return sendJson(res, 200, { credits: this.credits });
      }
      const schema = ENDPOINT_SCHEMAS[name];
      // get_result lives on the polling host only: an adapter must follow polling_url
      if (!schema) throw new Refusal(404, { detail: 'Not Found' });
      if (req.method !== 'POST') throw new Refusal(405, { detail: 'Method Not Allowed' });
      this.authorise(req, true);
      await this.submit(name, req, res);
    } catch (e) {
      if (e instanceof Refusal) this.send(res, e);
      else throw e;
    }
  }

  private authorise(req: Recorded, required: boolean): void {
    const key = req.headers['x-key'];
    if (key === undefined) {
      if (required) throw new Refusal(403, { detail: 'Not authenticated' });
      return;
    }
    if (key !== this.options.apiKey) throw new Refusal(401, { detail: 'Invalid API key' });
  }

  private parseJson(req: Recorded): unknown {
    const type = String(req.headers['content-type'] ?? '').toLowerCase();
    if (!type.startsWith('application/json')) {
      throw invalid([{ type: 'model_attributes_type', loc: ['body'], msg: 'Input should be a valid dictionary or object to extract fields from', input: req.body.toString('utf8').slice(0, 64) }]);
    }
    try {
      return JSON.parse(req.body.toString('utf8'));
    } catch (e) {
      throw invalid([{ type: 'json_invalid', loc: ['body', 0], msg: 'JSON decode error', input: {}, ctx: { error: (e as Error).message } }]);
    }
  }

  /** an input image field: raw base64 of a picture the service can read */
  private async decodeImage(field: string, value: string): Promise<{ bytes: Buffer; width: number; height: number }> {
    if (value.startsWith('data:')) throw invalid([valueError(field, 'expected a base64-encoded image or an image URL, got a data URI', value)]);
    if (/^https?:\/\//i.test(value)) throw invalid([valueError(field, 'the emulator does not fetch image URLs', value)]);
    if (value.length % 4 !== 0 || !B64.test(value)) throw invalid([valueError(field, 'invalid base64 image', value)]);
    const bytes = Buffer.from(value, 'base64');
    try {
      const meta = await sharp(bytes).metadata();
      if (!meta.width || !meta.height) throw new Error('no size');
      return { bytes, width: meta.width, height: meta.height };
    } catch {
      throw invalid([valueError(field, 'could not decode the image', value)]);
    }
  }

  private async submit(endpoint: string, req: Recorded, res: http.ServerResponse): Promise<void> {
    const schema = ENDPOINT_SCHEMAS[endpoint];
    const body = this.parseJson(req);
    const issues = validateBody(schema, body);
    if (issues.length) throw invalid(issues);
    const b = body as Record<string, unknown>;
    const fill = schema === FluxProFillInputs;
    const kontext = schema === FluxKontextProInputs;
    const pro = schema === FluxPro11Inputs || schema === FluxDevInputs;
    const ultra = schema === FluxUltraInput;
    if ((pro || ultra) && !(typeof b.prompt === 'string' && b.prompt.trim() !== '') && !(typeof b.image_prompt === 'string' && b.image_prompt !== '')) {
      throw invalid([valueError('prompt', 'a prompt or an image_prompt is required', b.prompt ?? null)]);
    }

    // images, in order and without gaps
    const imageFields = fill ? ['image'] : Object.keys(schema.fields).filter((k) => /^input_image(_\d)?$/.test(k));
    const images: Array<{ bytes: Buffer; width: number; height: number }> = [];
    let gap: string | null = null;
    for (const f of imageFields) {
      const v = b[f];
      if (typeof v !== 'string' || v === '') {
        gap ??= f;
        continue;
      }
      if (gap) throw invalid([valueError(f, `${f} given without ${gap}`, null)]);
      images.push(await this.decodeImage(f, v));
    }
    const tolerance = typeof b.safety_tolerance === 'number' ? b.safety_tolerance : 2;
    if (images.length > 0 && tolerance > 2) {
      throw invalid([valueError('safety_tolerance', 'safety_tolerance cannot exceed 2 when input images are given', tolerance)]);
    }

    // the output's size, per endpoint
    let width: number;
    let height: number;
    let mask: Buffer | null = null;
    if (fill) {
      ({ width, height } = images[0]);
      if (typeof b.mask === 'string' && b.mask !== '') {
        const m = await this.decodeImage('mask', b.mask);
        if (m.width !== width || m.height !== height) {
          throw invalid([valueError('mask', `mask dimensions ${m.width}x${m.height} do not match image dimensions ${width}x${height}`, null)]);
        }
        if (!(await isBlackAndWhite(m.bytes))) throw invalid([valueError('mask', 'the mask must be a black and white image without transparency', null)]);
        mask = m.bytes;
      } else if (!(await sharp(images[0].bytes).metadata()).hasAlpha) {
        throw invalid([valueError('mask', 'no mask given and the image has no alpha channel to inpaint', null)]);
      }
    } else if (pro) {
      width = typeof b.width === 'number' ? b.width : 1024;
      height = typeof b.height === 'number' ? b.height : 768;
    } else if (kontext || ultra) {
      let ratio = images.length ? images[0].width / images[0].height : ultra ? 16 / 9 : 1;
      if (b.aspect_ratio !== undefined && b.aspect_ratio !== null) {
        const r = /^(\d+):(\d+)$/.exec(String(b.aspect_ratio));
        const value = r && Number(r[2]) > 0 ? Number(r[1]) / Number(r[2]) : NaN;
        if (!(value >= 9 / 21 - 1e-9 && value <= 21 / 9 + 1e-9)) {
          throw invalid([valueError('aspect_ratio', 'Aspect ratio must be between 21:9 and 9:21', b.aspect_ratio)]);
        }
        ratio = value;
      }
      // Kontext answers about one megapixel in the asked shape, Ultra about four
      const area = ultra ? 4 * 1024 * 1024 : 1024 * 1024;
      width = Math.round(Math.sqrt(area * ratio) / 32) * 32;
      height = Math.round(Math.sqrt(area / ratio) / 32) * 32;
    } else {
      const w = typeof b.width === 'number' ? b.width : 0;
      const h = typeof b.height === 'number' ? b.height : 0;
      if (w || h) {
        if (!w || !h) throw invalid([valueError(w ? 'height' : 'width', 'width and height must be given together', null)]);
        if (w % 16 || h % 16) throw invalid([valueError(w % 16 ? 'width' : 'height', 'width and height must be multiples of 16', w % 16 ? w : h)]);
        if (w * h > FLUX2_MAX_PIXELS) throw invalid([valueError('width', `${w}x${h} is over the 4 MP limit`, w)]);
        [width, height] = [w, h];
      } else {
        const src = images[0] ?? { width: 1024, height: 1024 };
        const scale = Math.min(1, Math.sqrt(FLUX2_MAX_PIXELS / (src.width * src.height)));
        width = Math.max(64, Math.floor((src.width * scale) / 16) * 16);
        height = Math.max(64, Math.floor((src.height * scale) / 16) * 16);
      }
    }

    // the account
    const cost = COST[endpoint] ?? 3;
    if (this.credits < cost) throw new Refusal(402, { detail: 'Insufficient credits' });
    const active = [...this.tasks.values()].filter((t) => !t.terminal && Date.now() - t.createdAt < 60_000 && t.endpoint === endpoint).length;
    const limit = endpoint === 'flux-kontext-max' ? 6 : 24;
    if (active >= limit) {
      throw new Refusal(429, { error: 'rate_limit_exceeded', message: 'Too many concurrent requests', retry_after: 1 }, { 'retry-after': '1' });
    }
    this.credits -= cost;

    const prompt = typeof b.prompt === 'string' ? b.prompt : '';
    const plan = PROMPT_PLANS.find(([re]) => re.test(prompt))?.[1] ?? this.plans.shift() ?? 'ready';
    const fallbackFormat = kontext ? 'png' : 'jpeg';
    const format = (typeof b.output_format === 'string' ? b.output_format : fallbackFormat) as Task['format'];
    const seed = typeof b.seed === 'number' ? b.seed : crypto.randomInt(0, 2 ** 31 - 1);
    const n = ++this.counter;
    const bytes = fill ? await filled(images[0].bytes, mask, format) : await makeResultImage(width, height, format, n);
    const id = crypto.randomUUID();
    const pollingUrl = `${this.pollingBase ?? this.delivery.url}/v1/get_result?id=${id}`;
    this.tasks.set(id, {
      id,
      endpoint,
      plan,
      notFoundPolls: this.notFoundPolls,
      polls: 0,
      createdAt: Date.now(),
      terminal: false,
      prompt,
      seed,
      format,
      bytes,
      width,
      height,
      pollingUrl,
      sampleBase: this.sampleBase ?? this.delivery.url,
    });
    this.submits.push({ endpoint, body: b, images: images.map((i) => i.bytes), mask, taskId: id });
    const mp = (px: number) => Math.round(px / 10_000) / 100;
    sendJson(res, 200, { id, polling_url: pollingUrl, cost, input_mp: mp(images.reduce((s, i) => s + i.width * i.height, 0)), output_mp: mp(width * height) });
  }

  private sign(id: string, expires: number): string {
    return crypto.createHmac('sha256', this.secret).update(`${id}:${expires}`).digest('base64url');
  }

  private sampleUrl(t: Task, expires: number): string {
    const ext = t.format === 'jpeg' ? 'jpeg' : t.format;
    return `${t.sampleBase}/results/${t.id}/sample.${ext}?se=${expires}&sp=r&sig=${this.sign(t.id, expires)}`;
  }

  private result(t: Task, status: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
    return { id: t.id, status, result: null, progress: null, details: null, preview: null, ...extra };
  }

  private serveDelivery(req: Recorded, res: http.ServerResponse): void {
    try {
      if (req.path === '/v1/get_result') return this.poll(req, res);
      const m = /^\/results\/([\w-]+)\/sample\.(png|jpeg|webp)$/.exec(req.path);
      if (m && req.method === 'GET') return this.serveSample(req, res, m[1]);
      throw new Refusal(404, { detail: 'Not Found' });
    } catch (e) {
      if (e instanceof Refusal) this.send(res, e);
      else throw e;
    }
  }

  private poll(req: Recorded, res: http.ServerResponse): void {
    if (req.method !== 'GET') throw new Refusal(405, { detail: 'Method Not Allowed' });
    // the spec asks no key of get_result; a wrong one is still refused
    this.authorise(req, false);
    const id = req.query.get('id');
    if (id === null) throw invalid([{ type: 'missing', loc: ['query', 'id'], msg: 'Field required', input: null }]);
    const t = this.tasks.get(id);
    if (!t) return sendJson(res, 200, { id, status: 'Task not found', result: null, progress: null, details: null, preview: null });
    t.polls++;
    const pending = this.options.pendingPolls ?? 1;
    const after = t.polls - t.notFoundPolls;
    if (after <= 0 || t.plan === 'lost') return sendJson(res, 200, this.result(t, 'Task not found'));
    if (t.plan === 'request-moderated') {
      t.terminal = true;
      return sendJson(res, 200, this.result(t, 'Request Moderated', { details: { 'Moderation Reasons': ['Derivative Works Filter'] } }));
    }
    if (after <= pending || t.plan === 'slow') return sendJson(res, 200, this.result(t, 'Pending', { progress: Math.min(0.9, after / (pending + 1)) }));
    t.terminal = true;
    if (t.plan === 'error') return sendJson(res, 200, this.result(t, 'Error', { details: { error: 'Internal error during generation' } }));
    if (t.plan === 'content-moderated') {
      return sendJson(res, 200, this.result(t, 'Content Moderated', { details: { 'Moderation Reasons': ['NSFW'] } }));
    }
    const ttl = t.plan === 'expired' ? -1000 : (this.options.sampleTtlMs ?? 600_000);
    const started = t.createdAt / 1000;
    const ended = Date.now() / 1000;
    sendJson(
      res,
      200,
      this.result(t, 'Ready', {
        result: { sample: this.sampleUrl(t, Date.now() + ttl), prompt: t.prompt, seed: t.seed, start_time: started, end_time: ended, duration: ended - started },
      }),
    );
  }

  private serveSample(req: Recorded, res: http.ServerResponse, id: string): void {
    const t = this.tasks.get(id);
    const azureError = (status: number, code: string, message: string) => {
      const xml = `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`;
      res.writeHead(status, { 'content-type': 'application/xml', 'content-length': String(Buffer.byteLength(xml)) });
      res.end(xml);
    };
    if (!t) return azureError(404, 'BlobNotFound', 'The specified blob does not exist.');
    const expires = Number(req.query.get('se'));
    const sig = req.query.get('sig') ?? '';
    if (!Number.isFinite(expires) || sig !== this.sign(id, expires)) {
      return azureError(403, 'AuthenticationFailed', 'Server failed to authenticate the request. Signature did not match.');
    }
    if (Date.now() > expires) return azureError(403, 'AuthenticationFailed', 'Signed expiry time has passed.');
    this.emitted.push(t.bytes);
    res.writeHead(200, { 'content-type': MIME[t.format], 'content-length': String(t.bytes.length) });
    res.end(t.bytes);
  }
}

/** every pixel grey (R = G = B) and fully opaque */
async function isBlackAndWhite(bytes: Buffer): Promise<boolean> {
  const { data, info } = await sharp(bytes).raw().toBuffer({ resolveWithObject: true });
  const c = info.channels;
  for (let i = 0; i < data.length; i += c) {
    if (c >= 3 && (data[i] !== data[i + 1] || data[i] !== data[i + 2])) return false;
    if ((c === 2 || c === 4) && data[i + c - 1] !== 255) return false;
  }
  return true;
}

/** Fill's answer: the image with the mask's white area painted magenta, so a test can see where the edit landed. */
async function filled(image: Buffer, mask: Buffer | null, format: Task['format']): Promise<Buffer> {
  const { data, info } = await sharp(image).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  if (mask) {
    const m = await sharp(mask).extractChannel(0).raw().toBuffer();
    for (let p = 0; p < info.width * info.height; p++) {
      if (m[p] >= 128) {
        data[p * 3] = 255;
        data[p * 3 + 1] = 0;
        data[p * 3 + 2] = 255;
      }
    }
  }
  const out = sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } });
  return format === 'png' ? out.png().toBuffer() : format === 'jpeg' ? out.jpeg({ quality: 90 }).toBuffer() : out.webp({ lossless: true }).toBuffer();
}

export async function startBflEmulator(options: BflEmulatorOptions): Promise<BflEmulator> {
  return new BflEmulator(options).start();
}
