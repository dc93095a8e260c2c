/** The AUTOMATIC1111 translation, by tables: the img2img body, sizes, the answer and its info, checkpoints, errors. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  a1111Capabilities,
  authHeaders,
  checkpointKey,
  checkpointMismatch,
  classifyError,
  img2imgBody,
  parseImg2Img,
  targetSize,
} from '../../src/providers/a1111/translate.js';
import type { UpstreamError } from '../../src/providers/errors.js';
import type { ProviderCall } from '../../src/providers/types.js';
import type { EditRequest } from '../../src/types.js';
import { fakeCall } from './helpers.js';

/** a 1001x763 input, so that rounding to multiples of 8 shows */
function call(request: Partial<EditRequest> = {}, extra: Partial<ProviderCall> = {}): ProviderCall {
  const c = fakeCall(request, extra);
  Object.assign(c.request.images[0], { width: 1001, height: 763 });
  return c;
}

const IMG = Buffer.from('image-bytes');
const MASK = Buffer.from('mask-bytes');

describe('a1111 translate', () => {
  test('capabilities', () => {
    const c = a1111Capabilities();
    assert.equal(c.mask, 'white', 'white = repaint, never the RGBA mask A1111 reads by alpha > 128');
    assert.deepEqual(c.sizes, { kind: 'exact', sizes: 'free' });
    assert.deepEqual([c.maxImages, c.maxImagesPerCall, c.mode, c.outputFormats], [1, 4, 'sync', ['png']]);
    assert.deepEqual([c.quality, c.background, c.inputFidelity, c.moderation, c.partialImages, c.outputCompression], [[], [], false, false, false, false]);
  });

  test('sizes: as asked, auto the input size; both rounded to multiples of 8, at least 64', () => {
    const rows: Array<[EditRequest['size'], { width: number; height: number } | null, [number, number]]> = [
      ['auto', null, [1000, 760]],
      [{ width: 1536, height: 1024 }, null, [1536, 1024]],
      [{ width: 1020, height: 1012 }, null, [1024, 1016]],
      ['auto', { width: 20, height: 5000 }, [64, 5000]],
    ];
    for (const [size, input, want] of rows) {
      const c = call({ size });
      if (input) Object.assign(c.request.images[0], input);
      const s = targetSize(c);
      assert.deepEqual([s.width, s.height], want, JSON.stringify(size));
    }
  });

  test('the body: raw base64, request fields over params, override_settings merged, the mask with invert 0', () => {
    const params = { steps: 30, prompt: 'ignored', batch_size: 8, n_iter: 3, seed: 1, mask: 'x', inpainting_mask_invert: 1, width: 8, send_images: false, override_settings: { sd_vae: 'auto', sd_model_checkpoint: 'from-params' } };
    const masked = img2imgBody(call({}, { model: 'juggernautXL_v9.safetensors', n: 3, seed: 5 }), params, IMG, MASK);
    assert.deepEqual(masked, {
      steps: 30,
      prompt: 'a cat',
      batch_size: 3,
      n_iter: 1,
      seed: 5,
      mask: MASK.toString('base64'),
      inpainting_mask_invert: 0,
      width: 1000,
      height: 760,
      send_images: true,
      save_images: false,
      include_init_images: false,
      init_images: [IMG.toString('base64')],
      override_settings: { sd_vae: 'auto', sd_model_checkpoint: 'juggernautXL_v9.safetensors' },
    });
    // no mask: plain img2img, params' mask and invert do not slip through; 'default' keeps the params' checkpoint
    const plain = img2imgBody(call(), params, IMG, null);
    assert.equal('mask' in plain, false);
    assert.equal('inpainting_mask_invert' in plain, false);
    assert.deepEqual(plain.override_settings, { sd_vae: 'auto', sd_model_checkpoint: 'from-params' });
    assert.equal('override_settings' in img2imgBody(call(), {}, IMG, null), false);
    assert.deepEqual(img2imgBody(call({}, { model: 'x' }), {}, IMG, null).override_settings, { sd_model_checkpoint: 'x' });
  });

  test('basic auth from user:pass', () => {
    assert.deepEqual(authHeaders({ apiKey: 'me:p:w' }), { authorization: `Basic ${Buffer.from('me:p:w').toString('base64')}` });
    assert.deepEqual(authHeaders({ apiKey: null }), {});
  });

  test('the answer: the first n images, info parsed from its JSON string; extras ignored', () => {
    const a = Buffer.from('one');
    const b = Buffer.from('two');
    const extra = Buffer.from('controlnet map');
    const parsed = parseImg2Img({ images: [a, b, extra].map((x) => x.toString('base64')), parameters: {}, info: JSON.stringify({ sd_model_name: 'm', all_seeds: [1, 2] }) }, 2);
    assert.deepEqual(parsed.images, [a, b]);
    assert.deepEqual(parsed.info, { sd_model_name: 'm', all_seeds: [1, 2] });
    assert.equal(parseImg2Img({ images: [a.toString('base64')], info: 'not json' }, 1).info, null);
    assert.equal(parseImg2Img({ images: [`data:image/png;base64,${a.toString('base64')}`] }, 1).images[0].toString(), 'one');
    for (const bad of [{}, { images: 'x' }, { images: [] }, { images: [42] }, { images: ['%%%'] }, null]) {
      assert.throws(() => parseImg2Img(bad, 1), (e: UpstreamError) => e.kind === 'retryable' && /malformed/.test(e.message), JSON.stringify(bad));
    }
  });

  test('checkpoints: the names A1111 uses for one, and a silent fallback caught', () => {
    assert.equal(checkpointKey('sdxl/juggernautXL_v9.safetensors [c9e3e68f89]'), 'juggernautxl_v9');
    assert.equal(checkpointKey('juggernautXL_v9'), 'juggernautxl_v9');
    const info = { sd_model_name: 'juggernautXL_v9', sd_model_hash: 'c9e3e68f89' };
    assert.equal(checkpointMismatch('sdxl/juggernautXL_v9.safetensors [c9e3e68f89]', info), null);
    assert.equal(checkpointMismatch('juggernautXL_v9.safetensors', info), null);
    assert.equal(checkpointMismatch('c9e3e68f89', info), null);
    assert.equal(checkpointMismatch('default', info), null);
    assert.equal(checkpointMismatch('other.safetensors', null), null, 'an answer that does not say cannot be judged');
    assert.equal(checkpointMismatch('other.safetensors', info), "the server ran checkpoint 'juggernautXL_v9' instead of 'other.safetensors' (is it installed?)");
  });

  test('errors: FastAPI 422, the middleware envelope, 500s by their text', () => {
    const mw = (status: number, detail: string, error = 'HTTPException') => JSON.stringify({ error, detail, body: '', errors: `${status}: ${detail}` });
    const rows: Array<[number, string, string, string]> = [
      [422, JSON.stringify({ detail: [{ loc: ['body', 'width'], msg: 'value is not a valid integer', type: 'type_error.integer' }, { loc: ['body', 'seed'], msg: 'value is not a valid integer', type: 'type_error.integer' }] }), 'rejected', 'HTTP 422: width: value is not a valid integer; seed: value is not a valid integer'],
      [422, mw(422, "Script 'foo' not found"), 'rejected', "HTTP 422: Script 'foo' not found"],
      [401, mw(401, 'Incorrect username or password'), 'unavailable', 'HTTP 401: Incorrect username or password'],
      [404, mw(404, 'Sampler not found'), 'unavailable', 'HTTP 404: Sampler not found'],
      [404, mw(404, 'Model not found'), 'unavailable', 'HTTP 404: Model not found'],
      [404, JSON.stringify({ detail: 'Not Found' }), 'unavailable', 'HTTP 404: Not Found'],
      [500, mw(500, 'Invalid encoded image'), 'rejected', 'HTTP 500: Invalid encoded image'],
      [500, mw(500, 'Requests not allowed'), 'rejected', 'HTTP 500: Requests not allowed'],
      [500, JSON.stringify({ error: 'OutOfMemoryError', detail: '', body: '', errors: 'CUDA out of memory. Tried to allocate 2.00 GiB' }), 'retryable', 'HTTP 500: CUDA out of memory. Tried to allocate 2.00 GiB'],
      [500, JSON.stringify({ error: 'RuntimeError', detail: 'boom', body: '', errors: 'boom' }), 'retryable', 'HTTP 500: RuntimeError: boom'],
      [502, '<html>Bad Gateway</html>', 'retryable', 'HTTP 502: <html>Bad Gateway</html>'],
    ];
    for (const [status, body, kind, message] of rows) {
      const e = classifyError(status, body, {});
      assert.deepEqual([e.kind, e.message], [kind, message], body.slice(0, 60));
    }
    assert.equal(classifyError(429, '{}', { 'retry-after': '3' }).retryAfterMs, 3000);
  });
});
