/**
 * POST /v1/images/generations and /v1/images/variations through the gateway
 * with the official client, on the OpenAI emulator: what reaches the
 * upstream, what the client gets, and what is refused before anything is sent.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startOpenAiEmulator, type OpenAiEmulator } from '../emulators/openai.js';
import { client, gateway, lastEntry, pictures, type Pictures, type TestApp } from './helpers.js';

const KEY = 'sk-test-generations-0123456789';
let pics: Pictures;
let oa: OpenAiEmulator;
let t: TestApp;

before(async () => {
  pics = await pictures();
  oa = await startOpenAiEmulator({ apiKey: KEY });
  t = await gateway(
    {
      providers: {
        oa: { type: 'openai', baseUrl: oa.baseUrl, apiKey: 'env:K' },
        // stands for an edit-only deployment
        edits: { type: 'stability', baseUrl: oa.url, apiKey: 'env:K' },
      },
      models: {
        'gpt-image-1': { deployments: [{ provider: 'oa', model: 'gpt-image-1' }] },
        'dall-e-2': { deployments: [{ provider: 'oa', model: 'dall-e-2' }] },
        'dall-e-3': { deployments: [{ provider: 'oa', model: 'dall-e-3' }] },
        'edit-only': { deployments: [{ provider: 'edits', model: 'inpaint' }] },
      },
      prices: { 'gpt-image-1': { tokens: { textInput: '5.00', imageInput: '10.00', imageOutput: '40.00' } } },
    },
    { env: { K: KEY } },
  );
});

after(async () => {
  await t.close();
  await oa.close();
  pics.cleanup();
});

describe('generations', () => {
  test('gpt-image-1: the JSON body OpenAI takes; the provider\'s bytes and usage; charged by its usage', async () => {
    oa.reset();
    const raw = await client(t).images.generate({ model: 'gpt-image-1', prompt: 'a red bicycle', size: '1536x1024', quality: 'low', background: 'opaque', output_format: 'jpeg', output_compression: 70, n: 2 }).asResponse();
    const res = (await raw.json()) as { data: Array<{ b64_json: string }>; usage: { output_tokens: number; input_tokens_details: { text_tokens: number } } };
    assert.deepEqual(oa.generations.at(-1), {
      model: 'gpt-image-1',
      body: { model: 'gpt-image-1', prompt: 'a red bicycle', n: 2, size: '1536x1024', quality: 'low', background: 'opaque', output_format: 'jpeg', output_compression: 70 },
    });
    assert.equal(res.data.length, 2);
    assert.ok(Buffer.from(res.data[1].b64_json, 'base64').equals(oa.emitted.at(-1)!));
    assert.deepEqual(res.usage, oa.lastUsage);
    // the emulator's usage: 3 text tokens, 2 × 272 output: 3 × 5 + 544 × 40 = 21,775 micro-USD
    assert.equal(raw.headers.get('x-imagegate-cost-usd'), '0.021775');
    const e = await lastEntry(t);
    assert.equal(e.path, '/v1/images/generations');
    assert.equal(e.imageCount, 0);
  });

  test('dall-e-3: style and hd, its own sizes, a hosted url by default, only created and data', async () => {
    oa.reset();
    const res = await client(t).images.generate({ model: 'dall-e-3', prompt: 'a lighthouse', size: '1792x1024', quality: 'hd', style: 'natural' });
    assert.deepEqual(oa.generations.at(-1)!.body, { model: 'dall-e-3', prompt: 'a lighthouse', n: 1, size: '1792x1024', quality: 'hd', response_format: 'b64_json', style: 'natural' });
    assert.deepEqual(Object.keys(res).sort(), ['created', 'data']);
    const got = await fetch(res.data![0].url!);
    assert.ok(Buffer.from(await got.arrayBuffer()).equals(oa.emitted.at(-1)!));
  });

  test('a stream: image_generation events passed through', async () => {
    oa.reset();
    const stream = await client(t).images.generate({ model: 'gpt-image-1', prompt: 'x', stream: true, partial_images: 1 });
    const types: string[] = [];
    for await (const ev of stream) types.push(ev.type);
    assert.deepEqual(types, ['image_generation.partial_image', 'image_generation.completed']);
  });

  test('refused before anything is sent: an image, dall-e-3 with n=2, style on a GPT model, an edit-only deployment', async () => {
    oa.reset();
    const post = async (body: unknown) => {
      const res = await fetch(`${t.url}/v1/images/generations`, { method: 'POST', headers: { authorization: `Bearer ${t.masterKey}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const err = ((await res.json()) as { error: { code: string; param: string } }).error;
      return [res.status, err.code, err.param];
    };
    assert.deepEqual(await post({ prompt: 'x', images: [{ image_url: 'data:image/png;base64,iVBORw0KGgo=' }] }), [400, 'unknown_parameter', 'images']);
    assert.deepEqual(await post({ model: 'dall-e-3', prompt: 'x', n: 2 }), [400, 'invalid_value', 'n']);
    assert.deepEqual(await post({ model: 'gpt-image-1', prompt: 'x', style: 'vivid' }), [400, 'unsupported_parameter', 'style']);
    assert.deepEqual(await post({ model: 'gpt-image-1', prompt: 'x', input_fidelity: 'high' }), [400, 'unknown_parameter', 'input_fidelity']);
    assert.deepEqual(await post({ model: 'edit-only', prompt: 'x' }), [400, 'unsupported_operation', 'model']);
    assert.deepEqual(await post({ model: 'gpt-image-1' }), [400, 'missing_required_parameter', 'prompt']);
    assert.equal(oa.requests.length, 0);
  });
});

describe('variations', () => {
  test('dall-e-2: one square PNG, n and size; a hosted url by default', async () => {
    oa.reset();
    const res = await client(t).images.createVariation({ image: fs.createReadStream(pics.small), n: 2, size: '512x512' });
    const seen = oa.variations.at(-1)!;
    assert.deepEqual(Object.fromEntries(seen.fields), { model: 'dall-e-2', n: '2', size: '512x512', response_format: 'b64_json' });
    assert.ok(seen.image.bytes.equals(fs.readFileSync(pics.small)));
    assert.equal(res.data!.length, 2);
    const got = await fetch(res.data![0].url!);
    assert.ok(Buffer.from(await got.arrayBuffer()).equals(oa.emitted.at(-2)!));
    assert.equal((await lastEntry(t)).path, '/v1/images/variations');
  });

  test('no prompt, no mask, a square PNG: refused in the envelope', async () => {
    const post = async (parts: Array<[string, string | Buffer]>) => {
      const fd = new FormData();
      for (const [k, v] of parts) {
        if (typeof v === 'string') fd.append(k, v);
        else fd.append(k, new Blob([v], { type: 'image/png' }), 'a.png');
      }
      const res = await fetch(`${t.url}/v1/images/variations`, { method: 'POST', headers: { authorization: `Bearer ${t.masterKey}` }, body: fd });
      const err = ((await res.json()) as { error: { code: string; param: string } }).error;
      return [res.status, err.code, err.param];
    };
    const small = fs.readFileSync(pics.small);
    assert.deepEqual(await post([['image', small], ['prompt', 'a hat']]), [400, 'unknown_parameter', 'prompt']);
    assert.deepEqual(await post([['image', small], ['mask', small]]), [400, 'unknown_parameter', 'mask']);
    assert.deepEqual(await post([['image', fs.readFileSync(pics.land)]]), [400, 'invalid_value', 'image'], 'not square');
    assert.deepEqual(await post([['image', fs.readFileSync(pics.jpeg)]]), [400, 'unsupported_file_mimetype', 'image'], 'not a PNG');
    assert.deepEqual(await post([['n', '2']]), [400, 'missing_required_parameter', 'image']);
    assert.deepEqual(await post([['image', small], ['model', 'gpt-image-1']]), [400, 'unsupported_operation', 'model']);
  });
});
