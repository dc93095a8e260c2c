/**
 * Bad input gets a clear 4xx in OpenAI's envelope naming the parameter.
 * Every case asserts the exact status, type, code and param a client sees,
 * and that nothing was left in the spool directory.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { makeGif, makeMask, makePng, pngDeclaring } from '../helpers/images.js';
import { startTestApp, type TestApp } from '../helpers/server.js';

let t: TestApp;
let small: TestApp; // tight limits, to exceed them cheaply
let png256: Buffer;
let png128: Buffer;

before(async () => {
  t = await startTestApp();
  small = await startTestApp({ env: { IMAGEGATE_MAX_BODY_BYTES: String(256 * 1024) } });
  png256 = await makePng(256, 256);
  png128 = await makePng(128, 128);
});

after(async () => {
  await t.close();
  await small.close();
});

type Part = [name: string, value: string | { bytes: Buffer; filename?: string; type?: string }];

function form(parts: Part[]): FormData {
  const fd = new FormData();
  for (const [name, v] of parts) {
    if (typeof v === 'string') fd.append(name, v);
    else fd.append(name, new Blob([v.bytes], { type: v.type ?? 'image/png' }), v.filename ?? 'file.png');
  }
  return fd;
}

async function edit(body: FormData | string, headers: Record<string, string> = {}, app = t) {
  const res = await fetch(`${app.url}/v1/images/edits`, {
    method: 'POST',
    headers: { authorization: `Bearer ${app.masterKey}`, ...(typeof body === 'string' ? { 'content-type': 'application/json' } : {}), ...headers },
    body,
  });
  const text = await res.text();
  let json: { error?: { message: string; type: string; param: string | null; code: string | null } } = {};
  try {
    json = JSON.parse(text);
  } catch {
    assert.fail(`not JSON: ${text.slice(0, 200)}`);
  }
  return { status: res.status, json, headers: res.headers };
}

async function expectError(
  r: Awaited<ReturnType<typeof edit>>,
  status: number,
  code: string | null,
  param: string | null,
  app = t,
) {
  assert.equal(r.status, status, JSON.stringify(r.json));
  assert.ok(r.json.error, 'error envelope');
  assert.deepEqual(Object.keys(r.json.error).sort(), ['code', 'message', 'param', 'type']);
  assert.equal(r.json.error.type, 'invalid_request_error');
  assert.equal(r.json.error.code, code);
  assert.equal(r.json.error.param, param);
  assert.ok(r.json.error.message.length > 10);
  assert.match(r.headers.get('x-request-id') ?? '', /^req_[0-9a-f]{24}$/);
  assert.deepEqual(await app.spoolFiles(), [], 'spool directory empty after the request');
}

const img = (bytes: Buffer, filename = 'a.png', type = 'image/png') => ({ bytes, filename, type });

describe('parameter errors', () => {
  test('missing image', async () => {
    await expectError(await edit(form([['prompt', 'x']])), 400, 'missing_required_parameter', 'image');
  });
  test('missing prompt', async () => {
    await expectError(await edit(form([['image', img(png256)]])), 400, 'missing_required_parameter', 'prompt');
  });
  test('an empty prompt is a missing prompt', async () => {
    await expectError(await edit(form([['image', img(png256)], ['prompt', '']])), 400, 'missing_required_parameter', 'prompt');
  });
  test('17 images', async () => {
    const parts: Part[] = [['prompt', 'x']];
    for (let i = 0; i < 17; i++) parts.push(['image[]', img(png128)]);
    await expectError(await edit(form(parts)), 400, 'array_above_max_length', 'image');
  });
  test('a GIF', async () => {
    await expectError(await edit(form([['image', img(await makeGif(), 'a.gif', 'image/gif')], ['prompt', 'x']])), 400, 'unsupported_file_mimetype', 'image');
  });
  test('bytes that are not an image, in the second place of an array', async () => {
    const r = await edit(form([['image[]', img(png256)], ['image[]', img(Buffer.from('hello, this is text'), 'b.png')], ['prompt', 'x']]));
    await expectError(r, 400, 'unsupported_file_mimetype', 'image[1]');
  });
  test('a PNG declaring 40000x40000 pixels is refused without decoding', async () => {
    const r = await edit(form([['image', img(pngDeclaring(40000, 40000))], ['prompt', 'x']]));
    await expectError(r, 400, 'invalid_image_file', 'image');
    assert.match(r.json.error!.message, /40000x40000/);
  });
  test('a PNG whose header reads but whose pixels do not decode, second in the list', async () => {
    // header says 64x64 RGBA, the image data is far too short: only the decoder finds out
    const r = await edit(form([['image[]', img(png256)], ['image[]', img(pngDeclaring(64, 64), 'b.png')], ['prompt', 'merge them'], ['quality', 'low']]));
    await expectError(r, 400, 'invalid_image_file', 'image[1]');
  });
  test('a mask of another size', async () => {
    const mask = await makeMask(128, 128, { left: 0, top: 0, width: 10, height: 10 });
    await expectError(await edit(form([['image', img(png256)], ['mask', img(mask, 'm.png')], ['prompt', 'x']])), 400, 'invalid_image_file', 'mask');
  });
  test('a mask without alpha', async () => {
    await expectError(await edit(form([['image', img(png256)], ['mask', img(png256, 'm.png')], ['prompt', 'x']])), 400, 'invalid_image_file', 'mask');
  });
  for (const [value, code] of [
    ['0', 'integer_below_min_value'],
    ['11', 'integer_above_max_value'],
    ['abc', 'invalid_type'],
    ['1.5', 'invalid_type'],
  ] as const) {
    test(`n=${value}`, async () => {
      await expectError(await edit(form([['image', img(png256)], ['prompt', 'x'], ['n', value]])), 400, code, 'n');
    });
  }
  test('size=1536x1536', async () => {
    const r = await edit(form([['image', img(png256)], ['prompt', 'x'], ['size', '1536x1536']]));
    await expectError(r, 400, 'invalid_value', 'size');
    assert.match(r.json.error!.message, /'1024x1024', '1536x1024', '1024x1536', and 'auto'/);
  });
  test('quality=ultra', async () => {
    await expectError(await edit(form([['image', img(png256)], ['prompt', 'x'], ['quality', 'ultra']])), 400, 'invalid_value', 'quality');
  });
  test('background=transparent with output_format=jpeg', async () => {
    const r = await edit(form([['image', img(png256)], ['prompt', 'x'], ['background', 'transparent'], ['output_format', 'jpeg']]));
    await expectError(r, 400, 'invalid_value', 'background');
  });
  test('a 32,001-character prompt', async () => {
    const r = await edit(form([['image', img(png256)], ['prompt', 'a'.repeat(32001)]]));
    await expectError(r, 400, 'string_above_max_length', 'prompt');
  });
  test('a 32,000-character prompt is fine', async () => {
    const r = await edit(form([['image', img(png256)], ['prompt', 'a'.repeat(32000)], ['size', '1024x1024'], ['quality', 'low']]));
    assert.equal(r.status, 200);
  });
  test('an unknown parameter', async () => {
    await expectError(await edit(form([['image', img(png256)], ['prompt', 'x'], ['style', 'vivid']])), 400, 'unknown_parameter', 'style');
  });
  test('an unknown model is a 404', async () => {
    const r = await edit(form([['image', img(png256)], ['prompt', 'x'], ['model', 'gpt-image-9000']]));
    await expectError(r, 404, 'model_not_found', 'model');
  });
  test('dall-e-2 refuses input_fidelity, naming it', async () => {
    const sq = await makePng(256, 256, { alpha: true });
    const r = await edit(form([['image', img(sq)], ['prompt', 'x'], ['model', 'dall-e-2'], ['input_fidelity', 'high']]));
    await expectError(r, 400, 'unsupported_parameter', 'input_fidelity');
  });
});

describe('keys', () => {
  test('a missing key', async () => {
    await expectError(await edit(form([['image', img(png256)], ['prompt', 'x']]), { authorization: '' }), 401, 'missing_api_key', null);
  });
  test('a wrong key', async () => {
    await expectError(await edit(form([['image', img(png256)], ['prompt', 'x']]), { authorization: 'Bearer sk-ig-nope' }), 401, 'invalid_api_key', null);
  });
  test('a revoked key', async () => {
    const key = await t.app.stores.keys.create({ name: 'to revoke' });
    const ok = await edit(form([['image', img(png128)], ['prompt', 'grayscale'], ['quality', 'low'], ['size', '1024x1024']]), { authorization: `Bearer ${key.key}` });
    assert.equal(ok.status, 200);
    assert.equal(await t.app.stores.keys.revoke(key.id), true);
    const r = await edit(form([['image', img(png256)], ['prompt', 'x']]), { authorization: `Bearer ${key.key}` });
    await expectError(r, 401, 'invalid_api_key', null);
    assert.ok(!r.json.error!.message.includes(key.key), 'the key is not echoed');
  });
});

/** Raw HTTP for bodies fetch cannot send: truncated, or bigger than it declares. */
function rawPost(app: TestApp, headers: Record<string, string | number>, write: (req: http.ClientRequest) => void) {
  return new Promise<{ status: number; json: any; headers: http.IncomingHttpHeaders }>((resolve, reject) => {
    const u = new URL(`${app.url}/v1/images/edits`);
    const req = http.request(
      { host: u.hostname, port: u.port, method: 'POST', path: u.pathname, headers: { authorization: `Bearer ${app.masterKey}`, ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode!, json: JSON.parse(Buffer.concat(chunks).toString()), headers: res.headers });
          } catch (e) {
            reject(e);
          }
        });
      },
    );
    req.on('error', () => {}); // the server may close the socket after answering
    write(req);
  });
}

describe('bodies', () => {
  test('a truncated multipart body', async () => {
    const b = 'XyZboundary';
    const body = Buffer.concat([
      Buffer.from(`--${b}\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nhello\r\n--${b}\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n`),
      png256.subarray(0, 100),
    ]);
    const r = await rawPost(t, { 'content-type': `multipart/form-data; boundary=${b}`, 'content-length': body.length }, (req) => req.end(body));
    assert.equal(r.status, 400);
    assert.deepEqual(r.json.error, { ...r.json.error, type: 'invalid_request_error', code: 'invalid_multipart_body', param: null });
    assert.deepEqual(await t.spoolFiles(), []);
  });

  test('a body over the limit, declared by Content-Length', async () => {
    const r = await rawPost(small, { 'content-type': 'multipart/form-data; boundary=x', 'content-length': 10 * 1024 * 1024 }, (req) => req.write('--x\r\n'));
    assert.equal(r.status, 413);
    assert.deepEqual(r.json.error, { ...r.json.error, type: 'invalid_request_error', code: 'request_too_large', param: null });
    assert.deepEqual(await small.spoolFiles(), []);
  });

  test('a body over the limit, streamed in chunks', async () => {
    const b = 'chunkyboundary';
    const r = await rawPost(small, { 'content-type': `multipart/form-data; boundary=${b}`, 'transfer-encoding': 'chunked' }, async (req) => {
      req.write(`--${b}\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n`);
      const mb = Buffer.alloc(64 * 1024, 7);
      for (let i = 0; i < 64 && !req.destroyed; i++) {
        if (!req.write(mb)) await new Promise((r) => req.once('drain', r).once('close', r));
      }
      req.end();
    });
    assert.equal(r.status, 413);
    assert.equal(r.json.error.code, 'request_too_large');
    assert.equal(r.json.error.param, null);
    assert.deepEqual(await small.spoolFiles(), []);
  });
});

describe('JSON bodies', () => {
  const json = (o: unknown) => JSON.stringify(o);
  test('image_url pointing at 127.0.0.1', async () => {
    const r = await edit(json({ prompt: 'x', images: [{ image_url: 'https://127.0.0.1/a.png' }] }));
    await expectError(r, 400, 'invalid_image_url', 'images[0].image_url');
  });
  test('image_url pointing at the metadata address 169.254.169.254', async () => {
    const r = await edit(json({ prompt: 'x', images: [{ image_url: 'https://169.254.169.254/latest/meta-data/' }] }));
    await expectError(r, 400, 'invalid_image_url', 'images[0].image_url');
  });
  test('a data URL works', async () => {
    const r = await edit(json({ prompt: 'invert', size: '1024x1024', quality: 'low', images: [{ image_url: `data:image/png;base64,${png128.toString('base64')}` }] }));
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal((r.json as any).data.length, 1);
  });
  test('file_id without a files store', async () => {
    const r = await edit(json({ prompt: 'x', images: [{ file_id: 'file-abc123' }] }));
    await expectError(r, 404, 'file_not_found', 'images[0].file_id');
  });
  test('malformed JSON', async () => {
    await expectError(await edit('{"prompt": '), 400, 'invalid_json', null);
  });
});
