/**
 * The `bfl` adapter through the whole gateway, with the official openai
 * client, against the BFL emulator: the JSON each endpoint receives (raw
 * base64 images in order, the mask white where the client's was transparent,
 * aspect ratio or pixels, seed, format), the polling URL followed on the
 * emulator's second host, the sample downloaded without credentials, and what
 * the client gets back.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { toFile } from 'openai';
import sharp from 'sharp';
import { startBflEmulator, type BflEmulator } from '../emulators/bfl.js';
import { createProviderHttp } from '../../src/providers/http.js';
import { createBflProvider } from '../../src/providers/bfl/index.js';
import type { ProviderIO } from '../../src/providers/types.js';
import type { ProviderConfig } from '../../src/config/index.js';
import { systemClock } from '../../src/clock.js';
import { attemptsOf, channel, client, gateway, lastEntry, pictures, type Pictures, type TestApp } from './helpers.js';

const KEY = 'bfl-test-key-0123456789abcdef';

let pics: Pictures;
let emu: BflEmulator;
let t: TestApp;

before(async () => {
  pics = await pictures();
  emu = await startBflEmulator({ apiKey: KEY });
  const bfl = { type: 'bfl', baseUrl: emu.baseUrl, apiKey: 'env:TEST_BFL_KEY', trustedHosts: [emu.deliveryHost] };
  t = await gateway(
    {
      providers: {
        bfl,
        'bfl-drop': { ...bfl, dropUnsupported: ['moderation'] },
      },
      models: {
        'flux-kontext-pro': { deployments: [{ provider: 'bfl', model: 'flux-kontext-pro' }] },
        'flux-2-pro': { deployments: [{ provider: 'bfl', model: 'flux-2-pro' }] },
        'flux-2-flex': { deployments: [{ provider: 'bfl', model: 'flux-2-flex' }] },
        'flux-2-klein': { deployments: [{ provider: 'bfl', model: 'flux-2-klein-4b' }] },
        'kontext-lenient': { deployments: [{ provider: 'bfl-drop', model: 'flux-kontext-pro' }] },
      },
    },
    { env: { TEST_BFL_KEY: KEY } },
  );
});

after(async () => {
  assert.deepEqual(await t.spoolFiles(), [], 'no temporary file may be left behind');
  await t.close();
  await emu.close();
  pics.cleanup();
});

const file = async (p: string, name: string, type = 'image/png') => toFile(fs.readFileSync(p), name, { type });
const b64 = (p: string) => fs.readFileSync(p).toString('base64');

describe('bfl adapter: Kontext', () => {
  test('one image: raw base64 JSON with x-key; the polling URL followed on its own host; the client gets the sample', async () => {
    emu.reset();
    const { data: res, response } = await client(t).images.edit({ model: 'flux-kontext-pro', image: fs.createReadStream(pics.land), prompt: 'make it warmer' }).withResponse();
    const seen = emu.submits.at(-1)!;
    assert.equal(seen.endpoint, 'flux-kontext-pro');
    assert.deepEqual(Object.keys(seen.body).sort(), ['input_image', 'output_format', 'prompt', 'seed']);
    assert.equal(seen.body.prompt, 'make it warmer');
    assert.equal(seen.body.input_image, b64(pics.land), 'the image arrives as raw base64, byte for byte');
    assert.equal(seen.body.output_format, 'png');
    assert.ok(Number.isInteger(seen.body.seed));
    const submit = emu.requests.at(-1)!;
    assert.equal(submit.headers['x-key'], KEY);
    assert.match(String(submit.headers['content-type']), /^application\/json/);
    // Pending once, then Ready, on the second listener; the sample fetched without the key
    assert.equal(emu.polls.length, 2);
    assert.ok(emu.polls.every((p) => p.query.get('id') === seen.taskId && p.headers['x-key'] === KEY));
    assert.equal(emu.downloads.length, 1);
    assert.equal(emu.downloads[0].headers['x-key'], undefined, 'no credentials go to the delivery URL');
    // Kontext's own bytes (png, size auto): passed through unchanged
    assert.ok(Buffer.from(res.data![0].b64_json!, 'base64').equals(emu.emitted.at(-1)!));
    assert.ok(res.usage && res.usage.total_tokens > 0, 'the gateway counts usage BFL does not report');
    assert.equal(response.headers.get('x-imagegate-deployment'), 'bfl/flux-kontext-pro');
    const e = await lastEntry(t);
    assert.deepEqual(attemptsOf(e), [['bfl/flux-kontext-pro', 200]]);
  });

  test('three images and a size: input_image, _2, _3 in order, aspect_ratio 3:2; the answer resized to the size asked', async () => {
    emu.reset();
    const res = await client(t).images.edit({
      model: 'flux-kontext-pro',
      image: [await file(pics.square, 'a.png'), await file(pics.jpeg, 'b.jpg', 'image/jpeg'), await file(pics.land, 'c.png')],
      prompt: 'combine them',
      size: '1536x1024',
    });
    const seen = emu.submits.at(-1)!;
    assert.deepEqual(Object.keys(seen.body).sort(), ['aspect_ratio', 'input_image', 'input_image_2', 'input_image_3', 'output_format', 'prompt', 'seed']);
    assert.equal(seen.body.aspect_ratio, '3:2');
    assert.equal(seen.body.input_image, b64(pics.square));
    assert.equal(seen.body.input_image_2, b64(pics.jpeg));
    assert.equal(seen.body.input_image_3, b64(pics.land));
    const out = Buffer.from(res.data![0].b64_json!, 'base64');
    const meta = await sharp(out).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['png', 1536, 1024]);
    const made = await sharp(emu.emitted.at(-1)!).metadata();
    assert.deepEqual([made.width, made.height], [1248, 832], 'Kontext made about one megapixel at 3:2');
    assert.equal(res.size, '1536x1024');
  });

  test('a mask: sent to the Fill endpoint with one image and a black-and-white mask, white where the client\'s was transparent', async () => {
    emu.reset();
    const { data: res, response } = await client(t)
      .images.edit({ model: 'flux-kontext-pro', image: fs.createReadStream(pics.square), mask: await file(pics.mask, 'mask.png'), prompt: 'a pond' })
      .withResponse();
    const seen = emu.submits.at(-1)!;
    assert.equal(seen.endpoint, 'flux-pro-1.0-fill');
    assert.deepEqual(Object.keys(seen.body).sort(), ['image', 'mask', 'output_format', 'prompt', 'seed']);
    assert.equal(seen.body.image, b64(pics.square));
    assert.equal(seen.body.prompt, 'a pond');
    assert.equal(seen.body.output_format, 'png');
    const m = await channel(seen.mask!, 0);
    assert.deepEqual([m.width, m.height], [1024, 1024]);
    assert.equal(m.data[512 * 1024 + 512], 255, 'the hole is white (edit)');
    assert.equal(m.data[300 * 1024 + 300], 255, 'inside the hole, near its corner');
    assert.equal(m.data[10 * 1024 + 10], 0, 'outside is black (keep)');
    assert.equal(m.data[200 * 1024 + 800], 0);
    // the emulator painted the white area: the edit landed where the client's mask was transparent
    const out = Buffer.from(res.data![0].b64_json!, 'base64');
    assert.ok(out.equals(emu.emitted.at(-1)!), 'Fill\'s png passed through');
    const px = async (bytes: Buffer, x: number, y: number) => {
      const { data, info } = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      const i = (y * info.width + x) * info.channels;
      return [data[i], data[i + 1], data[i + 2]];
    };
    assert.deepEqual(await px(out, 512, 512), [255, 0, 255]);
    assert.deepEqual(await px(out, 10, 10), await px(fs.readFileSync(pics.square), 10, 10));
    assert.equal(response.headers.get('x-imagegate-deployment'), 'bfl/flux-kontext-pro');
  });

  test('n=2: two tasks with distinct seeds, both samples reach the client', async () => {
    emu.reset();
    const res = await client(t).images.edit({ model: 'flux-kontext-pro', image: fs.createReadStream(pics.square), prompt: 'two takes', n: 2 });
    assert.equal(emu.submits.length, 2);
    assert.notEqual(emu.submits[0].body.seed, emu.submits[1].body.seed);
    const digest = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');
    const got = res.data!.map((d) => digest(Buffer.from(d.b64_json!, 'base64'))).sort();
    assert.deepEqual(got, emu.emitted.map(digest).sort());
    assert.notEqual(got[0], got[1]);
  });

  test('output formats: webp asked of BFL as is; jpeg with compression asked as png and encoded by the gateway', async () => {
    emu.reset();
    const webp = await client(t).images.edit({ model: 'flux-kontext-pro', image: fs.createReadStream(pics.square), prompt: 'x', output_format: 'webp' });
    assert.equal(emu.submits.at(-1)!.body.output_format, 'webp');
    assert.ok(Buffer.from(webp.data![0].b64_json!, 'base64').equals(emu.emitted.at(-1)!));
    const jpeg = await client(t).images.edit({ model: 'flux-kontext-pro', image: fs.createReadStream(pics.square), prompt: 'x', output_format: 'jpeg', output_compression: 40 });
    assert.equal(emu.submits.at(-1)!.body.output_format, 'png');
    const meta = await sharp(Buffer.from(jpeg.data![0].b64_json!, 'base64')).metadata();
    assert.equal(meta.format, 'jpeg');
    assert.equal(jpeg.output_format, 'jpeg');
  });

  test('"Task not found" right after the submit (the result store catching up) is waited out in the same attempt', async () => {
    emu.reset();
    emu.notFoundPolls = 2;
    const res = await client(t).images.edit({ model: 'flux-kontext-pro', image: fs.createReadStream(pics.square), prompt: 'x' });
    assert.ok(Buffer.from(res.data![0].b64_json!, 'base64').equals(emu.emitted.at(-1)!));
    assert.equal(emu.submits.length, 1);
    assert.equal(emu.polls.length, 4, 'two "Task not found", one Pending, one Ready');
    assert.deepEqual(attemptsOf(await lastEntry(t)), [['bfl/flux-kontext-pro', 200]]);
  });

  test('response_format=url: the gateway hosts the sample\'s bytes', async () => {
    emu.reset();
    const res = await client(t).images.edit({ model: 'flux-kontext-pro', image: fs.createReadStream(pics.square), prompt: 'x', response_format: 'url' });
    const got = await fetch(res.data![0].url!);
    assert.equal(got.status, 200);
    assert.ok(Buffer.from(await got.arrayBuffer()).equals(emu.emitted.at(-1)!));
  });
});

describe('bfl adapter: FLUX.2', () => {
  test('eight images as input_image … input_image_8; the size as width and height; bytes passed through', async () => {
    emu.reset();
    const images = await Promise.all(Array.from({ length: 8 }, (_, i) => file(i % 2 ? pics.small : pics.square, `i${i}.png`)));
    const res = await client(t).images.edit({ model: 'flux-2-pro', image: images, prompt: 'a collage', size: '1024x1536' });
    const seen = emu.submits.at(-1)!;
    assert.equal(seen.endpoint, 'flux-2-pro');
    assert.deepEqual(
      Object.keys(seen.body).sort(),
      ['height', 'input_image', ...Array.from({ length: 7 }, (_, i) => `input_image_${i + 2}`), 'output_format', 'prompt', 'seed', 'width'].sort(),
    );
    assert.deepEqual([seen.body.width, seen.body.height], [1024, 1536]);
    for (let i = 0; i < 8; i++) assert.ok(seen.images[i].equals(fs.readFileSync(i % 2 ? pics.small : pics.square)), `image ${i} in its place`);
    assert.ok(Buffer.from(res.data![0].b64_json!, 'base64').equals(emu.emitted.at(-1)!), 'made at the size asked: passed through');
  });

  test('flex is told not to rewrite the prompt; klein takes 4 images, not 5', async () => {
    emu.reset();
    await client(t).images.edit({ model: 'flux-2-flex', image: fs.createReadStream(pics.square), prompt: 'exactly this' });
    assert.equal(emu.submits.at(-1)!.body.prompt_upsampling, false);
    await client(t).images.edit({ model: 'flux-2-klein', image: await Promise.all([0, 1, 2, 3].map((i) => file(pics.small, `${i}.png`))), prompt: 'x' });
    assert.equal(emu.submits.at(-1)!.body.input_image_4, b64(pics.small));
    const before = emu.submits.length;
    await assert.rejects(
      client(t).images.edit({ model: 'flux-2-klein', image: await Promise.all([0, 1, 2, 3, 4].map((i) => file(pics.small, `${i}.png`))), prompt: 'x' }),
      (e: { status: number; code: string; param: string; message: string }) => {
        assert.equal(e.status, 400);
        assert.equal(e.code, 'array_above_max_length');
        assert.equal(e.param, 'image[4]');
        assert.match(e.message, /flux-2-klein.*bfl\/flux-2-klein-4b.*at most 4 input images/);
        return true;
      },
    );
    assert.equal(emu.submits.length, before);
  });
});

describe('bfl adapter: what it cannot honour', () => {
  test('each parameter BFL cannot honour is a 400 naming it and the model, and nothing is sent', async () => {
    emu.reset();
    const c = client(t);
    const refused = async (params: Record<string, unknown>, param: string, message: RegExp) => {
      await assert.rejects(
        c.images.edit({ model: 'flux-kontext-pro', image: fs.createReadStream(pics.square), prompt: 'x', ...params } as Parameters<typeof c.images.edit>[0]),
        (e: { status: number; param: string; error: { message: string } }) => {
          assert.equal(e.status, 400, `${param}: ${e.error.message}`);
          assert.equal(e.param, param);
          assert.match(e.error.message, message);
          return true;
        },
      );
    };
    await refused({ quality: 'high' }, 'quality', /^Unsupported parameter: 'quality' \('high'\) is not supported by model 'flux-kontext-pro' \(deployment bfl\/flux-kontext-pro\)\.$/);
    await refused({ background: 'transparent' }, 'background', /'background' \('transparent'\)/);
    await refused({ input_fidelity: 'high' }, 'input_fidelity', /'input_fidelity'/);
    // safety_tolerance above the default is not allowed with input images
    await refused({ moderation: 'low' }, 'moderation', /'moderation' \('low'\)/);
    // Fill keeps the image's size
    await refused({ mask: await file(pics.mask, 'mask.png'), size: '1536x1024' }, 'size', /'size' \('1536x1024'\)/);
    await assert.rejects(
      c.images.edit({ model: 'flux-kontext-pro', image: [await file(pics.square, 'a.png'), await file(pics.square, 'b.png')], mask: await file(pics.mask, 'mask.png'), prompt: 'x' }),
      (e: { status: number; param: string; message: string }) => {
        assert.equal(e.status, 400);
        assert.equal(e.param, 'image[1]');
        assert.match(e.message, /at most 1 input image\b/);
        return true;
      },
    );
    await assert.rejects(
      c.images.edit({ model: 'flux-kontext-pro', image: await Promise.all([0, 1, 2, 3, 4].map((i) => file(pics.small, `${i}.png`))), prompt: 'x' }),
      (e: { status: number; param: string }) => e.status === 400 && e.param === 'image[4]',
    );
    assert.equal(emu.requests.length, 0, 'nothing went upstream');
  });

  test('dropUnsupported: moderation=low is dropped with a warning, and no safety_tolerance is sent', async () => {
    emu.reset();
    const raw = await client(t)
      .images.edit({ model: 'kontext-lenient', image: fs.createReadStream(pics.square), prompt: 'x', ...({ moderation: 'low' } as object) })
      .asResponse();
    assert.equal(raw.status, 200);
    assert.equal(raw.headers.get('x-imagegate-warning'), "bfl-drop/flux-kontext-pro does not support 'moderation'; dropped");
    assert.ok(!('safety_tolerance' in emu.submits.at(-1)!.body));
  });
});

describe('bfl adapter: ping', () => {
  const io = (config: ProviderConfig): { io: ProviderIO; close(): Promise<void> } => {
    const http = createProviderHttp(config);
    const ac = new AbortController();
    return {
      io: { http: http.forAttempt(ac.signal), signal: ac.signal, clock: systemClock, sleep: async () => {}, read: async () => Buffer.alloc(0) },
      close: () => http.close(),
    };
  };

  test('GET /v1/credits with x-key: the key accepted, or refused', async () => {
    emu.reset();
    const base = t.config.providers.bfl;
    const good = io(base);
    const ok = await createBflProvider(base).ping!(good.io);
    assert.equal(ok.reachable, true);
    assert.equal(ok.authOk, true);
    assert.equal(emu.requests.at(-1)!.path, '/v1/credits');
    assert.equal(emu.requests.at(-1)!.headers['x-key'], KEY);
    const wrongConfig = { ...base, apiKey: 'not-the-key' };
    const wrong = io(wrongConfig);
    const bad = await createBflProvider(wrongConfig).ping!(wrong.io);
    assert.deepEqual([bad.reachable, bad.authOk], [true, false]);
    await Promise.all([good.close(), wrong.close()]);
  });
});
