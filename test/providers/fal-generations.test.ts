/**
 * POST /v1/images/generations on the `fal` adapter, through the whole gateway
 * with the official client, against the fal emulator (which checks each
 * endpoint's input as fal's apps do): FLUX.1 [dev]'s `image_size`, a Kontext
 * deployment's generations on its `/text-to-image` sibling, n in batches of
 * `num_images`, what the client gets back, and upstream refusals in
 * OpenAI's envelope.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { conformImage } from '../../src/images/convert.js';
import { startFalEmulator, type FalEmulator } from '../emulators/fal.js';
import { client, gateway, lastEntry, postJsonError, type TestApp } from './helpers.js';

const KEY = 'fal-key-id-gen:fal-secret-generations-SECRET';

let fal: FalEmulator;
let t: TestApp;

before(async () => {
  fal = await startFalEmulator({ apiKey: KEY });
  t = await gateway(
    {
      providers: { fal: { type: 'fal', baseUrl: fal.baseUrl, apiKey: 'env:TEST_FAL_KEY' } },
      models: {
        'flux-dev': { deployments: [{ provider: 'fal', model: 'fal-ai/flux/dev' }] },
        'flux-schnell': { deployments: [{ provider: 'fal', model: 'fal-ai/flux/schnell' }] },
        'flux-kontext-pro': { deployments: [{ provider: 'fal', model: 'fal-ai/flux-pro/kontext' }] },
        'kontext-t2i': { deployments: [{ provider: 'fal', model: 'fal-ai/flux-pro/kontext/max/text-to-image' }] },
        'kontext-multi': { deployments: [{ provider: 'fal', model: 'fal-ai/flux-pro/kontext/multi' }] },
      },
    },
    { env: { TEST_FAL_KEY: KEY } },
  );
});

after(async () => {
  await t.close();
  await fal.close();
});

const submits = () => fal.requests.filter((r) => r.method === 'POST');
const b64 = (s: string | undefined) => Buffer.from(s!, 'base64');

const post = (body: Record<string, unknown>) => postJsonError(t, 'generations', body);

describe('fal generations', () => {
  test('FLUX.1 [dev]: an exact image_size, num_images n, Key auth; status and result on owner/alias; the exact bytes back', async () => {
    fal.reset();
    const raw = await client(t).images.generate({ model: 'flux-dev', prompt: 'a red bicycle', size: '1536x1024', n: 2 }).withResponse();
    assert.equal(submits().length, 1);
    const seen = submits()[0];
    assert.equal(seen.path, '/fal-ai/flux/dev');
    assert.equal(seen.headers.authorization, `Key ${KEY}`);
    const body = seen.json as Record<string, unknown>;
    assert.equal(typeof body.seed, 'number');
    assert.deepEqual({ ...body, seed: 0 }, { prompt: 'a red bicycle', image_size: { width: 1536, height: 1024 }, num_images: 2, output_format: 'png', seed: 0, sync_mode: false });
    const id = [...fal.queue.keys()].at(-1)!;
    assert.ok(fal.requests.some((r) => r.path === `/fal-ai/flux/requests/${id}`), 'the result fetched on owner/alias');
    const res = raw.data;
    assert.equal(res.data!.length, 2);
    const made = fal.emitted.slice(-2);
    for (const [i, d] of res.data!.entries()) {
      const out = b64(d.b64_json);
      assert.ok(out.equals(made[i]), `image ${i}: made at the exact size and passed through`);
      const m = await sharp(out).metadata();
      assert.deepEqual([m.format, m.width, m.height], ['png', 1536, 1024]);
    }
    assert.notDeepEqual(made[0], made[1]);
    assert.equal(raw.response.headers.get('x-imagegate-deployment'), 'fal/fal-ai/flux/dev');
    const e = await lastEntry(t);
    assert.equal(e.path, '/v1/images/generations');
    assert.equal(e.imageCount, 0);
  });

  test('n=6 on FLUX.1 [schnell]: two submits of num_images 4 and 2 with distinct seeds; size auto is square_hd; jpeg asked as jpeg', async () => {
    fal.reset();
    const res = await client(t).images.generate({ model: 'flux-schnell', prompt: 'x', n: 6, output_format: 'jpeg' });
    const inputs = fal.submits.map((s) => s.input as Record<string, unknown>);
    assert.deepEqual(inputs.map((i) => i.num_images).sort(), [2, 4]);
    assert.equal(new Set(inputs.map((i) => i.seed)).size, 2);
    for (const i of inputs) {
      assert.equal(i.image_size, 'square_hd');
      assert.equal(i.output_format, 'jpeg');
    }
    assert.ok(submits().every((r) => r.path === '/fal-ai/flux/schnell'));
    const got = res.data!.map((d) => b64(d.b64_json));
    assert.equal(got.length, 6);
    for (const g of got) assert.equal(fal.emitted.filter((e) => e.equals(g)).length, 1, 'each image passed through, once');
    const m = await sharp(got[0]).metadata();
    assert.deepEqual([m.format, m.width, m.height], ['jpeg', 1024, 1024]);
  });

  test('a Kontext deployment generates on its /text-to-image sibling: no image_url, the nearest aspect ratio; the gateway resizes', async () => {
    fal.reset();
    const res = await client(t).images.generate({ model: 'flux-kontext-pro', prompt: 'a lighthouse', size: '1024x1536' });
    assert.deepEqual(submits().map((r) => r.path), ['/fal-ai/flux-pro/kontext/text-to-image']);
    const body = submits()[0].json as Record<string, unknown>;
    assert.deepEqual({ ...body, seed: 0 }, { prompt: 'a lighthouse', num_images: 1, aspect_ratio: '2:3', output_format: 'png', seed: 0, safety_tolerance: '2', sync_mode: false });
    const made = fal.emitted.at(-1)!;
    const mm = await sharp(made).metadata();
    assert.deepEqual([mm.width, mm.height], [832, 1248]);
    const expected = await conformImage(made, { format: 'png', compression: null, size: { width: 1024, height: 1536 }, opaque: false });
    assert.ok(b64(res.data![0].b64_json).equals(expected.image.bytes), 'exactly the gateway\'s resize of the output');
    assert.equal(res.size, '1024x1536');
    // a deployment of the text-to-image endpoint itself: auto is 1:1
    await client(t).images.generate({ model: 'kontext-t2i', prompt: 'x' });
    assert.equal(submits().at(-1)!.path, '/fal-ai/flux-pro/kontext/max/text-to-image');
    assert.equal((submits().at(-1)!.json as Record<string, unknown>).aspect_ratio, '1:1');
  });

  test('refused before anything is sent: a generation on a multi-image endpoint, an edit on a text-to-image one', async () => {
    fal.reset();
    const r = await post({ model: 'kontext-multi', prompt: 'x' });
    assert.deepEqual([r.status, r.error.code, r.error.param], [400, 'unsupported_operation', 'model']);
    const fd = new FormData();
    fd.append('model', 'flux-dev');
    fd.append('prompt', 'x');
    fd.append('image', new Blob([await sharp({ create: { width: 64, height: 64, channels: 3, background: '#fff' } }).png().toBuffer()], { type: 'image/png' }), 'a.png');
    const res = await fetch(`${t.url}/v1/images/edits`, { method: 'POST', headers: { authorization: `Bearer ${t.masterKey}` }, body: fd });
    const err = ((await res.json()) as { error: { code: string; param: string } }).error;
    assert.deepEqual([res.status, err.code, err.param], [400, 'unsupported_operation', 'model']);
    assert.equal(fal.requests.length, 0);
  });

  test('upstream errors in OpenAI\'s envelope: the safety checker is 400 moderation_blocked; a 422 is 400 upstream_rejected', async () => {
    fal.reset();
    fal.script.push({ kind: 'nsfw' });
    const r = await post({ model: 'flux-dev', prompt: 'x' });
    assert.deepEqual([r.status, r.error.code, r.error.type], [400, 'moderation_blocked', 'image_generation_user_error']);
    assert.equal(r.error.message, "Your request was rejected by the safety system of deployment fal/fal-ai/flux/dev: the provider's safety checker flagged the image (has_nsfw_concepts)");

    fal.reset();
    fal.script.push({ kind: 'error', status: 422, detail: [{ loc: ['body', 'prompt'], msg: 'String should have at most 2000 characters', type: 'string_too_long' }] });
    const bad = await post({ model: 'flux-dev', prompt: 'x' });
    assert.deepEqual([bad.status, bad.error.code], [400, 'upstream_rejected']);
    assert.equal(bad.error.message, 'Deployment fal/fal-ai/flux/dev refused the request: HTTP 422: prompt: String should have at most 2000 characters');
    assert.equal(submits().length, 1, 'not retried');
  });

  test('the emulator refuses what fal refuses for FLUX.1: a missing prompt, an unknown field, aspect_ratio, a bad image_size, a wrong key', async () => {
    fal.reset();
    const run = async (input: Record<string, unknown>) => {
      const sub = await fetch(`${fal.url}/fal-ai/flux/dev`, { method: 'POST', headers: { authorization: `Key ${KEY}`, 'content-type': 'application/json' }, body: JSON.stringify(input) });
      const { response_url: url, request_id: id } = (await sub.json()) as { response_url: string; request_id: string };
      while (fal.queue.get(id)!.status !== 'COMPLETED') await new Promise((r) => setTimeout(r, 20));
      const res = await fetch(url, { headers: { authorization: `Key ${KEY}` } });
      const body = (await res.json()) as { detail?: Array<{ loc: Array<string | number>; type: string }> };
      return [res.status, (body.detail ?? []).map((d) => `${d.loc.join('.')}: ${d.type}`)];
    };
    assert.deepEqual(await run({ image_size: 'square_hd' }), [422, ['body.prompt: missing']]);
    assert.deepEqual(await run({ prompt: 'x', aspect_ratio: '1:1' }), [422, ['body.aspect_ratio: extra_forbidden']]);
    assert.deepEqual(await run({ prompt: 'x', image_size: '1024x1024' }), [422, ['body.image_size.enum[…]: enum']]);
    assert.deepEqual(await run({ prompt: 'x', image_size: { width: '1024', height: 1024 } }), [422, ['body.image_size.ImageSize.width: int_type']]);
    assert.deepEqual(await run({ prompt: 'x', image_size: { w: 1024 } }), [422, ['body.image_size.ImageSize.w: extra_forbidden']]);
    assert.deepEqual(await run({ prompt: 'x', num_images: 5 }), [422, ['body.num_images: less_than_equal']]);
    assert.deepEqual(await run({ prompt: 'x', safety_tolerance: '2' }), [422, ['body.safety_tolerance: extra_forbidden']]);
    const wrong = await fetch(`${fal.url}/fal-ai/flux/dev`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: '{"prompt":"x"}' });
    assert.equal(wrong.status, 401);
  });
});
