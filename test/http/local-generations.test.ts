/**
 * Generations and variations on the built-in engine, as an SDK user meets
 * them on a machine with no keys: what it draws (pixel facts: a red canvas is
 * red, stripes alternate, the gradient runs from one colour to the other, the
 * caption is there), n variants, transparency and formats, hosted URLs,
 * streaming events, billing, and what it says when it cannot draw a prompt
 * (a warning by default, a 400 with IMAGEGATE_LOCAL_UNKNOWN=reject).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI, { APIError, toFile } from 'openai';
import sharp from 'sharp';
import { decode, makeJpeg, makePng } from '../helpers/images.js';
import { startTestApp, type TestApp } from '../helpers/server.js';

let warn: TestApp;
let reject: TestApp;

before(async () => {
  [warn, reject] = await Promise.all([
    startTestApp({
      config: {
        // the built-in engine is free unless a model routed to it is priced
        models: { 'gpt-image-1': { deployments: [{ provider: 'local' }] } },
        prices: {
          'gpt-image-1': { tokens: { textInput: '5.00', imageInput: '10.00', imageOutput: '40.00' } },
          'dall-e-2': { perImage: { '256x256': '0.016', '512x512': '0.018', '1024x1024': '0.020' } },
        },
      },
    }),
    startTestApp({ env: { IMAGEGATE_LOCAL_UNKNOWN: 'reject' } }),
  ]);
});

after(async () => {
  await Promise.all([warn.close(), reject.close()]);
});

const client = (t: TestApp, apiKey = t.masterKey) => new OpenAI({ apiKey, baseURL: `${t.url}/v1`, maxRetries: 0 });

type Pixels = Awaited<ReturnType<typeof decode>>;
const px = (img: Pixels, x: number, y: number): number[] => {
  const p = (y * img.width + x) * img.channels;
  return [...img.data.subarray(p, p + img.channels)];
};
const b64 = (s: string | undefined): Buffer => Buffer.from(s!, 'base64');

/** The mean absolute difference per channel (RGB) of two same-size decoded pictures. */
function meanDiff(a: Pixels, b: Pixels): number {
  let sum = 0;
  for (let i = 0; i < a.width * a.height; i++) {
    for (let c = 0; c < 3; c++) sum += Math.abs(a.data[i * a.channels + c]! - b.data[i * b.channels + c]!);
  }
  return sum / (a.width * a.height * 3);
}

describe('generations on the built-in engine: what it draws', () => {
  test("'a red square canvas': 1024x1024 (size auto), every pixel red, the GPT image answer's fields", async () => {
    const { data, response } = await client(warn).images.generate({ model: 'gpt-image-1', prompt: 'a red square canvas' }).withResponse();
    assert.equal(response.headers.get('x-imagegate-deployment'), 'local');
    assert.equal(response.headers.get('x-imagegate-warning'), null);
    assert.equal(data.size, '1024x1024');
    assert.equal(data.output_format, 'png');
    assert.equal(data.background, 'opaque');
    assert.equal(data.quality, 'high');
    const img = await decode(b64(data.data![0]!.b64_json));
    assert.deepEqual([img.format, img.width, img.height], ['png', 1024, 1024]);
    for (const [x, y] of [[0, 0], [1023, 0], [512, 512], [0, 1023], [1023, 1023]] as const) assert.deepEqual(px(img, x, y).slice(0, 3), [255, 0, 0], `${x},${y}`);
    const stats = await sharp(b64(data.data![0]!.b64_json)).stats();
    assert.deepEqual(stats.channels.slice(0, 3).map((c) => [c.min, c.max]), [[255, 255], [0, 0], [0, 0]], 'nothing but red');
  });

  test("'a gradient from navy to orange': navy at the top, orange at the bottom, each row one step further", async () => {
    const res = await client(warn).images.generate({ model: 'gpt-image-1', prompt: 'a gradient from navy to orange', size: '1024x1536' });
    const img = await decode(b64(res.data![0]!.b64_json));
    assert.deepEqual([img.width, img.height], [1024, 1536]);
    const near = (a: number[], b: number[]) => a.every((v, i) => Math.abs(v - b[i]!) <= 1);
    // navy is #000080, orange #ffa500
    assert.ok(near(px(img, 500, 0).slice(0, 3), [0, 0, 128]), `top: ${px(img, 500, 0)}`);
    assert.ok(near(px(img, 500, 1535).slice(0, 3), [255, 165, 0]), `bottom: ${px(img, 500, 1535)}`);
    assert.ok(near(px(img, 500, 767).slice(0, 3), [128, 83, 64]), `halfway: ${px(img, 500, 767)}`);
    // red rises and blue falls down the picture; a row is one colour across
    let lastRed = -1;
    for (let y = 0; y < 1536; y += 64) {
      const [r, , b] = px(img, 100, y);
      assert.ok(r! >= lastRed, `red at row ${y}`);
      lastRed = r!;
      assert.ok(Math.abs(b! - px(img, 900, y)[2]!) <= 1, `row ${y} is even`);
    }
  });

  test("\"a poster that says 'Grand Opening' in big white letters on dark green\": dark green all round, white letters across the middle", async () => {
    const res = await client(warn).images.generate({ model: 'gpt-image-1', prompt: "a poster that says 'Grand Opening' in big white letters on dark green", size: '1536x1024' });
    const img = await decode(b64(res.data![0]!.b64_json));
    // CSS darkgreen is #006400
    for (const [x, y] of [[0, 0], [1535, 0], [0, 1023], [1535, 1023], [768, 40], [768, 990]] as const) assert.deepEqual(px(img, x, y).slice(0, 3), [0, 100, 0], `${x},${y}`);
    let top = Infinity, bottom = -1, left = Infinity, right = -1, white = 0;
    for (let y = 0; y < img.height; y++) {
      for (let x = 0; x < img.width; x++) {
        const [r, g, b] = px(img, x, y);
        if (r! > 240 && g! > 240 && b! > 240) {
          white++;
          top = Math.min(top, y); bottom = Math.max(bottom, y); left = Math.min(left, x); right = Math.max(right, x);
        }
      }
    }
    assert.ok(top > 200 && bottom < 824, `letters in the middle band: rows ${top}-${bottom}`);
    // one line across a landscape poster: capitals to descenders about a fifth of the height
    assert.ok(bottom - top > 0.17 * img.height, `big: ${bottom - top + 1} rows`);
    assert.ok(left < 500 && right > 1036, `across the middle: columns ${left}-${right}`);
    assert.ok(white > 30_000, `${white} white pixels`);
  });

  test("'blue and white stripes': vertical stripes 85 px wide, blue and white in turn, the same down the picture", async () => {
    const res = await client(warn).images.generate({ model: 'gpt-image-1', prompt: 'blue and white stripes', size: '1024x1024' });
    const img = await decode(b64(res.data![0]!.b64_json));
    // the period is 1024 / 6 = 171 px: blue over [171k, 171k + 85.5), white after
    for (let k = 0; k < 6; k++) {
      const x = 171 * k;
      assert.deepEqual(px(img, x + 40, 300).slice(0, 3), [0, 0, 255], `stripe ${k} is blue`);
      assert.deepEqual(px(img, x + 128, 300).slice(0, 3), [255, 255, 255], `gap ${k} is white`);
      assert.deepEqual(px(img, x + 40, 900), px(img, x + 40, 300), 'vertical');
    }
    // twelve runs across: count the colour changes along a row
    let changes = 0;
    for (let x = 1; x < 1024; x++) if ((px(img, x, 10)[0]! > 128) !== (px(img, x - 1, 10)[0]! > 128)) changes++;
    assert.equal(changes, 11);
  });

  test("'a checkerboard' is 8x8 black and white squares; 'white polka dots on red' are white dots on red", async () => {
    const [board, dots] = await Promise.all([
      client(warn).images.generate({ model: 'gpt-image-1', prompt: 'a checkerboard', size: '1024x1024' }),
      client(warn).images.generate({ model: 'gpt-image-1', prompt: 'white polka dots on red', size: '1024x1024' }),
    ]);
    const b = await decode(b64(board.data![0]!.b64_json));
    for (let i = 0; i < 8; i++) {
      for (let j = 0; j < 8; j++) {
        const want = (i + j) % 2 === 0 ? 255 : 0;
        assert.deepEqual(px(b, 128 * i + 64, 128 * j + 64).slice(0, 3), [want, want, want], `square ${i},${j}`);
      }
    }
    const d = await decode(b64(dots.data![0]!.b64_json));
    // dots 128 px apart, radius 38: the first row's centres at (64, 64), (192, 64), …; the next row shifted by 64
    assert.deepEqual(px(d, 64, 64).slice(0, 3), [255, 255, 255]);
    assert.deepEqual(px(d, 192, 64).slice(0, 3), [255, 255, 255]);
    assert.deepEqual(px(d, 128, 192).slice(0, 3), [255, 255, 255]);
    assert.deepEqual(px(d, 128, 64).slice(0, 3), [255, 0, 0], 'red between the dots');
    assert.deepEqual(px(d, 64, 128).slice(0, 3), [255, 0, 0]);
  });

  test('n = 3: variant 0 is the colour asked for, the others visibly different, the same bytes every time', async () => {
    const ask = () => client(warn).images.generate({ model: 'gpt-image-1', prompt: 'a gradient from navy to orange', n: 3, size: '1024x1024', quality: 'low' });
    const [a, again] = [await ask(), await ask()];
    assert.equal(a.data!.length, 3);
    const bytes = a.data!.map((d) => b64(d.b64_json));
    bytes.forEach((x, i) => assert.ok(x.equals(b64(again.data![i]!.b64_json)), `variant ${i} repeats`));
    const imgs = await Promise.all(bytes.map(decode));
    assert.deepEqual(px(imgs[0]!, 512, 0).slice(0, 3), [0, 0, 128]);
    for (const [i, j] of [[0, 1], [0, 2], [1, 2]] as const) {
      const d = meanDiff(imgs[i]!, imgs[j]!);
      assert.ok(d > 6, `variants ${i} and ${j} differ by ${d.toFixed(1)} levels`);
    }
  });

  test('background transparent, webp: only the caption is drawn; output_format jpeg with compression', async () => {
    const { data, response } = await client(warn)
      .images.generate({ model: 'gpt-image-1', prompt: "a poster that says 'Hello' on navy", background: 'transparent', output_format: 'webp', size: '1024x1024' })
      .withResponse();
    assert.equal(data.background, 'transparent');
    assert.equal(data.output_format, 'webp');
    assert.equal(response.headers.get('x-imagegate-warning'), 'background=transparent: the navy canvas was left out');
    const img = await decode(b64(data.data![0]!.b64_json));
    assert.equal(img.format, 'webp');
    assert.equal(img.channels, 4);
    assert.equal(px(img, 5, 5)[3], 0, 'clear corner');
    let solid = 0;
    for (let i = 0; i < img.width * img.height; i++) if (img.data[i * 4 + 3] === 255 && img.data[i * 4] === 255) solid++;
    assert.ok(solid > 5_000, `white letters: ${solid} px`);

    const jpeg = await client(warn).images.generate({ model: 'gpt-image-1', prompt: 'solid teal', output_format: 'jpeg', output_compression: 50, size: '1024x1024' });
    const j = await decode(b64(jpeg.data![0]!.b64_json));
    assert.equal(j.format, 'jpeg');
    const [r, g, b] = px(j, 512, 512);
    // teal is #008080
    assert.ok(r! < 8 && Math.abs(g! - 128) < 6 && Math.abs(b! - 128) < 6, `${[r, g, b]}`);
  });
});

describe('generations the engine cannot draw', () => {
  test("default 'warn': 'a cat astronaut' answers a white canvas and says what it cannot and what it can draw", async () => {
    const { data, response } = await client(warn).images.generate({ model: 'gpt-image-1', prompt: 'a cat astronaut', size: '1024x1024' }).withResponse();
    const warning = response.headers.get('x-imagegate-warning')!;
    assert.match(warning, /^the built-in engine cannot draw 'a cat astronaut'; it drew a plain white canvas\. It can draw: a plain canvas \('a red square canvas', 'solid navy'\), a gradient/);
    const stats = await sharp(b64(data.data![0]!.b64_json)).stats();
    assert.ok(stats.channels.slice(0, 3).every((c) => c.min === 255), 'all white');
    const log = await warn.app.stores.requestLog.get(response.headers.get('x-request-id')!);
    assert.match(JSON.stringify(log?.warnings), /cannot draw 'a cat astronaut'/);
    // part drawn, part not
    const part = await client(warn).images.generate({ model: 'gpt-image-1', prompt: 'a cat astronaut on a blue background', size: '1024x1024' }).withResponse();
    assert.match(part.response.headers.get('x-imagegate-warning')!, /^part of the prompt could not be drawn and was left out: 'a cat astronaut'\./);
    assert.deepEqual(px(await decode(b64(part.data.data![0]!.b64_json)), 10, 10).slice(0, 3), [0, 0, 255]);
  });

  test('text too long to read at the size asked: drawn as small as it fits, and the warning says how small', async () => {
    const words = 'W'.repeat(3000);
    const { response } = await client(warn).images.generate({ model: 'gpt-image-1', prompt: `a poster that says '${words}'`, size: '1024x1024' }).withResponse();
    assert.equal(response.status, 200);
    assert.match(response.headers.get('x-imagegate-warning')!, /the text 'W{40}\.\.\.' \(3000 characters\) does not fit legibly; it was drawn (\d px high|not at all)/);
    // a caption that fits says nothing
    const fits = await client(warn).images.generate({ model: 'gpt-image-1', prompt: "a poster that says 'Grand Opening'", size: '1024x1024' }).withResponse();
    assert.equal(fits.response.headers.get('x-imagegate-warning'), null);
  });

  test("'reject': a 400 unsupported_instruction naming prompt and listing what it can draw; what it can draw is answered", async () => {
    await assert.rejects(client(reject).images.generate({ model: 'gpt-image-1', prompt: 'a cat astronaut' }), (e: unknown) => {
      assert.ok(e instanceof APIError, String(e));
      assert.equal(e.status, 400);
      assert.equal(e.code, 'unsupported_instruction');
      assert.equal(e.param, 'prompt');
      assert.match(e.message, /^400 The built-in engine cannot draw this prompt: it did not understand 'a cat astronaut'\. It can draw: a plain canvas .*stripes, a checkerboard or polka dots/);
      return true;
    });
    await assert.rejects(
      (async () => {
        const stream = await client(reject).images.generate({ model: 'gpt-image-1', prompt: 'a cat astronaut', stream: true, partial_images: 1 });
        for await (const ev of stream) void ev;
      })(),
      (e: unknown) => e instanceof APIError && e.status === 400 && e.code === 'unsupported_instruction',
    );
    const ok = await client(reject).images.generate({ model: 'gpt-image-1', prompt: 'blue and white stripes', size: '1024x1024' });
    assert.equal(ok.data!.length, 1);
  });

  test('bad input: no prompt, a size the model does not have, an image', async () => {
    const post = async (body: unknown) => {
      const res = await fetch(`${warn.url}/v1/images/generations`, { method: 'POST', headers: { authorization: `Bearer ${warn.masterKey}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const err = ((await res.json()) as { error: { code: string; param: string; message: string } }).error;
      return [res.status, err.code, err.param];
    };
    assert.deepEqual(await post({ model: 'gpt-image-1' }), [400, 'missing_required_parameter', 'prompt']);
    assert.deepEqual(await post({ model: 'gpt-image-1', prompt: 'red', size: '800x600' }), [400, 'invalid_value', 'size']);
    assert.deepEqual(await post({ model: 'dall-e-2', prompt: 'red', size: '1536x1024' }), [400, 'invalid_value', 'size']);
    assert.deepEqual(await post({ model: 'gpt-image-1', prompt: 'red', images: [{ image_url: 'data:image/png;base64,iVBORw0KGgo=' }] }), [400, 'unknown_parameter', 'images']);
  });
});

describe('generations: DALL·E, streaming, billing', () => {
  test('dall-e-3 and dall-e-2: a hosted url by default, only created and data, the size asked', async () => {
    const three = await client(warn).images.generate({ model: 'dall-e-3', prompt: 'solid red' });
    assert.deepEqual(Object.keys(three).sort(), ['created', 'data']);
    const url = three.data![0]!.url!;
    assert.match(url, new RegExp(`^${warn.url}/v1/images/files/[A-Za-z0-9]+\\.png\\?expires=\\d+&sig=[A-Za-z0-9_-]+$`));
    const got = await fetch(url);
    assert.equal(got.headers.get('content-type'), 'image/png');
    const img = await decode(Buffer.from(await got.arrayBuffer()));
    assert.deepEqual([img.width, img.height], [1024, 1024]);
    assert.deepEqual(px(img, 300, 300).slice(0, 3), [255, 0, 0]);

    const two = await client(warn).images.generate({ model: 'dall-e-2', prompt: 'a checkerboard', size: '256x256', n: 2 });
    assert.equal(two.data!.length, 2);
    const small = await decode(Buffer.from(await (await fetch(two.data![1]!.url!)).arrayBuffer()));
    assert.deepEqual([small.width, small.height], [256, 256]);
  });

  test('stream: true with partial_images 2: image_generation.partial_image ×2, then image_generation.completed with usage', async () => {
    const stream = await client(warn).images.generate({ model: 'gpt-image-1', prompt: 'blue and white stripes', stream: true, partial_images: 2, size: '1024x1024' });
    const events: Array<Record<string, unknown>> = [];
    for await (const ev of stream) events.push(ev as unknown as Record<string, unknown>);
    assert.deepEqual(
      events.map((e) => [e.type, e.partial_image_index]),
      [
        ['image_generation.partial_image', 0],
        ['image_generation.partial_image', 1],
        ['image_generation.completed', undefined],
      ],
    );
    for (const e of events) {
      const img = await decode(b64(e.b64_json as string));
      assert.deepEqual([img.width, img.height, e.size, e.output_format], [1024, 1024, '1024x1024', 'png']);
    }
    // the final picture is the stripes; the first partial is a coarse preview of them
    const final = await decode(b64(events[2]!.b64_json as string));
    assert.deepEqual(px(final, 40, 500).slice(0, 3), [0, 0, 255]);
    assert.ok(!b64(events[0]!.b64_json as string).equals(b64(events[2]!.b64_json as string)));
    // text "blue"|" and"|" white"|" stripes" = 4; no input image; 4160 (high, square) + 2 partials × 100
    assert.deepEqual(events[2]!.usage, { input_tokens: 4, input_tokens_details: { text_tokens: 4, image_tokens: 0 }, output_tokens: 4360, total_tokens: 4364 });
  });

  test('a key with credit is charged for a generation: $0.166420 for 1024² high, 4 text tokens', async () => {
    const made = await fetch(`${warn.url}/admin/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${warn.masterKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'generations', creditUsd: '1.00' }),
    });
    assert.equal(made.status, 201);
    const k = (await made.json()) as { id: string; key: string };
    const raw = await client(warn, k.key).images.generate({ model: 'gpt-image-1', prompt: 'a red square canvas', size: '1024x1024', quality: 'high' }).asResponse();
    assert.equal(raw.status, 200);
    // 4 × 5 + 4160 × 40 = 166,420 micro-USD
    assert.equal(raw.headers.get('x-imagegate-cost-usd'), '0.166420');
    const e = await warn.app.stores.requestLog.get(raw.headers.get('x-request-id')!);
    assert.equal(e?.path, '/v1/images/generations');
    assert.equal(e?.costMicros, 166_420);
    assert.deepEqual(await warn.app.stores.ledger.balance(k.id), { granted: 1_000_000, charged: 166_420, reserved: 0, available: 833_580 });
  });
});

describe('variations on the built-in engine', () => {
  test('dall-e-2: n = 3 at 512x512, each like the input and visibly different from it and from each other, the same bytes every time', async () => {
    const input = await makePng(600, 600);
    const ask = async () => client(warn).images.createVariation({ image: await toFile(input, 'in.png', { type: 'image/png' }), n: 3, size: '512x512', response_format: 'b64_json' });
    const [a, again] = [await ask(), await ask()];
    assert.deepEqual(Object.keys(a).sort(), ['created', 'data']);
    const bytes = a.data!.map((d) => b64(d.b64_json));
    bytes.forEach((x, i) => assert.ok(x.equals(b64(again.data![i]!.b64_json)), `variation ${i} repeats`));
    const imgs = await Promise.all(bytes.map(decode));
    const original = await decode(await sharp(input).resize(512, 512).png().toBuffer());
    for (const [i, img] of imgs.entries()) {
      assert.deepEqual([img.format, img.width, img.height], ['png', 512, 512]);
      const d = meanDiff(img, original);
      assert.ok(d > 6 && d < 45, `variation ${i} against the input: ${d.toFixed(1)} levels`);
      // the red disc (35% across, 40% down) is still a red disc near there
      const [r, g, b] = px(img, Math.round(0.35 * 512), Math.round(0.4 * 512));
      assert.ok(r! > 150 && r! > g! + 60 && r! > b! + 60, `variation ${i} keeps the red disc: ${[r, g, b]}`);
    }
    for (const [i, j] of [[0, 1], [0, 2], [1, 2]] as const) {
      const d = meanDiff(imgs[i]!, imgs[j]!);
      assert.ok(d > 6, `variations ${i} and ${j} differ by ${d.toFixed(1)} levels`);
    }
  });

  test('the default answer is a hosted url of a 1024x1024 PNG; the request log says variations', async () => {
    const res = await client(warn).images.createVariation({ image: await toFile(await makePng(256, 256), 'in.png', { type: 'image/png' }) });
    const got = await fetch(res.data![0]!.url!);
    assert.equal(got.status, 200);
    const img = await decode(Buffer.from(await got.arrayBuffer()));
    assert.deepEqual([img.format, img.width, img.height], ['png', 1024, 1024]);
    const logged = await warn.app.stores.requestLog.list({ limit: 1 });
    assert.equal(logged[0]!.path, '/v1/images/variations');
    assert.equal(logged[0]!.deployment, 'local');
  });

  test("a variation under a GPT image model's name answers as DALL·E 2 does: created and data only", async () => {
    const res = await client(warn).images.createVariation({
      model: 'gpt-image-1',
      image: await toFile(await makePng(256, 256), 'in.png', { type: 'image/png' }),
      size: '256x256',
      response_format: 'b64_json',
    });
    assert.deepEqual(Object.keys(res).sort(), ['created', 'data']);
    const img = await decode(Buffer.from(res.data![0]!.b64_json!, 'base64'));
    assert.deepEqual([img.format, img.width, img.height], ['png', 256, 256]);
  });

  test("DALL·E 2's refusals: a JPEG, a picture that is not square, a prompt, a size it does not have", async () => {
    const refused = async (image: Buffer, name: string, extra: Record<string, unknown> = {}) => {
      try {
        await client(warn).images.createVariation({ image: await toFile(image, name), ...extra } as never);
      } catch (e) {
        assert.ok(e instanceof APIError, String(e));
        return [e.status, e.code, e.param];
      }
      return 'answered';
    };
    assert.deepEqual(await refused(await makeJpeg(256, 256), 'in.jpg'), [400, 'unsupported_file_mimetype', 'image']);
    assert.deepEqual(await refused(await makePng(300, 200), 'in.png'), [400, 'invalid_value', 'image']);
    assert.deepEqual(await refused(await makePng(256, 256), 'in.png', { prompt: 'a hat' }), [400, 'unknown_parameter', 'prompt']);
    assert.deepEqual(await refused(await makePng(256, 256), 'in.png', { size: '1536x1024' }), [400, 'invalid_value', 'size']);
    // a square PNG over DALL·E's 4 MB: noise does not compress
    const noise = Buffer.alloc(1200 * 1200 * 3);
    for (let i = 0, h = 7; i < noise.length; i++) noise[i] = (h = (Math.imul(h, 1103515245) + 12345) >>> 0) >>> 24;
    const big = await sharp(noise, { raw: { width: 1200, height: 1200, channels: 3 } }).png({ compressionLevel: 0 }).toBuffer();
    assert.ok(big.length > 4 * 1024 * 1024, `${big.length} bytes`);
    assert.deepEqual(await refused(big, 'big.png'), [413, 'file_too_large', 'image']);
  });
});
