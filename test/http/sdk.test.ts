/**
 * The official openai npm client against the real server over HTTP: the four
 * calls a user makes first. Usage figures are worked by hand in comments.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI, { toFile } from 'openai';
import { decode, makeMask, makePng } from '../helpers/images.js';
import { multipartBody, send } from '../intake/helpers.js';
import { startTestApp, type TestApp } from '../helpers/server.js';

let t: TestApp;
let dir: string;

before(async () => {
  t = await startTestApp();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imagegate-sdk-'));
  fs.writeFileSync(path.join(dir, 'land.png'), await makePng(1536, 1024));
  fs.writeFileSync(path.join(dir, 'a.png'), await makePng(1024, 1024));
  fs.writeFileSync(path.join(dir, 'b.png'), await makePng(1024, 1024, { alpha: true }));
  fs.writeFileSync(path.join(dir, 'mask.png'), await makeMask(1024, 1024, { left: 256, top: 256, width: 512, height: 512 }));
  fs.writeFileSync(path.join(dir, 'square.png'), await makePng(512, 512, { alpha: true }));
});

after(async () => {
  assert.deepEqual(await t.spoolFiles(), [], 'no temporary file may be left behind');
  await t.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const client = () => new OpenAI({ apiKey: t.masterKey, baseURL: `${t.url}/v1`, maxRetries: 0 });

function assertGray(px: { data: Buffer; channels: number }) {
  for (let i = 0; i < px.data.length; i += px.channels * 997) {
    assert.equal(px.data[i], px.data[i + 1]);
    assert.equal(px.data[i + 1], px.data[i + 2]);
  }
}

describe('openai SDK: images.edit', () => {
  /** what the server answers a 1536x1024 landscape made black and white, whichever client sent it */
  async function assertLandscapeInGray(res: OpenAI.ImagesResponse) {
    assert.equal(res.data?.length, 1);
    // size auto keeps the 3:2 landscape input's shape
    assert.equal(res.size, '1536x1024');
    assert.equal(res.quality, 'high');
    assert.equal(res.background, 'opaque');
    assert.equal(res.output_format, 'png');
    const img = await decode(Buffer.from(res.data![0].b64_json!, 'base64'));
    assert.equal(img.format, 'png');
    assert.equal(img.width, 1536);
    assert.equal(img.height, 1024);
    assertGray(img);
    // text: "make"|" it"|" black"|" and"|" white" = 5 tokens (o200k)
    // image: 1536x1024 → shortest side 512 → 768x512 → 2x1 tiles → 65 + 2*129 = 323
    // output: high, 1536x1024 → 6208
    assert.deepEqual(res.usage, {
      input_tokens: 328,
      input_tokens_details: { text_tokens: 5, image_tokens: 323 },
      output_tokens: 6208,
      total_tokens: 6536,
    });
  }

  test('openai 6: one image from fs.createReadStream, sent as application/octet-stream', async () => {
    const res = await client().images.edit({
      model: 'gpt-image-1',
      image: fs.createReadStream(path.join(dir, 'land.png')),
      prompt: 'make it black and white',
    });
    await assertLandscapeInGray(res);
  });

  test('openai 7 on the wire: a read stream uploaded with chunked encoding and an openai- boundary', async () => {
    // openai 7.x needs Node 22, so its request is replayed as captured from 7.57.0: the same
    // parts in the same order, no Content-Length, the file in a read stream's 64 KiB pieces
    const boundary = 'openai-m8phpzuq4u';
    const body = multipartBody(
      [
        { name: 'model', value: 'gpt-image-1' },
        { name: 'image', filename: 'land.png', type: 'application/octet-stream', data: fs.readFileSync(path.join(dir, 'land.png')) },
        { name: 'prompt', value: 'make it black and white' },
      ],
      boundary,
    );
    const r = await send(
      Number(new URL(t.url).port),
      body,
      { authorization: `Bearer ${t.masterKey}`, accept: 'application/json', 'content-type': `multipart/form-data; boundary=${boundary}` },
      { chunked: true, chunkSize: 64 * 1024 },
    );
    assert.equal(r.status, 200, r.text);
    await assertLandscapeInGray(r.json as OpenAI.ImagesResponse);
  });

  test('an array of two typed files plus a mask and every parameter', async () => {
    const res = await client().images.edit({
      model: 'gpt-image-1',
      image: [
        await toFile(fs.createReadStream(path.join(dir, 'a.png')), null, { type: 'image/png' }),
        await toFile(fs.readFileSync(path.join(dir, 'b.png')), 'b.png', { type: 'image/png' }),
      ],
      mask: await toFile(fs.createReadStream(path.join(dir, 'mask.png')), null, { type: 'image/png' }),
      prompt: 'make it sepia',
      n: 2,
      size: '1024x1024',
      quality: 'low',
      input_fidelity: 'high',
      output_format: 'webp',
      output_compression: 50,
      background: 'opaque',
      user: 'u1',
    });
    assert.equal(res.data?.length, 2);
    assert.equal(res.size, '1024x1024');
    assert.equal(res.quality, 'low');
    assert.equal(res.background, 'opaque');
    assert.equal(res.output_format, 'webp');
    for (const d of res.data!) {
      const img = await decode(Buffer.from(d.b64_json!, 'base64'));
      assert.equal(img.format, 'webp');
      assert.equal(img.width, 1024);
      assert.equal(img.height, 1024);
    }
    // text: "make"|" it"|" sep"|"ia" = 4
    // images: 1024x1024 → 512x512 → 1 tile → 194 each = 388, + 4160 high-fidelity surcharge
    //         for the first (square) image, which gpt-image-1 preserves = 4548
    // output: 2 images x 272 (low, 1024x1024) = 544
    assert.deepEqual(res.usage, {
      input_tokens: 4552,
      input_tokens_details: { text_tokens: 4, image_tokens: 4548 },
      output_tokens: 544,
      total_tokens: 5096,
    });
    const logged = await t.app.stores.requestLog.list({ limit: 5 });
    const entry = logged.find((e) => e.user === 'u1');
    assert.ok(entry, 'the request is in the request log');
    assert.equal(entry.status, 200);
    assert.equal(entry.deployment, 'local');
    assert.equal(entry.imageCount, 2);
    assert.equal(entry.totalTokens, 5096);
  });

  test('dall-e-2 with response_format url, then GET of that URL', async () => {
    const res = await client().images.edit({
      model: 'dall-e-2',
      image: new File([fs.readFileSync(path.join(dir, 'square.png'))], 'x.png'),
      prompt: 'invert the colors',
      response_format: 'url',
    });
    // DALL·E answers carry only created and data
    assert.deepEqual(Object.keys(res).sort(), ['created', 'data']);
    const url = res.data![0].url!;
    assert.match(url, new RegExp(`^${t.url}/v1/images/files/[A-Za-z0-9]+\\.png\\?expires=\\d+&sig=[A-Za-z0-9_-]+$`));
    const got = await fetch(url);
    assert.equal(got.status, 200);
    assert.equal(got.headers.get('content-type'), 'image/png');
    const img = await decode(Buffer.from(await got.arrayBuffer()));
    // dall-e-2's default size
    assert.equal(img.width, 1024);
    assert.equal(img.height, 1024);
  });

  test('stream: true with partial_images: 2', async () => {
    const stream = await client().images.edit({
      model: 'gpt-image-1',
      image: await toFile(fs.readFileSync(path.join(dir, 'a.png')), 'a.png', { type: 'image/png' }),
      prompt: 'blur it',
      stream: true,
      partial_images: 2,
    });
    const events: Array<Record<string, unknown>> = [];
    for await (const ev of stream) events.push(ev as unknown as Record<string, unknown>);
    assert.deepEqual(
      events.map((e) => [e.type, e.partial_image_index]),
      [
        ['image_edit.partial_image', 0],
        ['image_edit.partial_image', 1],
        ['image_edit.completed', undefined],
      ],
    );
    for (const e of events) {
      const img = await decode(Buffer.from(e.b64_json as string, 'base64'));
      assert.equal(img.width, 1024);
      assert.equal(img.height, 1024);
      assert.equal(e.size, '1024x1024');
      assert.equal(e.output_format, 'png');
    }
    const done = events[2];
    assert.equal(done.quality, 'high');
    assert.equal(done.background, 'opaque');
    // text "blur"|" it" = 2; image 194; output 4160 (high, square) + 2 partials x 100
    assert.deepEqual(done.usage, {
      input_tokens: 196,
      input_tokens_details: { text_tokens: 2, image_tokens: 194 },
      output_tokens: 4360,
      total_tokens: 4556,
    });
  });
});
