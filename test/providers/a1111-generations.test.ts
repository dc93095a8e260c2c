/**
 * POST /v1/images/generations on the `a1111` adapter, through the whole
 * gateway with the official client, against the AUTOMATIC1111 emulator:
 * the txt2img body (prompt, size on multiples of 8, batch, seed,
 * checkpoint, the operator's params less img2img's own fields), the
 * pictures the emulator paints from each seed, and upstream refusals in
 * OpenAI's envelope.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { conformImage } from '../../src/images/convert.js';
import { startA1111Emulator, type A1111Emulator } from '../emulators/a1111.js';
import { seedColour } from '../emulators/pixels.js';
import { client, gateway, lastEntry, postJsonError, type TestApp } from './helpers.js';

const AUTH = 'gate:gen-pass-0123456789';
const CKPT = 'sdxl/juggernautXL_v9.safetensors [c9e3e68f89]';

let sd: A1111Emulator;
let locked: A1111Emulator;
let t: TestApp;

before(async () => {
  sd = await startA1111Emulator();
  locked = await startA1111Emulator({ auth: AUTH });
  t = await gateway(
    {
      providers: {
        // params written for edits: the img2img-only ones must not reach txt2img
        sd: { type: 'a1111', baseUrl: sd.baseUrl, params: { steps: 20, sampler_name: 'DPM++ 2M', cfg_scale: 6, negative_prompt: 'blurry', denoising_strength: 0.9, inpainting_fill: 1, mask_blur: 8, resize_mode: 1, prompt: 'never sent', override_settings: { CLIP_stop_at_last_layers: 2 } } },
        bad: { type: 'a1111', baseUrl: sd.baseUrl, params: { steps: 'many' } },
        locked: { type: 'a1111', baseUrl: locked.baseUrl, apiKey: 'env:A1111_AUTH' },
        wrong: { type: 'a1111', baseUrl: locked.baseUrl, apiKey: 'env:A1111_WRONG', maxRetries: 0 },
      },
      models: {
        sdxl: { deployments: [{ provider: 'sd', model: CKPT }] },
        'sd-default': { deployments: [{ provider: 'sd', model: 'default' }] },
        'sd-bad': { deployments: [{ provider: 'bad', model: 'default' }] },
        'sd-locked': { deployments: [{ provider: 'locked', model: 'default' }] },
        'sd-wrong': { deployments: [{ provider: 'wrong', model: 'default' }] },
      },
    },
    { env: { A1111_AUTH: AUTH, A1111_WRONG: 'gate:nope' } },
  );
});

after(async () => {
  await t.close();
  await Promise.all([sd.close(), locked.close()]);
});

const b64 = (s: string | undefined) => Buffer.from(s!, 'base64');

async function centre(bytes: Buffer): Promise<number[]> {
  const { data, info } = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const i = (Math.floor(info.height / 2) * info.width + Math.floor(info.width / 2)) * 3;
  return [...data.subarray(i, i + 3)];
}

const post = (body: Record<string, unknown>) => postJsonError(t, 'generations', body);

describe('a1111 generations', () => {
  test('txt2img: the request\'s fields, the checkpoint, params less img2img\'s own; n=2 one batch; each picture the one its seed paints', async () => {
    sd.reset();
    const raw = await client(t).images.generate({ model: 'sdxl', prompt: 'a red balloon', size: '1536x1024', n: 2 }).withResponse();
    assert.equal(raw.response.headers.get('x-imagegate-deployment'), `sd/${CKPT}`);
    const req = sd.requests.at(-1)!;
    assert.equal(req.path, '/sdapi/v1/txt2img');
    assert.equal(sd.requests.length, 1);
    const body = req.json as Record<string, unknown>;
    assert.equal(typeof body.seed, 'number');
    assert.deepEqual({ ...body, seed: 0 }, {
      steps: 20,
      sampler_name: 'DPM++ 2M',
      cfg_scale: 6,
      negative_prompt: 'blurry',
      denoising_strength: 0.9,
      prompt: 'a red balloon',
      width: 1536,
      height: 1024,
      batch_size: 2,
      n_iter: 1,
      seed: 0,
      send_images: true,
      save_images: false,
      override_settings: { CLIP_stop_at_last_layers: 2, sd_model_checkpoint: CKPT },
    });
    const seen = sd.generations.at(-1)!;
    assert.deepEqual(seen.ignored, [], 'no field txt2img does not know');
    assert.equal(seen.checkpoint, CKPT);
    const res = raw.data;
    assert.equal(res.data!.length, 2);
    for (const [i, d] of res.data!.entries()) {
      const out = b64(d.b64_json);
      assert.ok(out.equals(sd.emitted.at(i - 2)!), `image ${i} passed through`);
      const m = await sharp(out).metadata();
      assert.deepEqual([m.format, m.width, m.height], ['png', 1536, 1024]);
      assert.deepEqual(await centre(out), seedColour((body.seed as number) + i), `image ${i} painted by seed + ${i}`);
    }
    const e = await lastEntry(t);
    assert.equal(e.path, '/v1/images/generations');
    assert.equal(e.imageCount, 0);
  });

  test('n=6: batches of 4 and 2 with distinct seeds; size auto is 1024x1024; the loaded checkpoint for default; webp converted by the gateway', async () => {
    sd.reset();
    const res = await client(t).images.generate({ model: 'sd-default', prompt: 'x', n: 6, output_format: 'webp' });
    const bodies = sd.requests.map((r) => r.json as Record<string, unknown>);
    assert.deepEqual(bodies.map((b) => b.batch_size).sort(), [2, 4]);
    assert.equal(new Set(bodies.map((b) => b.seed)).size, 2);
    for (const b of bodies) {
      assert.deepEqual([b.width, b.height], [1024, 1024]);
      assert.deepEqual(b.override_settings, { CLIP_stop_at_last_layers: 2 }, 'no sd_model_checkpoint for default');
    }
    const made = sd.emitted.slice(-6);
    const got = res.data!.map((d) => b64(d.b64_json));
    assert.equal(got.length, 6);
    const expected = await Promise.all(made.map(async (m) => (await conformImage(m, { format: 'webp', compression: null, size: null, opaque: false })).image.bytes));
    for (const g of got) assert.ok(expected.some((x) => x.equals(g)), 'an image converted exactly as the gateway does');
    // the six pictures are the batches' items: seed, seed+1, … of each call
    const want = bodies.flatMap((b) => Array.from({ length: b.batch_size as number }, (_, i) => seedColour((b.seed as number) + i).join()));
    const colours = await Promise.all(made.map(async (m) => (await centre(m)).join()));
    assert.deepEqual(colours.sort(), want.sort());
    assert.equal((await sharp(got[0]).metadata()).format, 'webp');
  });

  test('stream: true on a provider without partial images: one image_generation.completed with txt2img\'s picture', async () => {
    sd.reset();
    const stream = await client(t).images.generate({ model: 'sd-default', prompt: 'x', stream: true, partial_images: 2 });
    const events: Array<{ type: string; b64_json?: string }> = [];
    for await (const ev of stream) events.push(ev as { type: string; b64_json?: string });
    assert.deepEqual(events.map((e) => e.type), ['image_generation.completed']);
    assert.ok(b64(events[0].b64_json).equals(sd.emitted.at(-1)!));
    assert.equal(sd.requests.at(-1)!.path, '/sdapi/v1/txt2img');
  });

  test('Basic auth reaches txt2img; a wrong password is the middleware\'s 401, answered in OpenAI\'s envelope', async () => {
    locked.reset();
    const res = await client(t).images.generate({ model: 'sd-locked', prompt: 'x' });
    assert.equal(res.data!.length, 1);
    assert.equal(locked.requests.at(-1)!.headers.authorization, `Basic ${Buffer.from(AUTH).toString('base64')}`);
    const r = await post({ model: 'sd-wrong', prompt: 'x' });
    assert.equal(r.status, 503);
    assert.equal(r.error.code, 'upstream_unavailable');
    assert.equal(r.error.message, "The deployment of model 'sd-wrong' could not serve the request now: wrong/default: HTTP 401: Incorrect username or password.");
    assert.ok(!r.error.message.includes('nope'));
  });

  test('a body txt2img\'s model refuses (FastAPI 422): 400 naming the field, not retried', async () => {
    sd.reset();
    const r = await post({ model: 'sd-bad', prompt: 'x' });
    assert.deepEqual([r.status, r.error.code], [400, 'upstream_rejected']);
    assert.equal(r.error.message, 'Deployment bad/default refused the request: HTTP 422: steps: value is not a valid integer');
    assert.equal(sd.requests.length, 1);
    assert.equal(sd.requests[0].path, '/sdapi/v1/txt2img');
  });

  test('the emulator: txt2img ignores img2img\'s fields (recorded), refuses a wrong type, an unknown sampler', async () => {
    sd.reset();
    const send = (body: unknown) => fetch(`${sd.url}/sdapi/v1/txt2img`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal((await send({ prompt: 'x', width: 64, height: 64, init_images: ['AAAA'], mask_blur: 4 })).status, 200);
    assert.deepEqual(sd.generations.at(-1)!.ignored, ['init_images', 'mask_blur']);
    const bad = await send({ prompt: 'x', batch_size: 'two' });
    assert.equal(bad.status, 422);
    assert.deepEqual(((await bad.json()) as { detail: Array<{ loc: string[] }> }).detail.map((d) => d.loc.join('.')), ['body.batch_size']);
    const sampler = await send({ prompt: 'x', width: 64, height: 64, sampler_name: 'Nope' });
    assert.equal(sampler.status, 404);
    assert.equal(((await sampler.json()) as { detail: string }).detail, 'Sampler not found');
    assert.equal((await fetch(`${locked.url}/sdapi/v1/txt2img`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"prompt":"x"}' })).status, 401);
  });
});
