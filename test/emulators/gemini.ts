/**
 * The Gemini API's `POST /v1beta/models/{model}:generateContent` for its
 * image models, and `GET /v1beta/models`, as Google answers and refuses
 * them (provider-apis.md §2a, §10.2):
 * - auth by `x-goog-api-key` or `?key=`; a wrong key is 400 API_KEY_INVALID,
 *   no key 403 PERMISSION_DENIED, a Bearer token 401 UNAUTHENTICATED;
 * - the body is protobuf JSON: camelCase or snake_case names, an unknown
 *   name refused ("Cannot find field": outputMimeType and the other
 *   Vertex-only imageConfig fields among them), values type-checked, bytes
 *   as base64 (a data URI fails to decode), a Part with two data fields
 *   refused, the 20 MB request limit;
 * - a text part that is empty or blank is refused; text alone (no
 *   inlineData) is a generation, drawn square unless a ratio is asked;
 * - per model: text-only models refuse IMAGE output, image models refuse
 *   more inputs than they take, more than one candidate, an aspect ratio or
 *   image size they do not know;
 * - answers in camelCase: a text part and an inlineData PNG sized by the
 *   aspect ratio (Gemini 3 models add thought parts, with a draft image the
 *   client must never get), usageMetadata; words in the prompt produce the
 *   in-band refusals: "blocked-prompt" → promptFeedback.blockReason,
 *   "unsafe-image" → finishReason IMAGE_SAFETY, "no-image" → NO_IMAGE with
 *   only text;
 * - errors in Google's envelope, unknown paths as Google's HTML 404 page.
 * Wordings marked (approx.) are plausible, not Google's verified text.
 */
import type http from 'node:http';
import { EmulatorBase, imageFacts, makeResultImage, sendJson, type Recorded } from './base.js';

export interface GeminiEmulatorOptions {
  apiKey: string;
}

interface ModelInfo {
  image: boolean;
  maxImages: number;
  /** answers with thought parts (a draft image among them) and takes imageSize */
  gemini3: boolean;
}

const MODELS: Record<string, ModelInfo> = {
  'gemini-2.5-flash-image': { image: true, maxImages: 3, gemini3: false },
  'gemini-2.5-flash-image-preview': { image: true, maxImages: 3, gemini3: false },
  'gemini-3-pro-image-preview': { image: true, maxImages: 14, gemini3: true },
  'gemini-3.1-flash-image-preview': { image: true, maxImages: 14, gemini3: true },
  'gemini-2.5-flash': { image: false, maxImages: 3000, gemini3: false },
};

/** 2.5-flash-image's output at 1K per ratio; 2K and 4K double and quadruple it. */
const SIZES_1K: Record<string, [number, number]> = {
  '1:1': [1024, 1024],
  '2:3': [832, 1248],
  '3:2': [1248, 832],
  '3:4': [864, 1184],
  '4:3': [1184, 864],
  '4:5': [896, 1152],
  '5:4': [1152, 896],
  '9:16': [768, 1344],
  '16:9': [1344, 768],
  '21:9': [1536, 672],
};
const INPUT_MIME = ['image/png', 'image/jpeg', 'image/webp', 'image/heic', 'image/heif'];
const MAX_REQUEST = 20 * 1024 * 1024;

// ------------------------------------------------------------ the envelope

export interface GoogleDetail {
  '@type': string;
  [k: string]: unknown;
}

export function googleError(code: number, status: string, message: string, details: GoogleDetail[] = []): { error: Record<string, unknown> } {
  return { error: { code, message, status, ...(details.length ? { details } : {}) } };
}

export const retryInfo = (delay: string): GoogleDetail => ({ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: delay });

export const quotaFailure = (quotaId: string, quotaValue = '10'): GoogleDetail => ({
  '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
  violations: [{ quotaMetric: 'generativelanguage.googleapis.com/generate_content_free_tier_requests', quotaId, quotaValue }],
});

/** Google's 429 for a quota, as the Gemini API words it. */
export function quotaExceeded(quotaId: string, delay: string): { error: Record<string, unknown> } {
  return googleError(
    429,
    'RESOURCE_EXHAUSTED',
    `You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.\n* Quota exceeded for metric: generativelanguage.googleapis.com/generate_content_free_tier_requests, limit: 10\nPlease retry in ${delay}.`,
    [quotaFailure(quotaId), retryInfo(delay)],
  );
}

class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly state: string,
    message: string,
    readonly details: GoogleDetail[] = [],
  ) {
    super(message);
  }
}

const invalid = (message: string, field?: string): Refusal =>
  new Refusal(400, 'INVALID_ARGUMENT', message, [
    { '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: [{ ...(field ? { field } : {}), description: message }] },
  ]);

// ------------------------------------------------------------ protobuf JSON

type Kind = 'string' | 'int32' | 'float' | 'bool' | 'bytes' | 'any' | { enum: string; values: readonly string[] } | { message: string; fields: Schema; oneof?: readonly string[] } | { repeated: Kind };
type Schema = Record<string, Kind>;

const BLOB: Kind = { message: 'Blob', fields: { mimeType: 'string', data: 'bytes' } };
const PART: Kind = {
  message: 'Part',
  fields: {
    text: 'string',
    inlineData: BLOB,
    fileData: { message: 'FileData', fields: { mimeType: 'string', fileUri: 'string' } },
    functionCall: 'any',
    functionResponse: 'any',
    executableCode: 'any',
    codeExecutionResult: 'any',
    thought: 'bool',
    thoughtSignature: 'bytes',
  },
  oneof: ['text', 'inlineData', 'fileData', 'functionCall', 'functionResponse', 'executableCode', 'codeExecutionResult'],
};
const CONTENT: Kind = { message: 'Content', fields: { role: 'string', parts: { repeated: PART } } };
const MODALITY = { enum: 'type.googleapis.com/google.ai.generativelanguage.v1beta.GenerationConfig.Modality', values: ['MODALITY_UNSPECIFIED', 'TEXT', 'IMAGE', 'AUDIO'] } as const;
const GENERATION_CONFIG: Kind = {
  message: 'GenerationConfig',
  fields: {
    stopSequences: { repeated: 'string' },
    responseMimeType: 'string',
    responseSchema: 'any',
    responseJsonSchema: 'any',
    responseModalities: { repeated: MODALITY },
    candidateCount: 'int32',
    maxOutputTokens: 'int32',
    temperature: 'float',
    topP: 'float',
    topK: 'int32',
    seed: 'int32',
    presencePenalty: 'float',
    frequencyPenalty: 'float',
    responseLogprobs: 'bool',
    logprobs: 'int32',
    enableEnhancedCivicAnswers: 'bool',
    speechConfig: 'any',
    thinkingConfig: 'any',
    mediaResolution: 'string',
    // the Gemini API's ImageConfig: outputMimeType, compression, personGeneration are Vertex's only
    imageConfig: { message: 'ImageConfig', fields: { aspectRatio: 'string', imageSize: 'string' } },
  },
};
const REQUEST: Schema = {
  model: 'string',
  contents: { repeated: CONTENT },
  generationConfig: GENERATION_CONFIG,
  systemInstruction: CONTENT,
  safetySettings: { repeated: { message: 'SafetySetting', fields: { category: 'string', threshold: 'string' } } },
  tools: 'any',
  toolConfig: 'any',
  cachedContent: 'string',
};

const snake = (camel: string): string => camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const camel = (name: string): string => name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const shown = (v: unknown): string => {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}..."` : s;
};

/** Both base64 alphabets, as the protobuf JSON parser decodes bytes; anything else fails. */
function decodeBytes(v: string): Buffer | null {
  const s = v.replace(/=+$/, '');
  if (!/^[A-Za-z0-9+/_-]*$/.test(s) || s.length % 4 === 1) return null;
  return Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
}

/**
 * Walks a value against its schema and returns it normalised to camelCase
 * names (bytes decoded), refusing what the API's parser refuses.
 */
function parseMessage(value: unknown, fields: Schema, path: string, typeName: string, oneof?: readonly string[]): Record<string, unknown> {
  if (!isObj(value)) throw invalid(`Invalid value at '${path}' (type.googleapis.com/google.ai.generativelanguage.v1beta.${typeName}), ${shown(value)}`, path);
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    const name = camel(key);
    const kind = fields[name];
    if (!kind || (key !== name && key !== snake(name))) {
      throw invalid(`Invalid JSON payload received. Unknown name ${JSON.stringify(key)}${path ? ` at '${path}'` : ''}: Cannot find field.`, path || undefined);
    }
    if (name in out) throw invalid(`Invalid JSON payload received. Duplicate field ${JSON.stringify(key)}${path ? ` at '${path}'` : ''}.`, path || undefined);
    if (oneof?.includes(name)) {
      const set = oneof.find((o) => o in out);
      if (set) throw invalid(`Invalid value at '${path}' (oneof), oneof field 'data' is already set. Cannot set '${name}'`, path);
    }
    out[name] = parseValue(v, kind, path ? `${path}.${snake(name)}` : snake(name));
  }
  return out;
}

function parseValue(v: unknown, kind: Kind, path: string): unknown {
  if (v === null) return undefined;
  const bad = (type: string) => invalid(`Invalid value at '${path}' (${type}), ${shown(v)}`, path);
  if (kind === 'any') return v;
  if (kind === 'string') {
    if (typeof v !== 'string') throw bad('TYPE_STRING');
    return v;
  }
  if (kind === 'bool') {
    if (typeof v !== 'boolean') throw bad('TYPE_BOOL');
    return v;
  }
  if (kind === 'int32') {
    // protobuf JSON takes an integer as a number or a numeric string
    const n = typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < -(2 ** 31) || n >= 2 ** 31) throw bad('TYPE_INT32');
    return n;
  }
  if (kind === 'float') {
    if (typeof v !== 'number') throw bad('TYPE_FLOAT');
    return v;
  }
  if (kind === 'bytes') {
    const b = typeof v === 'string' ? decodeBytes(v) : null;
    if (!b) throw invalid(`Invalid value at '${path}' (TYPE_BYTES), Base64 decoding failed for ${shown(v)}`, path);
    return b;
  }
  if ('enum' in kind) {
    if (typeof v !== 'string' || !kind.values.includes(v)) throw bad(kind.enum);
    return v;
  }
  if ('repeated' in kind) {
    if (!Array.isArray(v)) throw invalid(`Invalid JSON payload received. Proto field is repeated, expected a list at '${path}'.`, path);
    return v.map((item, i) => parseValue(item, kind.repeated, `${path}[${i}]`));
  }
  return parseMessage(v, kind.fields, path, kind.message, kind.oneof);
}

// ------------------------------------------------------------ the server

export interface GenerateSeen {
  model: string;
  /** the body normalised to camelCase names, bytes decoded */
  body: Record<string, unknown>;
  images: Array<{ mimeType: string; bytes: Buffer }>;
  text: string;
  aspectRatio: string | null;
  imageSize: string | null;
  seed: number | null;
}

interface Part {
  text?: string;
  inlineData?: { mimeType?: string; data?: Buffer };
  fileData?: unknown;
}

export class GeminiEmulator extends EmulatorBase {
  /** every final image this emulator answered, in order (never the drafts): a client must get exactly these bytes */
  readonly emitted: Buffer[] = [];
  /** draft images sent as thought parts (Gemini 3 models) */
  readonly drafts: Buffer[] = [];
  /** generateContent requests it accepted */
  readonly calls: GenerateSeen[] = [];
  counter = 0;

  constructor(readonly options: GeminiEmulatorOptions) {
    super((req, res) => this.serve(req, res));
  }

  override reset(): void {
    super.reset();
    this.emitted.length = 0;
    this.drafts.length = 0;
    this.calls.length = 0;
  }

  /** the baseUrl a gateway config uses */
  get baseUrl(): string {
    return `${this.url}/v1beta`;
  }

  private async serve(req: Recorded, res: http.ServerResponse): Promise<void> {
    const generate = /^\/v1beta\/models\/([^/:]+):generateContent$/.exec(req.path);
    const model = /^\/v1beta\/models\/([^/:]+)$/.exec(req.path);
    const route =
      req.method === 'POST' && generate
        ? ({ kind: 'generate', model: decodeURIComponent(generate[1]) } as const)
        : req.method === 'GET' && req.path === '/v1beta/models'
          ? ({ kind: 'list' } as const)
          : req.method === 'GET' && model
            ? ({ kind: 'get', model: decodeURIComponent(model[1]) } as const)
            : null;
    if (!route) return notFoundPage(res, req.path);
    try {
      this.authorise(req);
      if (route.kind === 'list') return this.list(req, res);
      if (route.kind === 'get') {
        if (!MODELS[route.model]) throw new Refusal(404, 'NOT_FOUND', `models/${route.model} is not found for API version v1beta, or is not supported for getModel.`);
        return sendJson(res, 200, modelResource(route.model));
      }
      await this.generate(req, res, route.model);
    } catch (e) {
      if (!(e instanceof Refusal)) throw e;
      sendJson(res, e.status, googleError(e.status, e.state, e.message, e.details));
    }
  }

  private authorise(req: Recorded): void {
    const key = (req.headers['x-goog-api-key'] as string | undefined) ?? req.query.get('key');
    if (key === null || key === undefined || key === '') {
      if (req.headers.authorization) {
        // approx.: a Bearer token is read as an OAuth access token, which an API key is not
        throw new Refusal(
          401,
          'UNAUTHENTICATED',
          'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.',
          [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'ACCESS_TOKEN_TYPE_UNSUPPORTED', domain: 'googleapis.com', metadata: { service: 'generativelanguage.googleapis.com' } }],
        );
      }
      throw new Refusal(403, 'PERMISSION_DENIED', "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.");
    }
    if (key !== this.options.apiKey) {
      const message = 'API key not valid. Please pass a valid API key.';
      throw new Refusal(400, 'INVALID_ARGUMENT', message, [
        { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com', metadata: { service: 'generativelanguage.googleapis.com' } },
        { '@type': 'type.googleapis.com/google.rpc.LocalizedMessage', locale: 'en-US', message },
      ]);
    }
  }

  private list(req: Recorded, res: http.ServerResponse): void {
    const ids = Object.keys(MODELS);
    const size = Math.min(1000, Math.max(1, Number(req.query.get('pageSize') ?? '50') || 50));
    const start = Number(req.query.get('pageToken') ?? '0') || 0;
    const page = ids.slice(start, start + size);
    const next = start + size < ids.length ? { nextPageToken: String(start + size) } : {};
    sendJson(res, 200, { models: page.map(modelResource), ...next });
  }

  private async generate(req: Recorded, res: http.ServerResponse, model: string): Promise<void> {
    const info = MODELS[model];
    if (!info) {
      throw new Refusal(404, 'NOT_FOUND', `models/${model} is not found for API version v1beta, or is not supported for generateContent. Call ListModels to see the list of available models and their supported methods.`);
    }
    if (req.body.length > MAX_REQUEST) throw invalid(`Request payload size exceeds the limit: ${MAX_REQUEST} bytes.`);
    let raw: unknown;
    try {
      raw = JSON.parse(req.body.toString('utf8'));
    } catch {
      throw invalid('Invalid JSON payload received. Unexpected token.');
    }
    const body = parseMessage(raw, REQUEST, '', 'GenerateContentRequest');

    const contents = (body.contents ?? []) as Array<{ role?: string; parts?: Part[] }>;
    if (contents.length === 0) throw invalid('* GenerateContentRequest.contents: contents is not specified\n', 'contents');
    const images: GenerateSeen['images'] = [];
    const texts: string[] = [];
    for (const [i, c] of contents.entries()) {
      if (c.role !== undefined && c.role !== 'user' && c.role !== 'model') throw invalid('Please use a valid role: user, model.');
      if (!c.parts?.length) throw invalid(`* GenerateContentRequest.contents[${i}].parts: contents.parts must not be empty.\n`, `contents[${i}].parts`);
      for (const p of c.parts) {
        if (p.text !== undefined) {
          // approx. wording; a prompt of nothing is refused rather than drawn from
          if (p.text.trim() === '') throw invalid('Unable to submit request because it has an empty text parameter. Add a value to the parameter and try again.');
          texts.push(p.text);
        }
        if (p.fileData !== undefined) throw invalid('Unsupported file uri in this emulator (approx.): send inline data.');
        if (p.inlineData) {
          const mimeType = p.inlineData.mimeType ?? '';
          const bytes = p.inlineData.data ?? Buffer.alloc(0);
          if (!INPUT_MIME.includes(mimeType)) throw invalid(`Unsupported MIME type: ${mimeType || '(none)'}`);
          // approx.: a picture that does not decode as the type it claims is refused, not guessed at
          const facts = await imageFacts(bytes);
          const claimed = mimeType.slice('image/'.length);
          if (!facts || (facts.format !== claimed && !(claimed.startsWith('hei') && facts.format === 'heif'))) {
            throw invalid('Unable to process input image. Please retry or report in https://developers.generativeai.google/guide/troubleshooting');
          }
          images.push({ mimeType, bytes });
        }
      }
    }

    const config = (body.generationConfig ?? {}) as { responseModalities?: string[]; candidateCount?: number; seed?: number; imageConfig?: { aspectRatio?: string; imageSize?: string } };
    const modalities = config.responseModalities ?? (info.image ? ['TEXT', 'IMAGE'] : ['TEXT']);
    if (modalities.includes('IMAGE') && !info.image) throw invalid('This model only supports text output.');
    if (info.image && !modalities.includes('IMAGE')) {
      throw invalid(`Model does not support the requested response modalities: ${modalities.map((m) => m.toLowerCase()).join(',')}`);
    }
    if ((config.candidateCount ?? 1) > 1) throw invalid(`Multiple candidates is not enabled for models/${model}`);
    if (images.length > info.maxImages) {
      throw invalid(`The number of input images (${images.length}) exceeds the maximum of ${info.maxImages} for models/${model} (approx.).`);
    }
    const ratio = config.imageConfig?.aspectRatio ?? null;
    if (ratio !== null && !SIZES_1K[ratio]) {
      throw invalid(`Unsupported aspect ratio '${ratio}'. Supported: ${Object.keys(SIZES_1K).join(', ')} (approx.).`, 'generation_config.image_config.aspect_ratio');
    }
    const imageSize = config.imageConfig?.imageSize ?? null;
    if (imageSize !== null && !['1K', '2K', '4K'].includes(imageSize)) {
      throw invalid(`Unsupported image size '${imageSize}'. Supported: 1K, 2K, 4K (approx.).`, 'generation_config.image_config.image_size');
    }
    const text = texts.join('\n');
    this.calls.push({ model, body, images, text, aspectRatio: ratio, imageSize, seed: config.seed ?? null });

    const words = text.split(/\s+/).filter(Boolean).length;
    const promptTokens = words + 258 * images.length;
    const common = { modelVersion: model, responseId: `resp-${++this.counter}` };
    if (/blocked-prompt/i.test(text)) {
      sendJson(res, 200, { promptFeedback: { blockReason: 'PROHIBITED_CONTENT' }, usageMetadata: { promptTokenCount: promptTokens, totalTokenCount: promptTokens }, ...common });
      return;
    }
    if (/unsafe-image/i.test(text)) {
      sendJson(res, 200, { candidates: [{ finishReason: 'IMAGE_SAFETY', index: 0 }], usageMetadata: { promptTokenCount: promptTokens, totalTokenCount: promptTokens }, ...common });
      return;
    }
    if (/no-image/i.test(text)) {
      const parts = [{ text: "I can't make that edit: the picture does not show what the request refers to." }];
      sendJson(res, 200, { candidates: [{ content: { role: 'model', parts }, finishReason: 'NO_IMAGE', index: 0 }], usageMetadata: usage(promptTokens, 20, words, images.length), ...common });
      return;
    }

    // the shape: the asked ratio, else the first input's nearest
    const first = images.length ? await imageFacts(images[0].bytes) : null;
    const shape = ratio ?? nearest(first ? first.width / first.height : 1);
    const scale = info.gemini3 ? { '1K': 1, '2K': 2, '4K': 4 }[imageSize ?? '1K']! : 1;
    const [w, h] = SIZES_1K[shape].map((d) => d * scale);
    const image = await makeResultImage(w, h, 'png', this.counter);
    this.emitted.push(image);
    const parts: Array<Record<string, unknown>> = [];
    if (info.gemini3) {
      const draft = await makeResultImage(Math.round(w / 4), Math.round(h / 4), 'png', 5000 + this.counter);
      this.drafts.push(draft);
      parts.push({ text: '**Planning the edit**\n\nKeeping the composition, changing what was asked.', thought: true });
      parts.push({ inlineData: { mimeType: 'image/png', data: draft.toString('base64') }, thought: true });
    }
    parts.push({ text: images.length ? 'Here is the edited image.' : 'Here is the image you asked for.' });
    parts.push({ inlineData: { mimeType: 'image/png', data: image.toString('base64') }, ...(info.gemini3 ? { thoughtSignature: Buffer.from(`sig-${this.counter}`).toString('base64') } : {}) });
    sendJson(res, 200, { candidates: [{ content: { role: 'model', parts }, finishReason: 'STOP', index: 0 }], usageMetadata: usage(promptTokens, 1290, words, images.length), ...common });
  }
}

function usage(prompt: number, output: number, words: number, images: number): Record<string, unknown> {
  return {
    promptTokenCount: prompt,
    candidatesTokenCount: output,
    totalTokenCount: prompt + output,
    promptTokensDetails: [{ modality: 'TEXT', tokenCount: words }, ...(images ? [{ modality: 'IMAGE', tokenCount: 258 * images }] : [])],
    candidatesTokensDetails: [{ modality: output === 1290 ? 'IMAGE' : 'TEXT', tokenCount: output }],
  };
}

function nearest(ratio: number): string {
  let best = '1:1';
  for (const [name, [w, h]] of Object.entries(SIZES_1K)) {
    if (Math.abs(Math.log(w / h / ratio)) < Math.abs(Math.log(SIZES_1K[best][0] / SIZES_1K[best][1] / ratio))) best = name;
  }
  return best;
}

function modelResource(id: string): Record<string, unknown> {
  const info = MODELS[id];
  return {
    name: `models/${id}`,
    version: '2.0',
    displayName: id,
    description: info.image ? 'Gemini image generation and editing' : 'Gemini text model',
    inputTokenLimit: info.image ? 32768 : 1048576,
    outputTokenLimit: info.image ? 32768 : 65536,
    supportedGenerationMethods: ['generateContent', 'countTokens', 'batchGenerateContent'],
  };
}

/** What Google's front end answers for a path no API serves. */
function notFoundPage(res: http.ServerResponse, path: string): void {
  const html = `<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n  <title>Error 404 (Not Found)!!1</title>\n  <p><b>404.</b> <ins>That’s an error.</ins>\n  <p>The requested URL <code>${path.replace(/[<>&]/g, '')}</code> was not found on this server.  <ins>That’s all we know.</ins>\n`;
  res.writeHead(404, { 'content-type': 'text/html; charset=UTF-8', 'content-length': String(Buffer.byteLength(html)) });
  res.end(html);
}

export async function startGeminiEmulator(options: GeminiEmulatorOptions): Promise<GeminiEmulator> {
  return new GeminiEmulator(options).start();
}
