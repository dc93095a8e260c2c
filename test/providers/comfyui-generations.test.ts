/**
 * POST /v1/images/generations on the `comfyui` adapter, through the whole
 * gateway with the official client, against the ComfyUI emulator running
 * the shipped text-to-image workflow (examples/comfyui/txt2img.json:
 * EmptyLatentImage → KSampler → VAEDecode → SaveImage): nothing uploaded,
 * the workflow filled (prompt, seed, size, batch), the pictures each seed
 * paints, n in batches or one prompt per image, ComfyUI's validation
 * refusal in OpenAI's envelope, and the config's checks of the workflow.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { loadConfig } from '../../src/config/index.js';
import { startComfyUiEmulator, type ComfyUiEmulator } from '../emulators/comfyui.js';
import { seedColour } from '../emulators/pixels.js';
import { client, gateway, lastEntry, postJsonError, type TestApp } from './helpers.js';

const EXAMPLES = path.resolve(import.meta.dirname, '../../examples/comfyui');
const TXT2IMG = JSON.parse(fs.readFileSync(path.join(EXAMPLES, 'txt2img.json'), 'utf8')) as Record<string, { class_type: string; inputs: Record<string, unknown> }>;

let comfy: ComfyUiEmulator;
let t: TestApp;
let dir: string;

before(async () => {
  comfy = await startComfyUiEmulator();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imagegate-comfy-gen-'));
  // the same graph with a fixed batch of 1 (one prompt per image), and one naming a checkpoint that is not installed
  const oneByOne = structuredClone(TXT2IMG);
  oneByOne['2'].inputs.batch_size = 1;
  fs.writeFileSync(path.join(dir, 'one-by-one.json'), JSON.stringify(oneByOne));
  const missing = structuredClone(TXT2IMG);
  missing['1'].inputs.ckpt_name = 'missing.safetensors';
  fs.writeFileSync(path.join(dir, 'missing.json'), JSON.stringify(missing));
  t = await gateway({
    providers: {
      comfy: { type: 'comfyui', baseUrl: comfy.baseUrl, workflow: path.join(EXAMPLES, 'inpaint.json'), generationWorkflow: path.join(EXAMPLES, 'txt2img.json') },
      'comfy-gen': { type: 'comfyui', baseUrl: comfy.baseUrl, generationWorkflow: path.join(dir, 'one-by-one.json') },
      'comfy-edit': { type: 'comfyui', baseUrl: comfy.baseUrl, workflow: path.join(EXAMPLES, 'img2img.json') },
      'comfy-missing': { type: 'comfyui', baseUrl: comfy.baseUrl, generationWorkflow: path.join(dir, 'missing.json') },
    },
    models: {
      sdxl: { deployments: [{ provider: 'comfy', model: 'sdxl' }] },
      'sdxl-gen': { deployments: [{ provider: 'comfy-gen', model: 'sdxl' }] },
      'sdxl-edit': { deployments: [{ provider: 'comfy-edit', model: 'sdxl' }] },
      'sdxl-missing': { deployments: [{ provider: 'comfy-missing', model: 'sdxl' }] },
    },
  });
});

after(async () => {
  await t.close();
  await comfy.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

type Graph = Record<string, { class_type: string; inputs: Record<string, unknown> }>;
const queued = (): Graph[] => comfy.requests.filter((r) => r.path === '/prompt').map((r) => (r.json as { prompt: Graph }).prompt);
const b64 = (s: string | undefined) => Buffer.from(s!, 'base64');

async function centre(bytes: Buffer): Promise<number[]> {
  const { data, info } = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const i = (Math.floor(info.height / 2) * info.width + Math.floor(info.width / 2)) * 3;
  return [...data.subarray(i, i + 3)];
}

const post = (body: Record<string, unknown>) => postJsonError(t, 'generations', body);

describe('comfyui generations', () => {
  test('the text-to-image workflow, filled: nothing uploaded; n=2 one batch; each picture the one its seed paints, at the size asked', async () => {
    comfy.reset();
    const raw = await client(t).images.generate({ model: 'sdxl', prompt: 'a red balloon', size: '1536x1024', n: 2 }).withResponse();
    assert.equal(raw.response.headers.get('x-imagegate-deployment'), 'comfy/sdxl');
    assert.equal(comfy.requests.filter((r) => r.path === '/upload/image').length, 0, 'nothing to upload');
    const graphs = queued();
    assert.equal(graphs.length, 1);
    const g = graphs[0];
    const seed = g['5'].inputs.seed as number;
    assert.equal(typeof seed, 'number');
    // the template with exactly its placeholders replaced
    const expected = structuredClone(TXT2IMG);
    Object.assign(expected['2'].inputs, { width: 1536, height: 1024, batch_size: 2 });
    expected['3'].inputs.text = 'a red balloon';
    expected['5'].inputs.seed = seed;
    assert.deepEqual(g, expected);
    const res = raw.data;
    assert.equal(res.data!.length, 2);
    const made = comfy.emitted.slice(-2);
    for (const [i, d] of res.data!.entries()) {
      const out = b64(d.b64_json);
      assert.ok(out.equals(made[i]), `image ${i}: SaveImage's file, byte for byte`);
      const m = await sharp(out).metadata();
      assert.deepEqual([m.format, m.width, m.height], ['png', 1536, 1024]);
      assert.deepEqual(await centre(out), seedColour(seed + i), `image ${i} is batch item ${i} of seed ${seed}`);
    }
    const e = await lastEntry(t);
    assert.equal(e.path, '/v1/images/generations');
    assert.equal(e.imageCount, 0);
  });

  test('n=6 with {{batch_size}}: two prompts of 4 and 2, distinct seeds; size auto is 1024x1024; each batch item once', async () => {
    comfy.reset();
    const res = await client(t).images.generate({ model: 'sdxl', prompt: 'x', n: 6 });
    const graphs = queued();
    assert.deepEqual(graphs.map((g) => g['2'].inputs.batch_size).sort(), [2, 4]);
    assert.equal(new Set(graphs.map((g) => g['5'].inputs.seed)).size, 2);
    for (const g of graphs) assert.deepEqual([g['2'].inputs.width, g['2'].inputs.height], [1024, 1024]);
    const got = res.data!.map((d) => b64(d.b64_json));
    assert.equal(got.length, 6);
    for (const g of got) assert.ok(comfy.emitted.some((e) => e.equals(g)), 'a SaveImage file, byte for byte');
    // the six pictures are the batches' items: seed, seed+1, … of each prompt
    const want = graphs.flatMap((g) => Array.from({ length: g['2'].inputs.batch_size as number }, (_, i) => seedColour((g['5'].inputs.seed as number) + i).join()));
    const colours = await Promise.all(got.map(async (g) => (await centre(g)).join()));
    assert.deepEqual(colours.sort(), want.sort());
  });

  test('a workflow without {{batch_size}}: one prompt per image, each with its own seed; a generation-only deployment refuses edits', async () => {
    comfy.reset();
    const res = await client(t).images.generate({ model: 'sdxl-gen', prompt: 'x', n: 3, size: '1024x1536' });
    const graphs = queued();
    assert.equal(graphs.length, 3);
    assert.equal(new Set(graphs.map((g) => g['5'].inputs.seed)).size, 3);
    for (const g of graphs) assert.deepEqual([g['2'].inputs.width, g['2'].inputs.height, g['2'].inputs.batch_size], [1024, 1536, 1]);
    for (const d of res.data!) {
      const m = await sharp(b64(d.b64_json)).metadata();
      assert.deepEqual([m.width, m.height], [1024, 1536]);
    }
    // each image is the picture of one of the three seeds
    const colours = await Promise.all(res.data!.map(async (d) => (await centre(b64(d.b64_json))).join()));
    assert.deepEqual(colours.sort(), graphs.map((g) => seedColour(g['5'].inputs.seed as number).join()).sort());

    comfy.reset();
    const fd = new FormData();
    fd.append('model', 'sdxl-gen');
    fd.append('prompt', 'x');
    fd.append('image', new Blob([await sharp({ create: { width: 64, height: 64, channels: 3, background: '#fff' } }).png().toBuffer()], { type: 'image/png' }), 'a.png');
    const edit = await fetch(`${t.url}/v1/images/edits`, { method: 'POST', headers: { authorization: `Bearer ${t.masterKey}` }, body: fd });
    const err = ((await edit.json()) as { error: { code: string; param: string } }).error;
    assert.deepEqual([edit.status, err.code, err.param], [400, 'unsupported_operation', 'model']);
    // and an edit-only one refuses generations
    const r = await post({ model: 'sdxl-edit', prompt: 'x' });
    assert.deepEqual([r.status, r.error.code, r.error.param], [400, 'unsupported_operation', 'model']);
    assert.equal(comfy.requests.length, 0);
  });

  test('ComfyUI refusing the workflow in validation (a checkpoint not installed): 400 upstream_rejected with its words, not retried', async () => {
    comfy.reset();
    const r = await post({ model: 'sdxl-missing', prompt: 'x' });
    assert.deepEqual([r.status, r.error.code, r.error.type], [400, 'upstream_rejected', 'invalid_request_error']);
    assert.equal(
      r.error.message,
      `Deployment comfy-missing/sdxl refused the request: HTTP 400: Prompt outputs failed validation: node 1 (CheckpointLoaderSimple): Value not in list: ckpt_name: 'missing.safetensors' not in ["sd-v1-5-inpainting.safetensors","sd_xl_base_1.0.safetensors"]`,
    );
    assert.equal(queued().length, 1);
  });

  test('the emulator refuses an unfilled placeholder as ComfyUI does (an INT that is not a number)', async () => {
    const res = await fetch(`${comfy.url}/prompt`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: TXT2IMG }) });
    assert.equal(res.status, 400);
    const body = (await res.json()) as { error: { type: string }; node_errors: Record<string, { errors: Array<{ type: string; details: string }> }> };
    assert.equal(body.error.type, 'prompt_outputs_failed_validation');
    assert.deepEqual(body.node_errors['2'].errors.map((e) => e.details.split(',')[0]), ['width', 'height', 'batch_size']);
    assert.ok(body.node_errors['2'].errors.every((e) => e.type === 'invalid_input_type'));
  });

  test('config: a generationWorkflow needs {{prompt}}, and must not hold {{image}} or {{mask}}', () => {
    const cfg = fs.mkdtempSync(path.join(os.tmpdir(), 'imagegate-comfy-cfg-'));
    try {
      const file = path.join(cfg, 'c.yaml');
      fs.writeFileSync(path.join(cfg, 'img.json'), JSON.stringify({ ...TXT2IMG, '9': { class_type: 'LoadImage', inputs: { image: '{{image}}' } } }));
      fs.writeFileSync(path.join(cfg, 'noprompt.json'), JSON.stringify({ '1': { class_type: 'CLIPTextEncode', inputs: { text: 'fixed' } } }));
      fs.writeFileSync(file, 'providers:\n  comfy:\n    type: comfyui\n    generationWorkflow: img.json\n');
      assert.throws(() => loadConfig({ IMAGEGATE_CONFIG: file }, cfg), (e: Error) => /providers\.comfy\.generationWorkflow: the generation workflow .*img\.json holds \{\{image\}\}: a generation has no input image/.test(e.message));
      fs.writeFileSync(file, 'providers:\n  comfy:\n    type: comfyui\n    generationWorkflow: noprompt.json\n');
      assert.throws(() => loadConfig({ IMAGEGATE_CONFIG: file }, cfg), (e: Error) => /providers\.comfy\.generationWorkflow: the workflow .*noprompt\.json has no \{\{prompt\}\} placeholder/.test(e.message));
      fs.writeFileSync(file, 'providers:\n  comfy:\n    type: comfyui\n');
      assert.throws(() => loadConfig({ IMAGEGATE_CONFIG: file }, cfg), (e: Error) => /providers\.comfy\.workflow: is required for type 'comfyui' \(or generationWorkflow\)/.test(e.message));
      fs.writeFileSync(file, `providers:\n  a:\n    type: a1111\n    generationWorkflow: ${path.join(EXAMPLES, 'txt2img.json')}\n`);
      assert.throws(() => loadConfig({ IMAGEGATE_CONFIG: file }, cfg), (e: Error) => /providers\.a\.generationWorkflow: is a key of type 'comfyui' only/.test(e.message));
    } finally {
      fs.rmSync(cfg, { recursive: true, force: true });
    }
  });
});
