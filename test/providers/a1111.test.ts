/**
 * The `a1111` adapter through the whole gateway, with the official openai
 * client, against the AUTOMATIC1111 emulator: the img2img body (raw base64,
 * size, batch, seed, checkpoint, params merged), the mask as A1111's own
 * create_binary_mask reads it (polarity on decoded pixels), and the images
 * the client gets back.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { toFile } from 'openai';
import sharp from 'sharp';
import { startA1111Emulator, type A1111Emulator } from '../emulators/a1111.js';
import { seedColour } from '../emulators/pixels.js';
import { attemptsOf, client, gateway, lastEntry, pictures, pingOf, type Pictures, type TestApp } from './helpers.js';

const AUTH = 'gate:s3cret-pass-0123456789';

let pics: Pictures;
let sd: A1111Emulator;
let locked: A1111Emulator;
let t: TestApp;

before(async () => {
  pics = await pictures();
  sd = await startA1111Emulator({ extraImages: 1 });
  locked = await startA1111Emulator({ auth: AUTH });
  t = await gateway(
    {
      providers: {
        sd: { type: 'a1111', baseUrl: sd.baseUrl, params: { steps: 20, sampler_name: 'DPM++ 2M', denoising_strength: 0.9, inpainting_fill: 1, prompt: 'never sent', batch_size: 9, override_settings: { CLIP_stop_at_last_layers: 2 } } },
        locked: { type: 'a1111', baseUrl: locked.baseUrl, apiKey: 'env:A1111_AUTH' },
      },
      models: {
        'sd-inpaint': { deployments: [{ provider: 'sd', model: 'sd-v1-5-inpainting.safetensors [c6bbc15e32]' }] },
        'sd-default': { deployments: [{ provider: 'sd', model: 'default' }] },
        'sd-missing': { deployments: [{ provider: 'sd', model: 'not-installed.safetensors' }] },
        'sd-locked': { deployments: [{ provider: 'locked', model: 'default' }] },
      },
    },
    { env: { A1111_AUTH: AUTH } },
  );
});

after(async () => {
  assert.deepEqual(await t.spoolFiles(), [], 'no temporary file may be left behind');
  await t.close();
  await Promise.all([sd.close(), locked.close()]);
  pics.cleanup();
});

const png = (p: string, name = 'a.png') => toFile(fs.readFileSync(p), name, { type: 'image/png' });
const px = (img: { width: number; data: Buffer }, x: number, y: number, channels = 1) => [...img.data.subarray((y * img.width + x) * channels, (y * img.width + x) * channels + channels)];

describe('a1111 adapter', () => {
  test('a masked edit: raw base64 image, the mask as white = repaint, every request field; A1111 repaints the hole only', async () => {
    sd.reset();
    const raw = await client(t).images.edit({ model: 'sd-inpaint', image: await png(pics.square), mask: await png(pics.mask, 'mask.png'), prompt: 'a red balloon' }).withResponse();
    assert.equal(raw.response.headers.get('x-imagegate-deployment'), 'sd/sd-v1-5-inpainting.safetensors [c6bbc15e32]');
    const req = sd.requests.at(-1)!;
    assert.equal(req.path, '/sdapi/v1/img2img');
    assert.equal(req.headers.authorization, undefined);
    const body = req.json as Record<string, unknown>;
    const init = (body.init_images as string[])[0];
    assert.ok(!init.startsWith('data:'), 'raw base64, no data: prefix');
    assert.ok(Buffer.from(init, 'base64').equals(fs.readFileSync(pics.square)), 'the image arrives byte for byte');
    const { mask: maskB64, init_images: _i, ...rest } = body;
    assert.deepEqual(rest, {
      steps: 20,
      sampler_name: 'DPM++ 2M',
      denoising_strength: 0.9,
      inpainting_fill: 1,
      prompt: 'a red balloon',
      width: 1024,
      height: 1024,
      batch_size: 1,
      n_iter: 1,
      seed: rest.seed,
      send_images: true,
      save_images: false,
      include_init_images: false,
      inpainting_mask_invert: 0,
      override_settings: { CLIP_stop_at_last_layers: 2, sd_model_checkpoint: 'sd-v1-5-inpainting.safetensors [c6bbc15e32]' },
    });
    assert.equal(typeof rest.seed, 'number');
    const seen = sd.edits.at(-1)!;
    assert.deepEqual(seen.ignored, [], 'no field A1111 does not know');
    assert.equal(seen.checkpoint, 'sd-v1-5-inpainting.safetensors [c6bbc15e32]');

    // the mask sent: grayscale, white inside the hole
    const sentMask = Buffer.from(maskB64 as string, 'base64');
    assert.equal((await sharp(sentMask).metadata()).channels, 1, 'an L-mode PNG, never the RGBA mask A1111 would read by its alpha');
    // what A1111 made of it with create_binary_mask: 255 = repaint inside the hole only
    const bin = seen.binaryMask!;
    assert.deepEqual([bin.width, bin.height], [1024, 1024]);
    assert.equal(px(bin, 512, 512)[0], 255);
    assert.equal(px(bin, 260, 260)[0], 255);
    assert.equal(px(bin, 10, 10)[0], 0);
    assert.equal(px(bin, 900, 900)[0], 0);

    // the client gets the batch image (not the extension's extra one), byte for byte, repainted inside the hole only
    const out = Buffer.from(raw.data.data![0].b64_json!, 'base64');
    assert.ok(out.equals(sd.emitted.at(-1)!));
    const pixels = { width: 1024, data: await sharp(out).removeAlpha().raw().toBuffer() };
    const original = { width: 1024, data: await sharp(pics.square).removeAlpha().raw().toBuffer() };
    assert.deepEqual(px(pixels, 512, 512, 3), seedColour(rest.seed as number));
    assert.deepEqual(px(pixels, 10, 10, 3), px(original, 10, 10, 3));
    assert.deepEqual(attemptsOf(await lastEntry(t)), [['sd/sd-v1-5-inpainting.safetensors [c6bbc15e32]', 200]]);
  });

  test('n=6: batches of at most 4 with distinct seeds; the client gets the batch images in order', async () => {
    sd.reset();
    const res = await client(t).images.edit({ model: 'sd-default', image: await png(pics.square), prompt: 'x', n: 6 });
    const bodies = sd.requests.map((r) => r.json as Record<string, unknown>);
    assert.deepEqual(bodies.map((b) => b.batch_size).sort(), [2, 4]);
    assert.notEqual(bodies[0].seed, bodies[1].seed);
    for (const b of bodies) {
      assert.equal(b.mask, undefined, 'no mask: plain img2img');
      assert.equal(b.inpainting_mask_invert, undefined);
      assert.deepEqual(b.override_settings, { CLIP_stop_at_last_layers: 2 }, "'default': the loaded checkpoint");
    }
    assert.equal(res.data!.length, 6);
    const got = res.data!.map((d) => Buffer.from(d.b64_json!, 'base64'));
    for (const g of got) assert.ok(sd.emitted.some((e) => e.equals(g)));
    assert.equal(new Set(got.map((g) => g.toString('base64'))).size, 6, 'six distinct images, no extension extra among them');
  });

  test('size: an explicit size is sent as width/height; auto is the input size rounded to multiples of 8; jpeg converted by the gateway', async () => {
    sd.reset();
    const res = await client(t).images.edit({ model: 'sd-default', image: await png(pics.square), prompt: 'x', size: '1024x1536', output_format: 'jpeg' });
    assert.deepEqual([(sd.requests[0].json as { width: number }).width, (sd.requests[0].json as { height: number }).height], [1024, 1536]);
    const meta = await sharp(Buffer.from(res.data![0].b64_json!, 'base64')).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['jpeg', 1024, 1536]);
    sd.reset();
    const odd = await sharp({ create: { width: 1001, height: 763, channels: 3, background: '#808080' } }).png().toBuffer();
    const res2 = await client(t).images.edit({ model: 'sd-default', image: await toFile(odd, 'odd.png', { type: 'image/png' }), prompt: 'x' });
    const b = sd.requests[0].json as { width: number; height: number };
    assert.deepEqual([b.width, b.height], [1000, 760]);
    assert.equal(res2.size, '1000x760');
  });

  test('a checkpoint the server does not have: A1111 silently runs another, the gateway refuses its images', async () => {
    sd.reset();
    await assert.rejects(client(t).images.edit({ model: 'sd-missing', image: await png(pics.square), prompt: 'x' }), (e: { status: number; message: string }) => {
      assert.equal(e.status, 503);
      assert.match(e.message, /the server ran checkpoint 'sd-v1-5-inpainting' instead of 'not-installed.safetensors'/);
      return true;
    });
    assert.equal(sd.requests.length, 1, 'not retried: the deployment cannot serve this model');
  });

  test('what A1111 cannot honour is a 400 naming it and the model, before anything is sent', async () => {
    sd.reset();
    const c = client(t);
    for (const [params, param] of [
      [{ quality: 'high' as const }, 'quality'],
      [{ background: 'transparent' as const }, 'background'],
      [{ input_fidelity: 'high' as const }, 'input_fidelity'],
    ] as const) {
      await assert.rejects(c.images.edit({ model: 'sd-inpaint', image: await png(pics.square), prompt: 'x', ...params }), (e: { status: number; param: string; message: string }) => {
        assert.equal(e.status, 400);
        assert.equal(e.param, param);
        assert.match(e.message, /model 'sd-inpaint' \(deployment sd\/sd-v1-5-inpainting/);
        return true;
      });
    }
    await assert.rejects(c.images.edit({ model: 'sd-inpaint', image: [await png(pics.square), await png(pics.square, 'b.png')], prompt: 'x' }), (e: { status: number; param: string }) => e.status === 400 && e.param === 'image[1]');
    assert.equal(sd.requests.length, 0);
  });

  test('--api-auth: HTTP basic from apiKey user:pass on img2img and on ping; a wrong one is refused', async () => {
    locked.reset();
    const res = await client(t).images.edit({ model: 'sd-locked', image: await png(pics.square), prompt: 'x' });
    assert.ok(Buffer.from(res.data![0].b64_json!, 'base64').equals(locked.emitted.at(-1)!));
    const auth = `Basic ${Buffer.from(AUTH).toString('base64')}`;
    assert.equal(locked.requests[0].headers.authorization, auth);
    const ping = await pingOf(t, 'locked');
    assert.deepEqual([ping.reachable, ping.authOk], [true, true]);
    assert.equal(locked.requests.at(-1)!.path, '/sdapi/v1/sd-models');
    assert.equal(locked.requests.at(-1)!.headers.authorization, auth);
    const refused = await fetch(`${locked.url}/sdapi/v1/sd-models`, { headers: { authorization: `Basic ${Buffer.from('gate:wrong').toString('base64')}` } });
    assert.equal(refused.status, 401);
    assert.deepEqual(await refused.json(), { error: 'HTTPException', detail: 'Incorrect username or password', body: '', errors: '401: Incorrect username or password' });
  });

  test('the emulator reads masks as A1111 does: the client\'s RGBA mask by its alpha (inverted), a data URL accepted, unknown fields ignored, bad types refused', async () => {
    sd.reset();
    const b64 = (p: string) => fs.readFileSync(p).toString('base64');
    const post = (body: unknown) => fetch(`${sd.url}/sdapi/v1/img2img`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    // OpenAI's mask sent as is: transparent hole = alpha 0 ≤ 128 = keep; opaque rest = repaint — the trap the 'white' form avoids
    const trap = await post({ init_images: [`data:image/png;base64,${b64(pics.square)}`], mask: b64(pics.mask), width: 64, height: 64, inpaint_extra_typo: 1 });
    assert.equal(trap.status, 200);
    const seen = sd.edits.at(-1)!;
    assert.equal(px(seen.binaryMask!, 512, 512)[0], 0);
    assert.equal(px(seen.binaryMask!, 10, 10)[0], 255);
    assert.deepEqual(seen.ignored, ['inpaint_extra_typo'], 'pydantic ignores unknown fields; the emulator records them');
    const answer = (await trap.json()) as { info: unknown; parameters: Record<string, unknown> };
    assert.equal(typeof answer.info, 'string');
    assert.equal(answer.parameters.init_images, null);
    const bad = await post({ init_images: [b64(pics.square)], width: 'wide' });
    assert.equal(bad.status, 422);
    assert.deepEqual(await bad.json(), { detail: [{ loc: ['body', 'width'], msg: 'value is not a valid integer', type: 'type_error.integer' }] });
    const garbage = await post({ init_images: ['bm90IGFuIGltYWdl'] });
    assert.equal(garbage.status, 500);
    assert.deepEqual(await garbage.json(), { error: 'HTTPException', detail: 'Invalid encoded image', body: '', errors: '500: Invalid encoded image' });
    assert.equal((await post({ prompt: 'x' })).status, 404, 'Init image not found');
  });
});
