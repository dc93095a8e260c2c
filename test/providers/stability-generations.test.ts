/**
 * POST /v1/images/generations on `stability` deployments of the v2beta
 * generate endpoints (core, ultra, sd3 and its SD 3.5 models), through the
 * gateway with the official client, against the Stability emulator: the
 * multipart fields each endpoint receives, the size as one of its nine
 * aspect ratios, n as calls with distinct seeds, the picture the client gets
 * (scaled and converted where Stability cannot do it), Stability's verdicts
 * in OpenAI's envelope, and what cannot be honoured refused before anything
 * is sent.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import sharp from 'sharp';
import { conformImage, type OutputWanted } from '../../src/images/convert.js';
import { stabilityError, startStabilityEmulator, type StabilityEmulator } from '../emulators/stability.js';
import { client, gateway, lastEntry, postJsonError, pictures, type Pictures, type TestApp } from './helpers.js';

const KEY = 'sk-stability-generations-0123456789SECRET';

let pics: Pictures;
let stab: StabilityEmulator;
let t: TestApp;

before(async () => {
  pics = await pictures();
  stab = await startStabilityEmulator({ apiKey: KEY });
  t = await gateway(
    {
      providers: {
        stab: { type: 'stability', baseUrl: stab.baseUrl, apiKey: 'env:TEST_STABILITY_KEY', maxRetries: 0 },
        'stab-styled': { type: 'stability', baseUrl: stab.baseUrl, apiKey: 'env:TEST_STABILITY_KEY', params: { negative_prompt: 'blurry', style_preset: 'photographic', grow_mask: 3 } },
      },
      models: {
        'stable-core': { deployments: [{ provider: 'stab', model: 'core' }] },
        'stable-ultra': { deployments: [{ provider: 'stab', model: 'ultra' }] },
        'sd3.5-large': { deployments: [{ provider: 'stab', model: 'sd3.5-large' }] },
        'stable-styled': { deployments: [{ provider: 'stab-styled', model: 'core' }] },
        'stable-inpaint': { deployments: [{ provider: 'stab', model: 'inpaint' }] },
      },
    },
    { env: { TEST_STABILITY_KEY: KEY } },
  );
});

after(async () => {
  await t.close();
  await stab.close();
  pics.cleanup();
});

const b64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64');
const want = (over: Partial<OutputWanted>): OutputWanted => ({ format: 'png', compression: null, size: null, opaque: false, ...over });
const facts = async (bytes: Buffer) => {
  const m = await sharp(bytes).metadata();
  return [m.format, m.width, m.height];
};

async function post(body: unknown): Promise<[number, string, string | null, string]> {
  const { status, error } = await postJsonError(t, 'generations', body);
  return [status, error.code, error.param, error.message];
}

describe('stability generations', () => {
  test('core, size auto: multipart with the prompt, seed and format, the key as Bearer; the client gets Stability\'s bytes', async () => {
    stab.reset();
    const { data: res, response } = await client(t).images.generate({ model: 'stable-core', prompt: 'a red bicycle' }).withResponse();
    assert.equal(stab.requests.length, 1);
    const seen = stab.requests[0];
    assert.equal(seen.path, '/v2beta/stable-image/generate/core');
    assert.equal(seen.headers.authorization, `Bearer ${KEY}`);
    assert.equal(seen.headers.accept, 'image/*');
    assert.match(String(seen.headers['content-type']), /^multipart\/form-data; boundary=/);
    const g = stab.generations[0];
    const seed = g.fields.get('seed')!;
    assert.match(seed, /^\d+$/);
    assert.deepEqual(Object.fromEntries(g.fields), { prompt: 'a red bicycle', seed, output_format: 'png' });
    assert.equal(seen.files!.length, 0, 'no image part');
    assert.ok(b64(res.data![0].b64_json).equals(stab.emitted[0]));
    assert.deepEqual(await facts(stab.emitted[0]), ['png', 1024, 1024]);
    assert.equal(res.size, '1024x1024');
    assert.equal(response.headers.get('x-imagegate-deployment'), 'stab/core');
    const e = await lastEntry(t);
    assert.deepEqual([e.path, e.imageCount, e.status], ['/v1/images/generations', 0, 200]);
  });

  test('sizes as aspect ratios: 1536x1024 → 3:2, 1024x1536 → 2:3; the picture scaled to the exact size asked', async () => {
    for (const [size, ratio, drawn] of [
      ['1536x1024', '3:2', [1216, 832]],
      ['1024x1536', '2:3', [832, 1216]],
    ] as const) {
      stab.reset();
      const res = await client(t).images.generate({ model: 'stable-core', prompt: 'a lighthouse', size });
      assert.equal(stab.generations[0].fields.get('aspect_ratio'), ratio, size);
      assert.deepEqual((await facts(stab.emitted[0])).slice(1), drawn);
      const [w, h] = size.split('x').map(Number);
      const out = b64(res.data![0].b64_json);
      const expected = await conformImage(stab.emitted[0], want({ size: { width: w, height: h } }));
      assert.ok(out.equals(expected.image.bytes), size);
      assert.deepEqual(await facts(out), ['png', w, h]);
      assert.equal(res.size, size);
    }
  });

  test('ultra: its large picture scaled down to the size asked, jpeg asked of Stability', async () => {
    stab.reset();
    const res = await client(t).images.generate({ model: 'stable-ultra', prompt: 'mountains', size: '1536x1024', output_format: 'jpeg' });
    const g = stab.generations[0];
    assert.equal(stab.requests[0].path, '/v2beta/stable-image/generate/ultra');
    assert.deepEqual([g.fields.get('aspect_ratio'), g.fields.get('output_format')], ['3:2', 'jpeg']);
    assert.deepEqual(await facts(stab.emitted[0]), ['jpeg', 2432, 1664]);
    const out = b64(res.data![0].b64_json);
    const expected = await conformImage(stab.emitted[0], want({ format: 'jpeg', size: { width: 1536, height: 1024 } }));
    assert.ok(out.equals(expected.image.bytes));
    assert.deepEqual(await facts(out), ['jpeg', 1536, 1024]);
  });

  test('an SD 3.5 model: the sd3 endpoint with its model field; webp (which sd3 does not make) asked as png and converted', async () => {
    stab.reset();
    const res = await client(t).images.generate({ model: 'sd3.5-large', prompt: 'a fox', output_format: 'webp' });
    assert.equal(stab.requests[0].path, '/v2beta/stable-image/generate/sd3');
    const g = stab.generations[0];
    assert.deepEqual(Object.fromEntries(g.fields), { prompt: 'a fox', model: 'sd3.5-large', seed: g.fields.get('seed'), output_format: 'png' });
    const out = b64(res.data![0].b64_json);
    const expected = await conformImage(stab.emitted[0], want({ format: 'webp' }));
    assert.ok(out.equals(expected.image.bytes));
    assert.deepEqual(await facts(out), ['webp', 1024, 1024]);
    assert.equal(res.output_format, 'webp');
  });

  test('operator params reach the endpoint that takes them: negative_prompt and style_preset on core, not grow_mask', async () => {
    stab.reset();
    await client(t).images.generate({ model: 'stable-styled', prompt: 'a pear' });
    assert.deepEqual([...stab.generations[0].fields.keys()], ['prompt', 'negative_prompt', 'style_preset', 'seed', 'output_format']);
    assert.equal(stab.generations[0].fields.get('style_preset'), 'photographic');
  });

  test('n=3: three calls with distinct seeds, three distinct pictures, each one Stability made', async () => {
    stab.reset();
    const res = await client(t).images.generate({ model: 'stable-core', prompt: 'three cats', n: 3 });
    assert.equal(stab.generations.length, 3);
    const seeds = stab.generations.map((g) => g.fields.get('seed'));
    assert.equal(new Set(seeds).size, 3, `distinct seeds: ${seeds.join(', ')}`);
    const got = res.data!.map((d) => d.b64_json!);
    assert.equal(new Set(got).size, 3);
    assert.deepEqual([...got].sort(), stab.emitted.map((b) => b.toString('base64')).sort());
  });

  test('Stability\'s verdicts in OpenAI\'s envelope: moderation, a blurred output, a server error', async () => {
    stab.reset();
    assert.deepEqual(await post({ model: 'stable-core', prompt: 'something forbidden' }), [
      400,
      'moderation_blocked',
      null,
      'Your request was rejected by the safety system of deployment stab/core: Your request was flagged by our content moderation system, as a result your request was denied and you were not charged.',
    ]);
    assert.deepEqual(await post({ model: 'stable-core', prompt: 'please blur-me' }), [
      400,
      'moderation_blocked',
      null,
      "Your request was rejected by the safety system of deployment stab/core: the output was blurred by the provider's content filter (finish-reason: CONTENT_FILTERED)",
    ]);
    stab.fault({ kind: 'status', status: 500, body: stabilityError('internal_error', ['An unexpected server error has occurred, please try again later.']) });
    assert.deepEqual(await post({ model: 'stable-core', prompt: 'a boat' }), [
      502,
      'upstream_error',
      null,
      "The deployment of model 'stable-core' failed: stab/core: HTTP 500: internal_error: An unexpected server error has occurred, please try again later.",
    ]);
  });

  test('refused before anything is sent: a generation on an edit endpoint, quality, background, moderation', async () => {
    stab.reset();
    assert.deepEqual(await post({ model: 'stable-inpaint', prompt: 'x' }), [400, 'unsupported_operation', 'model', "Model 'stable-inpaint' (deployment stab/inpaint) does not do image generations."]);
    assert.deepEqual((await post({ model: 'stable-core', prompt: 'x', quality: 'high' })).slice(0, 3), [400, 'unsupported_parameter', 'quality']);
    assert.deepEqual((await post({ model: 'stable-ultra', prompt: 'x', background: 'transparent' })).slice(0, 3), [400, 'unsupported_parameter', 'background']);
    assert.deepEqual((await post({ model: 'sd3.5-large', prompt: 'x', moderation: 'low' })).slice(0, 3), [400, 'unsupported_parameter', 'moderation']);
    // and an edit on a generate endpoint
    const fd = new FormData();
    fd.append('model', 'stable-core');
    fd.append('prompt', 'make it warmer');
    fd.append('image', new Blob([fs.readFileSync(pics.square)], { type: 'image/png' }), 'a.png');
    const res = await fetch(`${t.url}/v1/images/edits`, { method: 'POST', headers: { authorization: `Bearer ${t.masterKey}` }, body: fd });
    const err = ((await res.json()) as { error: { code: string; param: string } }).error;
    assert.deepEqual([res.status, err.code, err.param], [400, 'unsupported_operation', 'model']);
    assert.equal(stab.requests.length, 0);
  });
});

describe('the emulator refuses what Stability refuses', () => {
  const send = async (endpoint: string, parts: Array<[string, string | Buffer]>, key = KEY) => {
    const fd = new FormData();
    for (const [k, v] of parts) {
      if (typeof v === 'string') fd.append(k, v);
      else fd.append(k, new Blob([v], { type: 'image/png' }), `${k}.png`);
    }
    const res = await fetch(`${stab.url}/v2beta/stable-image/generate/${endpoint}`, { method: 'POST', headers: { authorization: `Bearer ${key}`, accept: 'image/*' }, body: fd });
    const body = res.headers.get('content-type')?.startsWith('application/json') ? ((await res.json()) as { name: string; errors: string[] }) : null;
    return [res.status, body?.errors[0] ?? null];
  };

  test('edit fields, no prompt, an unknown ratio or model, webp on sd3, an image without image-to-image, a wrong key', async () => {
    const png = fs.readFileSync(pics.square);
    assert.deepEqual(await send('core', [['prompt', 'x'], ['mask', png]]), [400, 'mask: is not a parameter of generate/core']);
    assert.deepEqual(await send('core', [['prompt', 'x'], ['grow_mask', '5']]), [400, 'grow_mask: is not a parameter of generate/core']);
    assert.deepEqual(await send('ultra', [['prompt', 'x'], ['search_prompt', 'y']]), [400, 'search_prompt: is not a parameter of generate/ultra']);
    assert.deepEqual(await send('core', [['aspect_ratio', '1:1']]), [400, 'prompt: is required']);
    assert.deepEqual(await send('core', [['prompt', 'x'], ['aspect_ratio', '4:3']]), [400, 'aspect_ratio: must be one of 21:9, 16:9, 3:2, 5:4, 1:1, 4:5, 2:3, 9:16, 9:21']);
    assert.deepEqual(await send('sd3', [['prompt', 'x'], ['model', 'sd3-large']]), [400, 'model: must be one of sd3.5-large, sd3.5-large-turbo, sd3.5-medium, sd3.5-flash']);
    assert.deepEqual(await send('sd3', [['prompt', 'x'], ['output_format', 'webp']]), [400, 'output_format: must be one of jpeg, png']);
    assert.deepEqual(await send('sd3', [['prompt', 'x'], ['image', png]]), [400, 'image: is only accepted when mode is image-to-image']);
    assert.deepEqual(await send('core', [['prompt', 'x']], 'sk-wrong'), [401, 'authorization: invalid API key']);
    assert.deepEqual(await send('core', [['prompt', 'x'], ['aspect_ratio', '9:21'], ['output_format', 'webp']]), [200, null]);
  });
});
