/**
 * POST /v1/images/generations on a `gemini` deployment, through the gateway
 * with the official client, against the Gemini emulator: the text-only
 * generateContent body that reaches Google, the size as an aspect ratio
 * (and Gemini 3's image-size tier), n as calls with distinct seeds, the
 * pictures the client gets, Google's errors and refusals in OpenAI's envelope,
 * and what Gemini cannot honour refused before anything is sent.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { conformImage, type OutputWanted } from '../../src/images/convert.js';
import { googleError, startGeminiEmulator, type GeminiEmulator } from '../emulators/gemini.js';
import { client, gateway, lastEntry, postJsonError, type TestApp } from './helpers.js';

const KEY = 'AIzaSy-test-gemini-generations-0123456789';

let g: GeminiEmulator;
let t: TestApp;

before(async () => {
  g = await startGeminiEmulator({ apiKey: KEY });
  t = await gateway(
    {
      providers: {
        gem: { type: 'gemini', baseUrl: g.baseUrl, apiKey: 'env:TEST_GEMINI_KEY', maxRetries: 0 },
      },
      models: {
        'nano-banana': { deployments: [{ provider: 'gem', model: 'gemini-2.5-flash-image' }] },
        'nano-banana-pro': { deployments: [{ provider: 'gem', model: 'gemini-3-pro-image-preview' }] },
      },
    },
    { env: { TEST_GEMINI_KEY: KEY } },
  );
});

after(async () => {
  await t.close();
  await g.close();
});

const b64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64');
const want = (over: Partial<OutputWanted>): OutputWanted => ({ format: 'png', compression: null, size: null, opaque: false, ...over });

/** a generation posted as plain JSON: status and error, for what the SDK's types would not let through */
async function post(body: unknown): Promise<[number, string, string | null, string]> {
  const { status, error } = await postJsonError(t, 'generations', body);
  return [status, error.code, error.param, error.message];
}

describe('gemini generations', () => {
  test('size auto: the prompt as the only part, no imageConfig, the key in x-goog-api-key; the client gets Gemini\'s square PNG as it is', async () => {
    g.reset();
    const raw = await client(t).images.generate({ model: 'nano-banana', prompt: 'a red bicycle' }).withResponse();
    const res = raw.data;
    assert.equal(g.requests.length, 1);
    const seen = g.requests[0];
    assert.equal(seen.path, '/v1beta/models/gemini-2.5-flash-image:generateContent');
    assert.equal(seen.headers['x-goog-api-key'], KEY);
    assert.equal(seen.query.get('key'), null);
    const body = JSON.parse(seen.body.toString('utf8'));
    const seed = body.generationConfig.seed;
    assert.ok(Number.isInteger(seed));
    assert.deepEqual(body, {
      contents: [{ role: 'user', parts: [{ text: 'a red bicycle' }] }],
      generationConfig: { responseModalities: ['TEXT', 'IMAGE'], seed },
    });
    assert.equal(res.data!.length, 1);
    assert.ok(b64(res.data![0].b64_json).equals(g.emitted[0]), 'the provider\'s bytes, unchanged');
    assert.equal(res.size, '1024x1024', 'the square Gemini drew');
    assert.equal(res.output_format, 'png');
    assert.equal(raw.response.headers.get('x-imagegate-deployment'), 'gem/gemini-2.5-flash-image');
    const e = await lastEntry(t);
    assert.equal(e.path, '/v1/images/generations');
    assert.equal(e.imageCount, 0);
    assert.equal(e.status, 200);
  });

  test('sizes as aspect ratios: 1536x1024 → 3:2, 1024x1536 → 2:3, 1024x1024 → 1:1; the picture scaled to the exact size asked', async () => {
    for (const [size, ratio, drawn] of [
      ['1536x1024', '3:2', [1248, 832]],
      ['1024x1536', '2:3', [832, 1248]],
      ['1024x1024', '1:1', [1024, 1024]],
    ] as const) {
      g.reset();
      const res = await client(t).images.generate({ model: 'nano-banana', prompt: 'a lighthouse', size });
      const call = g.calls.at(-1)!;
      assert.equal(call.aspectRatio, ratio, size);
      assert.equal(call.imageSize, null, '2.5-flash-image has one size per ratio');
      assert.equal(call.images.length, 0);
      const drew = await sharp(g.emitted.at(-1)!).metadata();
      assert.deepEqual([drew.width, drew.height], drawn);
      const [w, h] = size.split('x').map(Number);
      const out = b64(res.data![0].b64_json);
      const expected = await conformImage(g.emitted.at(-1)!, want({ size: { width: w, height: h } }));
      assert.ok(out.equals(expected.image.bytes), `${size}: the emulator's picture, scaled by the gateway`);
      const meta = await sharp(out).metadata();
      assert.deepEqual([meta.format, meta.width, meta.height], ['png', w, h]);
      assert.equal(res.size, size);
    }
  });

  test('Gemini 3: the 2K tier for a 1536-pixel side; the drafts it thinks in never reach the client', async () => {
    g.reset();
    const res = await client(t).images.generate({ model: 'nano-banana-pro', prompt: 'a city at night', size: '1536x1024' });
    const call = g.calls.at(-1)!;
    assert.deepEqual(call.body.generationConfig, { responseModalities: ['TEXT', 'IMAGE'], seed: call.seed, imageConfig: { aspectRatio: '3:2', imageSize: '2K' } });
    assert.equal(g.drafts.length, 1);
    const out = b64(res.data![0].b64_json);
    const expected = await conformImage(g.emitted.at(-1)!, want({ size: { width: 1536, height: 1024 } }));
    assert.ok(out.equals(expected.image.bytes), 'the final image scaled down from 2496x1664, not the draft');
  });

  test('n=3: three calls with distinct seeds, three distinct pictures, each one the emulator drew', async () => {
    g.reset();
    const res = await client(t).images.generate({ model: 'nano-banana', prompt: 'three cats', n: 3 });
    assert.equal(g.calls.length, 3);
    const seeds = g.calls.map((c) => c.seed);
    assert.equal(new Set(seeds).size, 3, `distinct seeds: ${seeds.join(', ')}`);
    assert.ok(g.calls.every((c) => c.text === 'three cats' && c.images.length === 0));
    assert.equal(res.data!.length, 3);
    const got = res.data!.map((d) => b64(d.b64_json).toString('base64'));
    assert.equal(new Set(got).size, 3);
    assert.deepEqual([...got].sort(), g.emitted.map((b) => b.toString('base64')).sort());
  });

  test('output_format jpeg: asked as PNG (the Gemini API takes no format), encoded by the gateway', async () => {
    g.reset();
    const res = await client(t).images.generate({ model: 'nano-banana', prompt: 'a pear', output_format: 'jpeg', output_compression: 60 });
    const out = b64(res.data![0].b64_json);
    const expected = await conformImage(g.emitted.at(-1)!, want({ format: 'jpeg', compression: 60 }));
    assert.ok(out.equals(expected.image.bytes));
    assert.equal((await sharp(out).metadata()).format, 'jpeg');
    assert.equal(res.output_format, 'jpeg');
  });

  test('Google\'s errors in OpenAI\'s envelope: a 400 INVALID_ARGUMENT passed on; a blocked prompt is moderation_blocked', async () => {
    g.reset();
    g.fault({ kind: 'status', status: 400, body: googleError(400, 'INVALID_ARGUMENT', 'Request contains an invalid argument.') });
    const [status, code, param, message] = await post({ model: 'nano-banana', prompt: 'a boat' });
    assert.deepEqual([status, code, param], [400, 'upstream_rejected', null]);
    assert.equal(message, 'Deployment gem/gemini-2.5-flash-image refused the request: HTTP 400: INVALID_ARGUMENT: Request contains an invalid argument.');
    assert.equal(g.requests.length, 1, 'a refusal of the request is not retried');

    g.reset();
    const blocked = await post({ model: 'nano-banana', prompt: 'a blocked-prompt boat' });
    assert.deepEqual(blocked, [
      400,
      'moderation_blocked',
      null,
      'Your request was rejected by the safety system of deployment gem/gemini-2.5-flash-image: Gemini blocked the prompt (PROHIBITED_CONTENT)',
    ]);
  });

  test('what Gemini cannot honour is refused naming the parameter, and nothing is sent', async () => {
    g.reset();
    assert.deepEqual((await post({ model: 'nano-banana', prompt: 'x', background: 'transparent' })).slice(0, 3), [400, 'unsupported_parameter', 'background']);
    assert.deepEqual((await post({ model: 'nano-banana', prompt: 'x', quality: 'high' })).slice(0, 3), [400, 'unsupported_parameter', 'quality']);
    assert.deepEqual((await post({ model: 'nano-banana', prompt: 'x', moderation: 'low' })).slice(0, 3), [400, 'unsupported_parameter', 'moderation']);
    assert.deepEqual((await post({ model: 'nano-banana' })).slice(0, 3), [400, 'missing_required_parameter', 'prompt']);
    assert.equal(g.requests.length, 0);
  });
});

describe('the emulator refuses what Google refuses', () => {
  const call = (body: unknown, headers: Record<string, string> = { 'x-goog-api-key': KEY }) =>
    fetch(`${g.baseUrl}/models/gemini-2.5-flash-image:generateContent`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = (s: string) => ({ contents: [{ role: 'user', parts: [{ text: s }] }] });

  test('a blank prompt, an unknown field, a Vertex-only field, a wrong key, a Bearer token', async () => {
    const blank = await call(text('  '));
    assert.equal(blank.status, 400);
    assert.match(((await blank.json()) as { error: { message: string } }).error.message, /empty text parameter/);
    const unknown = await call({ ...text('a cat'), generationConfig: { aspectRatio: '1:1' } });
    assert.equal(unknown.status, 400);
    assert.match(((await unknown.json()) as { error: { message: string } }).error.message, /Unknown name "aspectRatio"/);
    const vertex = await call({ ...text('a cat'), generationConfig: { imageConfig: { outputMimeType: 'image/png' } } });
    assert.equal(vertex.status, 400);
    assert.equal((await call(text('a cat'), { 'x-goog-api-key': 'wrong' })).status, 400);
    assert.equal((await call(text('a cat'), { authorization: `Bearer ${KEY}` })).status, 401);
    const ok = await call(text('a cat'));
    assert.equal(ok.status, 200);
  });
});
