/**
 * The Stability adapter's pure translation, by tables: which endpoint serves
 * a request, what each one honours, the form it is sent, the answer read
 * back, and how each of Stability's errors is classified.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ProviderConfig } from '../../src/config/index.js';
import { planFor } from '../../src/pipeline/plan.js';
import type { Deployment, PreparedImage, Provider, ProviderCall } from '../../src/providers/types.js';
import {
  checkParams,
  classifyError,
  editRequest,
  endpointCapabilities,
  endpointFor,
  generateRequest,
  generateTarget,
  GENERATE_RATIOS,
  parseEditResponse,
  rateLimitHintMs,
  splitSearchPrompt,
  stabilityCapabilities,
  stabilityPreflight,
} from '../../src/providers/stability/translate.js';
import type { EditRequest, InputImage } from '../../src/types.js';

const image: InputImage = { param: 'image', path: '/tmp/none.png', bytes: 10, format: 'png', width: 1024, height: 1024, hasAlpha: false, filename: 'a.png' };
const maskInput: InputImage = { ...image, param: 'mask', hasAlpha: true };

function request(over: Partial<EditRequest> = {}): EditRequest {
  return {
    id: 'req_1',
    model: { requested: 'sd', id: 'sd', family: 'gpt-image' },
    prompt: 'a red hat',
    images: [image],
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
    ...over,
  };
}

const prepared = (bytes: Buffer): PreparedImage => ({ bytes, size: bytes.length, format: 'png', width: 1024, height: 1024 });

function call(over: Partial<ProviderCall> = {}, req: Partial<EditRequest> = {}): ProviderCall {
  return { request: request(req), model: 'inpaint', n: 1, index: 0, mask: null, maskedImage: null, outputFormat: 'png', seed: 1234, ...over };
}

const config = (params: Record<string, unknown> = {}): Pick<ProviderConfig, 'apiKey' | 'params'> => ({ apiKey: 'sk-stab-KEY', params });

async function form(c: ProviderCall, endpoint: 'inpaint' | 'erase' | 'search-and-replace' | 'remove-background', params: Record<string, unknown> = {}) {
  const r = editRequest(c, config(params), endpoint, prepared(Buffer.from('IMG')));
  const text = (await r.body.toBuffer()).toString('latin1');
  const fields: Record<string, string> = {};
  for (const m of text.matchAll(/name="([^"]+)"(?:; filename="([^"]+)")?\r\n(?:Content-Type: [^\r]+\r\n)?\r\n([^]*?)\r\n--/g)) fields[m[1]] = m[2] ? `file:${m[2]}` : m[3];
  return { r, names: r.body.names, fields };
}

describe('stability: choosing the endpoint', () => {
  const cases: Array<[string, Partial<EditRequest>, string | null]> = [
    ['inpaint', {}, 'inpaint'],
    ['erase', { prompt: 'x' }, 'erase'],
    ['search-and-replace', {}, 'search-and-replace'],
    ['remove-background', {}, 'remove-background'],
    ['auto', { mask: maskInput }, 'inpaint'],
    ['auto', { mask: maskInput, prompt: '   ' }, 'erase'],
    ['auto', { background: 'transparent' }, 'remove-background'],
    // a mask wins over the background (OPERATOR.md's order)
    ['auto', { mask: maskInput, background: 'transparent' }, 'inpaint'],
    ['auto', {}, null],
    ['auto', { background: 'opaque' }, null],
    ['outpaint', {}, null],
  ];
  for (const [model, req, want] of cases) {
    test(`${model} with ${JSON.stringify(Object.keys(req))} → ${want}`, () => {
      assert.equal(endpointFor(model, request(req)).endpoint, want);
    });
  }
});

describe('stability: search_prompt from "replace X with Y"', () => {
  const cases: Array<[string, { search: string; prompt: string } | null]> = [
    ['replace the red disc with a green apple', { search: 'the red disc', prompt: 'a green apple' }],
    ['Replace the dog WITH a cat.', { search: 'the dog', prompt: 'a cat' }],
    ['  replace\nthe sky with\na sunset!  ', { search: 'the sky', prompt: 'a sunset' }],
    ['replace "the man with glasses" with a woman', { search: 'the man with glasses', prompt: 'a woman' }],
    ['replace “the man with a hat” with a robot', { search: 'the man with a hat', prompt: 'a robot' }],
    ['replace the man with glasses with a woman', { search: 'the man', prompt: 'glasses with a woman' }],
    ['make it warmer', null],
    ['replace the dog', null],
    ['swap the dog with a cat', null],
    ['replace  with a cat', null],
  ];
  for (const [prompt, want] of cases) {
    test(JSON.stringify(prompt), () => assert.deepEqual(splitSearchPrompt(prompt), want));
  }
});

describe('stability: capabilities', () => {
  test('inpaint: one image, a white-means-edit mask, no size, png/jpeg/webp, one image per call', () => {
    const c = stabilityCapabilities('inpaint', request());
    assert.equal(c.maxImages, 1);
    assert.equal(c.mask, 'white');
    assert.deepEqual(c.sizes, { kind: 'none' });
    assert.deepEqual(c.outputFormats, ['png', 'jpeg', 'webp']);
    assert.equal(c.outputCompression, false);
    assert.deepEqual(c.background, ['opaque']);
    assert.deepEqual(c.quality, []);
    assert.equal(c.inputFidelity, false);
    assert.equal(c.moderation, false);
    assert.equal(c.partialImages, false);
    assert.equal(c.maxImagesPerCall, 1);
    assert.equal(c.promptRequired, true);
    assert.equal(c.refusal, undefined);
  });

  test('erase takes a mask and no prompt; search-and-replace no mask; remove-background png/webp and transparency', () => {
    assert.equal(endpointCapabilities('erase').mask, 'white');
    assert.equal(endpointCapabilities('erase').promptRequired, false);
    assert.equal(endpointCapabilities('search-and-replace').mask, null);
    const rb = endpointCapabilities('remove-background');
    assert.equal(rb.mask, null);
    assert.deepEqual(rb.outputFormats, ['png', 'webp']);
    assert.deepEqual(rb.background, ['transparent', 'opaque']);
  });

  test('auto follows the request: a mask gives inpaint\'s, transparency remove-background\'s, neither a refusal naming the mask', () => {
    assert.equal(stabilityCapabilities('auto', request({ mask: maskInput })).mask, 'white');
    assert.deepEqual(stabilityCapabilities('auto', request({ background: 'transparent' })).outputFormats, ['png', 'webp']);
    const refused = stabilityCapabilities('auto', request());
    assert.equal(refused.refusal?.param, 'mask');
    assert.equal(refused.refusal?.code, 'missing_required_parameter');
  });

  test('search-and-replace without "replace X with Y" is refused naming the prompt', () => {
    assert.equal(stabilityCapabilities('search-and-replace', request({ prompt: 'replace the dog with a cat' })).refusal, undefined);
    const r = stabilityCapabilities('search-and-replace', request({ prompt: 'a cat' })).refusal;
    assert.equal(r?.param, 'prompt');
    assert.match(r!.message, /replace <what to find> with <what to put there>/);
  });

  test('the plan turns the refusal into a 400 naming the parameter, the model and the deployment', () => {
    const provider = { name: 'stab', type: 'stability', config: { dropUnsupported: [] } } as unknown as Provider;
    const d: Deployment = { name: 'stab/auto', provider, model: 'auto' };
    const req = request();
    const out = planFor(d, req, stabilityCapabilities('auto', req));
    assert.equal(out.ok, false);
    if (out.ok) return;
    assert.equal(out.refusal.status, 400);
    assert.equal(out.refusal.code, 'missing_required_parameter');
    assert.equal(out.refusal.param, 'mask');
    assert.match(out.refusal.message, /^Model 'sd' \(deployment stab\/auto\) chooses a Stability edit .* needs a mask/);
    // an explicit size cannot be honoured by any endpoint
    const sized = request({ size: { width: 1024, height: 1024 } });
    const s = planFor({ ...d, model: 'inpaint' }, sized, stabilityCapabilities('inpaint', sized));
    assert.equal(s.ok, false);
    if (!s.ok) assert.equal(s.refusal.param, 'size');
  });

  test('preflight says when the prompt is not sent', () => {
    assert.deepEqual(stabilityPreflight('inpaint', request()), []);
    assert.match(stabilityPreflight('erase', request())[0], /erase takes no prompt/);
    assert.deepEqual(stabilityPreflight('auto', request({ mask: maskInput, prompt: ' ' })), []);
    assert.match(stabilityPreflight('auto', request({ background: 'transparent' }))[0], /remove-background takes no prompt/);
  });

  test('operator params: known fields in range, anything else named', () => {
    assert.deepEqual(checkParams({ negative_prompt: 'blurry', style_preset: 'photographic', grow_mask: 0 }), []);
    assert.deepEqual(checkParams({ grow_mask: 21, style_preset: 'oil', strength: 0.5 }), [
      'params.grow_mask must be an integer from 0 to 20',
      "params.style_preset must be one of Stability's style presets (photographic, cinematic, …)",
      'params.strength is not a Stability edit field the gateway sets (negative_prompt, style_preset, grow_mask)',
    ]);
  });
});

describe('stability: the request', () => {
  const mask = prepared(Buffer.from('MASK'));

  test('inpaint: image, mask, prompt, seed, output_format; Bearer key and accept image/*', async () => {
    const { r, names, fields } = await form(call({ mask, outputFormat: 'webp' }, { user: 'user 7/é' }), 'inpaint');
    assert.equal(r.path, '/v2beta/stable-image/edit/inpaint');
    assert.deepEqual(r.headers, { accept: 'image/*', 'stability-client-id': 'imagegate', authorization: 'Bearer sk-stab-KEY', 'stability-client-user-id': 'user%207%2F%C3%A9' });
    assert.deepEqual(names, ['image', 'mask', 'prompt', 'seed', 'output_format']);
    assert.deepEqual(fields, { image: 'file:image.png', mask: 'file:mask.png', prompt: 'a red hat', seed: '1234', output_format: 'webp' });
  });

  test('erase: no prompt field; remove-background: image and output_format only', async () => {
    const e = await form(call({ mask, model: 'erase' }), 'erase');
    assert.deepEqual(e.names, ['image', 'mask', 'seed', 'output_format']);
    const rb = await form(call({ model: 'remove-background' }), 'remove-background');
    assert.deepEqual(rb.names, ['image', 'output_format']);
    assert.equal(rb.r.path, '/v2beta/stable-image/edit/remove-background');
  });

  test('search-and-replace: prompt and search_prompt from the client\'s prompt', async () => {
    const { fields } = await form(call({ model: 'search-and-replace' }, { prompt: 'replace the red disc with a green apple' }), 'search-and-replace');
    assert.deepEqual(fields, { image: 'file:image.png', prompt: 'a green apple', search_prompt: 'the red disc', seed: '1234', output_format: 'png' });
  });

  test('operator params go to the endpoints that take them; the seed stays in Stability\'s range', async () => {
    const params = { negative_prompt: 'blurry', style_preset: 'photographic', grow_mask: 3 };
    const inpaint = await form(call({ seed: 2 ** 40 }), 'inpaint', params);
    assert.deepEqual(inpaint.fields, { image: 'file:image.png', prompt: 'a red hat', negative_prompt: 'blurry', style_preset: 'photographic', grow_mask: '3', seed: '4294967294', output_format: 'png' });
    const erase = await form(call({ mask }), 'erase', params);
    assert.deepEqual(erase.names, ['image', 'mask', 'grow_mask', 'seed', 'output_format']);
    const rb = await form(call(), 'remove-background', params);
    assert.deepEqual(rb.names, ['image', 'output_format']);
  });
});

describe('stability: generations', () => {
  const gen = (model: string, req: Partial<EditRequest> = {}, over: Partial<ProviderCall> = {}) =>
    call({ model, ...over }, { operation: 'generation', images: [], prompt: 'a red bicycle', ...req });
  async function genForm(c: ProviderCall, params: Record<string, unknown> = {}) {
    const r = generateRequest(c, config(params), generateTarget(c.model)!);
    const text = (await r.body.toBuffer()).toString('latin1');
    const fields: Record<string, string> = {};
    for (const m of text.matchAll(/name="([^"]+)"\r\n\r\n([^]*?)\r\n--/g)) fields[m[1]] = m[2];
    return { r, names: r.body.names, fields };
  }

  test('which models generate: core, ultra, sd3 and the SD 3.5 models (sd3 with its model field); the edit endpoints only edit', () => {
    assert.deepEqual(generateTarget('core'), { endpoint: 'core', sd3Model: null });
    assert.deepEqual(generateTarget('ultra'), { endpoint: 'ultra', sd3Model: null });
    assert.deepEqual(generateTarget('sd3'), { endpoint: 'sd3', sd3Model: null });
    assert.deepEqual(generateTarget('sd3.5-large-turbo'), { endpoint: 'sd3', sd3Model: 'sd3.5-large-turbo' });
    for (const m of ['inpaint', 'erase', 'search-and-replace', 'remove-background', 'auto', 'outpaint']) assert.equal(generateTarget(m), null, m);
    const gr = request({ operation: 'generation', images: [] });
    for (const m of ['core', 'ultra', 'sd3', 'sd3.5-medium']) {
      const caps = stabilityCapabilities(m, gr);
      assert.deepEqual(caps.operations, ['generation'], m);
      assert.deepEqual([caps.maxImages, caps.mask, caps.promptRequired], [0, null, true]);
      assert.deepEqual(caps.sizes, { kind: 'aspect', ratios: GENERATE_RATIOS });
      assert.deepEqual(caps.outputFormats, m === 'core' || m === 'ultra' ? ['png', 'jpeg', 'webp'] : ['png', 'jpeg']);
    }
    for (const m of ['inpaint', 'auto']) assert.deepEqual(stabilityCapabilities(m, gr).operations, ['edit']);
  });

  test('core: prompt, the nearest ratio, seed, format; the key and client id in headers; no image part', async () => {
    const { r, names, fields } = await genForm(gen('core', { size: { width: 1536, height: 1024 }, user: 'u 1' }, { outputFormat: 'webp' }));
    assert.equal(r.path, '/v2beta/stable-image/generate/core');
    assert.deepEqual(r.headers, { accept: 'image/*', 'stability-client-id': 'imagegate', authorization: 'Bearer sk-stab-KEY', 'stability-client-user-id': 'u%201' });
    assert.deepEqual(names, ['prompt', 'aspect_ratio', 'seed', 'output_format']);
    assert.deepEqual(fields, { prompt: 'a red bicycle', aspect_ratio: '3:2', seed: '1234', output_format: 'webp' });
  });

  test('sd3.5 models: the sd3 endpoint with `model`; size auto sends no ratio', async () => {
    const { r, fields } = await genForm(gen('sd3.5-large-turbo'));
    assert.equal(r.path, '/v2beta/stable-image/generate/sd3');
    assert.deepEqual(fields, { prompt: 'a red bicycle', model: 'sd3.5-large-turbo', seed: '1234', output_format: 'png' });
  });

  test('sizes to ratios: 1024x1536 → 2:3, 1024x1024 → 1:1, 1792x1024 → 16:9, 3840x1600 → 21:9', async () => {
    for (const [w, h, ratio] of [[1024, 1536, '2:3'], [1024, 1024, '1:1'], [1792, 1024, '16:9'], [3840, 1600, '21:9']] as const) {
      assert.equal((await genForm(gen('ultra', { size: { width: w, height: h } }))).fields.aspect_ratio, ratio, `${w}x${h}`);
    }
  });

  test('operator params: negative_prompt everywhere, style_preset on core only, grow_mask nowhere', async () => {
    const params = { negative_prompt: 'blurry', style_preset: 'photographic', grow_mask: 3 };
    assert.deepEqual((await genForm(gen('core'), params)).names, ['prompt', 'negative_prompt', 'style_preset', 'seed', 'output_format']);
    assert.deepEqual((await genForm(gen('ultra'), params)).names, ['prompt', 'negative_prompt', 'seed', 'output_format']);
    assert.deepEqual((await genForm(gen('sd3.5-medium'), params)).names, ['prompt', 'model', 'negative_prompt', 'seed', 'output_format']);
  });
});

describe('stability: the answer', () => {
  const png = Buffer.from('\x89PNG fake image bytes', 'latin1');

  test('image/* bytes pass through; CONTENT_FILTERED is a moderation refusal', () => {
    assert.equal(parseEditResponse(200, { 'content-type': 'image/png', 'finish-reason': 'SUCCESS', seed: '1' }, png), png);
    assert.throws(
      () => parseEditResponse(200, { 'content-type': 'image/png', 'finish-reason': 'CONTENT_FILTERED' }, png),
      (e: { kind: string; message: string }) => e.kind === 'moderation' && /CONTENT_FILTERED/.test(e.message),
    );
  });

  test('a JSON answer is read too (content-type application/json; type=image/png)', () => {
    const body = Buffer.from(JSON.stringify({ image: png.toString('base64'), seed: 343940597, finish_reason: 'SUCCESS' }));
    assert.ok(parseEditResponse(200, { 'content-type': 'application/json; type=image/png' }, body).equals(png));
    const filtered = Buffer.from(JSON.stringify({ image: png.toString('base64'), seed: 1, finish_reason: 'CONTENT_FILTERED' }));
    assert.throws(() => parseEditResponse(200, { 'content-type': 'application/json; type=image/png' }, filtered), { kind: 'moderation' });
  });

  const malformedCases: Array<[string, Record<string, string>, Buffer]> = [
    ['JSON cut short', { 'content-type': 'application/json' }, Buffer.from('{"image": "iVBO')],
    ['JSON without an image', { 'content-type': 'application/json' }, Buffer.from('{"seed": 1}')],
    ['JSON image that is no base64', { 'content-type': 'application/json' }, Buffer.from('{"image": "not base64!"}')],
    ['an HTML page', { 'content-type': 'text/html' }, Buffer.from('<html>oops</html>')],
    ['an empty image', { 'content-type': 'image/png', 'finish-reason': 'SUCCESS' }, Buffer.alloc(0)],
  ];
  for (const [what, headers, body] of malformedCases) {
    test(`200 with ${what}: retryable (malformed)`, () => {
      assert.throws(() => parseEditResponse(200, headers, body), (e: { kind: string; message: string }) => e.kind === 'retryable' && /^malformed response/.test(e.message));
    });
  }
});

describe('stability: errors', () => {
  const body = (name: string, ...errors: string[]) => JSON.stringify({ id: 'a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4', name, errors });
  const cases: Array<[number, string, string, { kind: string; reason: string; retryAfterMs?: number | null }]> = [
    [400, body('bad_request', 'prompt: is required'), 'bad request', { kind: 'rejected', reason: 'HTTP 400: bad_request: prompt: is required' }],
    [401, body('unauthorized', 'authorization: invalid API key'), 'bad key', { kind: 'unavailable', reason: 'HTTP 401: unauthorized: authorization: invalid API key' }],
    [403, body('content_moderation', 'Your request was flagged by our content moderation system, as a result your request was denied and you were not charged.'), 'moderation', { kind: 'moderation', reason: 'Your request was flagged by our content moderation system, as a result your request was denied and you were not charged.' }],
    [403, body('forbidden', 'account suspended'), 'another 403', { kind: 'unavailable', reason: 'HTTP 403: forbidden: account suspended' }],
    [413, body('payload_too_large', 'body: payloads cannot be larger than 10MiB in size'), 'too large', { kind: 'rejected', reason: 'HTTP 413: payload_too_large: body: payloads cannot be larger than 10MiB in size' }],
    [422, body('invalid_language', 'English is the only supported language for this service.'), 'language', { kind: 'rejected', reason: 'HTTP 422: invalid_language: English is the only supported language for this service.' }],
    [422, body('public_figure', 'a public figure'), 'public figure', { kind: 'moderation', reason: 'a public figure' }],
    [
      429,
      JSON.stringify({ id: 'rate_limit_exceeded', name: 'rate_limit_exceeded', errors: ['You have exceeded the rate limit of 150 requests within a 10 second period, and have been timed out for 60 seconds.'] }),
      'rate limit',
      { kind: 'retryable', reason: 'HTTP 429: rate_limit_exceeded: You have exceeded the rate limit of 150 requests within a 10 second period, and have been timed out for 60 seconds.', retryAfterMs: 60_000 },
    ],
    [500, body('internal_error', 'An unexpected server error has occurred, please try again later.'), 'server error', { kind: 'retryable', reason: 'HTTP 500: internal_error: An unexpected server error has occurred, please try again later.' }],
    [502, '<html>Bad Gateway</html>', 'a proxy page', { kind: 'retryable', reason: 'HTTP 502: <html>Bad Gateway</html>' }],
  ];
  for (const [status, text, what, want] of cases) {
    test(`${status} ${what}`, () => {
      const e = classifyError(status, text, {});
      assert.equal(e.kind, want.kind);
      assert.equal(e.message, want.reason);
      assert.equal(e.status, status);
      if ('retryAfterMs' in want) assert.equal(e.retryAfterMs, want.retryAfterMs);
      assert.equal(e.code, null, 'Stability\'s names are not OpenAI codes');
    });
  }

  test('a Retry-After header wins over the words', () => {
    const e = classifyError(429, body('rate_limit_exceeded', 'timed out for 60 seconds'), { 'retry-after': '2' });
    assert.equal(e.retryAfterMs, 2000);
  });

  test('the rate-limit hint in words', () => {
    assert.equal(rateLimitHintMs('and have been timed out for 60 seconds.'), 60_000);
    assert.equal(rateLimitHintMs('timed out for 1 second'), 1000);
    assert.equal(rateLimitHintMs('timed out for 2 minutes'), 120_000);
    assert.equal(rateLimitHintMs('slow down'), null);
  });

  test('non-200 answers are classified by parseEditResponse too', () => {
    assert.throws(() => parseEditResponse(500, { 'content-type': 'application/json' }, Buffer.from(body('internal_error', 'boom'))), { kind: 'retryable', status: 500 });
  });
});
