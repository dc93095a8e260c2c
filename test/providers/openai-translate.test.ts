/**
 * The openai/azure-openai/openai-compatible translation as pure functions:
 * capabilities by model, sizes, targets, bodies, answers and error kinds.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ProviderConfig } from '../../src/config/index.js';
import {
  classifyError,
  editBody,
  openAiCapabilities,
  parseImagesResponse,
  parseStreamEvent,
  readUsage,
  sizeField,
  target,
} from '../../src/providers/openai/translate.js';
import type { PreparedImage, ProviderCall } from '../../src/providers/types.js';
import type { EditRequest } from '../../src/types.js';

const config = (over: Partial<ProviderConfig> = {}): ProviderConfig => ({
  name: 'p',
  type: 'openai',
  baseUrl: 'https://api.openai.com/v1',
  apiKey: 'sk-x',
  timeouts: { connectMs: 1, firstByteMs: 1, totalMs: 1 },
  maxRetries: 0,
  breaker: { failures: 1, cooldownMs: 1 },
  trustedHosts: [],
  dropUnsupported: [],
  organization: null,
  project: null,
  apiVersion: '2025-04-01-preview',
  fillModel: '',
  workflow: null,
  generationWorkflow: null,
  outputNode: null,
  params: {},
  ...over,
});

const img = (w: number, h: number): EditRequest['images'][number] => ({ param: 'image', path: '/x.png', bytes: 10, format: 'png', width: w, height: h, hasAlpha: false, filename: null });

function call(req: Partial<EditRequest>, model = 'gpt-image-1', over: Partial<ProviderCall> = {}): ProviderCall {
  const request: EditRequest = {
    id: 'req_1',
    model: { requested: model, id: model, family: model.startsWith('dall-e') ? 'dall-e' : 'gpt-image' },
    prompt: 'a hat',
    images: [img(1024, 1024)],
    mask: null,
    n: 1,
    size: 'auto',
    quality: 'auto',
    background: 'auto',
    outputFormat: 'png',
    outputCompression: null,
    inputFidelity: null,
    moderation: 'auto',
    responseFormat: 'b64_json',
    stream: false,
    partialImages: 0,
    user: null,
    operation: 'edit',
    style: null,
    ...req,
  };
  return { request, model, n: request.n, index: 0, mask: null, maskedImage: null, outputFormat: request.outputFormat, seed: 1, ...over };
}

const prepared = (): PreparedImage => ({ bytes: Buffer.from('png'), size: 3, format: 'png', width: 1024, height: 1024 });

describe('openai translation', () => {
  test('capabilities by model and flavour', () => {
    const gpt = openAiCapabilities('openai', 'gpt-image-1');
    assert.equal(gpt.maxImages, 16);
    assert.equal(gpt.mask, 'alpha');
    assert.deepEqual(gpt.outputFormats, ['png', 'jpeg', 'webp']);
    assert.equal(gpt.inputFidelity, true);
    assert.equal(gpt.partialImages, true);
    assert.equal(openAiCapabilities('openai', 'gpt-image-1-mini').inputFidelity, false);
    assert.equal(openAiCapabilities('openai', 'gpt-image-2').inputFidelity, false);
    assert.deepEqual(openAiCapabilities('openai', 'gpt-image-2').sizes, { kind: 'exact', sizes: 'free' });
    assert.deepEqual(openAiCapabilities('azure-openai', 'gpt-image-1').outputFormats, ['png', 'jpeg']);
    const dalle = openAiCapabilities('openai', 'dall-e-2');
    assert.equal(dalle.maxImages, 1);
    assert.deepEqual(dalle.quality, ['standard']);
    assert.deepEqual(dalle.background, ['opaque']);
    assert.deepEqual(dalle.outputFormats, ['png']);
    assert.equal(dalle.partialImages, false);
  });

  test('size: as asked when the model takes it, else the nearest; auto omitted for DALL·E', () => {
    const caps = openAiCapabilities('openai', 'gpt-image-1');
    assert.equal(sizeField(call({ size: 'auto' }), caps), 'auto');
    assert.equal(sizeField(call({ size: { width: 1536, height: 1024 } }), caps), '1536x1024');
    const dalle = openAiCapabilities('openai', 'dall-e-2');
    assert.equal(sizeField(call({ size: 'auto' }, 'dall-e-2'), dalle), null);
    assert.equal(sizeField(call({ size: { width: 512, height: 512 } }, 'dall-e-2'), dalle), '512x512');
    // a public name with GPT sizes routed to DALL·E: the nearest square, the gateway resizes back
    assert.equal(sizeField(call({ size: { width: 1024, height: 1536 } }, 'dall-e-2'), dalle), '1024x1024');
    const free = openAiCapabilities('openai', 'gpt-image-2');
    assert.equal(sizeField(call({ size: { width: 2048, height: 1152 } }, 'gpt-image-2'), free), '2048x1152');
  });

  test('targets: OpenAI path and Bearer; Azure deployment path, api-version and api-key; Azure v1', () => {
    assert.deepEqual(target('openai', config({ organization: 'org-1', project: 'proj-2' }), 'gpt-image-1', 'edits'), {
      path: '/images/edits',
      query: {},
      headers: { authorization: 'Bearer sk-x', 'openai-organization': 'org-1', 'openai-project': 'proj-2' },
      sendsModel: true,
    });
    assert.deepEqual(target('azure-openai', config({ type: 'azure-openai', baseUrl: 'https://r.openai.azure.com', apiKey: 'az' }), 'my dep', 'edits'), {
      path: '/openai/deployments/my%20dep/images/edits',
      query: { 'api-version': '2025-04-01-preview' },
      headers: { 'api-key': 'az' },
      sendsModel: false,
    });
    assert.deepEqual(target('azure-openai', config({ type: 'azure-openai', baseUrl: 'https://r.openai.azure.com/openai/v1', apiKey: 'az' }), 'd', 'edits'), {
      path: '/images/edits',
      query: {},
      headers: { 'api-key': 'az' },
      sendsModel: true,
    });
    assert.deepEqual(target('openai-compatible', config({ type: 'openai-compatible', apiKey: null }), 'm', 'models').headers, {});
  });

  test('bodies: image or image[], GPT-only fields, DALL·E asked for b64_json, stream fields', async () => {
    const caps = openAiCapabilities('openai', 'gpt-image-1');
    const one = editBody(call({}), caps, true, prepared);
    assert.deepEqual(one.names, ['model', 'image', 'prompt', 'n', 'size', 'output_format']);
    const two = editBody(call({ images: [img(1024, 1024), img(512, 512)], stream: true, partialImages: 2, outputFormat: 'jpeg', outputCompression: 50, user: 'u' }, 'gpt-image-1', { outputFormat: 'jpeg' }), caps, false, prepared);
    assert.deepEqual(two.names, ['image[]', 'image[]', 'prompt', 'n', 'size', 'output_format', 'output_compression', 'stream', 'partial_images', 'user']);
    const text = (await two.toBuffer()).toString('latin1');
    assert.match(text, /name="output_compression"\r\n\r\n50\r\n/);
    assert.match(text, /filename="image1\.png"\r\nContent-Type: image\/png/);
    assert.equal(two.length, (await two.toBuffer()).length, 'Content-Length is exact');
    const png = editBody(call({ outputCompression: 50 }), caps, true, prepared);
    assert.ok(!png.names.includes('output_compression'), 'OpenAI refuses compression for PNG');
    const dalle = editBody(call({ size: { width: 512, height: 512 } }, 'dall-e-2'), openAiCapabilities('openai', 'dall-e-2'), true, prepared);
    assert.deepEqual(dalle.names, ['model', 'image', 'prompt', 'n', 'size', 'response_format']);
  });

  test('errors: moderation, quota, Azure content filter, retry hints, rejected with param', () => {
    const mod = classifyError(400, JSON.stringify({ error: { message: 'Your request was rejected by the safety system.', type: 'image_generation_user_error', param: null, code: 'moderation_blocked' } }), {});
    assert.equal(mod.kind, 'moderation');
    const az = classifyError(400, JSON.stringify({ error: { code: 'content_filter', message: 'filtered', inner_error: { code: 'ResponsibleAIPolicyViolation' } } }), {});
    assert.equal(az.kind, 'moderation');
    const quota = classifyError(429, JSON.stringify({ error: { message: 'You exceeded your current quota', type: 'insufficient_quota', code: 'insufficient_quota' } }), {});
    assert.equal(quota.kind, 'unavailable');
    const rate = classifyError(429, JSON.stringify({ error: { message: 'Rate limit reached', code: 'rate_limit_exceeded' } }), { 'retry-after-ms': '1500' });
    assert.deepEqual([rate.kind, rate.retryAfterMs, rate.status], ['retryable', 1500, 429]);
    const bad = classifyError(400, JSON.stringify({ error: { message: "Invalid value: '9x9'.", type: 'invalid_request_error', param: 'size', code: 'invalid_value' } }), {});
    assert.deepEqual([bad.kind, bad.code, bad.param, bad.message], ['rejected', 'invalid_value', 'size', "HTTP 400: Invalid value: '9x9'."]);
    const auth = classifyError(401, 'not json <html>', {});
    assert.deepEqual([auth.kind, auth.message], ['unavailable', 'HTTP 401: not json <html>']);
    assert.equal(classifyError(409, '{}', { 'x-should-retry': 'true' }).kind, 'retryable');
    assert.equal(classifyError(503, '{}', {}).kind, 'retryable');
  });

  test('answers: images, usage (normalised), resolved values; malformed ones are retryable', () => {
    const b64 = Buffer.from('\x89PNG').toString('base64');
    const parsed = parseImagesResponse({ created: 1, data: [{ b64_json: b64 }, { url: 'https://x/y.png' }], usage: { input_tokens: 10, output_tokens: 20, total_tokens: 30, input_tokens_details: { text_tokens: 4, image_tokens: 6 } }, size: '1536x1024', quality: 'high', background: 'opaque' });
    assert.equal(parsed.images.length, 2);
    assert.deepEqual(parsed.images[1], { url: 'https://x/y.png' });
    assert.deepEqual(parsed.size, { width: 1536, height: 1024 });
    assert.equal(parsed.quality, 'high');
    assert.deepEqual(readUsage({ input_tokens: 10, output_tokens: 5 }), { input_tokens: 10, input_tokens_details: { text_tokens: 0, image_tokens: 10 }, output_tokens: 5, total_tokens: 15 });
    assert.equal(readUsage({ input_tokens: 'x' }), null);
    assert.throws(() => parseImagesResponse({ created: 1 }), (e: { kind: string }) => e.kind === 'retryable');
    assert.throws(() => parseImagesResponse({ data: [{ b64_json: '%%%' }] }), (e: { kind: string }) => e.kind === 'retryable');
  });

  test('stream events: partial, completed with usage, error, other', () => {
    const b64 = Buffer.from('abc').toString('base64');
    assert.deepEqual(parseStreamEvent(JSON.stringify({ type: 'image_edit.partial_image', b64_json: b64, partial_image_index: 2 })), { kind: 'partial', bytes: Buffer.from('abc'), partialIndex: 2 });
    const done = parseStreamEvent(JSON.stringify({ type: 'image_edit.completed', b64_json: b64, usage: { input_tokens: 1, output_tokens: 2, total_tokens: 3 } }));
    assert.equal(done.kind, 'completed');
    const err = parseStreamEvent(JSON.stringify({ error: { message: 'blocked', code: 'moderation_blocked' } }));
    assert.ok(err.kind === 'error' && err.error.kind === 'moderation');
    assert.deepEqual(parseStreamEvent('[DONE]'), { kind: 'other' });
    assert.throws(() => parseStreamEvent('{nope'), (e: { kind: string }) => e.kind === 'retryable');
  });
});
