/**
 * The built-in engine as an SDK user meets it: the size it answers follows
 * the edited picture, captions land as asked, and with
 * IMAGEGATE_LOCAL_UNKNOWN=reject an instruction it cannot do is a 400 the
 * SDK raises (by default it is a warning header on a 200).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI, { APIError, toFile } from 'openai';
import { decode, makeMask, makePng } from '../helpers/images.js';
import { startTestApp, type TestApp } from '../helpers/server.js';

let warn: TestApp;
let reject: TestApp;
let land: Buffer;
let square: Buffer;
let mask: Buffer;

before(async () => {
  [warn, reject] = await Promise.all([startTestApp(), startTestApp({ env: { IMAGEGATE_LOCAL_UNKNOWN: 'reject' } })]);
  land = await makePng(1024, 768);
  square = await makePng(512, 512);
  mask = await makeMask(512, 512, { left: 100, top: 100, width: 120, height: 120 });
});

after(async () => {
  await Promise.all([warn.close(), reject.close()]);
});

const client = (t: TestApp) => new OpenAI({ apiKey: t.masterKey, baseURL: `${t.url}/v1`, maxRetries: 0 });
const png = async (bytes: Buffer, name = 'in.png') => toFile(bytes, name, { type: 'image/png' });

describe('size and captions through the SDK', () => {
  test("rotate 90° on a 1024x768 upload with size 'auto' answers portrait 1024x1536, billed as portrait", async () => {
    const res = await client(warn).images.edit({ model: 'gpt-image-1', image: await png(land), prompt: 'rotate it 90 degrees to the right' });
    assert.equal(res.size, '1024x1536');
    const img = await decode(Buffer.from(res.data![0]!.b64_json!, 'base64'));
    assert.deepEqual([img.width, img.height], [1024, 1536]);
    // high quality, portrait: 6240 output tokens (a landscape answer would be 6208)
    assert.equal(res.usage?.output_tokens, 6240);
    // the input's red disc (35% across, 40% down) turns to 60% across, 35% down; its centre is red
    const at = (x: number, y: number) => [...img.data.subarray((y * img.width + x) * img.channels, (y * img.width + x) * img.channels + 3)];
    const [r, g, b] = at(Math.round(0.6 * 1024), Math.round(86 + 0.35 * 1365));
    assert.ok(r! > 180 && g! < 80 && b! < 80, `red disc where the turn puts it: ${[r, g, b]}`);
  });

  test("'SALE' in big red letters at the top comes back big, red and at the top", async () => {
    const res = await client(warn).images.edit({ model: 'gpt-image-1', image: await png(land), prompt: "add 'SALE' in big red letters at the top", size: '1536x1024' });
    const img = await decode(Buffer.from(res.data![0]!.b64_json!, 'base64'));
    let top = Infinity, bottom = -1;
    for (let y = 0; y < img.height; y++) {
      for (let x = 0; x < img.width; x++) {
        const p = (y * img.width + x) * img.channels;
        if (img.data[p] === 255 && img.data[p + 1] === 0 && img.data[p + 2] === 0) { top = Math.min(top, y); bottom = Math.max(bottom, y); }
      }
    }
    assert.ok(top >= 30 && bottom < img.height / 3, `red letters in the top third: rows ${top}-${bottom}`);
    assert.ok(bottom - top > 0.15 * img.height, `big: ${bottom - top + 1} rows of ${img.height}`);
  });
});

describe('IMAGEGATE_LOCAL_UNKNOWN', () => {
  test("default 'warn': 'Put on glasses' answers 200 and says so in x-imagegate-warning", async () => {
    const { data, response } = await client(warn).images.edit({ model: 'gpt-image-1', image: await png(square), prompt: 'Put on glasses' }).withResponse();
    assert.equal(data.data?.length, 1);
    assert.equal(response.headers.get('x-imagegate-warning'), "instruction not understood: 'Put on glasses'; the image was returned unchanged");
  });

  test("'reject': an instruction the engine cannot do is a 400 unsupported_instruction the SDK raises", async () => {
    for (const [prompt, what] of [
      ['Put on glasses', "'Put on glasses'"],
      ['watercolor', "'watercolor'"],
      ['make it black and white and add a dog', "'add a dog'"],
    ] as const) {
      await assert.rejects(
        client(reject).images.edit({ model: 'gpt-image-1', image: await png(square), prompt }),
        (e: unknown) => {
          assert.ok(e instanceof APIError, String(e));
          assert.equal(e.status, 400);
          assert.equal(e.code, 'unsupported_instruction');
          assert.equal(e.param, 'prompt');
          assert.equal(e.type, 'invalid_request_error');
          assert.ok(e.message.includes(`it did not understand ${what}`), e.message);
          assert.match(e.message, /It can: black and white, sepia, .*text \("add 'SALE' in big red letters at the top"\)/);
          return true;
        },
        prompt,
      );
    }
    const log = await reject.app.stores.requestLog.list({ limit: 10 });
    assert.ok(log.some((e) => e.status === 400 && e.errorCode === 'unsupported_instruction'), 'logged as a 400');
  });

  test("'reject': remove without a mask is refused, with a mask it is done", async () => {
    await assert.rejects(client(reject).images.edit({ model: 'gpt-image-1', image: await png(square), prompt: 'remove the person' }), (e: unknown) => {
      assert.ok(e instanceof APIError);
      assert.equal(e.code, 'unsupported_instruction');
      assert.match(e.message, /'remove the person' needs a mask marking what to remove/);
      return true;
    });
    const ok = await client(reject).images.edit({ model: 'gpt-image-1', image: await png(square), mask: await png(mask, 'mask.png'), prompt: 'remove the person', size: '1024x1024' });
    assert.equal(ok.data?.length, 1);
  });

  test("'reject': what the engine can do is answered as usual; streaming refusals are a plain 400 too", async () => {
    const res = await client(reject).images.edit({ model: 'gpt-image-1', image: await png(square), prompt: "make it black and white and add 'Hi' at the top" });
    assert.equal(res.data?.length, 1);
    await assert.rejects(
      (async () => {
        const stream = await client(reject).images.edit({ model: 'gpt-image-1', image: await png(square), prompt: 'watercolor', stream: true, partial_images: 1 });
        for await (const ev of stream) void ev;
      })(),
      (e: unknown) => e instanceof APIError && e.status === 400 && e.code === 'unsupported_instruction',
    );
  });
});
