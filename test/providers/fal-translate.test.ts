/** fal's pure translation, by tables: endpoint ids, the input body, queue answers, results, errors. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  classifyError,
  endpointFor,
  falCapabilities,
  familyOf,
  isMultiEndpoint,
  parseEndpoint,
  parseResult,
  parseStatus,
  parseSubmit,
  submitBody,
} from '../../src/providers/fal/translate.js';
import type { UpstreamError } from '../../src/providers/errors.js';
import { inputImage, providerCall } from './calls.js';

const KONTEXT = 'fal-ai/flux-pro/kontext';
const MULTI = 'fal-ai/flux-pro/kontext/max/multi';
const URI = 'data:image/png;base64,AAAA';

describe('fal: endpoints and capabilities', () => {
  test('families by endpoint id; a Kontext deployment\'s generations go to its /text-to-image sibling', () => {
    assert.deepEqual(
      [KONTEXT, MULTI, 'fal-ai/flux-pro/kontext/max/text-to-image', 'fal-ai/flux/dev', 'fal-ai/flux-1/schnell', 'fal-ai/flux-pro/v1.1'].map(familyOf),
      ['kontext', 'kontext-multi', 'kontext-t2i', 'flux-1', 'flux-1', 'other'],
    );
    assert.equal(endpointFor(KONTEXT, 'generation'), 'fal-ai/flux-pro/kontext/text-to-image');
    assert.equal(endpointFor('fal-ai/flux-pro/kontext/max/', 'generation'), 'fal-ai/flux-pro/kontext/max/text-to-image');
    assert.equal(endpointFor(KONTEXT, 'edit'), KONTEXT);
    assert.equal(endpointFor('fal-ai/flux/dev', 'generation'), 'fal-ai/flux/dev');
    assert.deepEqual(
      [KONTEXT, MULTI, 'fal-ai/flux-pro/kontext/text-to-image', 'fal-ai/flux/dev'].map((m) => falCapabilities(m).operations),
      [['edit', 'generation'], ['edit'], ['generation'], ['generation']],
    );
    assert.deepEqual(falCapabilities('fal-ai/flux/dev').sizes, { kind: 'exact', sizes: 'free' });
    // an endpoint whose text-to-image sibling is unknown keeps to edits
    assert.deepEqual(falCapabilities('acme/kontext-tuned').operations, ['edit']);
    assert.equal(endpointFor('acme/kontext-tuned', 'generation'), 'acme/kontext-tuned');
  });

  test('generation bodies: FLUX.1 image_size (square_hd for auto), Kontext text-to-image without image_url', () => {
    const gen = (model: string, size: 'auto' | { width: number; height: number }) =>
      submitBody(providerCall(model, { images: [], operation: 'generation', size }, { n: 3 }), []);
    assert.deepEqual(gen('fal-ai/flux/dev', { width: 1024, height: 1536 }), { prompt: 'make it warmer', image_size: { width: 1024, height: 1536 }, num_images: 3, output_format: 'png', seed: 1234, sync_mode: false });
    assert.equal(gen('fal-ai/flux/dev', 'auto').image_size, 'square_hd');
    assert.deepEqual(gen(KONTEXT, 'auto'), { prompt: 'make it warmer', num_images: 3, aspect_ratio: '1:1', output_format: 'png', seed: 1234, safety_tolerance: '2', sync_mode: false });
    assert.equal(gen(KONTEXT, { width: 1536, height: 1024 }).aspect_ratio, '3:2');
  });

  test('owner/alias/path, as fal splits an endpoint id', () => {
    assert.deepEqual(parseEndpoint(KONTEXT), { owner: 'fal-ai', alias: 'flux-pro', path: 'kontext' });
    assert.deepEqual(parseEndpoint(MULTI), { owner: 'fal-ai', alias: 'flux-pro', path: 'kontext/max/multi' });
    assert.deepEqual(parseEndpoint('fal-ai/flux-pro'), { owner: 'fal-ai', alias: 'flux-pro', path: '' });
    for (const bad of ['flux-pro', '', 'a//b', 'a/b c', '../x/y']) assert.equal(parseEndpoint(bad), null, bad);
  });

  test('one image on kontext, four on /multi; 4 per call; enum ratios; jpeg and png', () => {
    assert.equal(isMultiEndpoint(MULTI), true);
    assert.equal(isMultiEndpoint('fal-ai/flux-pro/kontext/multi/'), true);
    assert.equal(isMultiEndpoint(KONTEXT), false);
    const k = falCapabilities(KONTEXT);
    assert.deepEqual([k.maxImages, k.mask, k.maxImagesPerCall, k.mode, k.outputFormats], [1, null, 4, 'polling', ['png', 'jpeg']]);
    assert.deepEqual([k.background, k.quality, k.inputFidelity, k.moderation, k.partialImages, k.outputCompression], [[], [], false, false, false, false]);
    assert.equal(falCapabilities(MULTI).maxImages, 4);
  });
});

describe('fal: the input body', () => {
  const cases: Array<[string, Parameters<typeof providerCall>, string[], Record<string, unknown>]> = [
    ['kontext, size auto: no aspect_ratio (it follows the image)', [KONTEXT, {}], [URI], { prompt: 'make it warmer', image_url: URI, num_images: 1, output_format: 'png', seed: 1234, safety_tolerance: '2', sync_mode: false }],
    [
      'kontext, n=3 in one call, 1536x1024 → 3:2, jpeg',
      [KONTEXT, { size: { width: 1536, height: 1024 }, outputFormat: 'jpeg' }, { n: 3 }],
      [URI],
      { prompt: 'make it warmer', image_url: URI, num_images: 3, aspect_ratio: '3:2', output_format: 'jpeg', seed: 1234, safety_tolerance: '2', sync_mode: false },
    ],
    ['kontext, 1024x1536 → 2:3', [KONTEXT, { size: { width: 1024, height: 1536 } }], [URI], { prompt: 'make it warmer', image_url: URI, num_images: 1, aspect_ratio: '2:3', output_format: 'png', seed: 1234, safety_tolerance: '2', sync_mode: false }],
    ['kontext, 1280x1024 (1.25) → 4:3', [KONTEXT, { size: { width: 1280, height: 1024 } }], [URI], { prompt: 'make it warmer', image_url: URI, num_images: 1, aspect_ratio: '4:3', output_format: 'png', seed: 1234, safety_tolerance: '2', sync_mode: false }],
    [
      '/multi: image_urls in order',
      [MULTI, { images: [inputImage(0), inputImage(1)] }],
      [URI, 'data:image/jpeg;base64,BBBB'],
      { prompt: 'make it warmer', image_urls: [URI, 'data:image/jpeg;base64,BBBB'], num_images: 1, output_format: 'png', seed: 1234, safety_tolerance: '2', sync_mode: false },
    ],
  ];
  for (const [name, args, images, want] of cases) {
    test(name, () => assert.deepEqual(submitBody(providerCall(...args), images), want));
  }
});

describe('fal: queue answers', () => {
  const ep = parseEndpoint(KONTEXT)!;
  test('the submit answer\'s URLs are used as given (owner/alias only)', () => {
    const q = parseSubmit(
      { status: 'IN_QUEUE', request_id: 'r1', status_url: 'https://queue.fal.run/fal-ai/flux-pro/requests/r1/status', response_url: 'https://queue.fal.run/fal-ai/flux-pro/requests/r1' },
      ep,
      'https://queue.fal.run',
    );
    assert.deepEqual(q, { requestId: 'r1', statusUrl: 'https://queue.fal.run/fal-ai/flux-pro/requests/r1/status', responseUrl: 'https://queue.fal.run/fal-ai/flux-pro/requests/r1' });
  });

  test('missing URLs are built like fal\'s clients build them, without the sub-path', () => {
    assert.deepEqual(parseSubmit({ request_id: 'r2' }, ep, 'https://queue.fal.run'), {
      requestId: 'r2',
      statusUrl: 'https://queue.fal.run/fal-ai/flux-pro/requests/r2/status',
      responseUrl: 'https://queue.fal.run/fal-ai/flux-pro/requests/r2',
    });
    assert.throws(() => parseSubmit({ status: 'IN_QUEUE' }, ep, 'x'), (e: UpstreamError) => e.kind === 'retryable');
  });

  test('statuses', () => {
    for (const s of ['IN_QUEUE', 'IN_PROGRESS', 'COMPLETED']) assert.equal(parseStatus({ status: s, request_id: 'r' }), s);
    for (const bad of [null, {}, { status: 'FAILED' }, { status: 3 }]) assert.throws(() => parseStatus(bad), (e: UpstreamError) => e.kind === 'retryable' && /^malformed/.test(e.message));
  });

  test('results: the first n image URLs; a flagged image is a moderation refusal', () => {
    const images = [{ url: 'https://v3.fal.media/files/a.png' }, { url: 'https://v3.fal.media/files/b.png' }, { url: 'https://v3.fal.media/files/c.png' }];
    assert.deepEqual(parseResult({ images, has_nsfw_concepts: [false, false, false] }, 2), ['https://v3.fal.media/files/a.png', 'https://v3.fal.media/files/b.png']);
    assert.deepEqual(parseResult({ images: images.slice(0, 1) }, 1), ['https://v3.fal.media/files/a.png']);
    assert.throws(() => parseResult({ images: images.slice(0, 1), has_nsfw_concepts: [true] }, 1), (e: UpstreamError) => e.kind === 'moderation' && e.message === "the provider's safety checker flagged the image (has_nsfw_concepts)");
    assert.throws(() => parseResult({ images, has_nsfw_concepts: [false, true, false] }, 3), (e: UpstreamError) => e.kind === 'moderation' && /1 of 3 images/.test(e.message));
    // a flag on an image beyond n does not matter: it is not delivered
    assert.equal(parseResult({ images, has_nsfw_concepts: [false, false, true] }, 2).length, 2);
    for (const bad of [null, {}, { images: [] }, { images: [{}] }, { images: [{ url: 3 }] }]) assert.throws(() => parseResult(bad, 1), (e: UpstreamError) => e.kind === 'retryable');
  });
});

describe('fal: errors', () => {
  const json = (o: unknown) => JSON.stringify(o);
  const cases: Array<[string, number, string, Record<string, string>, { kind: string; message: string; retryAfterMs?: number }]> = [
    [
      '422 validation: rejected, naming the fields',
      422,
      json({ detail: [{ loc: ['body', 'safety_tolerance'], msg: "Input should be '1', '2', '3', '4', '5' or '6'", type: 'enum' }, { loc: ['body', 'image_urls', 0], msg: 'Input should be a valid string', type: 'string_type' }] }),
      {},
      { kind: 'rejected', message: "HTTP 422: safety_tolerance: Input should be '1', '2', '3', '4', '5' or '6'; image_urls.0: Input should be a valid string" },
    ],
    [
      '422 content_policy_violation: a moderation refusal',
      422,
      json({ detail: [{ loc: ['body', 'prompt'], msg: 'The content was flagged by a content checker.', type: 'content_policy_violation', url: 'https://docs.fal.ai/errors#content_policy_violation' }] }),
      {},
      { kind: 'moderation', message: 'prompt: The content was flagged by a content checker.' },
    ],
    ['401', 401, json({ detail: 'No user found for Key ID and Secret' }), {}, { kind: 'unavailable', message: 'HTTP 401: No user found for Key ID and Secret' }],
    ['403 locked account', 403, json({ detail: 'User is locked. Reason: Exhausted balance.' }), {}, { kind: 'unavailable', message: 'HTTP 403: User is locked. Reason: Exhausted balance.' }],
    ['429 with Retry-After', 429, json({ detail: 'Too many requests' }), { 'retry-after': '1' }, { kind: 'retryable', message: 'HTTP 429: Too many requests', retryAfterMs: 1000 }],
    ['500 that fal says may pass', 500, json({ detail: 'Internal error' }), { 'x-fal-retryable': 'true' }, { kind: 'retryable', message: 'HTTP 500: Internal error' }],
    ['500 that fal says will not pass: the next deployment at once', 500, json({ detail: 'Model crashed on this input' }), { 'x-fal-retryable': 'false' }, { kind: 'unavailable', message: 'HTTP 500: Model crashed on this input' }],
    ['400 that fal says may pass', 400, json({ detail: 'Runner disconnected' }), { 'x-fal-retryable': 'true' }, { kind: 'retryable', message: 'HTTP 400: Runner disconnected' }],
    ['504 timeout, text body', 504, 'upstream request timeout', {}, { kind: 'retryable', message: 'HTTP 504: upstream request timeout' }],
    ['a message body', 400, json({ message: 'bad thing' }), {}, { kind: 'rejected', message: 'HTTP 400: bad thing' }],
  ];
  for (const [name, status, body, headers, want] of cases) {
    test(name, () => {
      const e = classifyError(status, body, headers);
      assert.equal(e.kind, want.kind);
      assert.equal(e.message, want.message);
      assert.equal(e.status, status);
      if (want.retryAfterMs !== undefined) assert.equal(e.retryAfterMs, want.retryAfterMs);
    });
  }
});
