/**
 * The `gemini` adapter through the whole gateway, with the official openai
 * client, against the Gemini emulator: what arrives upstream (path, key,
 * parts in order with the exact bytes, aspect ratio, image size, seed) and
 * what the client gets (the provider's image bytes, or exactly what the
 * gateway made of them); parameters Gemini cannot honour refused before
 * anything is sent; n split into calls. Then the emulator's own refusals,
 * which are what make these tests worth anything, and the ping.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { toFile } from 'openai';
import sharp from 'sharp';
import { systemClock } from '../../src/clock.js';
import { conformImage, type OutputWanted } from '../../src/images/convert.js';
import { createGeminiProvider } from '../../src/providers/gemini/index.js';
import { createProviderHttp } from '../../src/providers/http.js';
import type { ProviderIO } from '../../src/providers/types.js';
import { startGeminiEmulator, type GeminiEmulator } from '../emulators/gemini.js';
import { attemptsOf, client, gateway, lastEntry, pictures, type Pictures, type TestApp } from './helpers.js';

const KEY = 'AIzaSy-test-gemini-0123456789abcdef';

let pics: Pictures;
let g: GeminiEmulator;
let t: TestApp;

before(async () => {
  pics = await pictures();
  g = await startGeminiEmulator({ apiKey: KEY });
  t = await gateway(
    {
      providers: {
        gem: { type: 'gemini', baseUrl: g.baseUrl, apiKey: 'env:TEST_GEMINI_KEY' },
        'gem-lenient': { type: 'gemini', baseUrl: g.baseUrl, apiKey: 'env:TEST_GEMINI_KEY', dropUnsupported: ['background', 'quality'] },
      },
      models: {
        'nano-banana': { deployments: [{ provider: 'gem', model: 'gemini-2.5-flash-image' }] },
        'nano-banana-pro': { deployments: [{ provider: 'gem', model: 'gemini-3-pro-image-preview' }] },
        'nano-lenient': { deployments: [{ provider: 'gem-lenient', model: 'gemini-2.5-flash-image' }] },
      },
    },
    { env: { TEST_GEMINI_KEY: KEY } },
  );
});

after(async () => {
  assert.deepEqual(await t.spoolFiles(), [], 'no temporary file may be left behind');
  await t.close();
  await g.close();
  pics.cleanup();
});

const b64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64');
const want = (over: Partial<OutputWanted>): OutputWanted => ({ format: 'png', compression: null, size: null, opaque: false, ...over });
const file = async (p: string, name: string, type: string) => toFile(fs.readFileSync(p), name, { type });

describe('gemini adapter', () => {
  test('one image, size auto: the bytes inline, the prompt after, the key in x-goog-api-key; the client gets the provider\'s PNG as it is', async () => {
    g.reset();
    const raw = await client(t).images.edit({ model: 'nano-banana', image: fs.createReadStream(pics.land), prompt: 'make it warmer' }).withResponse();
    const res = raw.data;
    const seen = g.requests.at(-1)!;
    assert.equal(seen.method, 'POST');
    assert.equal(seen.path, '/v1beta/models/gemini-2.5-flash-image:generateContent');
    assert.equal(seen.headers['x-goog-api-key'], KEY);
    assert.equal(seen.query.get('key'), null, 'the key stays out of the URL');
    assert.equal(seen.headers.authorization, undefined);
    assert.match(String(seen.headers['content-type']), /^application\/json/);
    const body = JSON.parse(seen.body.toString('utf8'));
    const seed = body.generationConfig.seed;
    assert.ok(Number.isInteger(seed));
    assert.deepEqual(body, {
      contents: [{ role: 'user', parts: [{ inlineData: { mimeType: 'image/png', data: fs.readFileSync(pics.land).toString('base64') } }, { text: 'make it warmer' }] }],
      generationConfig: { responseModalities: ['TEXT', 'IMAGE'], seed },
    });
    // the provider's bytes, passed through unchanged (already PNG, no size asked)
    assert.ok(b64(res.data![0].b64_json).equals(g.emitted.at(-1)!));
    assert.equal(res.size, '1248x832', 'the size Gemini drew: 3:2 like the input');
    assert.equal(raw.response.headers.get('x-imagegate-deployment'), 'gem/gemini-2.5-flash-image');
    // Gemini's usageMetadata is not OpenAI usage: the gateway counts it
    assert.ok(res.usage && res.usage.output_tokens > 0 && res.usage.output_tokens !== 1290);
    const e = await lastEntry(t);
    assert.equal(e.deployment, 'gem/gemini-2.5-flash-image');
    assert.deepEqual(attemptsOf(e), [['gem/gemini-2.5-flash-image', 200]]);
    assert.equal(e.outputTokens, res.usage!.output_tokens);
  });

  test('two images and a size: parts in order with their MIME types, the nearest ratio; the client gets exactly the gateway\'s resize of the provider\'s image', async () => {
    g.reset();
    const res = await client(t).images.edit({
      model: 'nano-banana',
      image: [await file(pics.square, 'a.png', 'image/png'), await file(pics.jpeg, 'b.jpg', 'image/jpeg')],
      prompt: 'put the second picture in the first',
      size: '1536x1024',
    });
    const call = g.calls.at(-1)!;
    assert.deepEqual(call.images.map((i) => i.mimeType), ['image/png', 'image/jpeg']);
    assert.ok(call.images[0].bytes.equals(fs.readFileSync(pics.square)));
    assert.ok(call.images[1].bytes.equals(fs.readFileSync(pics.jpeg)));
    assert.equal(call.text, 'put the second picture in the first');
    assert.equal(call.aspectRatio, '3:2');
    assert.equal(call.imageSize, null, '2.5-flash-image has no image sizes');
    const out = b64(res.data![0].b64_json);
    const expected = await conformImage(g.emitted.at(-1)!, want({ size: { width: 1536, height: 1024 } }));
    assert.ok(out.equals(expected.image.bytes));
    const meta = await sharp(out).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['png', 1536, 1024]);
    assert.equal(res.size, '1536x1024');
  });

  test('output_format jpeg with compression: asked as PNG (Gemini API takes no format), encoded by the gateway', async () => {
    g.reset();
    const res = await client(t).images.edit({ model: 'nano-banana', image: fs.createReadStream(pics.square), prompt: 'x', output_format: 'jpeg', output_compression: 50 });
    const config = (g.calls.at(-1)!.body.generationConfig ?? {}) as Record<string, unknown>;
    assert.deepEqual(Object.keys(config).sort(), ['responseModalities', 'seed']);
    const out = b64(res.data![0].b64_json);
    const expected = await conformImage(g.emitted.at(-1)!, want({ format: 'jpeg', compression: 50 }));
    assert.ok(out.equals(expected.image.bytes));
    assert.equal(res.output_format, 'jpeg');
  });

  test('Gemini 3: four images, the 2K tier for a 1536-pixel side, thought drafts never reach the client', async () => {
    g.reset();
    const images = await Promise.all([0, 1, 2, 3].map((i) => file(pics.square, `${i}.png`, 'image/png')));
    const res = await client(t).images.edit({ model: 'nano-banana-pro', image: images, prompt: 'a collage', size: '1024x1536' });
    const call = g.calls.at(-1)!;
    assert.equal(call.model, 'gemini-3-pro-image-preview');
    assert.equal(call.images.length, 4);
    assert.equal(call.aspectRatio, '2:3');
    assert.equal(call.imageSize, '2K');
    assert.equal(g.drafts.length, 1, 'the emulator sent a draft as a thought part');
    const out = b64(res.data![0].b64_json);
    const expected = await conformImage(g.emitted.at(-1)!, want({ size: { width: 1024, height: 1536 } }));
    assert.ok(out.equals(expected.image.bytes), 'the final image, scaled down from 1664x2496');
  });

  test('what Gemini cannot honour is a 400 naming the parameter and the model, and nothing is sent', async () => {
    g.reset();
    const c = client(t);
    const refused = async (params: Record<string, unknown>, param: string, message: RegExp) => {
      await assert.rejects(c.images.edit({ model: 'nano-banana', image: fs.createReadStream(pics.square), prompt: 'x', ...params } as never), (e: { status: number; code: string; param: string; error: { message: string } }) => {
        assert.equal(e.status, 400);
        assert.equal(e.code, 'unsupported_parameter');
        assert.equal(e.param, param);
        assert.match(e.error.message, message);
        return true;
      });
    };
    await refused({ mask: await file(pics.mask, 'mask.png', 'image/png') }, 'mask', /^Unsupported parameter: 'mask' is not supported by model 'nano-banana' \(deployment gem\/gemini-2\.5-flash-image\)\.$/);
    await refused({ background: 'transparent' }, 'background', /'background' \('transparent'\) is not supported by model 'nano-banana'/);
    await refused({ quality: 'high' }, 'quality', /'quality' \('high'\) is not supported/);
    await refused({ input_fidelity: 'high' }, 'input_fidelity', /'input_fidelity' \('high'\) is not supported/);
    await refused({ moderation: 'low' }, 'moderation', /'moderation' \('low'\) is not supported/);
    const four = await Promise.all([0, 1, 2, 3].map((i) => file(pics.square, `${i}.png`, 'image/png')));
    await assert.rejects(c.images.edit({ model: 'nano-banana', image: four, prompt: 'x' }), (e: { status: number; code: string; param: string; message: string }) => {
      assert.equal(e.status, 400);
      assert.equal(e.code, 'array_above_max_length');
      assert.equal(e.param, 'image[3]');
      assert.match(e.message, /nano-banana.*gem\/gemini-2\.5-flash-image.*at most 3 input images/);
      return true;
    });
    assert.equal(g.requests.length, 0, 'nothing went upstream');
  });

  test('dropUnsupported: background and quality dropped, said in a warning, not sent', async () => {
    g.reset();
    const raw = await client(t).images.edit({ model: 'nano-lenient', image: fs.createReadStream(pics.square), prompt: 'x', background: 'opaque', quality: 'low' }).asResponse();
    assert.equal(raw.status, 200);
    assert.equal(raw.headers.get('x-imagegate-warning'), "gem-lenient/gemini-2.5-flash-image does not support 'quality', 'background'; dropped");
    assert.deepEqual(Object.keys(g.calls.at(-1)!.body.generationConfig as object).sort(), ['responseModalities', 'seed']);
  });

  test('n=3: three calls with distinct seeds; the client gets the three images', async () => {
    g.reset();
    const res = await client(t).images.edit({ model: 'nano-banana', image: fs.createReadStream(pics.square), prompt: 'three takes', n: 3 });
    assert.equal(g.calls.length, 3);
    assert.equal(new Set(g.calls.map((c) => c.seed)).size, 3);
    assert.equal(res.data!.length, 3);
    const got = res.data!.map((d) => b64(d.b64_json).toString('base64')).sort();
    assert.deepEqual(got, g.emitted.map((b) => b.toString('base64')).sort());
  });

  test('response_format=url: the gateway hosts the provider\'s bytes', async () => {
    g.reset();
    const res = await client(t).images.edit({ model: 'nano-banana', image: fs.createReadStream(pics.square), prompt: 'x', response_format: 'url' });
    const got = await fetch(res.data![0].url!);
    assert.equal(got.status, 200);
    assert.ok(Buffer.from(await got.arrayBuffer()).equals(g.emitted.at(-1)!));
  });

  test('stream: no partial images (Gemini has none), one completed event with the provider\'s bytes', async () => {
    g.reset();
    const stream = await client(t).images.edit({ model: 'nano-banana', image: fs.createReadStream(pics.square), prompt: 'x', stream: true, partial_images: 2 });
    const events = [];
    for await (const ev of stream) events.push(ev);
    assert.deepEqual(events.map((e) => e.type), ['image_edit.completed']);
    assert.ok(b64((events[0] as { b64_json: string }).b64_json).equals(g.emitted.at(-1)!));
  });
});

describe('gemini emulator refuses what Google refuses', () => {
  const png = () => fs.readFileSync(pics.square).toString('base64');
  const post = (body: unknown, opts: { model?: string; key?: string | null; query?: string; headers?: Record<string, string> } = {}) =>
    fetch(`${g.baseUrl}/models/${opts.model ?? 'gemini-2.5-flash-image'}:generateContent${opts.query ?? ''}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(opts.key === null ? {} : { 'x-goog-api-key': opts.key ?? KEY }), ...(opts.headers ?? {}) },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const ok = (extra: Record<string, unknown> = {}) => ({
    contents: [{ parts: [{ inlineData: { mimeType: 'image/png', data: png() } }, { text: 'x' }] }],
    generationConfig: { responseModalities: ['TEXT', 'IMAGE'], ...extra },
  });
  const error = async (res: Response, code: number, status: string, message: RegExp | string) => {
    assert.equal(res.status, code);
    const body = (await res.json()) as { error: { code: number; status: string; message: string } };
    assert.equal(body.error.code, code);
    assert.equal(body.error.status, status);
    if (typeof message === 'string') assert.equal(body.error.message, message);
    else assert.match(body.error.message, message);
    return body;
  };

  test('snake_case, as in Google\'s curl samples, and the key as ?key=', async () => {
    const res = await post(
      { contents: [{ role: 'user', parts: [{ inline_data: { mime_type: 'image/png', data: png() } }, { text: 'x' }] }], generation_config: { response_modalities: ['IMAGE'], image_config: { aspect_ratio: '16:9' } } },
      { key: null, query: `?key=${KEY}` },
    );
    assert.equal(res.status, 200);
    const body = (await res.json()) as { candidates: Array<{ content: { parts: Array<Record<string, unknown>> } }> };
    assert.ok(body.candidates[0].content.parts.some((p) => 'inlineData' in p), 'answers come in camelCase');
  });

  test('Vertex-only imageConfig fields: Cannot find field', async () => {
    for (const field of ['outputMimeType', 'outputCompressionQuality', 'personGeneration', 'imageOutputOptions']) {
      const body = await error(
        await post(ok({ imageConfig: { aspectRatio: '1:1', [field]: 'image/jpeg' } })),
        400,
        'INVALID_ARGUMENT',
        `Invalid JSON payload received. Unknown name "${field}" at 'generation_config.image_config': Cannot find field.`,
      );
      assert.deepEqual((body.error as unknown as { details: unknown[] }).details, [
        {
          '@type': 'type.googleapis.com/google.rpc.BadRequest',
          fieldViolations: [{ field: 'generation_config.image_config', description: `Invalid JSON payload received. Unknown name "${field}" at 'generation_config.image_config': Cannot find field.` }],
        },
      ]);
    }
    await error(await post({ ...ok(), response_format: 'b64_json' }), 400, 'INVALID_ARGUMENT', 'Invalid JSON payload received. Unknown name "response_format": Cannot find field.');
  });

  test('a data URI where bytes are wanted; two data fields in one part; a wrong type; a wrong enum', async () => {
    await error(
      await post({ contents: [{ parts: [{ inlineData: { mimeType: 'image/png', data: `data:image/png;base64,${png()}` } }] }] }),
      400,
      'INVALID_ARGUMENT',
      /^Invalid value at 'contents\[0\]\.parts\[0\]\.inline_data\.data' \(TYPE_BYTES\), Base64 decoding failed for "data:image\/png;base64,/,
    );
    await error(await post({ contents: [{ parts: [{ text: 'x', inlineData: { mimeType: 'image/png', data: png() } }] }] }), 400, 'INVALID_ARGUMENT', /oneof field 'data' is already set/);
    await error(await post(ok({ seed: 'abc' })), 400, 'INVALID_ARGUMENT', `Invalid value at 'generation_config.seed' (TYPE_INT32), "abc"`);
    await error(await post(ok({ responseModalities: ['PICTURE'] })), 400, 'INVALID_ARGUMENT', /^Invalid value at 'generation_config\.response_modalities\[0\]' \(type\.googleapis\.com\/google\.ai\.generativelanguage\.v1beta\.GenerationConfig\.Modality\), "PICTURE"$/);
    await error(await post('{"contents": ['), 400, 'INVALID_ARGUMENT', /^Invalid JSON payload received/);
  });

  test('per model: image output from a text model, more inputs than it takes, an unknown ratio, a lowercase size, several candidates, a GIF', async () => {
    await error(await post(ok(), { model: 'gemini-2.5-flash' }), 400, 'INVALID_ARGUMENT', 'This model only supports text output.');
    const four = { contents: [{ parts: [0, 1, 2, 3].map(() => ({ inlineData: { mimeType: 'image/png', data: png() } })) }] };
    await error(await post(four), 400, 'INVALID_ARGUMENT', /exceeds the maximum of 3/);
    await error(await post(ok({ imageConfig: { aspectRatio: '7:5' } })), 400, 'INVALID_ARGUMENT', /aspect ratio '7:5'/);
    await error(await post(ok({ imageConfig: { imageSize: '2k' } }), { model: 'gemini-3-pro-image-preview' }), 400, 'INVALID_ARGUMENT', /image size '2k'/);
    await error(await post(ok({ candidateCount: 2 })), 400, 'INVALID_ARGUMENT', 'Multiple candidates is not enabled for models/gemini-2.5-flash-image');
    await error(await post({ contents: [{ parts: [{ inlineData: { mimeType: 'image/gif', data: 'R0lGODlhAQABAAAAACw=' } }] }] }), 400, 'INVALID_ARGUMENT', 'Unsupported MIME type: image/gif');
    await error(await post({ contents: [{ parts: [{ inlineData: { mimeType: 'image/jpeg', data: png() } }] }] }), 400, 'INVALID_ARGUMENT', /^Unable to process input image/);
  });

  test('auth: a wrong key is 400 API_KEY_INVALID, none 403, a Bearer token 401; an unknown model 404; an unknown path Google\'s HTML 404', async () => {
    const bad = await error(await post(ok(), { key: 'AIza-wrong' }), 400, 'INVALID_ARGUMENT', 'API key not valid. Please pass a valid API key.');
    assert.equal((bad.error as unknown as { details: Array<{ reason?: string }> }).details[0].reason, 'API_KEY_INVALID');
    await error(await post(ok(), { key: null }), 403, 'PERMISSION_DENIED', /^Method doesn't allow unregistered callers/);
    await error(await post(ok(), { key: null, headers: { authorization: `Bearer ${KEY}` } }), 401, 'UNAUTHENTICATED', /^Request had invalid authentication credentials/);
    await error(await post(ok(), { model: 'gemini-9-ultra' }), 404, 'NOT_FOUND', /^models\/gemini-9-ultra is not found for API version v1beta, or is not supported for generateContent/);
    const page = await fetch(`${g.url}/v1/models/gemini-2.5-flash-image:generateContent`, { method: 'POST', headers: { 'x-goog-api-key': KEY }, body: '{}' });
    assert.equal(page.status, 404);
    assert.match(page.headers.get('content-type')!, /^text\/html/);
  });

  test('the in-band refusals: a blocked prompt, a withheld image, no image', async () => {
    const say = (text: string) => post({ contents: [{ parts: [{ inlineData: { mimeType: 'image/png', data: png() } }, { text }] }] });
    const blocked = (await (await say('a blocked-prompt please')).json()) as Record<string, any>;
    assert.deepEqual(blocked.promptFeedback, { blockReason: 'PROHIBITED_CONTENT' });
    assert.equal(blocked.candidates, undefined);
    const withheld = (await (await say('an unsafe-image please')).json()) as Record<string, any>;
    assert.deepEqual(withheld.candidates, [{ finishReason: 'IMAGE_SAFETY', index: 0 }]);
    const none = (await (await say('no-image please')).json()) as Record<string, any>;
    assert.equal(none.candidates[0].finishReason, 'NO_IMAGE');
    assert.ok(none.candidates[0].content.parts.every((p: object) => 'text' in p));
  });
});

describe('gemini ping', () => {
  const io = (): ProviderIO => {
    const cfg = t.config.providers.gem;
    return { http: createProviderHttp(cfg).forAttempt(new AbortController().signal), signal: new AbortController().signal, clock: systemClock, sleep: async () => {}, read: async () => Buffer.alloc(0) };
  };

  test('GET /models?pageSize=1 with the key: accepted; a wrong key is said to be refused', async () => {
    g.reset();
    const good = await createGeminiProvider(t.config.providers.gem).ping!(io());
    assert.equal(good.reachable, true);
    assert.equal(good.authOk, true);
    const seen = g.requests.at(-1)!;
    assert.equal(seen.path, '/v1beta/models');
    assert.equal(seen.query.get('pageSize'), '1');
    assert.equal(seen.headers['x-goog-api-key'], KEY);
    const wrong = await createGeminiProvider({ ...t.config.providers.gem, apiKey: 'AIza-wrong' }).ping!(io());
    assert.deepEqual([wrong.reachable, wrong.authOk, wrong.detail], [true, false, 'HTTP 400: credentials refused']);
  });
});
