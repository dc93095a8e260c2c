/**
 * The BFL adapter's pure translation, by tables: capabilities per endpoint
 * and request, sizes to aspect ratios and pixels, the body of each shape,
 * the submit and poll answers, and errors classified.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { EditRequest, InputImage } from '../../src/types.js';
import type { PreparedImage, ProviderCall } from '../../src/providers/types.js';
import { isUpstreamError, type UpstreamError } from '../../src/providers/errors.js';
import {
  bflCapabilities,
  classifyError,
  errorMessage,
  flux2Size,
  keyGoesTo,
  KONTEXT_RATIOS,
  parseSubmit,
  proSize,
  readPoll,
  submitRequest,
} from '../../src/providers/bfl/translate.js';
import { nearestRatio } from '../../src/providers/aspect.js';

const image = (i: number, width = 1024, height = 1024): InputImage => ({
  param: i === 0 ? 'image' : `image[${i}]`,
  path: `/tmp/img${i}.png`,
  bytes: 1000,
  format: 'png',
  width,
  height,
  hasAlpha: false,
  filename: null,
});

function request(over: Partial<EditRequest> = {}): EditRequest {
  return {
    id: 'req_1',
    model: { requested: 'flux-kontext-pro', id: 'flux-kontext-pro', family: 'gpt-image' },
    prompt: 'make it warmer',
    images: [image(0)],
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

const preparedMask: PreparedImage = { bytes: Buffer.from('mask'), size: 4, format: 'png', width: 1024, height: 1024 };

function call(model: string, over: Partial<EditRequest> = {}, extra: Partial<ProviderCall> = {}): ProviderCall {
  return { request: request(over), model, n: 1, index: 0, mask: null, maskedImage: null, outputFormat: 'png', seed: 42, ...extra };
}

function failure(fn: () => unknown): UpstreamError {
  try {
    fn();
  } catch (e) {
    assert.ok(isUpstreamError(e), `an UpstreamError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a failure');
}

describe('bfl capabilities', () => {
  const table: Array<[string, Partial<EditRequest>, { maxImages: number; mask: string | null; sizes: string; moderation: boolean }]> = [
    ['flux-kontext-pro', {}, { maxImages: 4, mask: null, sizes: 'aspect', moderation: false }],
    ['flux-kontext-max', { images: [] }, { maxImages: 4, mask: null, sizes: 'aspect', moderation: true }],
    ['flux-2-pro', {}, { maxImages: 8, mask: null, sizes: 'exact', moderation: false }],
    ['flux-2-max', {}, { maxImages: 8, mask: null, sizes: 'exact', moderation: false }],
    ['flux-2-flex', {}, { maxImages: 8, mask: null, sizes: 'exact', moderation: false }],
    ['flux-2-klein-9b', {}, { maxImages: 4, mask: null, sizes: 'exact', moderation: false }],
    // a mask sends any deployment's request to the Fill endpoint
    ['flux-kontext-pro', { mask: image(9) }, { maxImages: 1, mask: 'white', sizes: 'none', moderation: false }],
    ['flux-2-pro', { mask: image(9) }, { maxImages: 1, mask: 'white', sizes: 'none', moderation: false }],
  ];
  for (const [model, over, want] of table) {
    test(`${model}${over.mask ? ' with a mask' : ''}${over.images?.length === 0 ? ' without images' : ''}`, () => {
      const caps = bflCapabilities(model, request(over));
      assert.deepEqual({ maxImages: caps.maxImages, mask: caps.mask, sizes: caps.sizes.kind, moderation: caps.moderation }, want);
      assert.deepEqual(caps.outputFormats, ['png', 'jpeg', 'webp']);
      assert.equal(caps.outputCompression, false);
      assert.deepEqual([caps.background, caps.quality, caps.inputFidelity, caps.partialImages], [[], [], false, false]);
      assert.equal(caps.maxImagesPerCall, 1);
      assert.equal(caps.mode, 'polling');
    });
  }
  test('FLUX.2 takes free sizes; Kontext the ratios between 21:9 and 9:21', () => {
    assert.deepEqual(bflCapabilities('flux-2-pro', request()).sizes, { kind: 'exact', sizes: 'free' });
    assert.deepEqual(bflCapabilities('flux-kontext-pro', request()).sizes, { kind: 'aspect', ratios: KONTEXT_RATIOS });
  });
});

describe('bfl sizes', () => {
  const ratios: Array<[number, number, string]> = [
    [1024, 1024, '1:1'],
    [1536, 1024, '3:2'],
    [1024, 1536, '2:3'],
    [1920, 1088, '16:9'],
    [1024, 768, '4:3'],
    [3072, 1024, '21:9'],
    [1024, 3072, '9:21'],
    [2560, 1088, '21:9'],
  ];
  for (const [w, h, r] of ratios) test(`${w}x${h} → aspect_ratio ${r}`, () => assert.equal(nearestRatio({ width: w, height: h }, KONTEXT_RATIOS), r));

  const pixels: Array<[number, number, number, number]> = [
    [1024, 1024, 1024, 1024],
    [1536, 1024, 1536, 1024],
    [2048, 1952, 2048, 1952],
    // over 4 MP: scaled down, multiples of 16
    [3840, 2160, 2656, 1488],
    [2160, 3840, 1488, 2656],
    [2048, 2048, 2000, 2000],
  ];
  for (const [w, h, ow, oh] of pixels) {
    test(`FLUX.2 ${w}x${h} → ${ow}x${oh}`, () => {
      const s = flux2Size({ width: w, height: h });
      assert.deepEqual([s.width, s.height], [ow, oh]);
      assert.ok(s.width * s.height <= 4_000_000 && s.width % 16 === 0 && s.height % 16 === 0);
    });
  }
});

describe('bfl submit bodies', () => {
  test('Kontext: prompt, images in order as input_image…, the nearest ratio, seed, format', () => {
    const s = submitRequest(call('flux-kontext-pro', { images: [image(0), image(1), image(2)], size: { width: 1536, height: 1024 } }), 'flux-pro-1.0-fill', ['AAA', 'BBB', 'CCC'], null);
    assert.equal(s.path, '/v1/flux-kontext-pro');
    assert.deepEqual(s.body, {
      prompt: 'make it warmer',
      input_image: 'AAA',
      input_image_2: 'BBB',
      input_image_3: 'CCC',
      aspect_ratio: '3:2',
      seed: 42,
      output_format: 'png',
    });
  });

  test('Kontext with size auto: no aspect_ratio (the input image\'s shape is kept)', () => {
    const s = submitRequest(call('flux-kontext-max', {}, { outputFormat: 'webp', seed: 7 }), 'flux-pro-1.0-fill', ['AAA'], null);
    assert.deepEqual(s, { path: '/v1/flux-kontext-max', body: { prompt: 'make it warmer', input_image: 'AAA', seed: 7, output_format: 'webp' } });
  });

  test('FLUX.2: width and height instead of a ratio; eight images', () => {
    const imgs = ['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H'];
    const s = submitRequest(call('flux-2-pro', { images: imgs.map((_, i) => image(i)), size: { width: 1024, height: 1536 } }, { outputFormat: 'jpeg' }), 'flux-pro-1.0-fill', imgs, null);
    assert.equal(s.path, '/v1/flux-2-pro');
    assert.deepEqual(s.body, {
      prompt: 'make it warmer',
      input_image: 'A',
      input_image_2: 'B',
      input_image_3: 'C',
      input_image_4: 'D',
      input_image_5: 'E',
      input_image_6: 'F',
      input_image_7: 'G',
      input_image_8: 'H',
      width: 1024,
      height: 1536,
      seed: 42,
      output_format: 'jpeg',
    });
  });

  test('FLUX.2 flex: told not to rewrite the prompt', () => {
    const s = submitRequest(call('flux-2-flex'), 'flux-pro-1.0-fill', ['A'], null);
    assert.equal(s.body.prompt_upsampling, false);
  });

  test('a mask: the fill model, one image, the mask, no size; the deployment\'s model does not matter', () => {
    for (const model of ['flux-kontext-pro', 'flux-2-pro']) {
      const s = submitRequest(call(model, { mask: image(9) }, { mask: preparedMask }), 'flux-pro-1.0-fill', ['IMG'], 'MASK');
      assert.deepEqual(s, { path: '/v1/flux-pro-1.0-fill', body: { image: 'IMG', mask: 'MASK', prompt: 'make it warmer', seed: 42, output_format: 'png' } });
    }
    const custom = submitRequest(call('flux-kontext-pro', { mask: image(9) }, { mask: preparedMask }), 'my fill', ['IMG'], 'MASK');
    assert.equal(custom.path, '/v1/my%20fill');
  });

  test('moderation=low: the most permissive tolerance, only where no image is given', () => {
    assert.equal(submitRequest(call('flux-kontext-pro', { images: [], moderation: 'low' }), 'f', [], null).body.safety_tolerance, 6);
    assert.equal(submitRequest(call('flux-2-pro', { images: [], moderation: 'low' }), 'f', [], null).body.safety_tolerance, 5);
    assert.ok(!('safety_tolerance' in submitRequest(call('flux-kontext-pro', { moderation: 'low' }), 'f', ['A'], null).body));
    assert.ok(!('safety_tolerance' in submitRequest(call('flux-kontext-pro', { images: [] }), 'f', [], null).body));
  });
});

describe('bfl generations', () => {
  const gen = (model: string, over: Partial<EditRequest> = {}, extra: Partial<ProviderCall> = {}) =>
    call(model, { operation: 'generation', images: [], prompt: 'a red bicycle', ...over }, extra);

  test('which endpoints generate: Kontext and FLUX.2 also edit; FLUX1.1 [pro], [dev] and Ultra only generate; Fill only edits', () => {
    const ops = (model: string, over: Partial<EditRequest> = {}) => bflCapabilities(model, request({ images: [], ...over })).operations;
    assert.deepEqual(ops('flux-kontext-pro'), ['edit', 'generation']);
    assert.deepEqual(ops('flux-kontext-max'), ['edit', 'generation']);
    assert.deepEqual(ops('flux-2-pro'), ['edit', 'generation']);
    assert.deepEqual(ops('flux-2-klein-4b'), ['edit', 'generation']);
    assert.deepEqual(ops('flux-pro-1.1'), ['generation']);
    assert.deepEqual(ops('flux-dev'), ['generation']);
    assert.deepEqual(ops('flux-pro-1.1-ultra'), ['generation']);
    assert.deepEqual(ops('flux-kontext-pro', { mask: image(9) }), ['edit']);
    // an edit sent to a text-only endpoint is refused by its operations, whatever it holds
    assert.deepEqual(ops('flux-pro-1.1', { mask: image(9), images: [image(0)] }), ['generation']);
    assert.equal(bflCapabilities('flux-pro-1.1', request()).maxImages, 0);
    assert.deepEqual(bflCapabilities('flux-pro-1.1', request()).sizes, { kind: 'exact', sizes: 'free' });
    assert.deepEqual(bflCapabilities('flux-pro-1.1-ultra', request()).sizes, { kind: 'aspect', ratios: KONTEXT_RATIOS });
  });

  test('Kontext without an image: the prompt, the ratio, seed and format, no input_image', () => {
    const s = submitRequest(gen('flux-kontext-pro', { size: { width: 1024, height: 1536 } }), 'flux-pro-1.0-fill', [], null);
    assert.deepEqual(s, { path: '/v1/flux-kontext-pro', body: { prompt: 'a red bicycle', aspect_ratio: '2:3', seed: 42, output_format: 'png' } });
    const auto = submitRequest(gen('flux-kontext-max'), 'f', [], null);
    assert.deepEqual(auto.body, { prompt: 'a red bicycle', seed: 42, output_format: 'png' });
  });

  test('FLUX.2 without an image: width and height', () => {
    const s = submitRequest(gen('flux-2-pro', { size: { width: 1536, height: 1024 } }, { outputFormat: 'webp' }), 'f', [], null);
    assert.deepEqual(s, { path: '/v1/flux-2-pro', body: { prompt: 'a red bicycle', width: 1536, height: 1024, seed: 42, output_format: 'webp' } });
  });

  test('FLUX1.1 [pro] and [dev]: width and height within 1440, multiples of 32; the tolerance for moderation=low', () => {
    const s = submitRequest(gen('flux-pro-1.1', { size: { width: 1536, height: 1024 }, moderation: 'low' }, { outputFormat: 'jpeg' }), 'f', [], null);
    assert.deepEqual(s, { path: '/v1/flux-pro-1.1', body: { prompt: 'a red bicycle', width: 1440, height: 960, seed: 42, output_format: 'jpeg', safety_tolerance: 6 } });
    const dev = submitRequest(gen('flux-dev', { size: { width: 1024, height: 1024 } }), 'f', [], null);
    assert.deepEqual(dev.body, { prompt: 'a red bicycle', width: 1024, height: 1024, seed: 42, output_format: 'png' });
  });

  test('Ultra: an aspect ratio', () => {
    const s = submitRequest(gen('flux-pro-1.1-ultra', { size: { width: 1536, height: 1024 } }), 'f', [], null);
    assert.deepEqual(s, { path: '/v1/flux-pro-1.1-ultra', body: { prompt: 'a red bicycle', aspect_ratio: '3:2', seed: 42, output_format: 'png' } });
  });

  const proTable: Array<[number, number, number, number]> = [
    [1024, 1024, 1024, 1024],
    [1536, 1024, 1440, 960],
    [1024, 1536, 960, 1440],
    [3840, 2160, 1440, 800],
    [200, 100, 256, 256],
    [1000, 1000, 992, 992],
  ];
  for (const [w, h, ow, oh] of proTable) {
    test(`proSize ${w}x${h} → ${ow}x${oh}`, () => {
      const s = proSize({ width: w, height: h });
      assert.deepEqual([s.width, s.height], [ow, oh]);
      for (const v of [s.width, s.height]) assert.ok(v % 32 === 0 && v >= 256 && v <= 1440);
    });
  }
});

describe('bfl answers', () => {
  test('submit: {id, polling_url}; anything else is malformed (retried)', () => {
    assert.deepEqual(parseSubmit({ id: 'abc', polling_url: 'https://api.eu.bfl.ai/v1/get_result?id=abc', cost: 4 }), { id: 'abc', pollingUrl: 'https://api.eu.bfl.ai/v1/get_result?id=abc' });
    for (const bad of [null, 'abc', {}, { id: 'abc' }, { polling_url: 'x' }, { id: 5, polling_url: 'x' }, { id: 'abc', polling_url: '' }]) {
      const e = failure(() => parseSubmit(bad));
      assert.equal(e.kind, 'retryable');
      assert.match(e.message, /^malformed response: /);
    }
  });

  test('poll: Ready with its sample; still working; not found', () => {
    assert.deepEqual(readPoll({ id: 'a', status: 'Ready', result: { sample: 'https://delivery-eu1.bfl.ai/r/sample.png?sig=x', seed: 1 } }), {
      kind: 'ready',
      sample: 'https://delivery-eu1.bfl.ai/r/sample.png?sig=x',
    });
    for (const status of ['Pending', 'Processing', 'Queued', 'Task-processing', 'Generating', 'Something New']) {
      assert.deepEqual(readPoll({ id: 'a', status, progress: 0.3 }), { kind: 'pending', status });
    }
    assert.deepEqual(readPoll({ id: 'a', status: 'Task not found' }), { kind: 'not-found' });
  });

  test('poll: moderated jobs are moderation refusals with BFL\'s reasons', () => {
    const table: Array<[unknown, string]> = [
      [{ status: 'Request Moderated', details: { 'Moderation Reasons': ['Derivative Works Filter'] } }, 'Request Moderated: Derivative Works Filter'],
      [{ status: 'Content Moderated', details: { 'Moderation Reasons': ['NSFW', 'Violence'] } }, 'Content Moderated: NSFW, Violence'],
      [{ status: 'Content Moderated', details: null }, 'Content Moderated'],
      [{ status: 'Request Moderated', details: { reason: 'public figure' } }, 'Request Moderated: public figure'],
    ];
    for (const [json, message] of table) {
      const e = failure(() => readPoll(json));
      assert.equal(e.kind, 'moderation');
      assert.equal(e.message, message);
    }
  });

  test('poll: failed jobs are retried; a body without a status or a Ready without a sample is malformed', () => {
    const table: Array<[unknown, string]> = [
      [{ status: 'Error', details: { error: 'CUDA out of memory' } }, 'the task ended with status Error: CUDA out of memory'],
      [{ status: 'Error', error: 'Generation failed' }, 'the task ended with status Error: Generation failed'],
      [{ status: 'Failed', details: 'worker lost' }, 'the task ended with status Failed: worker lost'],
      [{ status: 'Error', result: null }, 'the task ended with status Error'],
      [{ id: 'a' }, 'malformed response: a poll answer has no "status"'],
      [[], 'malformed response: a poll answer has no "status"'],
      [{ status: 'Ready', result: null }, 'malformed response: a Ready task without "result.sample"'],
      [{ status: 'Ready', result: { sample: 5 } }, 'malformed response: a Ready task without "result.sample"'],
    ];
    for (const [json, message] of table) {
      const e = failure(() => readPoll(json));
      assert.equal(e.kind, 'retryable');
      assert.equal(e.message, message);
    }
  });
});

describe('bfl errors', () => {
  const table: Array<[number, string, Record<string, string>, { kind: string; message: string; retryAfterMs?: number | null }]> = [
    [
      422,
      JSON.stringify({ detail: [{ type: 'missing', loc: ['body', 'prompt'], msg: 'Field required', input: {} }, { type: 'int_type', loc: ['body', 'seed'], msg: 'Input should be a valid integer', input: 'x' }] }),
      {},
      { kind: 'rejected', message: 'HTTP 422: prompt: Field required; seed: Input should be a valid integer' },
    ],
    [400, JSON.stringify({ detail: 'Invalid image' }), {}, { kind: 'rejected', message: 'HTTP 400: Invalid image' }],
    [400, JSON.stringify({ detail: 'Your request was moderated: NSFW content' }), {}, { kind: 'moderation', message: 'Your request was moderated: NSFW content' }],
    [401, JSON.stringify({ detail: 'Invalid API key' }), {}, { kind: 'unavailable', message: 'HTTP 401: Invalid API key' }],
    [403, JSON.stringify({ detail: 'Not authenticated' }), {}, { kind: 'unavailable', message: 'HTTP 403: Not authenticated' }],
    [402, JSON.stringify({ detail: 'Insufficient credits' }), {}, { kind: 'unavailable', message: 'HTTP 402: Insufficient credits' }],
    [404, JSON.stringify({ detail: 'Not Found' }), {}, { kind: 'unavailable', message: 'HTTP 404: Not Found' }],
    [
      429,
      JSON.stringify({ error: 'rate_limit_exceeded', message: 'Too many concurrent requests', retry_after: 5 }),
      { 'retry-after': '2' },
      { kind: 'retryable', message: 'HTTP 429: Too many concurrent requests', retryAfterMs: 2000 },
    ],
    // no header: the body's hint
    [429, JSON.stringify({ error: 'rate_limit_exceeded', message: 'Too many concurrent requests', retry_after: 5 }), {}, { kind: 'retryable', message: 'HTTP 429: Too many concurrent requests', retryAfterMs: 5000 }],
    [429, JSON.stringify({ detail: 'You have reached the maximum number of active tasks' }), {}, { kind: 'retryable', message: 'HTTP 429: You have reached the maximum number of active tasks', retryAfterMs: null }],
    [500, JSON.stringify({ detail: 'Internal Server Error' }), {}, { kind: 'retryable', message: 'HTTP 500: Internal Server Error' }],
    [503, '<html><body>Service Unavailable</body></html>', { 'retry-after': '3' }, { kind: 'retryable', message: 'HTTP 503: <html><body>Service Unavailable</body></html>', retryAfterMs: 3000 }],
  ];
  for (const [status, body, headers, want] of table) {
    test(`${status} ${body.slice(0, 50)}`, () => {
      const e = classifyError(status, body, headers);
      assert.equal(e.kind, want.kind);
      assert.equal(e.message, want.message);
      if (want.retryAfterMs !== undefined) assert.equal(e.retryAfterMs, want.retryAfterMs);
      assert.equal(e.param, null, 'BFL\'s field names are not the client\'s parameters');
    });
  }

  test('error words: FastAPI detail in its forms, {error, message}, or the text', () => {
    assert.equal(errorMessage('{"detail":{"message":"bad"}}'), 'bad');
    assert.equal(errorMessage('{"error":"rate_limit_exceeded"}'), 'rate_limit_exceeded');
    assert.equal(errorMessage('{"detail":[{"loc":["query","id"],"msg":"Field required"}]}'), 'query.id: Field required');
    assert.equal(errorMessage('not json\n at all'), 'not json at all');
  });
});

describe('bfl: which polls carry the key', () => {
  const table: Array<[string, string, boolean]> = [
    ['https://api.bfl.ai/v1/get_result?id=1', 'https://api.bfl.ai', true],
    ['https://api.eu1.bfl.ai/v1/get_result?id=1', 'https://api.bfl.ai', true],
    ['https://gateway.bfl.ai/v1/get_result?id=1', 'https://api.eu.bfl.ai', true],
    ['/v1/get_result?id=1', 'https://api.bfl.ai', true],
    ['https://bfldeliveryprodeu4.blob.core.windows.net/results/x', 'https://api.bfl.ai', false],
    ['https://bfl.ai.example.com/v1/get_result', 'https://api.bfl.ai', false],
    ['https://notbfl.ai/v1/get_result', 'https://api.bfl.ai', false],
    // loopback: the same name on another port, and nothing else
    ['http://127.0.0.1:9001/v1/get_result?id=1', 'http://127.0.0.1:9000', true],
    ['http://127.0.0.2:9001/v1/get_result?id=1', 'http://127.0.0.1:9000', false],
    ['http://otherhost:9001/x', 'http://localhost:9000', false],
  ];
  for (const [url, base, want] of table) test(`${url} from ${base}: ${want}`, () => assert.equal(keyGoesTo(url, base), want));
});
