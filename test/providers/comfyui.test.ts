/**
 * The `comfyui` adapter through the whole gateway, with the official openai
 * client, against the ComfyUI emulator running the shipped example
 * workflows: what is uploaded (the image with the mask as its alpha), the
 * workflow as filled, the mask LoadImage derived from it (polarity on
 * decoded pixels), and the output images the client gets back.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { toFile } from 'openai';
import sharp from 'sharp';
import { startComfyUiEmulator, type ComfyUiEmulator } from '../emulators/comfyui.js';
import { seedColour } from '../emulators/pixels.js';
import { attemptsOf, channel, client, gateway, lastEntry, pictures, pingOf, type Pictures, type TestApp } from './helpers.js';

const EXAMPLES = path.resolve(import.meta.dirname, '../../examples/comfyui');
const PROXY_KEY = 'comfy-proxy-key-0123456789';

let pics: Pictures;
let comfy: ComfyUiEmulator;
let proxied: ComfyUiEmulator;
let t: TestApp;

before(async () => {
  pics = await pictures();
  comfy = await startComfyUiEmulator();
  proxied = await startComfyUiEmulator({ apiKey: PROXY_KEY });
  t = await gateway(
    {
      providers: {
        comfy: { type: 'comfyui', baseUrl: comfy.baseUrl, workflow: path.join(EXAMPLES, 'inpaint.json') },
        'comfy-i2i': { type: 'comfyui', baseUrl: comfy.baseUrl, workflow: path.join(EXAMPLES, 'img2img.json') },
        'comfy-proxied': { type: 'comfyui', baseUrl: proxied.baseUrl, apiKey: 'env:COMFY_PROXY_KEY', workflow: path.join(EXAMPLES, 'img2img.json') },
      },
      models: {
        'sd-inpaint': { deployments: [{ provider: 'comfy', model: 'sd15-inpaint' }] },
        'sd-img2img': { deployments: [{ provider: 'comfy-i2i', model: 'sdxl' }] },
        'sd-proxied': { deployments: [{ provider: 'comfy-proxied', model: 'sdxl' }] },
      },
    },
    { env: { COMFY_PROXY_KEY: PROXY_KEY } },
  );
});

after(async () => {
  assert.deepEqual(await t.spoolFiles(), [], 'no temporary file may be left behind');
  await t.close();
  await Promise.all([comfy.close(), proxied.close()]);
  pics.cleanup();
});

const png = (p: string, name = 'a.png') => toFile(fs.readFileSync(p), name, { type: 'image/png' });
const at = (img: { width: number; data: Buffer }, x: number, y: number, channels = 1) => [...img.data.subarray((y * img.width + x) * channels, (y * img.width + x) * channels + channels)];

describe('comfyui adapter', () => {
  test('a masked edit: the image is uploaded with the mask as its alpha, the workflow is filled, LoadImage derives MASK = 1 - alpha, the client gets the output', async () => {
    comfy.reset();
    const raw = await client(t)
      .images.edit({ model: 'sd-inpaint', image: await png(pics.square), mask: await png(pics.mask, 'mask.png'), prompt: 'a red balloon' })
      .withResponse();
    const res = raw.data;
    assert.equal(raw.response.headers.get('x-imagegate-deployment'), 'comfy/sd15-inpaint');

    const upload = comfy.requests.find((r) => r.path === '/upload/image')!;
    assert.deepEqual(upload.fields, [['type', 'input']]);
    const file = upload.files![0];
    assert.equal(file.name, 'image');
    assert.match(file.filename, /^imagegate-[\w-]+-0\.png$/);
    // the uploaded picture: the image's own pixels, the client's mask as alpha (transparent = edit)
    const alpha = await channel(file.bytes, 3);
    assert.equal(at(alpha, 512, 512)[0], 0, 'the hole is transparent');
    assert.equal(at(alpha, 10, 10)[0], 255, 'the rest is opaque');
    const original = await sharp(pics.square).raw().toBuffer();
    const sent = await sharp(file.bytes).removeAlpha().raw().toBuffer();
    assert.ok(sent.equals(original), 'the RGB is the client image, byte for byte');

    const queued = comfy.requests.find((r) => r.path === '/prompt')!.json as { prompt: Record<string, { inputs: Record<string, unknown> }>; client_id: string };
    assert.equal(typeof queued.client_id, 'string');
    const g = queued.prompt;
    assert.equal(g['2'].inputs.image, file.filename);
    assert.equal(g['3'].inputs.image, file.filename, '{{mask}} names the same upload');
    assert.equal(g['5'].inputs.text, 'a red balloon');
    assert.equal(typeof g['8'].inputs.seed, 'number');
    assert.deepEqual([g['4'].inputs.width, g['4'].inputs.height], [1024, 1024], 'auto: the input size');
    assert.equal(g['1'].inputs.ckpt_name, 'sd-v1-5-inpainting.safetensors', 'the rest of the workflow as written');

    // polarity as ComfyUI sees it: MASK = 1 − alpha, 1 (255) = inpaint inside the hole
    const run = comfy.runs.at(-1)!;
    assert.equal(run.status, 'success');
    const mask = run.masks['3'];
    assert.deepEqual([mask.width, mask.height], [1024, 1024]);
    assert.equal(at(mask, 512, 512)[0], 255);
    assert.equal(at(mask, 300, 300)[0], 255);
    assert.equal(at(mask, 10, 10)[0], 0);
    assert.equal(at(mask, 1000, 1000)[0], 0);

    // the client gets the output as written (PNG, the size asked): the area inside the hole is the sampler's, the rest the original
    const out = Buffer.from(res.data![0].b64_json!, 'base64');
    assert.ok(out.equals(comfy.emitted.at(-1)!), 'the provider bytes pass through');
    const pixels = { width: 1024, data: await sharp(out).removeAlpha().raw().toBuffer() };
    assert.deepEqual(at(pixels, 512, 512, 3), seedColour(g['8'].inputs.seed as number));
    assert.deepEqual(at(pixels, 10, 10, 3), at({ width: 1024, data: original }, 10, 10, 3));
    const history = comfy.requests.filter((r) => r.path.startsWith('/history/'));
    assert.ok(history.length >= 2, 'polled until the run was done');
    const view = comfy.requests.find((r) => r.path === '/view')!;
    assert.deepEqual(Object.fromEntries(view.query), { filename: run.outputs['10'][0].filename, subfolder: '', type: 'output' });
    const e = await lastEntry(t);
    assert.deepEqual(attemptsOf(e), [['comfy/sd15-inpaint', 200]]);
  });

  test('n=2: one prompt per image, each with its own seed and upload', async () => {
    comfy.reset();
    const res = await client(t).images.edit({ model: 'sd-inpaint', image: await png(pics.square), mask: await png(pics.mask, 'mask.png'), prompt: 'x', n: 2 });
    const prompts = comfy.requests.filter((r) => r.path === '/prompt').map((r) => (r.json as { prompt: Record<string, { inputs: Record<string, unknown> }> }).prompt);
    assert.equal(prompts.length, 2);
    assert.notEqual(prompts[0]['8'].inputs.seed, prompts[1]['8'].inputs.seed);
    assert.equal(comfy.requests.filter((r) => r.path === '/upload/image').length, 2);
    assert.equal(res.data!.length, 2);
    const got = res.data!.map((d) => Buffer.from(d.b64_json!, 'base64'));
    for (const g of got) assert.ok(comfy.emitted.some((e) => e.equals(g)), 'each image is one the provider wrote');
    assert.ok(!got[0].equals(got[1]));
  });

  test('an explicit size fills {{width}}/{{height}}; webp is asked as PNG and converted by the gateway', async () => {
    comfy.reset();
    const res = await client(t).images.edit({ model: 'sd-inpaint', image: await png(pics.square), mask: await png(pics.mask, 'mask.png'), prompt: 'x', size: '1536x1024', output_format: 'webp' });
    const g = (comfy.requests.find((r) => r.path === '/prompt')!.json as { prompt: Record<string, { inputs: Record<string, unknown> }> }).prompt;
    assert.deepEqual([g['4'].inputs.width, g['4'].inputs.height], [1536, 1024]);
    const meta = await sharp(Buffer.from(res.data![0].b64_json!, 'base64')).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['webp', 1536, 1024]);
    assert.equal(res.output_format, 'webp');
  });

  test('an img2img workflow: the image is uploaded as sent, the prompt and seed filled', async () => {
    comfy.reset();
    const res = await client(t).images.edit({ model: 'sd-img2img', image: fs.createReadStream(pics.jpeg), prompt: 'autumn colours' });
    const file = comfy.requests.find((r) => r.path === '/upload/image')!.files![0];
    assert.ok(file.bytes.equals(fs.readFileSync(pics.jpeg)), 'the upload is the client image, byte for byte');
    assert.match(file.filename, /\.jpg$/);
    const g = (comfy.requests.find((r) => r.path === '/prompt')!.json as { prompt: Record<string, { inputs: Record<string, unknown> }> }).prompt;
    assert.equal(g['4'].inputs.text, 'autumn colours');
    assert.equal(typeof g['6'].inputs.seed, 'number');
    assert.ok(Buffer.from(res.data![0].b64_json!, 'base64').equals(comfy.emitted.at(-1)!));
  });

  test('what a workflow cannot honour is a 400 naming it and the model, before anything is sent', async () => {
    comfy.reset();
    const c = client(t);
    const refused = async (params: Parameters<typeof c.images.edit>[0], param: string, message: RegExp) => {
      await assert.rejects(c.images.edit(params), (e: { status: number; param: string; message: string }) => {
        assert.equal(e.status, 400);
        assert.equal(e.param, param);
        assert.match(e.message, message);
        return true;
      });
    };
    // no {{mask}} in the workflow
    await refused({ model: 'sd-img2img', image: await png(pics.square), mask: await png(pics.mask, 'm.png'), prompt: 'x' }, 'mask', /'mask' is not supported by model 'sd-img2img' \(deployment comfy-i2i\/sdxl\)/);
    // no {{width}}/{{height}}
    await refused({ model: 'sd-img2img', image: await png(pics.square), prompt: 'x', size: '1024x1536' }, 'size', /'size' \('1024x1536'\) is not supported by model 'sd-img2img'/);
    await refused({ model: 'sd-inpaint', image: await png(pics.square), mask: await png(pics.mask, 'm.png'), prompt: 'x', quality: 'high' }, 'quality', /'quality' \('high'\)/);
    await refused({ model: 'sd-inpaint', image: await png(pics.square), mask: await png(pics.mask, 'm.png'), prompt: 'x', background: 'transparent' }, 'background', /'background'/);
    await refused({ model: 'sd-inpaint', image: [await png(pics.square), await png(pics.square, 'b.png')], mask: await png(pics.mask, 'm.png'), prompt: 'x' }, 'image[1]', /at most 1 input image/);
    // an inpaint workflow without a mask would return the input unchanged: refused by the adapter, nothing uploaded
    await refused({ model: 'sd-inpaint', image: await png(pics.square), prompt: 'x' }, 'mask', /inpaint workflow \(\{\{mask\}\}\) and needs a mask/);
    assert.equal(comfy.requests.length, 0, 'nothing reached ComfyUI');
  });

  test('apiKey: every request carries it as a Bearer key (a proxy in front of ComfyUI)', async () => {
    proxied.reset();
    const res = await client(t).images.edit({ model: 'sd-proxied', image: await png(pics.square), prompt: 'x' });
    assert.ok(Buffer.from(res.data![0].b64_json!, 'base64').equals(proxied.emitted.at(-1)!));
    const paths = new Set(proxied.requests.map((r) => r.path.replace(/\/history\/.*/, '/history/{id}')));
    assert.deepEqual([...paths].sort(), ['/history/{id}', '/prompt', '/upload/image', '/view']);
    for (const r of proxied.requests) assert.equal(r.headers.authorization, `Bearer ${PROXY_KEY}`, r.path);
  });

  test('ping: GET /system_stats, with the key when there is one', async () => {
    comfy.reset();
    proxied.reset();
    const ok = await pingOf(t, 'comfy-proxied');
    assert.equal(ok.reachable, true);
    assert.equal(ok.authOk, true);
    assert.equal(proxied.requests[0].path, '/system_stats');
    assert.equal(proxied.requests[0].headers.authorization, `Bearer ${PROXY_KEY}`);
    assert.equal((await pingOf(t, 'comfy')).authOk, true);
  });

  test('the emulator refuses what ComfyUI refuses: clashing uploads renamed, a placeholder left in, a dangling link, an unknown node', async () => {
    comfy.reset();
    const upload = async (bytes: Buffer) => {
      const fd = new FormData();
      fd.append('image', new Blob([bytes], { type: 'image/png' }), 'clash.png');
      return (await (await fetch(`${comfy.url}/upload/image`, { method: 'POST', body: fd })).json()) as { name: string };
    };
    const square = fs.readFileSync(pics.square);
    assert.equal((await upload(square)).name, 'clash.png');
    assert.equal((await upload(square)).name, 'clash.png', 'the same bytes: the existing name');
    assert.equal((await upload(fs.readFileSync(pics.land))).name, 'clash (1).png');
    const graph = JSON.parse(fs.readFileSync(path.join(EXAMPLES, 'img2img.json'), 'utf8'));
    graph['2'].inputs.image = 'clash.png';
    graph['4'].inputs.text = 'x';
    const post = async (prompt: unknown) => {
      const r = await fetch(`${comfy.url}/prompt`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt }) });
      return { status: r.status, body: (await r.json()) as { error: { type: string; message: string }; node_errors: Record<string, { errors: Array<{ type: string; details: string }> }> } };
    };
    const unfilled = await post(graph);
    assert.equal(unfilled.status, 400);
    assert.equal(unfilled.body.error.type, 'prompt_outputs_failed_validation');
    assert.deepEqual(unfilled.body.node_errors['6'].errors.map((e) => [e.type, e.details]), [['invalid_input_type', "seed, {{seed}}, invalid literal for int() with base 10: '{{seed}}'"]]);
    const dangling = await post({ ...graph, '6': { ...graph['6'], inputs: { ...graph['6'].inputs, seed: 1, latent_image: ['42', 0] } } });
    assert.equal(dangling.body.node_errors['6'].errors[0].type, 'exception_during_inner_validation');
    const unknown = await post({ ...graph, '9': { class_type: 'FancyUpscaler', inputs: {} } });
    assert.deepEqual([unknown.status, unknown.body.error.type], [400, 'missing_node_type']);
    const missingFile = await post({ ...graph, '2': { class_type: 'LoadImage', inputs: { image: 'never-uploaded.png' } }, '6': { ...graph['6'], inputs: { ...graph['6'].inputs, seed: 1 } } });
    assert.deepEqual(missingFile.body.node_errors['2'].errors.map((e) => e.details), ['image - Invalid image file: never-uploaded.png']);
    assert.deepEqual((await fetch(`${comfy.url}/prompt`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }).then((r) => r.json())), { error: 'no prompt', node_errors: [] });
  });
});
