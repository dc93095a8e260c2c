/**
 * The `stability` adapter through the whole gateway, with the official openai
 * client, against the Stability emulator: what arrives upstream (the endpoint,
 * the parts and their bytes, the mask's polarity on decoded pixels, the key)
 * and what the client gets back (the provider's bytes, or exactly what the
 * gateway converted them to), and what is refused before anything is sent.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { toFile } from 'openai';
import sharp from 'sharp';
import { systemClock } from '../../src/clock.js';
import { createProviderHttp } from '../../src/providers/http.js';
import { createStabilityProvider } from '../../src/providers/stability/index.js';
import { parseEditResponse } from '../../src/providers/stability/translate.js';
import type { ProviderIO } from '../../src/providers/types.js';
import { makePng } from '../helpers/images.js';
import { startStabilityEmulator, type StabilityEmulator } from '../emulators/stability.js';
import { attemptsOf, channel, client, gateway, lastEntry, pictures, type Pictures, type TestApp } from './helpers.js';

const KEY = 'sk-stability-test-0123456789abcdefSECRET';

let pics: Pictures;
let stab: StabilityEmulator;
let t: TestApp;
/** 2100x2100: over remove-background's 4,194,304 pixels */
let big: string;
/** 48x48: under Stability's 64-pixel side */
let tiny: string;

before(async () => {
  pics = await pictures();
  big = path.join(pics.dir, 'big.png');
  fs.writeFileSync(big, await makePng(2100, 2100));
  tiny = path.join(pics.dir, 'tiny.png');
  fs.writeFileSync(tiny, await makePng(48, 48));
  stab = await startStabilityEmulator({ apiKey: KEY });
  const provider = { type: 'stability', baseUrl: stab.baseUrl, apiKey: 'env:TEST_STABILITY_KEY', maxRetries: 1 };
  t = await gateway(
    {
      providers: {
        stab: provider,
        'stab-styled': { ...provider, params: { negative_prompt: 'blurry', style_preset: 'photographic', grow_mask: 0 } },
        'stab-lenient': { ...provider, dropUnsupported: ['size'] },
        'stab-badparams': { ...provider, params: { strength: 0.5 } },
      },
      models: {
        'sd-inpaint': { deployments: [{ provider: 'stab', model: 'inpaint' }] },
        'sd-erase': { deployments: [{ provider: 'stab', model: 'erase' }] },
        'sd-replace': { deployments: [{ provider: 'stab', model: 'search-and-replace' }] },
        'sd-cutout': { deployments: [{ provider: 'stab', model: 'remove-background' }] },
        'sd-auto': { deployments: [{ provider: 'stab', model: 'auto' }] },
        'sd-styled': { deployments: [{ provider: 'stab-styled', model: 'inpaint' }] },
        'sd-lenient': { deployments: [{ provider: 'stab-lenient', model: 'inpaint' }] },
        'sd-typo': { deployments: [{ provider: 'stab', model: 'outpaint' }] },
        'sd-badparams': { deployments: [{ provider: 'stab-badparams', model: 'inpaint' }] },
      },
    },
    { env: { TEST_STABILITY_KEY: KEY } },
  );
});

after(async () => {
  // closed whatever the check says, so a failure cannot leave the process hanging on open servers
  const left = await t.spoolFiles();
  await t.close();
  await stab.close();
  pics.cleanup();
  assert.deepEqual(left, [], 'no temporary file may be left behind');
});

const png = (file: string, name = 'a.png') => toFile(fs.readFileSync(file), name, { type: 'image/png' });
const b64 = (s: string | undefined) => Buffer.from(s!, 'base64');

/** The mask the emulator decoded: white (255) inside the client's transparent hole, black outside. */
function assertWhiteMeansEdit(seen: StabilityEmulator['edits'][number]): void {
  const m = seen.maskLuma!;
  assert.deepEqual([m.width, m.height], [1024, 1024]);
  assert.equal(m.data[512 * 1024 + 512], 255, 'the hole (transparent in the client\'s mask) is white: edit');
  assert.equal(m.data[300 * 1024 + 300], 255, 'the hole\'s corner too');
  assert.equal(m.data[10 * 1024 + 10], 0, 'outside the hole is black: keep');
  assert.equal(m.data[1000 * 1024 + 1000], 0);
  assert.equal(m.data[255 * 1024 + 255], 0, 'just outside the hole');
}

describe('stability adapter', () => {
  test('inpaint: the image byte for byte, the mask white-means-edit, the prompt and a seed; the client gets the provider\'s bytes', async () => {
    stab.reset();
    const { data: res, response } = await client(t)
      .images.edit({ model: 'sd-inpaint', image: await png(pics.square), mask: await png(pics.mask, 'mask.png'), prompt: 'a red hat', user: 'user-7' })
      .withResponse();
    assert.equal(stab.requests.length, 1);
    const req = stab.requests[0];
    assert.equal(req.path, '/v2beta/stable-image/edit/inpaint');
    assert.equal(req.headers.authorization, `Bearer ${KEY}`);
    assert.equal(req.headers.accept, 'image/*');
    assert.equal(req.headers['stability-client-user-id'], 'user-7');
    const seen = stab.edits[0];
    assert.deepEqual(req.files!.map((f) => [f.name, f.contentType]), [['image', 'image/png'], ['mask', 'image/png']]);
    assert.ok(seen.image.bytes.equals(fs.readFileSync(pics.square)), 'the image arrives byte for byte');
    assertWhiteMeansEdit(seen);
    const fields = Object.fromEntries(seen.fields);
    assert.match(fields.seed, /^\d+$/);
    assert.deepEqual({ ...fields, seed: 'n' }, { prompt: 'a red hat', seed: 'n', output_format: 'png' });
    assert.ok(b64(res.data![0].b64_json).equals(stab.emitted[0]), 'the provider\'s bytes, unchanged');
    assert.equal(response.headers.get('x-imagegate-deployment'), 'stab/inpaint');
    assert.equal(res.size, '1024x1024');
    assert.equal(res.output_format, 'png');
    // Stability reports no usage: the gateway counts it
    assert.ok(res.usage && res.usage.input_tokens > 0);
    const e = await lastEntry(t);
    assert.equal(e.deployment, 'stab/inpaint');
    assert.deepEqual(attemptsOf(e), [['stab/inpaint', 200]]);
    assert.equal(e.inputTokens, res.usage!.input_tokens);
  });

  test('output_format jpeg is asked of the provider and passed through; webp with compression is asked as png and converted', async () => {
    stab.reset();
    const jpeg = await client(t).images.edit({ model: 'sd-inpaint', image: await png(pics.land), prompt: 'x', output_format: 'jpeg' });
    assert.equal(stab.edits[0].fields.get('output_format'), 'jpeg');
    assert.ok(b64(jpeg.data![0].b64_json).equals(stab.emitted[0]));
    assert.equal(jpeg.size, '1536x1024');

    const webp = await client(t).images.edit({ model: 'sd-inpaint', image: await png(pics.square), prompt: 'x', output_format: 'webp', output_compression: 50 });
    assert.equal(stab.edits[1].fields.get('output_format'), 'png', 'Stability has no compression setting: the gateway compresses');
    const meta = await sharp(b64(webp.data![0].b64_json)).metadata();
    assert.equal(meta.format, 'webp');
    assert.deepEqual([meta.width, meta.height], [1024, 1024]);
  });

  test('n=3: three calls with distinct seeds, the three images the provider made', async () => {
    stab.reset();
    const res = await client(t).images.edit({ model: 'sd-inpaint', image: await png(pics.square), prompt: 'x', n: 3 });
    assert.equal(stab.edits.length, 3);
    assert.equal(new Set(stab.edits.map((s) => s.fields.get('seed'))).size, 3, 'each call its own seed');
    assert.equal(res.data!.length, 3);
    const got = res.data!.map((d) => b64(d.b64_json).toString('base64')).sort();
    assert.deepEqual(got, stab.emitted.map((b) => b.toString('base64')).sort());
    assert.deepEqual(attemptsOf(await lastEntry(t)), [['stab/inpaint', 200], ['stab/inpaint', 200], ['stab/inpaint', 200]]);
  });

  test('erase: the mask white-means-edit, no prompt sent, and the answer says so', async () => {
    stab.reset();
    const { data: res, response } = await client(t)
      .images.edit({ model: 'sd-erase', image: await png(pics.square), mask: await png(pics.mask, 'mask.png'), prompt: 'remove the disc' })
      .withResponse();
    const seen = stab.edits[0];
    assert.equal(seen.endpoint, 'erase');
    assert.deepEqual([...seen.fields.keys()], ['seed', 'output_format']);
    assertWhiteMeansEdit(seen);
    assert.ok(b64(res.data![0].b64_json).equals(stab.emitted[0]));
    assert.equal(response.headers.get('x-imagegate-warning'), 'Stability erase takes no prompt: the masked area was erased and the prompt not sent');
  });

  test('search-and-replace: "replace X with Y" becomes search_prompt and prompt; any other prompt is a 400 naming it, nothing sent', async () => {
    stab.reset();
    const res = await client(t).images.edit({ model: 'sd-replace', image: await png(pics.land), prompt: 'Replace the red disc with a green apple.' });
    const seen = stab.edits[0];
    assert.equal(seen.endpoint, 'search-and-replace');
    assert.equal(seen.fields.get('search_prompt'), 'the red disc');
    assert.equal(seen.fields.get('prompt'), 'a green apple');
    assert.ok(b64(res.data![0].b64_json).equals(stab.emitted[0]));

    stab.reset();
    await assert.rejects(client(t).images.edit({ model: 'sd-replace', image: await png(pics.land), prompt: 'make the disc green' }), (e: { status: number; code: string; param: string; error: { message: string } }) => {
      assert.equal(e.status, 400);
      assert.equal(e.code, 'invalid_value');
      assert.equal(e.param, 'prompt');
      assert.match(e.error.message, /^Model 'sd-replace' \(deployment stab\/search-and-replace\) is Stability's search-and-replace, which must be told what to replace: write the prompt as 'replace <what to find> with <what to put there>'/);
      return true;
    });
    assert.equal(stab.requests.length, 0, 'nothing went upstream');
  });

  test('remove-background: png or webp asked, a transparent answer reported as such; jpeg is asked as png and converted', async () => {
    stab.reset();
    const { data: res, response } = await client(t).images.edit({ model: 'sd-cutout', image: await png(pics.square), prompt: 'cut it out', output_format: 'webp' }).withResponse();
    const seen = stab.edits[0];
    assert.equal(seen.endpoint, 'remove-background');
    assert.deepEqual(Object.fromEntries(seen.fields), { output_format: 'webp' });
    const out = b64(res.data![0].b64_json);
    assert.ok(out.equals(stab.emitted[0]));
    assert.equal((await sharp(out).metadata()).hasAlpha, true);
    assert.equal(res.background, 'transparent');
    assert.match(response.headers.get('x-imagegate-warning') ?? '', /remove-background takes no prompt/);

    const jpeg = await client(t).images.edit({ model: 'sd-cutout', image: await png(pics.square), prompt: 'x', output_format: 'jpeg' });
    assert.equal(stab.edits[1].fields.get('output_format'), 'png');
    assert.equal((await sharp(b64(jpeg.data![0].b64_json)).metadata()).format, 'jpeg');
  });

  test('auto: a mask → inpaint, background=transparent → remove-background, neither → 400 naming the mask, nothing sent', async () => {
    stab.reset();
    await client(t).images.edit({ model: 'sd-auto', image: await png(pics.square), mask: await png(pics.mask, 'mask.png'), prompt: 'a hat' });
    assert.equal(stab.edits[0].endpoint, 'inpaint');
    assertWhiteMeansEdit(stab.edits[0]);
    const { data: cut, response } = await client(t).images.edit({ model: 'sd-auto', image: await png(pics.square), prompt: 'x', background: 'transparent' }).withResponse();
    assert.equal(stab.edits[1].endpoint, 'remove-background');
    assert.equal(cut.background, 'transparent');
    assert.equal(response.headers.get('x-imagegate-deployment'), 'stab/auto');

    stab.reset();
    await assert.rejects(client(t).images.edit({ model: 'sd-auto', image: await png(pics.square), prompt: 'make it warmer' }), (e: { status: number; code: string; param: string; error: { message: string } }) => {
      assert.equal(e.status, 400);
      assert.equal(e.code, 'missing_required_parameter');
      assert.equal(e.param, 'mask');
      assert.equal(
        e.error.message,
        "Model 'sd-auto' (deployment stab/auto) chooses a Stability edit by what the request holds and needs a mask (inpaint, or erase with a blank prompt) or background 'transparent' (remove-background); this request has neither.",
      );
      return true;
    });
    assert.equal(stab.requests.length, 0, 'nothing went upstream');
  });

  test('auto with a mask and a blank prompt erases', async () => {
    stab.reset();
    await client(t).images.edit({ model: 'sd-auto', image: await png(pics.square), mask: await png(pics.mask, 'mask.png'), prompt: '  ' });
    assert.equal(stab.edits[0].endpoint, 'erase');
    assert.ok(!stab.edits[0].fields.has('prompt'));
    assertWhiteMeansEdit(stab.edits[0]);
  });

  test('a misconfigured deployment (an endpoint the gateway does not speak, params Stability does not take) is unavailable, nothing sent', async () => {
    stab.reset();
    const c = client(t);
    await assert.rejects(c.images.edit({ model: 'sd-typo', image: await png(pics.square), prompt: 'x' }), (e: { status: number; code: string; error: { message: string } }) => {
      assert.equal(e.status, 503);
      assert.equal(e.code, 'upstream_unavailable');
      assert.match(
        e.error.message,
        /stab\/outpaint: 'outpaint' is not a Stability endpoint the gateway speaks \(edits: inpaint, erase, search-and-replace, remove-background, auto; generations: core, ultra, sd3, sd3\.5-large, sd3\.5-large-turbo, sd3\.5-medium, sd3\.5-flash\)/,
      );
      return true;
    });
    await assert.rejects(c.images.edit({ model: 'sd-badparams', image: await png(pics.square), prompt: 'x' }), (e: { status: number; error: { message: string } }) => {
      assert.equal(e.status, 503);
      assert.match(e.error.message, /params\.strength is not a Stability edit field the gateway sets/);
      return true;
    });
    assert.equal(stab.requests.length, 0);
  });

  test('what no endpoint honours is a 400 naming the parameter and the model before anything is sent; dropUnsupported drops size', async () => {
    stab.reset();
    const c = client(t);
    const refused: Array<[Record<string, unknown>, string, string]> = [
      [{ size: '1024x1024' }, 'size', "Unsupported parameter: 'size' ('1024x1024') is not supported by model 'sd-inpaint' (deployment stab/inpaint)."],
      [{ quality: 'high' }, 'quality', "Unsupported parameter: 'quality' ('high') is not supported by model 'sd-inpaint' (deployment stab/inpaint)."],
      [{ background: 'transparent', output_format: 'png' }, 'background', "Unsupported parameter: 'background' ('transparent') is not supported by model 'sd-inpaint' (deployment stab/inpaint)."],
      [{ input_fidelity: 'high' }, 'input_fidelity', "Unsupported parameter: 'input_fidelity' ('high') is not supported by model 'sd-inpaint' (deployment stab/inpaint)."],
    ];
    for (const [extra, param, message] of refused) {
      await assert.rejects(c.images.edit({ model: 'sd-inpaint', image: await png(pics.square), prompt: 'x', ...extra }), (e: { status: number; code: string; param: string; error: { message: string } }) => {
        assert.equal(e.status, 400);
        assert.equal(e.code, 'unsupported_parameter');
        assert.equal(e.param, param);
        assert.equal(e.error.message, message);
        return true;
      });
    }
    await assert.rejects(c.images.edit({ model: 'sd-inpaint', image: [await png(pics.square), await png(pics.square, 'b.png')], prompt: 'x' }), (e: { status: number; code: string; param: string }) => {
      assert.equal(e.status, 400);
      assert.equal(e.code, 'array_above_max_length');
      assert.equal(e.param, 'image[1]');
      return true;
    });
    await assert.rejects(c.images.edit({ model: 'sd-replace', image: await png(pics.square), mask: await png(pics.mask, 'mask.png'), prompt: 'replace a with b' }), { status: 400, param: 'mask' });
    assert.equal(stab.requests.length, 0, 'nothing went upstream');

    const raw = await c.images.edit({ model: 'sd-lenient', image: await png(pics.square), prompt: 'x', size: '1536x1024' }).asResponse();
    assert.equal(raw.status, 200);
    assert.equal(raw.headers.get('x-imagegate-warning'), "stab-lenient/inpaint does not support 'size'; dropped");
    assert.ok(!stab.edits[0].fields.has('size'));
  });

  test('operator params reach the endpoint as Stability\'s own fields', async () => {
    stab.reset();
    await client(t).images.edit({ model: 'sd-styled', image: await png(pics.square), mask: await png(pics.mask, 'mask.png'), prompt: 'a hat' });
    const f = Object.fromEntries(stab.edits[0].fields);
    assert.equal(f.negative_prompt, 'blurry');
    assert.equal(f.style_preset, 'photographic');
    assert.equal(f.grow_mask, '0');
  });

  test('the provider\'s own limits: its 400 with its reason, not retried', async () => {
    stab.reset();
    await assert.rejects(client(t).images.edit({ model: 'sd-cutout', image: await png(big), prompt: 'x' }), (e: { status: number; code: string; error: { message: string } }) => {
      assert.equal(e.status, 400);
      assert.equal(e.code, 'upstream_rejected');
      assert.equal(e.error.message, 'Deployment stab/remove-background refused the request: HTTP 400: bad_request: image: total pixel count must be between 4,096 and 4,194,304 pixels, got 4,410,000');
      return true;
    });
    assert.equal(stab.requests.length, 1, 'a refusal is not retried');
    await assert.rejects(client(t).images.edit({ model: 'sd-inpaint', image: await png(tiny), prompt: 'x' }), (e: { status: number; message: string }) => {
      assert.equal(e.status, 400);
      assert.match(e.message, /image: every side must be at least 64 pixels, got 48x48$/);
      return true;
    });
    assert.deepEqual(attemptsOf(await lastEntry(t)), [['stab/inpaint', 400]]);
  });

  test('the emulator answers JSON when asked, and the adapter reads that answer too', async () => {
    stab.reset();
    const fd = new FormData();
    fd.append('image', new Blob([fs.readFileSync(pics.square)], { type: 'image/png' }), 'a.png');
    fd.append('prompt', 'a hat');
    const res = await fetch(`${stab.baseUrl}/v2beta/stable-image/edit/inpaint`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, accept: 'application/json' }, body: fd });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/json; type=image/png');
    assert.equal(res.headers.get('finish-reason'), null);
    const body = Buffer.from(await res.arrayBuffer());
    const json = JSON.parse(body.toString()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(json).sort(), ['finish_reason', 'image', 'seed']);
    assert.ok(parseEditResponse(200, { 'content-type': res.headers.get('content-type')! }, body).equals(stab.emitted[0]));
  });

  test('ping: one authenticated GET of the account', async () => {
    stab.reset();
    const good = createStabilityProvider({ ...t.config.providers.stab });
    const bad = createStabilityProvider({ ...t.config.providers.stab, apiKey: 'sk-wrong' });
    const http = createProviderHttp(t.config.providers.stab);
    const ac = new AbortController();
    const io: ProviderIO = { http: http.forAttempt(ac.signal), signal: ac.signal, clock: systemClock, sleep: (ms) => new Promise((r) => setTimeout(r, ms)), read: async () => Buffer.alloc(0) };
    try {
      const ok = await good.ping!(io);
      assert.deepEqual([ok.reachable, ok.authOk], [true, true]);
      assert.equal(stab.requests[0].path, '/v1/user/account');
      assert.equal(stab.requests[0].headers.authorization, `Bearer ${KEY}`);
      const refused = await bad.ping!(io);
      assert.deepEqual([refused.reachable, refused.authOk], [true, false]);
    } finally {
      await http.close();
    }
  });
});
