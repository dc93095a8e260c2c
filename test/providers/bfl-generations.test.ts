/**
 * POST /v1/images/generations on `bfl` deployments, through the gateway with
 * the official client, against the BFL emulator: the JSON each text-to-image
 * endpoint receives (Kontext and Ultra an aspect ratio, FLUX1.1 [pro] and
 * FLUX.2 pixels, never an input image), the task polled and its sample
 * downloaded, the picture the client gets, n as tasks with distinct seeds,
 * BFL's verdicts in OpenAI's envelope, and what cannot be honoured refused
 * before anything is sent.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import sharp from 'sharp';
import { conformImage, type OutputWanted } from '../../src/images/convert.js';
import { startBflEmulator, type BflEmulator } from '../emulators/bfl.js';
import { client, gateway, lastEntry, postJsonError, pictures, type Pictures, type TestApp } from './helpers.js';

const KEY = 'bfl-test-generations-0123456789abcdef';

let pics: Pictures;
let emu: BflEmulator;
let t: TestApp;

before(async () => {
  pics = await pictures();
  emu = await startBflEmulator({ apiKey: KEY });
  const bfl = { type: 'bfl', baseUrl: emu.baseUrl, apiKey: 'env:TEST_BFL_KEY', trustedHosts: [emu.deliveryHost], maxRetries: 0 };
  t = await gateway(
    {
      providers: { bfl },
      models: {
        'flux-kontext-pro': { deployments: [{ provider: 'bfl', model: 'flux-kontext-pro' }] },
        'flux-2-pro': { deployments: [{ provider: 'bfl', model: 'flux-2-pro' }] },
        'flux-pro-1.1': { deployments: [{ provider: 'bfl', model: 'flux-pro-1.1' }] },
        'flux-dev': { deployments: [{ provider: 'bfl', model: 'flux-dev' }] },
        'flux-ultra': { deployments: [{ provider: 'bfl', model: 'flux-pro-1.1-ultra' }] },
      },
    },
    { env: { TEST_BFL_KEY: KEY } },
  );
});

after(async () => {
  await t.close();
  await emu.close();
  pics.cleanup();
});

const b64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64');
const want = (over: Partial<OutputWanted>): OutputWanted => ({ format: 'png', compression: null, size: null, opaque: false, ...over });
const facts = async (bytes: Buffer) => {
  const m = await sharp(bytes).metadata();
  return [m.format, m.width, m.height];
};

async function post(path: 'generations' | 'edits', body: unknown): Promise<[number, string, string | null, string]> {
  const { status, error } = await postJsonError(t, path, body);
  return [status, error.code, error.param, error.message];
}

describe('bfl generations: Kontext', () => {
  test('size auto: the prompt alone with x-key, the task polled on its own host, the sample as it is', async () => {
    emu.reset();
    const { data: res, response } = await client(t).images.generate({ model: 'flux-kontext-pro', prompt: 'a red bicycle' }).withResponse();
    assert.equal(emu.submits.length, 1);
    const seen = emu.submits[0];
    assert.equal(seen.endpoint, 'flux-kontext-pro');
    assert.ok(Number.isInteger(seen.body.seed));
    assert.deepEqual(seen.body, { prompt: 'a red bicycle', seed: seen.body.seed, output_format: 'png' });
    assert.equal(emu.requests[0].headers['x-key'], KEY);
    assert.equal(emu.polls.length, 2, 'Pending once, then Ready');
    assert.equal(emu.downloads.length, 1);
    assert.equal(emu.downloads[0].headers['x-key'], undefined, 'the sample is fetched without the key');
    assert.ok(b64(res.data![0].b64_json).equals(emu.emitted[0]));
    assert.deepEqual(await facts(emu.emitted[0]), ['png', 1024, 1024]);
    assert.equal(res.size, '1024x1024');
    assert.equal(response.headers.get('x-imagegate-deployment'), 'bfl/flux-kontext-pro');
    const e = await lastEntry(t);
    assert.equal(e.path, '/v1/images/generations');
    assert.equal(e.imageCount, 0);
  });

  test('sizes as aspect ratios: 1536x1024 → 3:2, 1024x1536 → 2:3; the sample scaled to the exact size asked', async () => {
    for (const [size, ratio, drawn] of [
      ['1536x1024', '3:2', [1248, 832]],
      ['1024x1536', '2:3', [832, 1248]],
    ] as const) {
      emu.reset();
      const res = await client(t).images.generate({ model: 'flux-kontext-pro', prompt: 'a lighthouse', size });
      const seen = emu.submits[0];
      assert.equal(seen.body.aspect_ratio, ratio, size);
      assert.deepEqual((await facts(emu.emitted[0])).slice(1), drawn);
      const [w, h] = size.split('x').map(Number);
      const out = b64(res.data![0].b64_json);
      const expected = await conformImage(emu.emitted[0], want({ size: { width: w, height: h } }));
      assert.ok(out.equals(expected.image.bytes), size);
      assert.deepEqual(await facts(out), ['png', w, h]);
      assert.equal(res.size, size);
    }
  });

  test('n=3: three tasks with distinct seeds, three distinct pictures, each one BFL made', async () => {
    emu.reset();
    const res = await client(t).images.generate({ model: 'flux-kontext-pro', prompt: 'three cats', n: 3 });
    assert.equal(emu.submits.length, 3);
    const seeds = emu.submits.map((s) => s.body.seed);
    assert.equal(new Set(seeds).size, 3, `distinct seeds: ${seeds.join(', ')}`);
    assert.ok(emu.submits.every((s) => s.body.prompt === 'three cats' && s.images.length === 0));
    const got = res.data!.map((d) => d.b64_json!);
    assert.equal(new Set(got).size, 3);
    assert.deepEqual([...got].sort(), emu.emitted.map((b) => b.toString('base64')).sort());
  });

  test('moderation=low: honoured without images, as the most permissive safety_tolerance', async () => {
    emu.reset();
    await client(t).images.generate({ model: 'flux-kontext-pro', prompt: 'a storm', moderation: 'low' });
    assert.equal(emu.submits[0].body.safety_tolerance, 6);
  });
});

describe('bfl generations: FLUX1.1 [pro], [dev], Ultra, FLUX.2', () => {
  test('FLUX1.1 [pro]: 1024x1536 sent as 960x1440 (multiples of 32 within 1440), jpeg asked of BFL, scaled to the size asked', async () => {
    emu.reset();
    const res = await client(t).images.generate({ model: 'flux-pro-1.1', prompt: 'a tall tower', size: '1024x1536', output_format: 'jpeg' });
    const seen = emu.submits[0];
    assert.equal(seen.endpoint, 'flux-pro-1.1');
    assert.deepEqual(seen.body, { prompt: 'a tall tower', width: 960, height: 1440, seed: seen.body.seed, output_format: 'jpeg' });
    assert.deepEqual(await facts(emu.emitted[0]), ['jpeg', 960, 1440]);
    const out = b64(res.data![0].b64_json);
    const expected = await conformImage(emu.emitted[0], want({ format: 'jpeg', size: { width: 1024, height: 1536 } }));
    assert.ok(out.equals(expected.image.bytes));
    assert.deepEqual(await facts(out), ['jpeg', 1024, 1536]);
    assert.equal(res.output_format, 'jpeg');
  });

  test('FLUX1.1 [pro] with size auto: its default 1024x768, answered as drawn', async () => {
    emu.reset();
    const res = await client(t).images.generate({ model: 'flux-pro-1.1', prompt: 'a field' });
    assert.deepEqual(Object.keys(emu.submits[0].body).sort(), ['output_format', 'prompt', 'seed']);
    assert.ok(b64(res.data![0].b64_json).equals(emu.emitted[0]));
    assert.equal(res.size, '1024x768');
  });

  test('FLUX.1 [dev]: 1024x1024 as width and height', async () => {
    emu.reset();
    await client(t).images.generate({ model: 'flux-dev', prompt: 'a fox', size: '1024x1024' });
    assert.deepEqual([emu.submits[0].endpoint, emu.submits[0].body.width, emu.submits[0].body.height], ['flux-dev', 1024, 1024]);
  });

  test('Ultra: 1536x1024 → 3:2; its four-megapixel picture scaled down to 1536x1024', async () => {
    emu.reset();
    const res = await client(t).images.generate({ model: 'flux-ultra', prompt: 'mountains', size: '1536x1024' });
    const seen = emu.submits[0];
    assert.deepEqual(seen.body, { prompt: 'mountains', aspect_ratio: '3:2', seed: seen.body.seed, output_format: 'png' });
    assert.deepEqual(await facts(emu.emitted[0]), ['png', 2496, 1664]);
    const out = b64(res.data![0].b64_json);
    const expected = await conformImage(emu.emitted[0], want({ size: { width: 1536, height: 1024 } }));
    assert.ok(out.equals(expected.image.bytes));
  });

  test('FLUX.2: width and height, no input image', async () => {
    emu.reset();
    const res = await client(t).images.generate({ model: 'flux-2-pro', prompt: 'a robot', size: '1536x1024', output_format: 'webp' });
    const seen = emu.submits[0];
    assert.deepEqual(seen.body, { prompt: 'a robot', width: 1536, height: 1024, seed: seen.body.seed, output_format: 'webp' });
    assert.ok(b64(res.data![0].b64_json).equals(emu.emitted[0]), 'already the format and size asked');
    assert.deepEqual(await facts(emu.emitted[0]), ['webp', 1536, 1024]);
  });
});

describe('bfl generations: errors and refusals', () => {
  test('BFL\'s verdicts in OpenAI\'s envelope: a moderated request, a job that failed, no credits', async () => {
    emu.reset();
    assert.deepEqual(await post('generations', { model: 'flux-kontext-pro', prompt: 'something forbidden' }), [
      400,
      'moderation_blocked',
      null,
      'Your request was rejected by the safety system of deployment bfl/flux-kontext-pro: Request Moderated: Derivative Works Filter',
    ]);
    assert.deepEqual(await post('generations', { model: 'flux-kontext-pro', prompt: 'explode-job now' }), [
      502,
      'upstream_error',
      null,
      "The deployment of model 'flux-kontext-pro' failed: bfl/flux-kontext-pro: the task ended with status Error: Internal error during generation.",
    ]);
    emu.credits = 0;
    try {
      const [status, code] = await post('generations', { model: 'flux-pro-1.1', prompt: 'a boat' });
      assert.deepEqual([status, code], [503, 'upstream_unavailable']);
    } finally {
      emu.credits = 1_000_000;
    }
  });

  test('refused before anything is sent: an edit on a text-only endpoint, quality, background, an image', async () => {
    emu.reset();
    const fd = new FormData();
    fd.append('model', 'flux-pro-1.1');
    fd.append('prompt', 'make it warmer');
    fd.append('image', new Blob([fs.readFileSync(pics.square)], { type: 'image/png' }), 'a.png');
    const res = await fetch(`${t.url}/v1/images/edits`, { method: 'POST', headers: { authorization: `Bearer ${t.masterKey}` }, body: fd });
    const err = ((await res.json()) as { error: { code: string; param: string; message: string } }).error;
    assert.deepEqual([res.status, err.code, err.param, err.message], [400, 'unsupported_operation', 'model', "Model 'flux-pro-1.1' (deployment bfl/flux-pro-1.1) does not do image edits."]);
    assert.deepEqual((await post('generations', { model: 'flux-ultra', prompt: 'x', quality: 'high' })).slice(0, 3), [400, 'unsupported_parameter', 'quality']);
    assert.deepEqual((await post('generations', { model: 'flux-2-pro', prompt: 'x', background: 'transparent' })).slice(0, 3), [400, 'unsupported_parameter', 'background']);
    assert.deepEqual((await post('generations', { model: 'flux-pro-1.1' })).slice(0, 3), [400, 'missing_required_parameter', 'prompt']);
    assert.equal(emu.requests.length, 0);
  });
});

describe('the emulator refuses what BFL refuses', () => {
  const submit = (endpoint: string, body: unknown, key = KEY) =>
    fetch(`${emu.url}/v1/${endpoint}`, { method: 'POST', headers: { 'x-key': key, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const detail = async (r: Response) => ((await r.json()) as { detail: Array<{ type: string; loc: string[] }> }).detail.map((d) => [d.type, d.loc.join('.')]);

  test('an edit field on a text-to-image endpoint, sizes off the grid, no prompt, a wrong key', async () => {
    const png = fs.readFileSync(pics.square).toString('base64');
    assert.deepEqual(await detail(await submit('flux-pro-1.1', { prompt: 'x', input_image: png })), [['extra_forbidden', 'body.input_image']]);
    assert.deepEqual(await detail(await submit('flux-pro-1.1-ultra', { prompt: 'x', width: 1024 })), [['extra_forbidden', 'body.width']]);
    assert.deepEqual(await detail(await submit('flux-pro-1.1', { prompt: 'x', width: 1000, height: 1536 })), [
      ['multiple_of', 'body.width'],
      ['less_than_equal', 'body.height'],
    ]);
    assert.deepEqual(await detail(await submit('flux-pro-1.1', { seed: 1 })), [['value_error', 'body.prompt']]);
    assert.deepEqual(await detail(await submit('flux-dev', { prompt: '  ' })), [['value_error', 'body.prompt']]);
    assert.deepEqual(await detail(await submit('flux-pro-1.1-ultra', { prompt: 'x', aspect_ratio: '3:1' })), [['value_error', 'body.aspect_ratio']]);
    assert.deepEqual(await detail(await submit('flux-kontext-pro', { aspect_ratio: '1:1' })), [['missing', 'body.prompt']]);
    assert.equal((await submit('flux-pro-1.1', { prompt: 'x' }, 'wrong')).status, 401);
    assert.equal((await fetch(`${emu.url}/v1/flux-pro-1.1`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"prompt":"x"}' })).status, 403);
    assert.equal((await submit('flux-pro-1.1', { prompt: 'x', width: 1440, height: 256 })).status, 200);
  });
});
