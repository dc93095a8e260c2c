/**
 * The `fal` adapter through the whole gateway, with the official openai
 * client, against the fal emulator: the submit on the full endpoint id with
 * the input as fal's models take it (images as data URIs of the exact bytes,
 * `safety_tolerance` a string), status and result on `owner/alias` only, and
 * the images the client gets back.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { toFile } from 'openai';
import sharp from 'sharp';
import type { ProviderConfig } from '../../src/config/index.js';
import { conformImage } from '../../src/images/convert.js';
import { createFalProvider } from '../../src/providers/fal/index.js';
import { startFalEmulator, type FalEmulator } from '../emulators/fal.js';
import { attemptsOf, client, gateway, lastEntry, pictures, pingProvider, type Pictures, type TestApp } from './helpers.js';

const KEY = 'fal-key-id-0123:fal-secret-abcdefSECRET';

let pics: Pictures;
let fal: FalEmulator;
let t: TestApp;

before(async () => {
  pics = await pictures();
  fal = await startFalEmulator({ apiKey: KEY });
  t = await gateway(
    {
      providers: { fal: { type: 'fal', baseUrl: fal.baseUrl, apiKey: 'env:TEST_FAL_KEY' } },
      models: {
        'flux-kontext-pro': { deployments: [{ provider: 'fal', model: 'fal-ai/flux-pro/kontext' }] },
        'flux-kontext-multi': { deployments: [{ provider: 'fal', model: 'fal-ai/flux-pro/kontext/max/multi' }] },
      },
    },
    { env: { TEST_FAL_KEY: KEY } },
  );
});

after(async () => {
  assert.deepEqual(await t.spoolFiles(), [], 'no temporary file may be left behind');
  await t.close();
  await fal.close();
  pics.cleanup();
});

const submits = () => fal.requests.filter((r) => r.method === 'POST');
const statusPolls = () => fal.requests.filter((r) => r.method === 'GET' && r.path.endsWith('/status'));
const results = () => fal.requests.filter((r) => r.method === 'GET' && /\/requests\/[^/]+$/.test(r.path));
const files = () => fal.requests.filter((r) => r.path.startsWith('/files/'));
const dataUriOf = (file: string, mime = 'image/png') => `data:${mime};base64,${fs.readFileSync(file).toString('base64')}`;
const b64 = (s: string | undefined) => Buffer.from(s!, 'base64');

describe('fal adapter', () => {
  test('one image: submit on the full endpoint id with Key auth; status and result on owner/alias; the client gets the image bytes', async () => {
    fal.reset();
    const raw = await client(t).images.edit({ model: 'flux-kontext-pro', image: fs.createReadStream(pics.land), prompt: 'make it warmer' }).withResponse();
    assert.equal(submits().length, 1);
    const seen = submits()[0];
    assert.equal(seen.path, '/fal-ai/flux-pro/kontext');
    assert.equal(seen.headers.authorization, `Key ${KEY}`);
    const body = seen.json as Record<string, unknown>;
    assert.equal(typeof body.seed, 'number');
    assert.deepEqual({ ...body, seed: 0 }, {
      prompt: 'make it warmer',
      image_url: dataUriOf(pics.land),
      num_images: 1,
      output_format: 'png',
      seed: 0,
      safety_tolerance: '2',
      sync_mode: false,
    });
    const id = [...fal.queue.keys()].at(-1)!;
    assert.ok(statusPolls().length >= 1);
    assert.ok(statusPolls().every((r) => r.path === `/fal-ai/flux-pro/requests/${id}/status` && r.headers.authorization === `Key ${KEY}`));
    assert.deepEqual(results().map((r) => r.path), [`/fal-ai/flux-pro/requests/${id}`]);
    assert.equal(files().length, 1);
    assert.equal(files()[0].headers.authorization, undefined, 'images are fetched without credentials');
    assert.ok(b64(raw.data.data![0].b64_json).equals(fal.emitted.at(-1)!));
    assert.equal(raw.response.headers.get('x-imagegate-deployment'), 'fal/fal-ai/flux-pro/kontext');
    assert.deepEqual(attemptsOf(await lastEntry(t)), [['fal/fal-ai/flux-pro/kontext', 200]]);
  });

  test('n=6: two submits of num_images 4 and 2; the client gets all six', async () => {
    fal.reset();
    const res = await client(t).images.edit({ model: 'flux-kontext-pro', image: fs.createReadStream(pics.square), prompt: 'x', n: 6 });
    assert.deepEqual(fal.submits.map((s) => (s.input as { num_images: number }).num_images).sort(), [2, 4]);
    const got = res.data!.map((d) => b64(d.b64_json));
    assert.equal(got.length, 6);
    for (const g of got) assert.equal(fal.emitted.filter((e) => e.equals(g)).length, 1);
    assert.equal(new Set(got.map((g) => g.toString('base64'))).size, 6);
  });

  test('a size becomes the nearest aspect ratio; jpeg asked as jpeg; the gateway resizes to the exact size', async () => {
    fal.reset();
    const res = await client(t).images.edit({ model: 'flux-kontext-pro', image: fs.createReadStream(pics.square), prompt: 'x', size: '1024x1536', output_format: 'jpeg' });
    const input = fal.submits.at(-1)!.input as Record<string, unknown>;
    assert.deepEqual([input.aspect_ratio, input.output_format], ['2:3', 'jpeg']);
    const made = fal.emitted.at(-1)!;
    assert.deepEqual(await sharp(made).metadata().then((m) => [m.format, m.width, m.height]), ['jpeg', 832, 1248]);
    const expected = await conformImage(made, { format: 'jpeg', compression: null, size: { width: 1024, height: 1536 }, opaque: false });
    assert.ok(b64(res.data![0].b64_json).equals(expected.image.bytes));
  });

  test('webp, which fal cannot make: asked as png and converted by the gateway', async () => {
    fal.reset();
    const res = await client(t).images.edit({ model: 'flux-kontext-pro', image: fs.createReadStream(pics.square), prompt: 'x', output_format: 'webp' });
    assert.equal((fal.submits.at(-1)!.input as Record<string, unknown>).output_format, 'png');
    const expected = await conformImage(fal.emitted.at(-1)!, { format: 'webp', compression: null, size: null, opaque: false });
    assert.ok(b64(res.data![0].b64_json).equals(expected.image.bytes));
  });

  test('a /multi endpoint: several images as image_urls in order; its status lives on owner/alias too', async () => {
    fal.reset();
    const res = await client(t).images.edit({
      model: 'flux-kontext-multi',
      image: [await toFile(fs.readFileSync(pics.square), 'a.png', { type: 'image/png' }), await toFile(fs.readFileSync(pics.jpeg), 'b.jpg', { type: 'image/jpeg' }), await toFile(fs.readFileSync(pics.land), 'c.png', { type: 'image/png' })],
      prompt: 'put them together',
    });
    assert.equal(submits()[0].path, '/fal-ai/flux-pro/kontext/max/multi');
    const input = fal.submits[0].input as Record<string, unknown>;
    assert.deepEqual(input.image_urls, [dataUriOf(pics.square), dataUriOf(pics.jpeg, 'image/jpeg'), dataUriOf(pics.land)]);
    assert.equal(input.image_url, undefined);
    assert.ok(statusPolls().every((r) => r.path.startsWith('/fal-ai/flux-pro/requests/')));
    assert.ok(b64(res.data![0].b64_json).equals(fal.emitted.at(-1)!));
  });

  test('what Kontext on fal cannot honour is a 400 naming the parameter and the model, and nothing is sent', async () => {
    fal.reset();
    const c = client(t);
    const file = async (p: string) => toFile(fs.readFileSync(p), 'x.png', { type: 'image/png' });
    const refused = async (params: Record<string, unknown>, code: string, param: string, message: RegExp) => {
      await assert.rejects(c.images.edit({ image: fs.createReadStream(pics.square), prompt: 'x', model: 'flux-kontext-pro', ...params } as never), (e: { status: number; code: string; param: string; message: string }) => {
        assert.equal(e.status, 400);
        assert.equal(e.code, code);
        assert.equal(e.param, param);
        assert.match(e.message, message);
        return true;
      });
    };
    await refused({ mask: await file(pics.mask) }, 'unsupported_parameter', 'mask', /'mask' is not supported by model 'flux-kontext-pro' \(deployment fal\/fal-ai\/flux-pro\/kontext\)/);
    await refused({ background: 'opaque' }, 'unsupported_parameter', 'background', /'background' \('opaque'\)/);
    await refused({ quality: 'low' }, 'unsupported_parameter', 'quality', /'quality' \('low'\)/);
    await refused({ image: [await file(pics.square), await file(pics.square)] }, 'array_above_max_length', 'image[1]', /at most 1 input image/);
    const five = await Promise.all([1, 2, 3, 4, 5].map(() => file(pics.square)));
    await refused({ model: 'flux-kontext-multi', image: five }, 'array_above_max_length', 'image[4]', /'flux-kontext-multi' \(deployment fal\/fal-ai\/flux-pro\/kontext\/max\/multi\) takes at most 4 input images/);
    assert.equal(fal.requests.length, 0, 'nothing went upstream');
  });

  test('the emulator refuses what fal refuses: Bearer auth, status on the full id, a numeric safety_tolerance, unknown fields', async () => {
    fal.reset();
    const call = async (method: string, path: string, body?: unknown, auth = `Key ${KEY}`) => {
      const r = await fetch(`${fal.url}${path}`, { method, headers: { authorization: auth, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
      return { status: r.status, body: (await r.json()) as any };
    };
    assert.equal((await call('POST', '/fal-ai/flux-pro/kontext', { prompt: 'x' }, `Bearer ${KEY}`)).status, 401);
    const sub = await call('POST', '/fal-ai/flux-pro/kontext', { prompt: 'x', image_url: fs.readFileSync(pics.square).toString('base64'), safety_tolerance: 2, num_images: 5, guidance: 3, output_format: 'webp' });
    assert.equal(sub.status, 200);
    assert.match(sub.body.status_url, /\/fal-ai\/flux-pro\/requests\/[\w-]+\/status$/);
    const full = sub.body.status_url.replace('/fal-ai/flux-pro/', '/fal-ai/flux-pro/kontext/').slice(fal.url.length);
    assert.equal((await call('GET', full)).status, 404, 'status under the full endpoint id does not exist');
    const path = (u: string) => u.slice(fal.url.length);
    for (let i = 0; i < 50 && (await call('GET', path(sub.body.status_url))).body.status !== 'COMPLETED'; i++) await new Promise((r) => setTimeout(r, 50));
    const result = await call('GET', path(sub.body.response_url));
    assert.equal(result.status, 422);
    const types = Object.fromEntries(result.body.detail.map((d: { loc: string[]; type: string }) => [d.loc[1], d.type]));
    assert.deepEqual(types, { safety_tolerance: 'enum', num_images: 'less_than_equal', guidance: 'extra_forbidden', output_format: 'enum' });
    // a raw base64 image (not a data URI) is refused when the input is otherwise valid
    const raw = await call('POST', '/fal-ai/flux-pro/kontext', { prompt: 'x', image_url: fs.readFileSync(pics.square).toString('base64') });
    for (let i = 0; i < 50 && (await call('GET', path(raw.body.status_url))).body.status !== 'COMPLETED'; i++) await new Promise((r) => setTimeout(r, 50));
    const rawResult = await call('GET', path(raw.body.response_url));
    assert.equal(rawResult.status, 422);
    assert.equal(rawResult.body.detail[0].type, 'image_load_error');
  });

  test('ping: an unknown request\'s status answers 404 once the key is accepted; a wrong key is told apart', async () => {
    const ping = (cfg: ProviderConfig) => pingProvider(createFalProvider(cfg));
    fal.reset();
    const cfg = t.config.providers.fal;
    const good = await ping(cfg);
    assert.deepEqual([good.reachable, good.authOk, good.detail], [true, true, 'HTTP 404']);
    assert.match(fal.requests.at(-1)!.path, /^\/fal-ai\/flux-pro\/requests\/[\w-]+\/status$/);
    const bad = await ping({ ...cfg, apiKey: 'wrong:key' });
    assert.deepEqual([bad.reachable, bad.authOk], [true, false]);
  });
});
