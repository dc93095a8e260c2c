/**
 * `imagegate generate` against a small server speaking OpenAI's
 * POST /v1/images/generations contract (JSON body; `image_generation.*`
 * stream events), for what the gateway cannot be made to do on demand (an
 * error event after partial images, a safety refusal), and against the real
 * gateway drawing on the built-in engine.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { imagegate, inProcess } from '../helpers/cli.js';
import { decode } from '../helpers/images.js';
import { startTestApp, type TestApp } from '../helpers/server.js';

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Record<string, unknown> | null;
}

let server: http.Server;
let base: string;
let dir: string;
const seen: Seen[] = [];

const KEY = 'sk-stub-key';

async function picture(format: string, shade: number): Promise<Buffer> {
  const img = sharp({ create: { width: 64, height: 48, channels: 3, background: { r: shade, g: 100, b: 200 } } });
  return (format === 'jpeg' ? img.jpeg() : format === 'webp' ? img.webp() : img.png()).toBuffer();
}

function sse(res: http.ServerResponse, data: unknown, event?: string): void {
  res.write(`${event ? `event: ${event}\n` : ''}data: ${JSON.stringify(data)}\n\n`);
}

async function answer(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  const body = req.headers['content-type'] === 'application/json' ? (JSON.parse(text) as Record<string, unknown>) : null;
  seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });

  if (req.method === 'GET' && req.url === '/files/hosted.png') {
    res.writeHead(200, { 'content-type': 'image/png' }).end(await picture('png', 7));
    return;
  }
  if (req.method !== 'POST' || req.url !== '/v1/images/generations') {
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: `no route ${req.url}`, type: 'invalid_request_error', param: null, code: 'unknown_url' } }));
    return;
  }
  if (req.headers.authorization !== `Bearer ${KEY}`) {
    res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'Incorrect API key provided.', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } }));
    return;
  }
  const b = body!;
  const n = typeof b.n === 'number' ? b.n : 1;
  const format = typeof b.output_format === 'string' ? b.output_format : 'png';
  if (b.prompt === 'refuse') {
    res.writeHead(400, { 'content-type': 'application/json', 'x-request-id': 'req_stub400' }).end(
      JSON.stringify({ error: { message: 'Your request was rejected by the safety system.', type: 'image_generation_user_error', param: null, code: 'moderation_blocked' } }),
    );
    return;
  }
  if (b.stream === true) {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'x-request-id': 'req_stubsse' });
    const partials = typeof b.partial_images === 'number' ? b.partial_images : 0;
    for (let p = 0; p < partials; p++) {
      sse(res, { type: 'image_generation.partial_image', b64_json: (await picture(format, 40 * p)).toString('base64'), partial_image_index: p, output_format: format }, 'image_generation.partial_image');
      await new Promise((r) => setTimeout(r, 50));
    }
    if (b.prompt === 'break midway') {
      sse(res, { error: { message: 'The upstream went away after the first partial image.', type: 'server_error', param: null, code: 'upstream_error' } });
      res.end();
      return;
    }
    for (let i = 0; i < n; i++) sse(res, { type: 'image_generation.completed', b64_json: (await picture(format, 200 + i)).toString('base64'), output_format: format, usage: {} });
    res.end();
    return;
  }
  const data =
    b.response_format === 'url'
      ? [{ url: `${base}/files/hosted.png` }]
      : await Promise.all(Array.from({ length: n }, async (_, i) => ({ b64_json: (await picture(format, 100 + i)).toString('base64') })));
  res.writeHead(200, { 'content-type': 'application/json', 'x-imagegate-cost-usd': '0.040000' }).end(
    JSON.stringify({ created: 1, data, output_format: format, size: '64x48', quality: 'low', background: 'opaque' }),
  );
}

before(async () => {
  server = http.createServer((req, res) => {
    answer(req, res).catch((e: unknown) => res.destroy(e as Error));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imagegate-generate-'));
});

after(async () => {
  server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function scratch(name: string): string {
  const d = path.join(dir, name);
  fs.mkdirSync(d);
  return d;
}

// the server named with /v1, as people copy it from an SDK's baseURL: the client adds the path itself
const env = () => ({ IMAGEGATE_KEY: KEY, IMAGEGATE_URL: `${base}/v1/` });

describe('imagegate generate', () => {
  test("a JSON body with OpenAI's field names; n = 2 gives art-1.jpg, art-2.jpg", async () => {
    const d = scratch('json');
    seen.length = 0;
    const r = await imagegate(d, ['generate', '-p', 'a lighthouse at dusk', '-n', '2', '--model', 'gpt-image-1', '--size', '1024x1024', '--quality', 'low', '--background', 'opaque', '--format', 'jpeg', '--user', 'u-7', '-o', 'art.jpg'], env());
    assert.equal(r.code, 0, r.stderr);
    const post = seen.find((s) => s.method === 'POST')!;
    assert.equal(post.url, '/v1/images/generations');
    assert.equal(post.headers['content-type'], 'application/json');
    assert.deepEqual(post.body, {
      prompt: 'a lighthouse at dusk',
      model: 'gpt-image-1',
      n: 2,
      size: '1024x1024',
      quality: 'low',
      background: 'opaque',
      output_format: 'jpeg',
      user: 'u-7',
    });
    assert.equal(r.stdout, 'art-1.jpg\nart-2.jpg\n');
    for (const f of ['art-1.jpg', 'art-2.jpg']) assert.equal((await decode(fs.readFileSync(path.join(d, f)))).format, 'jpeg');
    assert.match(r.stderr, /^generating with gpt-image-1 at http:\/\/127\.0\.0\.1:\d+, 2 results…$/m);
    assert.match(r.stderr, /^done in \d+\.\d s: 2 images, cost \$0\.040000$/m);
  });

  test('a stream: partial images as they arrive (image_generation.* events), then the result', async () => {
    const d = scratch('stream');
    const r = await imagegate(d, ['generate', '-p', 'a fox', '--partials', '3', '--format', 'webp'], env());
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(fs.readdirSync(d).sort(), ['out.partial-1.webp', 'out.partial-2.webp', 'out.partial-3.webp', 'out.webp']);
    assert.equal(seen.at(-1)!.body!.stream, true);
    assert.equal(seen.at(-1)!.body!.partial_images, 3);
    assert.equal(r.stdout, 'out.webp\n');
    const lines = r.stderr.split('\n');
    const partialLines = lines.filter((l) => /^partial image \d after \d+\.\d s: out\.partial-\d\.webp$/.test(l));
    assert.equal(partialLines.length, 3, r.stderr);
    for (const f of fs.readdirSync(d)) assert.equal((await decode(fs.readFileSync(path.join(d, f)))).format, 'webp');
  });

  test("an error event after a partial image: the server's message, exit 1, the partial kept", async () => {
    const d = scratch('broken');
    const r = await inProcess(d, 'generate', ['-p', 'break midway', '--partials', '1'], env());
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: The upstream went away after the first partial image\. \(code upstream_error, request req_stubsse\)$/m);
    assert.deepEqual(fs.readdirSync(d), ['out.partial-1.png']);
    assert.equal(r.stdout, '');
  });

  test("an error answer: the envelope's message and code, exit 1", async () => {
    const d = scratch('refused');
    const r = await inProcess(d, 'generate', ['-p', 'refuse'], env());
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: Your request was rejected by the safety system\. \(HTTP 400, code moderation_blocked, request req_stub400\)$/m);
    const denied = await inProcess(d, 'generate', ['-p', 'x', '--key', 'sk-wrong'], env());
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /^error: Incorrect API key provided\. \(HTTP 401, code invalid_api_key\)$/m);
    assert.deepEqual(fs.readdirSync(d), []);
  });

  test('a url answer is downloaded, without the key', async () => {
    const d = scratch('url');
    const r = await inProcess(d, 'generate', ['-p', 'x', '--response-format', 'url', '-o', 'hosted'], env());
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'hosted.png\n');
    assert.equal((await decode(fs.readFileSync(path.join(d, 'hosted.png')))).format, 'png');
    const download = seen.at(-1)!;
    assert.equal(download.url, '/files/hosted.png');
    assert.equal(download.headers.authorization, undefined);
  });
});

describe('imagegate generate against the gateway on the built-in engine', () => {
  let gw: TestApp;
  before(async () => {
    gw = await startTestApp();
  });
  after(async () => {
    await gw.close();
  });
  const onGateway = () => ({ IMAGEGATE_KEY: gw.masterKey, IMAGEGATE_URL: gw.url });

  test('n = 2 of "blue and white stripes": stripes-1.png and stripes-2.png, striped, different', async () => {
    const d = scratch('engine');
    const r = await imagegate(d, ['generate', '-p', 'blue and white stripes', '-n', '2', '--size', '1024x1024', '-o', 'stripes.png'], onGateway());
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'stripes-1.png\nstripes-2.png\n');
    assert.doesNotMatch(r.stderr, /warning/);
    const [a, b] = await Promise.all(['stripes-1.png', 'stripes-2.png'].map((f) => decode(fs.readFileSync(path.join(d, f)))));
    assert.deepEqual([a!.format, a!.width, a!.height], ['png', 1024, 1024]);
    const at = (x: number) => [...a!.data.subarray((500 * a!.width + x) * a!.channels, (500 * a!.width + x) * a!.channels + 3)];
    // the first variant: blue over [171k, 171k + 85), white after
    assert.deepEqual([at(40), at(128), at(171 + 40), at(171 + 128)], [[0, 0, 255], [255, 255, 255], [0, 0, 255], [255, 255, 255]]);
    assert.ok(!a!.data.equals(b!.data), 'the two variants differ');
  });

  test('a stream of partial images on the engine, and a prompt it cannot draw said as a warning', async () => {
    const d = scratch('engine-stream');
    const r = await imagegate(d, ['generate', '-p', 'a gradient from navy to orange', '--partials', '2', '--size', '1024x1024'], onGateway());
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(fs.readdirSync(d).sort(), ['out.partial-1.png', 'out.partial-2.png', 'out.png']);
    const img = await decode(fs.readFileSync(path.join(d, 'out.png')));
    assert.deepEqual([...img.data.subarray(0, 3)], [0, 0, 128], 'navy at the top');

    const cat = await inProcess(d, 'generate', ['-p', 'a cat astronaut', '-o', 'cat.png'], onGateway());
    assert.equal(cat.code, 0, cat.stderr);
    assert.match(cat.stderr, /^warning: the built-in engine cannot draw 'a cat astronaut'; it drew a plain white canvas\. It can draw: /m);
  });
});
