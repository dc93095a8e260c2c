/** Replicate's pure translation, by tables: models, inputs, sizes, Prefer: wait, predictions, errors. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  classifyError,
  createRequest,
  familyOf,
  flux2Size,
  isModerationMessage,
  outputUrls,
  parseModel,
  parsePrediction,
  preferWaitSeconds,
  predictionFailure,
  predictionInput,
  replicateCapabilities,
} from '../../src/providers/replicate/translate.js';
import { isUpstreamError, type UpstreamError } from '../../src/providers/errors.js';
import { inputImage, providerCall } from './calls.js';

const KONTEXT = 'black-forest-labs/flux-kontext-pro';
const FLUX2 = 'black-forest-labs/flux-2-pro';
const URI = 'data:image/png;base64,AAAA';
const timeouts = (firstByteMs: number, totalMs = 300_000) => ({ connectMs: 1000, firstByteMs, totalMs });

describe('replicate: models', () => {
  test('owner/name and owner/name:version; anything else is not a model', () => {
    assert.deepEqual(parseModel(KONTEXT), { owner: 'black-forest-labs', name: 'flux-kontext-pro', version: null });
    assert.deepEqual(parseModel('acme/tuned:5b3e9a0c'), { owner: 'acme', name: 'tuned', version: '5b3e9a0c' });
    for (const bad of ['flux-kontext-pro', 'a/b/c', 'a/b:', 'a/b:ver-1', '/b', 'a/', '', 'a b/c']) assert.equal(parseModel(bad), null, bad);
  });

  test('FLUX.2 by name takes 8 images and free sizes; every other model the Kontext shape', () => {
    assert.equal(familyOf(FLUX2), 'flux-2');
    assert.equal(familyOf('black-forest-labs/flux-2-flex:abc'), 'flux-2');
    assert.equal(familyOf(KONTEXT), 'kontext');
    assert.equal(familyOf('black-forest-labs/flux-1.1-pro'), 'kontext');
    const k = replicateCapabilities(KONTEXT);
    assert.deepEqual([k.maxImages, k.mask, k.maxImagesPerCall, k.mode, k.sizes.kind], [1, null, 1, 'polling', 'aspect']);
    assert.deepEqual(k.outputFormats, ['png', 'jpeg']);
    assert.deepEqual([k.background, k.quality, k.inputFidelity, k.moderation, k.partialImages], [[], [], false, false, false]);
    const f = replicateCapabilities(FLUX2);
    assert.deepEqual([f.maxImages, f.sizes], [8, { kind: 'exact', sizes: 'free' }]);
    assert.deepEqual(f.outputFormats, ['png', 'jpeg', 'webp']);
    assert.deepEqual([k.operations, f.operations], [['edit', 'generation'], ['edit', 'generation']]);
  });

  test('FLUX.1 [schnell]/[dev] by name: text to image only, 4 outputs a prediction, output_quality', () => {
    assert.equal(familyOf('black-forest-labs/flux-schnell'), 'flux-1');
    assert.equal(familyOf('black-forest-labs/flux-dev:abc'), 'flux-1');
    assert.equal(familyOf('black-forest-labs/flux-dev-lora'), 'kontext');
    const s = replicateCapabilities('black-forest-labs/flux-schnell');
    assert.deepEqual([s.maxImages, s.maxImagesPerCall, s.operations, s.outputCompression, s.sizes.kind], [0, 4, ['generation'], true, 'aspect']);
    assert.deepEqual(s.outputFormats, ['png', 'jpeg', 'webp']);
  });
});

describe('replicate: the prediction input', () => {
  const cases: Array<[string, Parameters<typeof providerCall>, string[], Record<string, unknown>]> = [
    [
      'kontext, one image, size auto: match_input_image',
      [KONTEXT, {}],
      [URI],
      { prompt: 'make it warmer', input_image: URI, aspect_ratio: 'match_input_image', output_format: 'png', seed: 1234, safety_tolerance: 2 },
    ],
    ['kontext, 1536x1024 → 3:2, jpeg spelled jpg', [KONTEXT, { size: { width: 1536, height: 1024 }, outputFormat: 'jpeg' }], [URI], { prompt: 'make it warmer', input_image: URI, aspect_ratio: '3:2', output_format: 'jpg', seed: 1234, safety_tolerance: 2 }],
    ['kontext, 1024x1536 → 2:3', [KONTEXT, { size: { width: 1024, height: 1536 } }], [URI], { prompt: 'make it warmer', input_image: URI, aspect_ratio: '2:3', output_format: 'png', seed: 1234, safety_tolerance: 2 }],
    ['kontext, 1792x1024 (1.75) → 16:9, the nearest on a log scale', [KONTEXT, { size: { width: 1792, height: 1024 } }], [URI], { prompt: 'make it warmer', input_image: URI, aspect_ratio: '16:9', output_format: 'png', seed: 1234, safety_tolerance: 2 }],
    ['kontext, 3072x1024 (3:1) → 21:9', [KONTEXT, { size: { width: 3072, height: 1024 } }], [URI], { prompt: 'make it warmer', input_image: URI, aspect_ratio: '21:9', output_format: 'png', seed: 1234, safety_tolerance: 2 }],
    ['kontext, no image (a generation) and size auto: 1:1, nothing to match', [KONTEXT, { images: [] }], [], { prompt: 'make it warmer', aspect_ratio: '1:1', output_format: 'png', seed: 1234, safety_tolerance: 2 }],
    ['flux-schnell, auto: 1:1, num_outputs n', ['black-forest-labs/flux-schnell', { images: [] }], [], { prompt: 'make it warmer', aspect_ratio: '1:1', num_outputs: 1, output_format: 'png', seed: 1234 }],
    [
      'flux-dev, 1536x1024 webp with compression 40: 3:2, output_quality 40',
      ['black-forest-labs/flux-dev', { images: [], size: { width: 1536, height: 1024 }, outputFormat: 'webp', outputCompression: 40 }],
      [],
      { prompt: 'make it warmer', aspect_ratio: '3:2', num_outputs: 1, output_format: 'webp', output_quality: 40, seed: 1234 },
    ],
    [
      'flux-2, three images, an exact size through custom',
      [FLUX2, { images: [inputImage(0), inputImage(1), inputImage(2)], size: { width: 1536, height: 1024 }, outputFormat: 'webp' }],
      [URI, URI, URI],
      { prompt: 'make it warmer', input_images: [URI, URI, URI], aspect_ratio: 'custom', width: 1536, height: 1024, output_format: 'webp', seed: 1234, safety_tolerance: 2 },
    ],
    ['flux-2, size auto with images: match_input_image', [FLUX2, {}], [URI], { prompt: 'make it warmer', input_images: [URI], aspect_ratio: 'match_input_image', output_format: 'png', seed: 1234, safety_tolerance: 2 }],
  ];
  for (const [name, args, images, want] of cases) {
    test(name, () => assert.deepEqual(predictionInput(providerCall(...args), images), want));
  }

  test('flux-2 sizes over 2048 are scaled down to fit, keeping the shape, on multiples of 16', () => {
    assert.deepEqual(flux2Size({ width: 3840, height: 2160 }), { width: 2048, height: 1152 });
    assert.deepEqual(flux2Size({ width: 1024, height: 3072 }), { width: 688, height: 2048 });
    assert.deepEqual(flux2Size({ width: 1024, height: 1024 }), { width: 1024, height: 1024 });
  });
});

describe('replicate: the create request', () => {
  const config = { apiKey: 'r8_secret', timeouts: timeouts(120_000) };
  test('an official model on its own endpoint, with Prefer: wait=60', () => {
    const r = createRequest(config, parseModel(KONTEXT)!, { prompt: 'x' });
    assert.equal(r.path, '/models/black-forest-labs/flux-kontext-pro/predictions');
    assert.deepEqual(r.body, { input: { prompt: 'x' } });
    assert.deepEqual(r.headers, { authorization: 'Bearer r8_secret', accept: 'application/json', prefer: 'wait=60' });
  });

  test('owner/name:version on /predictions with the version id', () => {
    const r = createRequest(config, parseModel('acme/tuned:5b3e9a0c')!, { prompt: 'x' });
    assert.equal(r.path, '/predictions');
    assert.deepEqual(r.body, { version: '5b3e9a0c', input: { prompt: 'x' } });
  });

  test('the wait fits the attempt: first-byte and total timeouts less a second, at most 60, none under 1 s', () => {
    assert.equal(preferWaitSeconds(timeouts(120_000)), 60);
    assert.equal(preferWaitSeconds(timeouts(30_000)), 29);
    assert.equal(preferWaitSeconds(timeouts(120_000, 10_500)), 9);
    assert.equal(preferWaitSeconds(timeouts(2000)), 1);
    assert.equal(preferWaitSeconds(timeouts(1999)), null);
    assert.equal(createRequest({ apiKey: 'k', timeouts: timeouts(400) }, parseModel(KONTEXT)!, {}).headers.prefer, undefined);
  });
});

describe('replicate: predictions', () => {
  const base = { id: 'p1', urls: { get: 'https://api.replicate.com/v1/predictions/p1', cancel: 'x' }, error: null };
  test('statuses, urls.get and the output', () => {
    const p = parsePrediction({ ...base, status: 'processing', output: null });
    assert.deepEqual([p.id, p.status, p.getUrl, p.error], ['p1', 'processing', 'https://api.replicate.com/v1/predictions/p1', null]);
    assert.deepEqual(outputUrls('https://replicate.delivery/a/out.png'), ['https://replicate.delivery/a/out.png']);
    assert.deepEqual(outputUrls(['https://replicate.delivery/a/0.png', 'https://replicate.delivery/a/1.png']).length, 2);
  });

  test('anything else is a malformed answer (retried)', () => {
    for (const bad of [null, [], 'text', { ...base, status: 'done' }, { ...base }]) {
      assert.throws(() => parsePrediction(bad), (e: UpstreamError) => e.kind === 'retryable' && /^malformed response/.test(e.message));
    }
    for (const bad of [null, '', [], [1], {}, ['']]) assert.throws(() => outputUrls(bad), (e: UpstreamError) => e.kind === 'retryable');
  });

  test('failed: the error string; a moderation refusal when it says so, else tried again; canceled: tried again', () => {
    const failed = (error: unknown) => predictionFailure(parsePrediction({ ...base, status: 'failed', error }));
    const e005 = failed('Prediction failed: Flagged as sensitive. Please try again with different inputs. (E005)');
    assert.deepEqual([e005.kind, e005.message], ['moderation', 'Prediction failed: Flagged as sensitive. Please try again with different inputs. (E005)']);
    for (const text of ['NSFW content detected', 'The output was blocked by the content filter', 'rejected by the safety checker']) assert.ok(isModerationMessage(text), text);
    for (const text of ['CUDA out of memory', 'Failed to load input image 0: cannot identify image file', 'sensitivity analysis crashed']) assert.ok(!isModerationMessage(text), text);
    const oom = failed('CUDA out of memory');
    assert.deepEqual([oom.kind, oom.message], ['retryable', 'the prediction failed: CUDA out of memory']);
    assert.equal(failed(null).message, 'the prediction failed: no reason given');
    assert.equal(failed({ code: 'x' }).message, 'the prediction failed: {"code":"x"}');
    const canceled = predictionFailure(parsePrediction({ ...base, status: 'canceled' }));
    assert.deepEqual([canceled.kind, canceled.message], ['retryable', 'the prediction p1 was canceled']);
  });
});

describe('replicate: errors', () => {
  const json = (o: unknown) => JSON.stringify(o);
  const cases: Array<[string, number, string, Record<string, string>, { kind: string; message: string; retryAfterMs?: number | null }]> = [
    [
      '422 input validation: rejected, naming the fields',
      422,
      json({ title: 'Input validation failed', status: 422, detail: '- input.seed: Invalid type. Expected: integer, given: string\n', invalid_fields: [{ type: 'invalid_type', field: 'input.seed', description: 'Invalid type. Expected: integer, given: string' }] }),
      {},
      { kind: 'rejected', message: 'HTTP 422: Input validation failed: input.seed: Invalid type. Expected: integer, given: string' },
    ],
    [
      '422 for a version that does not exist: the deployment cannot serve',
      422,
      json({ title: 'Invalid version or not permitted', status: 422, detail: "The specified version does not exist (or perhaps you don't have permission to use it?)" }),
      {},
      { kind: 'unavailable', message: "HTTP 422: Invalid version or not permitted: The specified version does not exist (or perhaps you don't have permission to use it?)" },
    ],
    ['429 with Retry-After', 429, json({ detail: 'Request was throttled. Your rate limit resets in ~30s.' }), { 'retry-after': '2' }, { kind: 'retryable', message: 'HTTP 429: Request was throttled. Your rate limit resets in ~30s.', retryAfterMs: 2000 }],
    ['429 without the header: the hint in its words', 429, json({ detail: 'Request was throttled. Your rate limit resets in ~7s.' }), {}, { kind: 'retryable', message: 'HTTP 429: Request was throttled. Your rate limit resets in ~7s.', retryAfterMs: 7000 }],
    ['401', 401, json({ title: 'Unauthenticated', detail: 'You did not pass a valid authentication token', status: 401 }), {}, { kind: 'unavailable', message: 'HTTP 401: Unauthenticated: You did not pass a valid authentication token' }],
    ['402 no credit', 402, json({ title: 'Insufficient credit', detail: 'You have insufficient credit to run this model.', status: 402 }), {}, { kind: 'unavailable', message: 'HTTP 402: Insufficient credit: You have insufficient credit to run this model.' }],
    ['404 an unknown model', 404, json({ title: 'Not found', detail: 'The requested resource could not be found.', status: 404 }), {}, { kind: 'unavailable', message: 'HTTP 404: Not found: The requested resource could not be found.' }],
    ['500 with an HTML page', 500, '<html><body>Internal Server Error</body></html>', {}, { kind: 'retryable', message: 'HTTP 500: <html><body>Internal Server Error</body></html>' }],
    ['503 with no body', 503, '', {}, { kind: 'retryable', message: 'HTTP 503' }],
  ];
  for (const [name, status, body, headers, want] of cases) {
    test(name, () => {
      const e = classifyError(status, body, headers);
      assert.ok(isUpstreamError(e));
      assert.equal(e.kind, want.kind);
      assert.equal(e.message, want.message);
      assert.equal(e.status, status);
      if (want.retryAfterMs !== undefined) assert.equal(e.retryAfterMs, want.retryAfterMs);
    });
  }
});
