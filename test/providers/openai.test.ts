/**
 * The `openai`, `azure-openai` and `openai-compatible` adapters through the
 * whole gateway, with the official openai client, against the OpenAI and
 * Azure emulators: what arrives upstream (parts, bytes, fields, auth, path)
 * and what the client gets back (the provider's bytes and usage).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { toFile } from 'openai';
import sharp from 'sharp';
import { startOpenAiEmulator, type OpenAiEmulator } from '../emulators/openai.js';
import { attemptsOf, channel, client, gateway, lastEntry, pictures, type Pictures, type TestApp } from './helpers.js';

const KEY = 'sk-test-openai-0123456789abcdef';
const AZ_KEY = 'azure-key-0123456789abcdef0123';

let pics: Pictures;
let oa: OpenAiEmulator;
let az: OpenAiEmulator;
let compat: OpenAiEmulator;
let t: TestApp;

before(async () => {
  pics = await pictures();
  oa = await startOpenAiEmulator({ apiKey: KEY });
  az = await startOpenAiEmulator({ flavour: 'azure', apiKey: AZ_KEY, deployments: { 'img-prod': 'gpt-image-1' } });
  compat = await startOpenAiEmulator({ apiKey: 'compat-key-0123456789', answerUrls: true });
  t = await gateway(
    {
      providers: {
        oa: { type: 'openai', baseUrl: oa.baseUrl, apiKey: 'env:TEST_OPENAI_KEY', organization: 'org-123' },
        az: { type: 'azure-openai', baseUrl: az.baseUrl, apiKey: 'env:TEST_AZURE_KEY' },
        compat: { type: 'openai-compatible', baseUrl: compat.baseUrl, apiKey: 'env:TEST_COMPAT_KEY' },
        'oa-drop': { type: 'openai', baseUrl: oa.baseUrl, apiKey: 'env:TEST_OPENAI_KEY', dropUnsupported: ['background', 'quality'] },
      },
      models: {
        'gpt-image-1': { deployments: [{ provider: 'oa', model: 'gpt-image-1' }] },
        'gpt-image-1-mini': { deployments: [{ provider: 'oa', model: 'gpt-image-1-mini' }] },
        'dall-e-2': { deployments: [{ provider: 'oa', model: 'dall-e-2' }] },
        'azure-image': { deployments: [{ provider: 'az', model: 'img-prod' }] },
        'compat-image': { deployments: [{ provider: 'compat', model: 'gpt-image-1' }] },
        'my-dalle': { deployments: [{ provider: 'oa', model: 'dall-e-2' }] },
        'my-dalle-lenient': { deployments: [{ provider: 'oa-drop', model: 'dall-e-2' }] },
      },
    },
    { env: { TEST_OPENAI_KEY: KEY, TEST_AZURE_KEY: AZ_KEY, TEST_COMPAT_KEY: 'compat-key-0123456789' } },
  );
});

after(async () => {
  assert.deepEqual(await t.spoolFiles(), [], 'no temporary file may be left behind');
  await t.close();
  await Promise.all([oa.close(), az.close(), compat.close()]);
  pics.cleanup();
});

describe('openai adapter', () => {
  test('one image: the upstream gets the bytes and the model; the client gets its image and usage', async () => {
    oa.reset();
    const res = await client(t).images.edit({ model: 'gpt-image-1', image: fs.createReadStream(pics.land), prompt: 'make it warmer' });
    const seen = oa.requests.at(-1)!;
    assert.equal(seen.headers.authorization, `Bearer ${KEY}`);
    assert.equal(seen.headers['openai-organization'], 'org-123');
    assert.deepEqual(seen.fields, [
      ['model', 'gpt-image-1'],
      ['prompt', 'make it warmer'],
      ['n', '1'],
      ['size', 'auto'],
      ['output_format', 'png'],
    ]);
    assert.deepEqual(seen.files!.map((f) => [f.name, f.contentType]), [['image', 'image/png']]);
    assert.ok(seen.files![0].bytes.equals(fs.readFileSync(pics.land)), 'the image arrives byte for byte');
    // the provider's bytes, passed through unchanged, and its usage
    assert.ok(Buffer.from(res.data![0].b64_json!, 'base64').equals(oa.emitted.at(-1)!));
    assert.deepEqual(res.usage, oa.lastUsage);
    assert.equal(res.size, '1536x1024');
    assert.equal(res.quality, 'medium');
    const e = await lastEntry(t);
    assert.equal(e.deployment, 'oa/gpt-image-1');
    assert.deepEqual(attemptsOf(e), [['oa/gpt-image-1', 200]]);
    assert.equal(e.outputTokens, oa.lastUsage!.output_tokens);
  });

  test('an array of images and a mask: image[] parts in order, the mask as sent (transparent = edit), every parameter', async () => {
    oa.reset();
    const res = await client(t).images.edit({
      model: 'gpt-image-1',
      image: [await toFile(fs.createReadStream(pics.square), 'a.png', { type: 'image/png' }), await toFile(fs.readFileSync(pics.jpeg), 'b.jpg', { type: 'image/jpeg' })],
      mask: await toFile(fs.readFileSync(pics.mask), 'mask.png', { type: 'image/png' }),
      prompt: 'put the second picture in the hole',
      n: 2,
      size: '1024x1024',
      quality: 'high',
      background: 'opaque',
      output_format: 'webp',
      output_compression: 80,
      input_fidelity: 'high',
      // the SDK's types lag the API here; the field goes on the wire all the same
      ...({ moderation: 'low' } as object),
      user: 'user-7',
    });
    const seen = oa.requests.at(-1)!;
    assert.deepEqual(seen.files!.map((f) => [f.name, f.contentType]), [
      ['image[]', 'image/png'],
      ['image[]', 'image/jpeg'],
      ['mask', 'image/png'],
    ]);
    assert.ok(seen.files![0].bytes.equals(fs.readFileSync(pics.square)));
    assert.ok(seen.files![1].bytes.equals(fs.readFileSync(pics.jpeg)));
    assert.ok(seen.files![2].bytes.equals(fs.readFileSync(pics.mask)), 'OpenAI takes the mask as the client sent it');
    const alpha = await channel(seen.files![2].bytes, 3);
    assert.equal(alpha.data[512 * 1024 + 512], 0, 'the hole is transparent');
    assert.equal(alpha.data[10 * 1024 + 10], 255, 'the rest is opaque');
    assert.deepEqual(Object.fromEntries(seen.fields!), {
      model: 'gpt-image-1',
      prompt: 'put the second picture in the hole',
      n: '2',
      size: '1024x1024',
      quality: 'high',
      background: 'opaque',
      output_format: 'webp',
      output_compression: '80',
      input_fidelity: 'high',
      // the SDK's types lag the API here; the field goes on the wire all the same
      ...({ moderation: 'low' } as object),
      user: 'user-7',
    });
    assert.equal(res.data!.length, 2);
    assert.ok(Buffer.from(res.data![0].b64_json!, 'base64').equals(oa.emitted.at(-2)!));
    assert.ok(Buffer.from(res.data![1].b64_json!, 'base64').equals(oa.emitted.at(-1)!));
    assert.equal(res.output_format, 'webp');
    assert.deepEqual(res.usage, oa.lastUsage);
  });

  test('response_format=url: not sent to a GPT image model; the gateway hosts the provider\'s bytes', async () => {
    oa.reset();
    const res = await client(t).images.edit({ model: 'gpt-image-1', image: fs.createReadStream(pics.square), prompt: 'x', response_format: 'url' });
    assert.ok(!oa.requests.at(-1)!.fields!.some(([k]) => k === 'response_format'));
    const got = await fetch(res.data![0].url!);
    assert.equal(got.status, 200);
    assert.ok(Buffer.from(await got.arrayBuffer()).equals(oa.emitted.at(-1)!));
  });

  test('dall-e-2: asked for b64_json (the gateway hosts url answers), no GPT-only fields', async () => {
    oa.reset();
    const res = await client(t).images.edit({ model: 'dall-e-2', image: fs.createReadStream(pics.small), prompt: 'a hat', size: '512x512' });
    const fields = Object.fromEntries(oa.requests.at(-1)!.fields!);
    assert.deepEqual(fields, { model: 'dall-e-2', prompt: 'a hat', n: '1', size: '512x512', response_format: 'b64_json' });
    const got = await fetch(res.data![0].url!);
    assert.ok(Buffer.from(await got.arrayBuffer()).equals(oa.emitted.at(-1)!));
    assert.deepEqual(Object.keys(res).sort(), ['created', 'data']);
  });

  test('streaming: the upstream\'s partial images and completed image pass through as events, with its usage', async () => {
    oa.reset();
    const stream = await client(t).images.edit({ model: 'gpt-image-1', image: fs.createReadStream(pics.square), prompt: 'x', stream: true, partial_images: 2 });
    const events = [];
    for await (const ev of stream) events.push(ev);
    assert.deepEqual(events.map((e) => e.type), ['image_edit.partial_image', 'image_edit.partial_image', 'image_edit.completed']);
    assert.deepEqual(events.slice(0, 2).map((e) => (e as { partial_image_index: number }).partial_image_index), [0, 1]);
    const done = events[2] as { b64_json: string; usage: unknown; size: string };
    assert.ok(Buffer.from(done.b64_json, 'base64').equals(oa.emitted.at(-1)!));
    assert.deepEqual(done.usage, oa.lastUsage);
    assert.equal(done.size, '1024x1024');
    const fields = Object.fromEntries(oa.requests.at(-1)!.fields!);
    assert.equal(fields.stream, 'true');
    assert.equal(fields.partial_images, '2');
    assert.equal((await lastEntry(t)).stream, true);
  });

  test('a parameter the deployment cannot honour is a 400 naming it and the model, and nothing is sent', async () => {
    oa.reset();
    const c = client(t);
    await assert.rejects(
      c.images.edit({ model: 'my-dalle', image: [await toFile(fs.readFileSync(pics.small), 'a.png', { type: 'image/png' }), await toFile(fs.readFileSync(pics.small), 'b.png', { type: 'image/png' })], prompt: 'x' }),
      (e: { status: number; code: string; param: string; message: string }) => {
        assert.equal(e.status, 400);
        assert.equal(e.code, 'array_above_max_length');
        assert.equal(e.param, 'image[1]');
        assert.match(e.message, /my-dalle.*oa\/dall-e-2.*at most 1 input image/);
        return true;
      },
    );
    await assert.rejects(c.images.edit({ model: 'my-dalle', image: fs.createReadStream(pics.small), prompt: 'x', background: 'transparent' }), (e: { status: number; code: string; param: string; error: { message: string } }) => {
      assert.equal(e.status, 400);
      assert.equal(e.code, 'unsupported_parameter');
      assert.equal(e.param, 'background');
      assert.equal(e.error.message, "Unsupported parameter: 'background' ('transparent') is not supported by model 'my-dalle' (deployment oa/dall-e-2).");
      return true;
    });
    assert.equal(oa.requests.length, 0, 'nothing went upstream');
  });

  test('dropUnsupported: the parameter is dropped, and the answer says so', async () => {
    oa.reset();
    const raw = await client(t).images.edit({ model: 'my-dalle-lenient', image: fs.createReadStream(pics.small), prompt: 'x', background: 'transparent', response_format: 'b64_json' }).asResponse();
    assert.equal(raw.status, 200);
    assert.equal(raw.headers.get('x-imagegate-warning'), "oa-drop/dall-e-2 does not support 'background'; dropped");
    assert.ok(!oa.requests.at(-1)!.fields!.some(([k]) => k === 'background'));
  });
});

describe('azure-openai adapter', () => {
  test('the deployment path, api-version and api-key; webp asked as png and converted by the gateway', async () => {
    az.reset();
    const res = await client(t).images.edit({ model: 'azure-image', image: fs.createReadStream(pics.square), prompt: 'x', output_format: 'webp', quality: 'low' });
    const seen = az.requests.at(-1)!;
    assert.equal(seen.path, '/openai/deployments/img-prod/images/edits');
    assert.equal(seen.query.get('api-version'), '2025-04-01-preview');
    assert.equal(seen.headers['api-key'], AZ_KEY);
    assert.equal(seen.headers.authorization, undefined);
    assert.ok(!seen.fields!.some(([k]) => k === 'model'), 'the deployment path names the model');
    assert.equal(Object.fromEntries(seen.fields!).output_format, 'png');
    const out = Buffer.from(res.data![0].b64_json!, 'base64');
    const meta = await sharp(out).metadata();
    assert.equal(meta.format, 'webp');
    assert.deepEqual([meta.width, meta.height], [1024, 1024]);
    assert.equal(res.output_format, 'webp');
    assert.deepEqual(res.usage, az.lastUsage);
    assert.equal((await lastEntry(t)).deployment, 'az/img-prod');
  });
});

describe('openai-compatible adapter', () => {
  test('an answer with URLs: downloaded from the provider\'s host and given to the client as bytes', async () => {
    compat.reset();
    const res = await client(t).images.edit({ model: 'compat-image', image: fs.createReadStream(pics.square), prompt: 'x' });
    assert.equal(compat.requests.filter((r) => r.path.startsWith('/files/')).length, 1);
    assert.ok(Buffer.from(res.data![0].b64_json!, 'base64').equals(compat.emitted.at(-1)!));
    assert.equal(compat.requests[0].headers.authorization, 'Bearer compat-key-0123456789');
  });
});
