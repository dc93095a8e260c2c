/**
 * The `replicate` adapter through the whole gateway, with the official openai
 * client, against the Replicate emulator: what arrives upstream (path, auth,
 * Prefer, the input with the image as a data URI of the exact bytes) and what
 * the client gets back (the prediction's output bytes, or exactly what the
 * gateway converted them to).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { toFile } from 'openai';
import sharp from 'sharp';
import { conformImage } from '../../src/images/convert.js';
import { createReplicateProvider } from '../../src/providers/replicate/index.js';
import type { ProviderConfig } from '../../src/config/index.js';
import { COMMUNITY_VERSION, startReplicateEmulator, type ReplicateEmulator } from '../emulators/replicate.js';
import { attemptsOf, client, gateway, lastEntry, pictures, pingProvider, type Pictures, type TestApp } from './helpers.js';

const KEY = 'r8_test_0123456789abcdefSECRET';
const KONTEXT = 'black-forest-labs/flux-kontext-pro';

let pics: Pictures;
let rep: ReplicateEmulator;
let t: TestApp;

before(async () => {
  pics = await pictures();
  rep = await startReplicateEmulator({ apiKey: KEY });
  t = await gateway(
    {
      providers: {
        rep: { type: 'replicate', baseUrl: rep.baseUrl, apiKey: 'env:TEST_REPLICATE_KEY' },
        // a first-byte timeout of 2 s leaves room for Prefer: wait=1 only
        'rep-short': { type: 'replicate', baseUrl: rep.baseUrl, apiKey: 'env:TEST_REPLICATE_KEY', timeouts: { firstByteMs: 2000 } },
      },
      models: {
        'flux-kontext-pro': { deployments: [{ provider: 'rep', model: KONTEXT }] },
        'kontext-tuned': { deployments: [{ provider: 'rep', model: `acme/kontext-tuned:${COMMUNITY_VERSION}` }] },
        'flux-2-pro': { deployments: [{ provider: 'rep', model: 'black-forest-labs/flux-2-pro' }] },
        'kontext-short': { deployments: [{ provider: 'rep-short', model: KONTEXT }] },
      },
    },
    { env: { TEST_REPLICATE_KEY: KEY } },
  );
});

after(async () => {
  assert.deepEqual(await t.spoolFiles(), [], 'no temporary file may be left behind');
  await t.close();
  await rep.close();
  pics.cleanup();
});

const creates = () => rep.requests.filter((r) => r.method === 'POST' && /\/predictions$/.test(r.path));
const polls = () => rep.requests.filter((r) => r.method === 'GET' && /^\/v1\/predictions\//.test(r.path));
const downloads = () => rep.requests.filter((r) => r.path.startsWith('/delivery/'));
const dataUriOf = (file: string, mime = 'image/png') => `data:${mime};base64,${fs.readFileSync(file).toString('base64')}`;

describe('replicate adapter', () => {
  test('one image: the official model\'s endpoint, Bearer, Prefer: wait, the image as a data URI; the client gets the output bytes', async () => {
    rep.reset();
    const raw = await client(t).images.edit({ model: 'flux-kontext-pro', image: fs.createReadStream(pics.land), prompt: 'make it warmer' }).withResponse();
    const res = raw.data;
    assert.equal(creates().length, 1);
    const seen = creates()[0];
    assert.equal(seen.path, '/v1/models/black-forest-labs/flux-kontext-pro/predictions');
    assert.equal(seen.headers.authorization, `Bearer ${KEY}`);
    assert.equal(seen.headers.prefer, 'wait=60');
    const input = (seen.json as { input: Record<string, unknown> }).input;
    assert.deepEqual(Object.keys(seen.json as object), ['input']);
    assert.equal(typeof input.seed, 'number');
    assert.deepEqual({ ...input, seed: 0 }, {
      prompt: 'make it warmer',
      input_image: dataUriOf(pics.land),
      aspect_ratio: 'match_input_image',
      output_format: 'png',
      seed: 0,
      safety_tolerance: 2,
    });
    // done within the wait: no poll; the output fetched once, without credentials
    assert.equal(polls().length, 0);
    assert.equal(downloads().length, 1);
    assert.equal(downloads()[0].headers.authorization, undefined);
    assert.ok(Buffer.from(res.data![0].b64_json!, 'base64').equals(rep.emitted.at(-1)!), 'the output bytes pass through');
    assert.equal(raw.response.headers.get('x-imagegate-deployment'), `rep/${KONTEXT}`);
    const e = await lastEntry(t);
    assert.deepEqual(attemptsOf(e), [[`rep/${KONTEXT}`, 200]]);
    assert.ok(res.usage && res.usage.output_tokens > 0, 'usage is counted by the gateway');
  });

  test('a size becomes the nearest aspect ratio and jpeg is asked as jpg; the gateway resizes to the exact size', async () => {
    rep.reset();
    const res = await client(t).images.edit({ model: 'flux-kontext-pro', image: fs.createReadStream(pics.square), prompt: 'x', size: '1536x1024', output_format: 'jpeg' });
    const input = rep.creates.at(-1)!.input;
    assert.equal(input.aspect_ratio, '3:2');
    assert.equal(input.output_format, 'jpg');
    const made = rep.emitted.at(-1)!;
    const madeMeta = await sharp(made).metadata();
    assert.deepEqual([madeMeta.format, madeMeta.width, madeMeta.height], ['jpeg', 1248, 832]);
    const out = Buffer.from(res.data![0].b64_json!, 'base64');
    const expected = await conformImage(made, { format: 'jpeg', compression: null, size: { width: 1536, height: 1024 }, opaque: false });
    assert.ok(out.equals(expected.image.bytes), 'exactly what the gateway converted the output to');
    assert.equal(res.size, '1536x1024');
  });

  test('webp, which Kontext cannot make: asked as png and converted by the gateway', async () => {
    rep.reset();
    const res = await client(t).images.edit({ model: 'flux-kontext-pro', image: fs.createReadStream(pics.square), prompt: 'x', output_format: 'webp' });
    assert.equal(rep.creates.at(-1)!.input.output_format, 'png');
    const out = Buffer.from(res.data![0].b64_json!, 'base64');
    const expected = await conformImage(rep.emitted.at(-1)!, { format: 'webp', compression: null, size: null, opaque: false });
    assert.ok(out.equals(expected.image.bytes));
    assert.equal((await sharp(out).metadata()).format, 'webp');
  });

  test('n=3: three predictions with distinct seeds; the client gets each output once', async () => {
    rep.reset();
    const res = await client(t).images.edit({ model: 'flux-kontext-pro', image: fs.createReadStream(pics.square), prompt: 'x', n: 3 });
    assert.equal(creates().length, 3);
    assert.equal(new Set(rep.creates.map((c) => c.input.seed)).size, 3);
    const got = res.data!.map((d) => Buffer.from(d.b64_json!, 'base64'));
    assert.equal(got.length, 3);
    for (const g of got) assert.equal(rep.emitted.filter((e) => e.equals(g)).length, 1);
    assert.equal(new Set(got.map((g) => g.toString('base64'))).size, 3);
  });

  test('owner/name:version: POST /v1/predictions with the version id', async () => {
    rep.reset();
    const res = await client(t).images.edit({ model: 'kontext-tuned', image: fs.createReadStream(pics.square), prompt: 'x' });
    const seen = creates()[0];
    assert.equal(seen.path, '/v1/predictions');
    assert.equal((seen.json as { version: string }).version, COMMUNITY_VERSION);
    assert.ok(Buffer.from(res.data![0].b64_json!, 'base64').equals(rep.emitted.at(-1)!));
    assert.equal((await lastEntry(t)).deployment, `rep/acme/kontext-tuned:${COMMUNITY_VERSION}`);
  });

  test('FLUX.2: several images as input_images in order, an exact size through custom', async () => {
    rep.reset();
    const res = await client(t).images.edit({
      model: 'flux-2-pro',
      image: [await toFile(fs.readFileSync(pics.square), 'a.png', { type: 'image/png' }), await toFile(fs.readFileSync(pics.jpeg), 'b.jpg', { type: 'image/jpeg' }), await toFile(fs.readFileSync(pics.land), 'c.png', { type: 'image/png' })],
      prompt: 'combine them',
      size: '1024x1536',
    });
    const input = rep.creates.at(-1)!.input;
    assert.deepEqual(input.input_images, [dataUriOf(pics.square), dataUriOf(pics.jpeg, 'image/jpeg'), dataUriOf(pics.land)]);
    assert.deepEqual([input.aspect_ratio, input.width, input.height, input.output_format], ['custom', 1024, 1536, 'png']);
    // made at the exact size asked: passed through
    assert.ok(Buffer.from(res.data![0].b64_json!, 'base64').equals(rep.emitted.at(-1)!));
  });

  test('a prediction longer than the wait: answered `processing`, then polled on urls.get until it succeeds', async () => {
    rep.reset();
    rep.options.processingMs = 1600;
    try {
      const res = await client(t).images.edit({ model: 'kontext-short', image: fs.createReadStream(pics.square), prompt: 'x' });
      assert.equal(creates()[0].headers.prefer, 'wait=1');
      const id = [...rep.predictions.keys()].at(-1)!;
      assert.ok(polls().length >= 1, 'polled');
      assert.ok(polls().every((p) => p.path === `/v1/predictions/${id}` && p.headers.authorization === `Bearer ${KEY}`));
      assert.ok(Buffer.from(res.data![0].b64_json!, 'base64').equals(rep.emitted.at(-1)!));
    } finally {
      rep.options.processingMs = undefined;
    }
  });

  test('an output given as an array of URLs', async () => {
    rep.reset();
    rep.options.arrayOutput = true;
    try {
      const res = await client(t).images.edit({ model: 'flux-kontext-pro', image: fs.createReadStream(pics.square), prompt: 'x' });
      assert.ok(Buffer.from(res.data![0].b64_json!, 'base64').equals(rep.emitted.at(-1)!));
    } finally {
      rep.options.arrayOutput = false;
    }
  });

  test('what Kontext cannot honour is a 400 naming the parameter and the model, and nothing is sent', async () => {
    rep.reset();
    const c = client(t);
    const refused = async (params: Record<string, unknown>, code: string, param: string, message: RegExp) => {
      await assert.rejects(c.images.edit({ model: 'flux-kontext-pro', image: fs.createReadStream(pics.square), prompt: 'x', ...params } as never), (e: { status: number; code: string; param: string; message: string }) => {
        assert.equal(e.status, 400);
        assert.equal(e.code, code);
        assert.equal(e.param, param);
        assert.match(e.message, message);
        return true;
      });
    };
    await refused({ mask: await toFile(fs.readFileSync(pics.mask), 'mask.png', { type: 'image/png' }) }, 'unsupported_parameter', 'mask', /'mask' is not supported by model 'flux-kontext-pro' \(deployment rep\/black-forest-labs\/flux-kontext-pro\)/);
    await refused({ background: 'transparent' }, 'unsupported_parameter', 'background', /'background' \('transparent'\) is not supported by model 'flux-kontext-pro'/);
    await refused({ quality: 'high' }, 'unsupported_parameter', 'quality', /'quality' \('high'\)/);
    await refused({ input_fidelity: 'high' }, 'unsupported_parameter', 'input_fidelity', /'input_fidelity'/);
    await assert.rejects(
      c.images.edit({ model: 'flux-kontext-pro', image: [await toFile(fs.readFileSync(pics.square), 'a.png', { type: 'image/png' }), await toFile(fs.readFileSync(pics.square), 'b.png', { type: 'image/png' })], prompt: 'x' }),
      (e: { status: number; code: string; param: string; message: string }) => {
        assert.equal(e.status, 400);
        assert.equal(e.code, 'array_above_max_length');
        assert.equal(e.param, 'image[1]');
        assert.match(e.message, /at most 1 input image/);
        return true;
      },
    );
    assert.equal(rep.requests.length, 0, 'nothing went upstream');
  });

  test('ping: GET /account; a wrong key is told apart', async () => {
    const ping = (cfg: ProviderConfig) => pingProvider(createReplicateProvider(cfg));
    rep.reset();
    const cfg = t.config.providers.rep;
    const good = await ping(cfg);
    assert.deepEqual([good.reachable, good.authOk, good.detail], [true, true, 'HTTP 200']);
    assert.equal(rep.requests.at(-1)!.path, '/v1/account');
    const bad = await ping({ ...cfg, apiKey: 'r8_wrong' });
    assert.deepEqual([bad.reachable, bad.authOk], [true, false]);
  });

  test('the emulator refuses what Replicate refuses: a wrong key, an unknown or misspelled field, a wrong type, jpeg for jpg, raw base64', async () => {
    rep.reset();
    const post = async (path: string, body: unknown, auth = `Bearer ${KEY}`) => {
      const r = await fetch(`${rep.baseUrl}${path}`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: r.status, body: (await r.json()) as { title: string; detail: string; invalid_fields?: Array<{ field: string; description: string }> } };
    };
    const path = `/models/${KONTEXT}/predictions`;
    const img = dataUriOf(pics.square);
    const before = rep.predictions.size;
    assert.equal((await post(path, { input: { prompt: 'x' } }, `Key ${KEY}`)).status, 401);
    assert.equal((await post(path, { input: { prompt: 'x' } }, 'Bearer r8_wrong')).body.title, 'Unauthenticated');
    const bad = await post(path, { input: { prompt: 'x', input_image: fs.readFileSync(pics.square).toString('base64'), image: img, seed: '7', output_format: 'jpeg', aspect_ratio: '3:1', safety_tolerance: 9 } });
    assert.equal(bad.status, 422);
    assert.equal(bad.body.title, 'Input validation failed');
    assert.deepEqual(bad.body.invalid_fields!.map((f) => `${f.field}: ${f.description}`).sort(), [
      'input.aspect_ratio: aspect_ratio must be one of the following: "match_input_image", "1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3", "4:5", "5:4", "21:9", "9:21", "2:1", "1:2"',
      "input.input_image: Does not match format 'uri'",
      'input.output_format: output_format must be one of the following: "jpg", "png"',
      'input.safety_tolerance: Must be less than or equal to 6',
      'input.seed: Invalid type. Expected: integer, given: string',
      'input: Additional property image is not allowed',
    ]);
    assert.equal((await post(path, { prompt: 'x' })).status, 422, 'the input must be wrapped in "input"');
    assert.equal((await post('/predictions', { version: 'nope', input: { prompt: 'x' } })).body.title, 'Invalid version or not permitted');
    assert.equal((await post('/models/acme/kontext-tuned/predictions', { input: { prompt: 'x' } })).status, 404, 'a community model only by its version');
    assert.equal(rep.predictions.size, before, 'nothing refused became a prediction');
  });
});
