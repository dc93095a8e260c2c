/**
 * The built-in engine as an SDK user meets it: the size it answers follows
 * the edited picture, captions land as asked.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI, { toFile } from 'openai';
import { decode, makePng } from '../helpers/images.js';
import { startTestApp, type TestApp } from '../helpers/server.js';

let warn: TestApp;
let land: Buffer;

before(async () => {
  warn = await startTestApp();
  land = await makePng(1024, 768);
});

after(async () => {
  await warn.close();
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
