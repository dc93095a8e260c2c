/**
 * POST /v1/images/generations on the `replicate` adapter, through the whole
 * gateway with the official client, against the Replicate emulator (which
 * checks every input against the model's schema): FLUX.1 [schnell]'s
 * text-to-image input (aspect ratio, num_outputs, output format and
 * quality, seed), Kontext and FLUX.2 without an image, what the client gets
 * back, and upstream refusals in OpenAI's envelope.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { conformImage } from '../../src/images/convert.js';
import { startReplicateEmulator, type ReplicateEmulator } from '../emulators/replicate.js';
import { client, gateway, lastEntry, postJsonError, type TestApp } from './helpers.js';

const KEY = 'r8_test_generations_0123456789SECRET';
const SCHNELL = 'black-forest-labs/flux-schnell';

let rep: ReplicateEmulator;
let t: TestApp;

before(async () => {
  rep = await startReplicateEmulator({ apiKey: KEY });
  t = await gateway(
    {
      providers: {
        rep: { type: 'replicate', baseUrl: rep.baseUrl, apiKey: 'env:TEST_REPLICATE_KEY' },
        'rep-badkey': { type: 'replicate', baseUrl: rep.baseUrl, apiKey: 'env:TEST_REPLICATE_WRONG', maxRetries: 0 },
      },
      models: {
        'flux-schnell': { deployments: [{ provider: 'rep', model: SCHNELL }] },
        'flux-dev': { deployments: [{ provider: 'rep', model: 'black-forest-labs/flux-dev' }] },
        'flux-kontext-pro': { deployments: [{ provider: 'rep', model: 'black-forest-labs/flux-kontext-pro' }] },
        'flux-2-pro': { deployments: [{ provider: 'rep', model: 'black-forest-labs/flux-2-pro' }] },
        'schnell-badkey': { deployments: [{ provider: 'rep-badkey', model: SCHNELL }] },
      },
    },
    { env: { TEST_REPLICATE_KEY: KEY, TEST_REPLICATE_WRONG: 'r8_wrong_key' } },
  );
});

after(async () => {
  await t.close();
  await rep.close();
});

const creates = () => rep.requests.filter((r) => r.method === 'POST' && /\/predictions$/.test(r.path));
const b64 = (s: string | undefined) => Buffer.from(s!, 'base64');

const post = (body: Record<string, unknown>) => postJsonError(t, 'generations', body);

describe('replicate generations', () => {
  test('FLUX.1 [schnell]: one prediction on the model\'s endpoint with its text-to-image input; n=2 as num_outputs; 3:2 resized to 1536x1024', async () => {
    rep.reset();
    const res = await client(t).images.generate({ model: 'flux-schnell', prompt: 'a red bicycle', size: '1536x1024', n: 2 });
    assert.equal(creates().length, 1);
    const seen = creates()[0];
    assert.equal(seen.path, `/v1/models/${SCHNELL}/predictions`);
    assert.equal(seen.headers.authorization, `Bearer ${KEY}`);
    const input = rep.creates[0].input;
    assert.equal(typeof input.seed, 'number');
    assert.deepEqual({ ...input, seed: 0 }, { prompt: 'a red bicycle', aspect_ratio: '3:2', num_outputs: 2, output_format: 'png', seed: 0 });
    // two images made at 3:2 (about a megapixel), each given once, resized exactly as the gateway does
    const made2 = rep.emitted.slice(-2);
    assert.equal(res.data!.length, 2);
    for (const [i, d] of res.data!.entries()) {
      const made = made2[i];
      const m = await sharp(made).metadata();
      assert.deepEqual([m.format, m.width, m.height], ['png', 1248, 832]);
      const expected = await conformImage(made, { format: 'png', compression: null, size: { width: 1536, height: 1024 }, opaque: false });
      assert.ok(b64(d.b64_json).equals(expected.image.bytes), `image ${i}: exactly the gateway's conversion of output ${i}`);
      const out = await sharp(b64(d.b64_json)).metadata();
      assert.deepEqual([out.format, out.width, out.height], ['png', 1536, 1024]);
    }
    assert.equal(res.size, '1536x1024');
    const e = await lastEntry(t);
    assert.equal(e.path, '/v1/images/generations');
    assert.equal(e.imageCount, 0);
  });

  test('n=6: two predictions (4 + 2 outputs) with distinct seeds; six distinct images', async () => {
    rep.reset();
    const res = await client(t).images.generate({ model: 'flux-schnell', prompt: 'x', n: 6 });
    assert.deepEqual(rep.creates.map((c) => c.input.num_outputs).sort(), [2, 4]);
    assert.equal(new Set(rep.creates.map((c) => c.input.seed)).size, 2);
    for (const c of rep.creates) assert.equal(c.input.aspect_ratio, '1:1', 'auto is a square');
    const got = res.data!.map((d) => b64(d.b64_json));
    assert.equal(got.length, 6);
    for (const g of got) assert.equal(rep.emitted.filter((e) => e.equals(g)).length, 1, 'each output passed through unchanged, once');
    const m = await sharp(got[0]).metadata();
    assert.deepEqual([m.width, m.height], [1024, 1024]);
  });

  test('jpeg with output_compression: asked as jpg with output_quality, resized to the size asked', async () => {
    rep.reset();
    const res = await client(t).images.generate({ model: 'flux-dev', prompt: 'x', size: '1024x1536', output_format: 'jpeg', output_compression: 55 });
    const input = rep.creates[0].input;
    assert.deepEqual({ ...input, seed: 0 }, { prompt: 'x', aspect_ratio: '2:3', num_outputs: 1, output_format: 'jpg', output_quality: 55, seed: 0 });
    assert.equal(creates()[0].path, '/v1/models/black-forest-labs/flux-dev/predictions');
    const out = b64(res.data![0].b64_json);
    const m = await sharp(out).metadata();
    assert.deepEqual([m.format, m.width, m.height], ['jpeg', 1024, 1536]);
    // webp without a compression: OpenAI's default of 100, not Replicate's 80
    await client(t).images.generate({ model: 'flux-schnell', prompt: 'x', output_format: 'webp' });
    assert.equal(rep.creates[1].input.output_format, 'webp');
    assert.equal(rep.creates[1].input.output_quality, 100);
  });

  test('Kontext without an image: no input_image, 1:1 for auto; one prediction per image with distinct seeds', async () => {
    rep.reset();
    const res = await client(t).images.generate({ model: 'flux-kontext-pro', prompt: 'a lighthouse', n: 2 });
    assert.equal(rep.creates.length, 2);
    for (const c of rep.creates) {
      assert.deepEqual({ ...c.input, seed: 0 }, { prompt: 'a lighthouse', aspect_ratio: '1:1', output_format: 'png', seed: 0, safety_tolerance: 2 });
    }
    assert.equal(new Set(rep.creates.map((c) => c.input.seed)).size, 2);
    assert.equal(res.data!.length, 2);
    for (const d of res.data!) assert.equal(rep.emitted.filter((e) => e.equals(b64(d.b64_json))).length, 1);
    await client(t).images.generate({ model: 'flux-kontext-pro', prompt: 'x', size: '1024x1536' });
    assert.equal(rep.creates[2].input.aspect_ratio, '2:3');
  });

  test('FLUX.2 without an image: an exact size through custom', async () => {
    rep.reset();
    const res = await client(t).images.generate({ model: 'flux-2-pro', prompt: 'x', size: '1536x1024' });
    assert.deepEqual({ ...rep.creates[0].input, seed: 0 }, { prompt: 'x', aspect_ratio: 'custom', width: 1536, height: 1024, output_format: 'png', seed: 0, safety_tolerance: 2 });
    const out = b64(res.data![0].b64_json);
    assert.ok(out.equals(rep.emitted.at(-1)!), 'made at the exact size: passed through');
    const m = await sharp(out).metadata();
    assert.deepEqual([m.width, m.height], [1536, 1024]);
  });

  test('FLUX.1 is text to image only: an edit is refused before anything is sent', async () => {
    rep.reset();
    const fd = new FormData();
    fd.append('model', 'flux-schnell');
    fd.append('prompt', 'x');
    fd.append('image', new Blob([await sharp({ create: { width: 64, height: 64, channels: 3, background: '#fff' } }).png().toBuffer()], { type: 'image/png' }), 'a.png');
    const res = await fetch(`${t.url}/v1/images/edits`, { method: 'POST', headers: { authorization: `Bearer ${t.masterKey}` }, body: fd });
    const err = ((await res.json()) as { error: { code: string; param: string } }).error;
    assert.deepEqual([res.status, err.code, err.param], [400, 'unsupported_operation', 'model']);
    assert.equal(rep.requests.length, 0);
  });

  test('upstream errors in OpenAI\'s envelope: a moderation failure is 400 moderation_blocked; a wrong key is 503', async () => {
    rep.reset();
    rep.script.push({ kind: 'failed', error: 'NSFW content detected. Try running it again, or try a different prompt.' });
    const r = await post({ model: 'flux-schnell', prompt: 'x' });
    assert.equal(r.status, 400);
    assert.equal(r.error.code, 'moderation_blocked');
    assert.equal(r.error.type, 'image_generation_user_error');
    assert.equal(r.error.message, `Your request was rejected by the safety system of deployment rep/${SCHNELL}: NSFW content detected. Try running it again, or try a different prompt.`);
    assert.equal(creates().length, 1, 'not retried');

    rep.reset();
    const bad = await post({ model: 'schnell-badkey', prompt: 'x' });
    assert.equal(bad.status, 503);
    assert.equal(bad.error.code, 'upstream_unavailable');
    assert.equal(
      bad.error.message,
      `The deployment of model 'schnell-badkey' could not serve the request now: rep-badkey/${SCHNELL}: HTTP 401: Unauthenticated: You did not pass a valid authentication token.`,
    );
    assert.ok(!bad.error.message.includes('r8_wrong_key'));
  });

  test('the emulator refuses what Replicate refuses for FLUX.1: a missing prompt, an unknown field, a wrong type, an out-of-range num_outputs', async () => {
    const send = async (input: Record<string, unknown>) => {
      const r = await fetch(`${rep.baseUrl}/models/${SCHNELL}/predictions`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: JSON.stringify({ input }) });
      const body = (await r.json()) as { invalid_fields?: Array<{ field: string; description: string }> };
      return [r.status, (body.invalid_fields ?? []).map((f) => `${f.field}: ${f.description}`)];
    };
    assert.deepEqual(await send({ aspect_ratio: '1:1' }), [422, ['input: prompt is required']]);
    assert.deepEqual(await send({ prompt: 'x', input_image: 'data:image/png;base64,AAAA' }), [422, ['input: Additional property input_image is not allowed']]);
    assert.deepEqual(await send({ prompt: 'x', num_outputs: '2' }), [422, ['input.num_outputs: Invalid type. Expected: integer, given: string']]);
    assert.deepEqual(await send({ prompt: 'x', num_outputs: 5 }), [422, ['input.num_outputs: Must be less than or equal to 4']]);
    assert.deepEqual(await send({ prompt: 'x', output_format: 'jpeg' }), [422, ['input.output_format: output_format must be one of the following: "webp", "jpg", "png"']]);
    const r = await fetch(`${rep.baseUrl}/models/${SCHNELL}/predictions`, { method: 'POST', headers: { authorization: 'Bearer nope', 'content-type': 'application/json' }, body: JSON.stringify({ input: { prompt: 'x' } }) });
    assert.equal(r.status, 401);
  });
});
