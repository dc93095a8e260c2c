/**
 * Planning a deployment: what it cannot honour is refused (or dropped when
 * allowed), n is split into calls, and the format to ask is chosen.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ProviderConfig } from '../../src/config/index.js';
import { chooseAskFormat, planFor, splitN } from '../../src/pipeline/plan.js';
import type { Capabilities, Deployment } from '../../src/providers/types.js';
import type { EditRequest } from '../../src/types.js';

const caps = (over: Partial<Capabilities> = {}): Capabilities => ({
  maxImages: 4,
  mask: null,
  sizes: { kind: 'aspect', ratios: ['1:1', '3:2', '2:3'] },
  outputFormats: ['png', 'jpeg'],
  outputCompression: false,
  background: [],
  quality: [],
  inputFidelity: false,
  moderation: false,
  partialImages: false,
  maxImagesPerCall: 1,
  mode: 'polling',
  operations: ['edit'],
  ...over,
});

const deployment = (dropUnsupported: ProviderConfig['dropUnsupported'] = []): Deployment => ({
  name: 'bfl/flux-kontext-pro',
  model: 'flux-kontext-pro',
  provider: { name: 'bfl', type: 'bfl', config: { dropUnsupported } as ProviderConfig, capabilities: () => caps(), edit: async () => { throw new Error('no'); } },
});

const img = (i: number): EditRequest['images'][number] => ({ param: `image[${i}]`, path: `/x${i}.png`, bytes: 10, format: 'png', width: 512, height: 512, hasAlpha: false, filename: null });

const req = (over: Partial<EditRequest> = {}): EditRequest => ({
  id: 'req_1',
  model: { requested: 'flux-kontext-pro', id: 'flux-kontext-pro', family: 'gpt-image' },
  prompt: 'x',
  images: [img(0)],
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
});

const refusal = (r: EditRequest, c = caps(), d = deployment()) => {
  const out = planFor(d, r, c);
  assert.ok(!out.ok, 'refused');
  return { status: out.refusal.status, code: out.refusal.code, param: out.refusal.param, message: out.refusal.message };
};

describe('planFor', () => {
  test('each parameter the deployment cannot honour is a 400 naming it and the model', () => {
    const mask = { ...img(0), param: 'mask', hasAlpha: true };
    assert.deepEqual(refusal(req({ mask })), {
      status: 400,
      code: 'unsupported_parameter',
      param: 'mask',
      message: "Unsupported parameter: 'mask' is not supported by model 'flux-kontext-pro' (deployment bfl/flux-kontext-pro).",
    });
    assert.equal(refusal(req({ quality: 'high' })).param, 'quality');
    assert.equal(refusal(req({ background: 'transparent' })).message, "Unsupported parameter: 'background' ('transparent') is not supported by model 'flux-kontext-pro' (deployment bfl/flux-kontext-pro).");
    assert.equal(refusal(req({ inputFidelity: 'high' })).param, 'input_fidelity');
    assert.equal(refusal(req({ moderation: 'low' })).param, 'moderation');
    assert.equal(refusal(req({ size: { width: 1024, height: 1024 } }), caps({ sizes: { kind: 'none' } })).message, "Unsupported parameter: 'size' ('1024x1024') is not supported by model 'flux-kontext-pro' (deployment bfl/flux-kontext-pro).");
  });

  test('too many images: array_above_max_length naming the first image over the limit', () => {
    const r = refusal(req({ images: [0, 1, 2, 3, 4].map(img) }));
    assert.equal(r.code, 'array_above_max_length');
    assert.equal(r.param, 'image[4]');
    assert.match(r.message, /maximum length 4, but got an array with length 5.*takes at most 4 input images\.$/);
  });

  test('dropUnsupported: dropped, back at the default, and listed', () => {
    const out = planFor(deployment(['quality', 'image']), req({ quality: 'high', images: [0, 1, 2, 3, 4, 5].map(img) }), caps());
    assert.ok(out.ok);
    assert.deepEqual(out.plan.dropped, ['image', 'quality']);
    assert.equal(out.plan.request.quality, 'auto');
    assert.equal(out.plan.request.images.length, 4);
  });

  test('what is honoured passes: values the capabilities list', () => {
    const out = planFor(deployment(), req({ quality: 'low', background: 'opaque', size: { width: 1536, height: 1024 }, n: 3 }), caps({ quality: ['low'], background: ['opaque'] }));
    assert.ok(out.ok);
    assert.deepEqual(out.plan.calls, [1, 1, 1]);
    assert.deepEqual(out.plan.want, { format: 'png', compression: null, size: { width: 1536, height: 1024 }, opaque: true });
  });

  test('n is split by maxImagesPerCall', () => {
    assert.deepEqual(splitN(10, 4), [4, 4, 2]);
    assert.deepEqual(splitN(3, 10), [3]);
    assert.deepEqual(splitN(2, 1), [1, 1]);
  });

  test('the format asked: the client\'s when the provider makes it, else lossless for the gateway to convert', () => {
    assert.equal(chooseAskFormat(req({ outputFormat: 'jpeg' }), caps()), 'jpeg');
    assert.equal(chooseAskFormat(req({ outputFormat: 'webp' }), caps()), 'png');
    // compression the provider cannot apply: ask lossless, encode in the gateway
    assert.equal(chooseAskFormat(req({ outputFormat: 'jpeg', outputCompression: 40 }), caps()), 'png');
    assert.equal(chooseAskFormat(req({ outputFormat: 'jpeg', outputCompression: 40 }), caps({ outputCompression: true })), 'jpeg');
    assert.equal(chooseAskFormat(req({ outputFormat: 'webp' }), caps({ outputFormats: ['jpeg'] })), 'jpeg');
  });
});
