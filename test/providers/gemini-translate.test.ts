/**
 * The gemini adapter's pure translation, by tables: capabilities per model,
 * the generateContent body (parts, aspect ratio, image size, seed), the
 * answer's image parts, the in-band refusals, and Google's error envelope
 * classified (moderation, rejected, unavailable, retryable, retry hints).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ProviderConfig } from '../../src/config/index.js';
import { isUpstreamError, type UpstreamError } from '../../src/providers/errors.js';
import {
  checkRequestSize,
  classifyError,
  durationMs,
  geminiCapabilities,
  generateContentBody,
  generateContentRequest,
  imageSizeFor,
  parseGenerateContent,
  pingRequest,
} from '../../src/providers/gemini/translate.js';
import type { ProviderCall } from '../../src/providers/types.js';
import type { EditRequest, InputImage, Size } from '../../src/types.js';

const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');
const JPG = Buffer.from('ffd8ffe000104a464946', 'hex');

function input(i: number, format: 'png' | 'jpeg' = 'png'): InputImage {
  return { param: i === 0 ? 'image' : `image[${i}]`, path: `/tmp/none-${i}`, bytes: 10, format, width: 1024, height: 1024, hasAlpha: false, filename: null };
}

function call(over: Partial<EditRequest> = {}, model = 'gemini-2.5-flash-image', seed = 42): ProviderCall {
  const request: EditRequest = {
    id: 'req_1',
    model: { requested: 'nano', id: 'nano', family: 'gpt-image' },
    prompt: 'make the sky purple',
    images: [input(0)],
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
  return { request, model, n: 1, index: 0, mask: null, maskedImage: null, outputFormat: 'png', seed };
}

const config = { name: 'g', type: 'gemini', baseUrl: 'https://generativelanguage.googleapis.com/v1beta', apiKey: 'AIza-test-key' } as ProviderConfig;

const sz = (width: number, height: number): Size => ({ width, height });

function thrown(fn: () => unknown): UpstreamError {
  try {
    fn();
  } catch (e) {
    assert.ok(isUpstreamError(e), `an UpstreamError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a throw');
}

describe('gemini capabilities', () => {
  test('no mask, background, quality, fidelity, moderation; ratios; png; one image per call', () => {
    const c = geminiCapabilities('gemini-2.5-flash-image');
    assert.equal(c.mask, null);
    assert.deepEqual([c.background, c.quality, c.inputFidelity, c.moderation, c.partialImages, c.outputCompression], [[], [], false, false, false, false]);
    assert.deepEqual(c.sizes, { kind: 'aspect', ratios: ['1:1', '2:3', '3:2', '3:4', '4:3', '4:5', '5:4', '9:16', '16:9', '21:9'] });
    assert.deepEqual(c.outputFormats, ['png']);
    assert.equal(c.maxImagesPerCall, 1);
    assert.equal(c.mode, 'sync');
  });

  for (const [model, max] of [
    ['gemini-2.5-flash-image', 3],
    ['gemini-2.5-flash-image-preview', 3],
    ['models/gemini-2.5-flash-image', 3],
    ['gemini-3-pro-image-preview', 14],
    ['gemini-3.1-flash-image-preview', 14],
    ['some-future-image-model', 3],
  ] as const) {
    test(`${model} takes ${max} input images`, () => assert.equal(geminiCapabilities(model).maxImages, max));
  }
});

describe('gemini request', () => {
  test('images first as raw base64 with their MIME type, then the prompt; no ratio for size auto; the seed; the key in a header', () => {
    const c = call({ images: [input(0), input(1, 'jpeg')] });
    const req = generateContentRequest(config, c, [
      { format: 'png', bytes: PNG },
      { format: 'jpeg', bytes: JPG },
    ]);
    assert.equal(req.method, 'POST');
    assert.equal(req.url, '/models/gemini-2.5-flash-image:generateContent');
    assert.deepEqual(req.headers, { 'x-goog-api-key': 'AIza-test-key', accept: 'application/json' });
    assert.equal(req.query, undefined, 'the key never goes in the query string');
    assert.deepEqual(req.json, {
      contents: [
        {
          role: 'user',
          parts: [
            { inlineData: { mimeType: 'image/png', data: PNG.toString('base64') } },
            { inlineData: { mimeType: 'image/jpeg', data: JPG.toString('base64') } },
            { text: 'make the sky purple' },
          ],
        },
      ],
      generationConfig: { responseModalities: ['TEXT', 'IMAGE'], seed: 42 },
    });
  });

  test('a model named as ListModels names it', () => {
    assert.equal(generateContentRequest(config, call({}, 'models/gemini-3-pro-image-preview'), []).url, '/models/gemini-3-pro-image-preview:generateContent');
  });

  test('no key configured: no auth header at all', () => {
    assert.deepEqual(pingRequest({ ...config, apiKey: null }), { url: '/models', query: { pageSize: '1' }, headers: {} });
    assert.deepEqual(pingRequest(config).headers, { 'x-goog-api-key': 'AIza-test-key' });
  });

  const ratios: Array<[Size, string]> = [
    [sz(1024, 1024), '1:1'],
    [sz(1536, 1024), '3:2'],
    [sz(1024, 1536), '2:3'],
    [sz(3840, 2160), '16:9'],
    [sz(2160, 3840), '9:16'],
    [sz(1280, 1024), '5:4'],
    [sz(1024, 1280), '4:5'],
    [sz(2560, 1088), '21:9'],
    [sz(1152, 864), '4:3'],
    [sz(864, 1152), '3:4'],
    [sz(3072, 1024), '21:9'],
  ];
  for (const [size, ratio] of ratios) {
    test(`size ${size.width}x${size.height} → aspectRatio ${ratio}`, () => {
      const body = generateContentBody(call({ size }), []);
      assert.deepEqual(body.generationConfig.imageConfig, { aspectRatio: ratio });
      assert.ok(!('outputMimeType' in body.generationConfig.imageConfig!), 'never a Vertex-only field');
    });
  }

  const tiers: Array<[string, Size, string | null]> = [
    ['gemini-3-pro-image-preview', sz(1024, 1024), null],
    ['gemini-3-pro-image-preview', sz(1536, 1024), '2K'],
    ['gemini-3-pro-image-preview', sz(2048, 2048), '2K'],
    ['gemini-3-pro-image-preview', sz(3840, 2160), '4K'],
    ['gemini-3.1-flash-image-preview', sz(1024, 1536), '2K'],
    ['gemini-2.5-flash-image', sz(3840, 2160), null],
  ];
  for (const [model, size, tier] of tiers) {
    test(`${model} at ${size.width}x${size.height}: imageSize ${tier ?? 'omitted'}`, () => {
      assert.equal(imageSizeFor(model, size), tier);
      const cfg = generateContentBody(call({ size }, model), []).generationConfig.imageConfig!;
      assert.equal(cfg.imageSize, tier ?? undefined);
      assert.equal('imageSize' in cfg, tier !== null);
    });
  }

  test('a request over 20 MB inline is refused before anything is read or sent', () => {
    const e = thrown(() => checkRequestSize([8_000_000, 8_000_000], 100));
    assert.equal(e.kind, 'rejected');
    assert.match(e.message, /^the request would be 20\.3 MB with its images as base64; the Gemini API takes at most 20 MB per request$/);
    checkRequestSize([7_000_000, 7_000_000], 100);
  });
});

const img = (bytes: Buffer, extra: object = {}) => ({ inlineData: { mimeType: 'image/png', data: bytes.toString('base64') }, ...extra });

describe('gemini answers', () => {
  test('the image part, decoded; text beside it kept as words', () => {
    const a = parseGenerateContent({
      candidates: [{ content: { role: 'model', parts: [{ text: 'Here it is.' }, img(PNG)] }, finishReason: 'STOP', index: 0 }],
      usageMetadata: { promptTokenCount: 300, candidatesTokenCount: 1290, totalTokenCount: 1590 },
    });
    assert.equal(a.images.length, 1);
    assert.ok(a.images[0].equals(PNG));
    assert.equal(a.text, 'Here it is.');
  });

  test('snake_case parts are read too', () => {
    const a = parseGenerateContent({ candidates: [{ content: { parts: [{ inline_data: { mime_type: 'image/png', data: PNG.toString('base64') } }] }, finish_reason: 'STOP' }] });
    assert.ok(a.images[0].equals(PNG));
  });

  test('thought parts (drafts) are skipped, the final image kept', () => {
    const a = parseGenerateContent({
      candidates: [
        {
          content: { parts: [{ text: 'planning', thought: true }, img(JPG, { thought: true }), { text: 'Done.' }, img(PNG, { thoughtSignature: 'c2ln' })] },
          finishReason: 'STOP',
        },
      ],
    });
    assert.equal(a.images.length, 1);
    assert.ok(a.images[0].equals(PNG));
    assert.equal(a.text, 'Done.');
  });

  test('an inline part that is not an image is not one', () => {
    const e = thrown(() => parseGenerateContent({ candidates: [{ content: { parts: [{ inlineData: { mimeType: 'text/plain', data: 'aGk=' } }] }, finishReason: 'STOP' }] }));
    assert.equal(e.kind, 'retryable');
  });

  const refusals: Array<[string, unknown, RegExp]> = [
    ['promptFeedback.blockReason', { promptFeedback: { blockReason: 'PROHIBITED_CONTENT' } }, /^Gemini blocked the prompt \(PROHIBITED_CONTENT\)$/],
    ['blockReason OTHER', { promptFeedback: { blockReason: 'OTHER', safetyRatings: [] } }, /^Gemini blocked the prompt \(OTHER\)$/],
    ['blockReason with a message', { promptFeedback: { blockReason: 'SAFETY', blockReasonMessage: 'The prompt mentions X.' } }, /^Gemini blocked the prompt \(SAFETY\): The prompt mentions X\.$/],
    ['finishReason IMAGE_SAFETY without content', { candidates: [{ finishReason: 'IMAGE_SAFETY', index: 0 }] }, /^Gemini withheld the image \(IMAGE_SAFETY\)$/],
    [
      'finishReason SAFETY with the model\'s words',
      { candidates: [{ content: { parts: [{ text: 'I cannot create images of that.' }] }, finishReason: 'SAFETY' }] },
      /^Gemini withheld the image \(SAFETY\): I cannot create images of that\.$/,
    ],
    ['IMAGE_PROHIBITED_CONTENT', { candidates: [{ finishReason: 'IMAGE_PROHIBITED_CONTENT' }] }, /IMAGE_PROHIBITED_CONTENT/],
    ['IMAGE_RECITATION', { candidates: [{ finishReason: 'IMAGE_RECITATION' }] }, /IMAGE_RECITATION/],
    ['PROHIBITED_CONTENT', { candidates: [{ finishReason: 'PROHIBITED_CONTENT', finishMessage: 'Unable to show the generated image.' }] }, /\(PROHIBITED_CONTENT\): Unable to show the generated image\.$/],
  ];
  for (const [what, body, reason] of refusals) {
    test(`${what}: moderation, with the reason`, () => {
      const e = thrown(() => parseGenerateContent(body));
      assert.equal(e.kind, 'moderation');
      assert.match(e.message, reason);
    });
  }

  const noImage: Array<[string, unknown, RegExp]> = [
    ['NO_IMAGE with text', { candidates: [{ content: { parts: [{ text: 'Which dog do you mean?' }] }, finishReason: 'NO_IMAGE' }] }, /^the model answered without an image \(NO_IMAGE\): Which dog do you mean\?$/],
    ['IMAGE_OTHER', { candidates: [{ finishReason: 'IMAGE_OTHER' }] }, /^the model answered without an image \(IMAGE_OTHER\)$/],
    ['STOP with only text', { candidates: [{ content: { parts: [{ text: 'Sure!' }] }, finishReason: 'STOP' }] }, /\(STOP\): Sure!$/],
    ['no finish reason', { candidates: [{ content: { parts: [] } }] }, /\(FINISH_REASON_UNSPECIFIED\)$/],
  ];
  for (const [what, body, reason] of noImage) {
    test(`${what}: retryable, with the reason`, () => {
      const e = thrown(() => parseGenerateContent(body));
      assert.equal(e.kind, 'retryable');
      assert.equal(e.status, 200);
      assert.match(e.message, reason);
    });
  }

  test('the model\'s words are cut short in the reason', () => {
    const e = thrown(() => parseGenerateContent({ candidates: [{ content: { parts: [{ text: 'x'.repeat(1000) }] }, finishReason: 'NO_IMAGE' }] }));
    assert.ok(e.message.length < 260, e.message);
  });

  for (const [what, body] of [
    ['not an object', []],
    ['null', null],
    ['neither candidates nor a block reason', { usageMetadata: {} }],
    ['image data that is not base64', { candidates: [{ content: { parts: [{ inlineData: { mimeType: 'image/png', data: '%%%not base64%%%' } }] } }] }],
    ['image without data', { candidates: [{ content: { parts: [{ inlineData: { mimeType: 'image/png' } }] } }] }],
  ] as const) {
    test(`malformed: ${what}`, () => {
      const e = thrown(() => parseGenerateContent(body));
      assert.equal(e.kind, 'retryable');
      assert.match(e.message, /^malformed response/);
    });
  }
});

describe('gemini errors', () => {
  const env = (code: number, status: string, message: string, details?: unknown[]) => JSON.stringify({ error: { code, message, status, ...(details ? { details } : {}) } });
  const cases: Array<[string, number, string, Record<string, string>, { kind: string; retryAfterMs?: number | null; reason?: RegExp }]> = [
    ['bad request', 400, env(400, 'INVALID_ARGUMENT', 'Unsupported MIME type: image/gif'), {}, { kind: 'rejected', reason: /^HTTP 400: INVALID_ARGUMENT: Unsupported MIME type: image\/gif$/ }],
    [
      'a wrong key (400 API_KEY_INVALID)',
      400,
      env(400, 'INVALID_ARGUMENT', 'API key not valid. Please pass a valid API key.', [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com' }]),
      {},
      { kind: 'unavailable', reason: /API key not valid/ },
    ],
    ['billing or region (FAILED_PRECONDITION)', 400, env(400, 'FAILED_PRECONDITION', 'User location is not supported for the API use.'), {}, { kind: 'unavailable' }],
    ['no key (403)', 403, env(403, 'PERMISSION_DENIED', "Method doesn't allow unregistered callers"), {}, { kind: 'unavailable' }],
    ['unknown model (404)', 404, env(404, 'NOT_FOUND', 'models/x is not found for API version v1beta'), {}, { kind: 'unavailable', reason: /^HTTP 404: NOT_FOUND: models\/x is not found/ }],
    [
      'rate limit with RetryInfo',
      429,
      env(429, 'RESOURCE_EXHAUSTED', 'Resource has been exhausted (e.g. check quota).', [
        { '@type': 'type.googleapis.com/google.rpc.QuotaFailure', violations: [{ quotaId: 'GenerateRequestsPerMinutePerProjectPerModel' }] },
        { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '37s' },
      ]),
      {},
      { kind: 'retryable', retryAfterMs: 37_000 },
    ],
    ['rate limit with a fractional delay', 429, env(429, 'RESOURCE_EXHAUSTED', 'slow down', [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '1.500s' }]), {}, { kind: 'retryable', retryAfterMs: 1500 }],
    ['rate limit without a hint', 429, env(429, 'RESOURCE_EXHAUSTED', 'Resource has been exhausted (e.g. check quota).'), {}, { kind: 'retryable', retryAfterMs: null }],
    ['rate limit with a Retry-After header (a proxy)', 429, env(429, 'RESOURCE_EXHAUSTED', 'x'), { 'retry-after': '3' }, { kind: 'retryable', retryAfterMs: 3000 }],
    [
      'a daily quota spent',
      429,
      env(429, 'RESOURCE_EXHAUSTED', 'You exceeded your current quota', [
        { '@type': 'type.googleapis.com/google.rpc.QuotaFailure', violations: [{ quotaId: 'GenerateRequestsPerDayPerProjectPerModel-FreeTier', quotaValue: '10' }] },
        { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '42s' },
      ]),
      {},
      { kind: 'unavailable', retryAfterMs: 42_000 },
    ],
    ['a model outside the key\'s tier (limit: 0)', 429, env(429, 'RESOURCE_EXHAUSTED', 'Quota exceeded for metric: x, limit: 0, model: gemini-3-pro-image'), {}, { kind: 'unavailable' }],
    ['internal', 500, env(500, 'INTERNAL', 'An internal error has occurred.'), {}, { kind: 'retryable' }],
    ['overloaded', 503, env(503, 'UNAVAILABLE', 'The model is overloaded. Please try again later.'), {}, { kind: 'retryable', reason: /overloaded/ }],
    ['deadline', 504, env(504, 'DEADLINE_EXCEEDED', 'Deadline expired before operation could complete.'), {}, { kind: 'retryable' }],
    ['an HTML page from the front end', 502, '<html><body><h1>502 Bad Gateway</h1></body></html>', {}, { kind: 'retryable', reason: /^HTTP 502: 502 Bad Gateway$/ }],
    ['an envelope in an array', 429, `[${env(429, 'RESOURCE_EXHAUSTED', 'x', [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '2s' }])}]`, {}, { kind: 'retryable', retryAfterMs: 2000 }],
  ];
  for (const [what, status, body, headers, want] of cases) {
    test(`${what}: ${want.kind}`, () => {
      const e = classifyError(status, body, headers);
      assert.equal(e.kind, want.kind);
      assert.equal(e.status, status);
      if (want.retryAfterMs !== undefined) assert.equal(e.retryAfterMs, want.retryAfterMs);
      if (want.reason) assert.match(e.message, want.reason);
    });
  }

  for (const [v, ms] of [
    ['37s', 37_000],
    ['0.5s', 500],
    ['1.500s', 1500],
    ['37.123456789s', 37_123],
    ['37', null],
    ['s', null],
    [37, null],
    ['-1s', null],
  ] as const) {
    test(`retryDelay ${JSON.stringify(v)} → ${ms}`, () => assert.equal(durationMs(v), ms));
  }
});
