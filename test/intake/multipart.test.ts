import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import OpenAI, { toFile } from 'openai';
import { GatewayError } from '../../src/errors.js';
import { ClientAbortedError } from '../../src/intake/shared.js';
import {
  bytes,
  leftovers,
  multipartBody,
  png,
  send,
  sendMultipart,
  sha256,
  startIntakeServer,
  type IntakeServer,
  type ServerOptions,
} from './helpers.js';

const MiB = 1024 * 1024;
let dir: string;
const servers: IntakeServer[] = [];

before(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'intake-files-'));
});
after(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});
afterEach(async () => {
  // every request's spool is gone once it was handled, whatever happened
  for (const s of servers.splice(0)) {
    assert.deepEqual(await leftovers(s), []);
    await s.close();
  }
});

async function server(options: ServerOptions = {}): Promise<IntakeServer> {
  const s = await startIntakeServer(options);
  servers.push(s);
  return s;
}

function errorOf(s: IntakeServer, i = 0): unknown {
  return s.outcomes[i]?.error;
}

describe('bodies the openai SDK sends', () => {
  test('openai 6.30 SDK: one image, a list with a mask, a File without type', async () => {
    const s = await server();
    const a = await fsp.readFile(await writeTemp('a.png', png(1)));
    const b = png(2);
    const mask = png(3);
    const client = new OpenAI({ apiKey: 'sk-test', baseURL: `${s.url}/v1`, maxRetries: 0 });

    const r1 = (await client.images.edit({
      model: 'gpt-image-1',
      image: fs.createReadStream(path.join(dir, 'a.png')),
      prompt: 'p1',
    })) as unknown as { intake: any };
    assert.deepEqual(r1.intake.fields, [
      ['model', 'gpt-image-1'],
      ['prompt', 'p1'],
    ]);
    assert.equal(r1.intake.files.length, 1);
    assert.equal(r1.intake.files[0].param, 'image');
    assert.equal(r1.intake.files[0].filename, 'a.png');
    assert.equal(r1.intake.files[0].sha256, sha256(a));

    const r2 = (await client.images.edit({
      model: 'gpt-image-1',
      image: [await toFile(a, 'a.png', { type: 'image/png' }), await toFile(b, 'b.png', { type: 'image/png' })],
      mask: await toFile(mask, 'mask.png', { type: 'image/png' }),
      prompt: 'p2',
      n: 2,
      size: '1024x1024',
      quality: 'low',
      output_compression: 50,
    })) as unknown as { intake: any };
    const files = r2.intake.files as Array<Record<string, unknown>>;
    assert.deepEqual(
      files.map((f) => [f.role, f.field, f.param, f.sha256, f.declaredType]),
      [
        ['image', 'image[]', 'image[0]', sha256(a), 'image/png'],
        ['image', 'image[]', 'image[1]', sha256(b), 'image/png'],
        ['mask', 'mask', 'mask', sha256(mask), 'image/png'],
      ],
    );
    const names = (r2.intake.fields as Array<[string, string]>).map(([n]) => n);
    assert.deepEqual(names.sort(), ['model', 'n', 'output_compression', 'prompt', 'quality', 'size']);
    assert.deepEqual(Object.fromEntries(r2.intake.fields), {
      model: 'gpt-image-1',
      prompt: 'p2',
      n: '2',
      size: '1024x1024',
      quality: 'low',
      output_compression: '50',
    });

    const r3 = (await client.images.edit({ model: 'dall-e-2', image: new File([a], 'x.png'), prompt: 'p3' })) as unknown as {
      intake: any;
    };
    assert.equal(r3.intake.files[0].filename, 'x.png');
    assert.equal(r3.intake.files[0].size, a.length);
    // what the SDK sent, and that we read all of it
    for (const o of s.outcomes) {
      assert.match(String(o.headers['content-type']), /^multipart\/form-data; boundary=/);
      if (o.headers['content-length']) assert.equal(o.result!.bytesIn, Number(o.headers['content-length']));
    }
  });

  test('the captured openai 7 layout: one image as octet-stream between the fields, chunked in 64 KiB pieces', async () => {
    // openai 7.x needs Node 22: its request is replayed as 7.57.0 sent it from fs.createReadStream
    const s = await server();
    const a = bytes(150 * 1024, 4);
    const boundary = 'openai-m8phpzuq4u';
    const body = multipartBody(
      [
        { name: 'model', value: 'gpt-image-1' },
        { name: 'image', filename: 'a.png', type: 'application/octet-stream', data: a },
        { name: 'prompt', value: 'p1' },
      ],
      boundary,
    );
    const r = await send(s.port, body, { 'content-type': `multipart/form-data; boundary=${boundary}` }, { chunked: true, chunkSize: 64 * 1024 });
    assert.equal(r.status, 200);
    assert.equal(s.outcomes[0]!.headers['transfer-encoding'], 'chunked');
    assert.equal(r.json.intake.bytesIn, body.length);
    assert.equal(r.json.intake.files.length, 1);
    assert.equal(r.json.intake.files[0].field, 'image');
    assert.equal(r.json.intake.files[0].param, 'image');
    assert.equal(r.json.intake.files[0].sha256, sha256(a));
    assert.deepEqual(r.json.intake.fields, [
      ['model', 'gpt-image-1'],
      ['prompt', 'p1'],
    ]);
  });

  test('the captured undici layout with Content-Length: files after fields, image[] twice, mask', async () => {
    const s = await server();
    const boundary = '----formdata-undici-081818087375';
    const parts = [
      { name: 'model', value: 'gpt-image-1' },
      { name: 'image[]', filename: 'a.png', type: 'image/png', data: png(1) },
      { name: 'image[]', filename: 'b.png', type: 'image/png', data: png(2) },
      { name: 'mask', filename: 'mask.png', type: 'image/png', data: png(3) },
      { name: 'prompt', value: 'p2' },
      { name: 'n', value: '2' },
      { name: 'user', value: 'u1' },
    ];
    const body = multipartBody(parts, boundary);
    const r = await send(s.port, body, { 'content-type': `multipart/form-data; boundary=${boundary}` });
    assert.equal(r.status, 200);
    assert.equal(r.json.intake.bytesIn, body.length);
    assert.deepEqual(
      r.json.intake.files.map((f: any) => [f.param, f.sha256]),
      [
        ['image[0]', sha256(png(1))],
        ['image[1]', sha256(png(2))],
        ['mask', sha256(png(3))],
      ],
    );
    assert.deepEqual(r.json.intake.fields, [
      ['model', 'gpt-image-1'],
      ['prompt', 'p2'],
      ['n', '2'],
      ['user', 'u1'],
    ]);
  });

  test('the captured openai- layout, chunked, in small pieces', async () => {
    const s = await server();
    const boundary = 'openai-9vxqmsszpoe';
    const body = multipartBody(
      [
        { name: 'image[]', filename: 'a.png', type: 'application/octet-stream', data: png(5) },
        { name: 'prompt', value: 'onearr' },
        { name: 'model', value: 'gpt-image-1.5' },
      ],
      boundary,
    );
    const r = await send(s.port, body, { 'content-type': `multipart/form-data; boundary=${boundary}` }, { chunked: true, chunkSize: 7 });
    assert.equal(r.status, 200);
    assert.equal(r.json.intake.bytesIn, body.length);
    assert.equal(r.json.intake.files[0].declaredType, 'application/octet-stream');
    assert.equal(r.json.intake.files[0].sha256, sha256(png(5)));
  });
});

describe('parts and fields', () => {
  test('image[] order is kept', async () => {
    const s = await server();
    const imgs = [0, 1, 2, 3, 4].map((i) => bytes(1000 + i * 100, i));
    const r = await sendMultipart(s.port, [
      ...imgs.map((data, i) => ({ name: 'image[]', filename: `${i}.png`, data })),
      { name: 'prompt', value: 'x' },
    ]);
    assert.equal(r.status, 200);
    assert.deepEqual(
      r.json.intake.files.map((f: any) => [f.param, f.filename, f.sha256, f.explicitIndex]),
      imgs.map((d, i) => [`image[${i}]`, `${i}.png`, sha256(d), null]),
    );
  });

  test('image[N] records the explicit index, in arrival order', async () => {
    const s = await server();
    const r = await sendMultipart(s.port, [
      { name: 'image[2]', filename: 'c.png', data: png(2) },
      { name: 'image[0]', filename: 'a.png', data: png(0) },
      { name: 'image[1]', filename: 'b.png', data: png(1) },
    ]);
    assert.equal(r.status, 200);
    assert.deepEqual(
      r.json.intake.files.map((f: any) => [f.field, f.param, f.explicitIndex, f.filename]),
      [
        ['image[2]', 'image[0]', 2, 'c.png'],
        ['image[0]', 'image[1]', 0, 'a.png'],
        ['image[1]', 'image[2]', 1, 'b.png'],
      ],
    );
  });

  test('repeated bare image parts form a list; a lone one is called image', async () => {
    const s = await server();
    const r = await sendMultipart(s.port, [
      { name: 'image', filename: 'a.png', data: png(0) },
      { name: 'image', filename: 'b.png', data: png(1) },
      { name: 'prompt', value: 'merge them' },
    ]);
    assert.deepEqual(
      r.json.intake.files.map((f: any) => [f.field, f.param]),
      [
        ['image', 'image[0]'],
        ['image', 'image[1]'],
      ],
    );
    const one = await sendMultipart(s.port, [{ name: 'image', filename: 'a.png', data: png(0) }]);
    assert.equal(one.json.intake.files[0].param, 'image');
  });

  test('text fields keep their order and repeats; UTF-8 survives', async () => {
    const s = await server();
    const r = await sendMultipart(s.port, [
      { name: 'prompt', value: 'first ✓ café' },
      { name: 'n', value: '' },
      { name: 'image', filename: 'a.png', data: png() },
      { name: 'quality', value: 'low' },
      { name: 'prompt', value: 'second' },
    ]);
    assert.deepEqual(r.json.intake.fields, [
      ['prompt', 'first ✓ café'],
      ['n', ''],
      ['quality', 'low'],
      ['prompt', 'second'],
    ]);
  });

  test('an empty file input (no filename, no bytes) counts as not sent; a named empty file is kept', async () => {
    const s = await server();
    const r = await sendMultipart(s.port, [
      { name: 'image', filename: 'a.png', type: 'image/png', data: png() },
      { name: 'mask', filename: '', type: 'application/octet-stream', data: Buffer.alloc(0) },
      { name: 'prompt', value: 'x' },
    ]);
    assert.equal(r.status, 200);
    assert.deepEqual(
      r.json.intake.files.map((f: any) => f.param),
      ['image'],
    );
    const r2 = await sendMultipart(s.port, [
      { name: 'image[]', filename: '', data: Buffer.alloc(0) },
      { name: 'image[]', filename: 'a.png', data: png() },
      { name: 'image[]', filename: 'empty.png', data: Buffer.alloc(0) },
    ]);
    assert.deepEqual(
      r2.json.intake.files.map((f: any) => [f.param, f.filename, f.size]),
      [
        ['image[0]', 'a.png', png().length],
        ['image[1]', 'empty.png', 0],
      ],
    );
  });

  test('curl -F mask=@"" style empty part is ignored (real curl)', { skip: !hasCurl() }, async () => {
    const s = await server();
    const img = await writeTemp('curl-a.png', png(9));
    const empty = await writeTemp('empty', Buffer.alloc(0));
    const out = await curl([
      '-sS',
      '-F',
      `image=@${img};type=image/png`,
      '-F',
      `mask=@${empty};filename=`,
      '-F',
      'prompt=hi',
      `${s.url}/v1/images/edits`,
    ]);
    const j = JSON.parse(out.stdout);
    assert.deepEqual(
      j.intake.files.map((f: any) => f.param),
      ['image'],
    );
  });

  test('a file part under another name is an unknown parameter', async () => {
    const s = await server();
    const r = await sendMultipart(s.port, [
      { name: 'prompt', value: 'x' },
      { name: 'photo', filename: 'a.png', data: png() },
    ]);
    assert.equal(r.status, 400);
    assert.equal(r.json.error.code, 'unknown_parameter');
    assert.equal(r.json.error.param, 'photo');
    assert.equal(r.json.error.type, 'invalid_request_error');
  });

  test('a second mask is a duplicate parameter', async () => {
    const s = await server();
    const r = await sendMultipart(s.port, [
      { name: 'image', filename: 'a.png', data: png() },
      { name: 'mask', filename: 'm.png', data: png(1) },
      { name: 'mask', filename: 'm2.png', data: png(2) },
    ]);
    assert.equal(r.status, 400);
    assert.equal(r.json.error.code, 'duplicate_parameter');
    assert.equal(r.json.error.param, 'mask');
  });

  test('16 images pass, the 17th is refused as it starts', async () => {
    const s = await server();
    const sixteen = Array.from({ length: 16 }, (_, i) => ({ name: 'image[]', filename: `${i}.png`, data: png(i) }));
    const ok = await sendMultipart(s.port, sixteen);
    assert.equal(ok.status, 200);
    assert.equal(ok.json.intake.files.length, 16);
    const r = await sendMultipart(s.port, [...sixteen, { name: 'image[]', filename: '16.png', data: png(16) }]);
    assert.equal(r.status, 400);
    assert.equal(r.json.error.code, 'array_above_max_length');
    assert.equal(r.json.error.param, 'image');
    assert.equal(
      r.json.error.message,
      "Invalid 'image': array too long. Expected an array with maximum length 16, but got an array with length 17 instead.",
    );
  });
});

describe('limits', () => {
  test('a file at its cap passes, one byte more is a 413 naming the part and the limit', async () => {
    const s = await server({ limits: { maxImageBytes: 100 * 1024, maxMaskBytes: 10 * 1024 } });
    const ok = await sendMultipart(s.port, [{ name: 'image', filename: 'a.png', data: bytes(100 * 1024) }]);
    assert.equal(ok.status, 200);
    assert.equal(ok.json.intake.files[0].size, 100 * 1024);

    const big = await sendMultipart(s.port, [{ name: 'image', filename: 'a.png', data: bytes(100 * 1024 + 1) }]);
    assert.equal(big.status, 413);
    assert.equal(big.json.error.code, 'file_too_large');
    assert.equal(big.json.error.param, 'image');
    assert.match(big.json.error.message, /0\.0977 MB/);

    const second = await sendMultipart(s.port, [
      { name: 'image[]', filename: 'a.png', data: png() },
      { name: 'image[]', filename: 'b.png', data: bytes(200 * 1024) },
    ]);
    assert.equal(second.status, 413);
    assert.equal(second.json.error.param, 'image[1]');

    const mask = await sendMultipart(s.port, [
      { name: 'image', filename: 'a.png', data: png() },
      { name: 'mask', filename: 'm.png', data: bytes(10 * 1024 + 1) },
    ]);
    assert.equal(mask.status, 413);
    assert.equal(mask.json.error.param, 'mask');
  });

  test('the default limit message names 50 MB', async () => {
    const s = await server();
    const r = await sendMultipart(s.port, [{ name: 'image', filename: 'a.png', data: Buffer.alloc(50 * MiB + 1) }]);
    assert.equal(r.status, 413);
    assert.equal(r.json.error.message, "File 'image' is larger than the 50 MB limit for each input image.");
  });

  test('fileLimitFor sees the fields that came before each file', async () => {
    const seen: Array<[string, string[]]> = [];
    const s = await server({
      fileLimitFor: (role, fields) => {
        seen.push([role, fields.map(([n]) => n)]);
        const model = fields.find(([n]) => n === 'model')?.[1];
        return role === 'image' && model === 'dall-e-2' ? 1000 : 1_000_000;
      },
    });
    const ok = await sendMultipart(s.port, [
      { name: 'image', filename: 'a.png', data: bytes(5000) },
      { name: 'model', value: 'dall-e-2' },
    ]);
    assert.equal(ok.status, 200);
    const r = await sendMultipart(s.port, [
      { name: 'model', value: 'dall-e-2' },
      { name: 'prompt', value: 'x' },
      { name: 'image', filename: 'a.png', data: bytes(5000) },
    ]);
    assert.equal(r.status, 413);
    assert.equal(r.json.error.param, 'image');
    assert.match(r.json.error.message, /0\.000954 MB/);
    assert.deepEqual(seen, [
      ['image', []],
      ['image', ['model', 'prompt']],
    ]);
  });

  test('a fileLimitFor that throws fails the intake instead of hanging it', async () => {
    const s = await server({
      fileLimitFor: () => {
        throw new Error('boom');
      },
    });
    await sendMultipart(s.port, [{ name: 'image', filename: 'a.png', data: png() }]).catch(() => undefined);
    await s.idle();
    assert.equal((s.outcomes[0]!.error as Error).message, 'boom');
  });

  test('a declared Content-Length over the body cap is refused before reading', async () => {
    const s = await server({ limits: { maxBodyBytes: 64 * 1024 } });
    const reply = await new Promise<{ status: number; json: any; written: number }>((resolve, reject) => {
      const req = http.request({
        host: '127.0.0.1',
        port: s.port,
        method: 'POST',
        path: '/v1/images/edits',
        headers: { 'content-type': 'multipart/form-data; boundary=x', 'content-length': String(900 * MiB) },
        agent: false,
      });
      let written = 0;
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(Buffer.concat(chunks).toString()), written }));
      });
      req.on('error', reject);
      req.flushHeaders();
      req.write(Buffer.alloc(1000), () => (written += 1000));
    });
    assert.equal(reply.status, 413);
    assert.equal(reply.json.error.code, 'request_too_large');
    assert.equal(reply.json.error.param, null);
    assert.ok(s.outcomes[0]!.error instanceof GatewayError);
  });

  test('a chunked body over the body cap is stopped while streaming', async () => {
    const s = await server({ limits: { maxBodyBytes: 256 * 1024 } });
    const r = await sendMultipart(s.port, [{ name: 'image', filename: 'a.png', data: bytes(300 * 1024) }], { chunked: true });
    assert.equal(r.status, 413);
    assert.equal(r.json.error.code, 'request_too_large');
    assert.equal(r.json.error.param, null);
    assert.equal(r.headers.connection, 'close');
  });

  test('a text field over maxFieldBytes names the field; exactly the limit passes', async () => {
    const s = await server({ limits: { maxFieldBytes: 1000 } });
    const ok = await sendMultipart(s.port, [{ name: 'prompt', value: 'a'.repeat(1000) }]);
    assert.equal(ok.status, 200);
    assert.equal((ok.json.intake.fields[0][1] as string).length, 1000);
    const r = await sendMultipart(s.port, [
      { name: 'model', value: 'gpt-image-1' },
      { name: 'prompt', value: 'é'.repeat(501) },
    ]);
    assert.equal(r.status, 400);
    assert.equal(r.json.error.code, 'string_above_max_length');
    assert.equal(r.json.error.param, 'prompt');
  });

  test('more text fields than maxFields is a 400', async () => {
    const s = await server({ limits: { maxFields: 3 } });
    const r = await sendMultipart(s.port, [
      { name: 'a', value: '1' },
      { name: 'b', value: '2' },
      { name: 'c', value: '3' },
      { name: 'd', value: '4' },
    ]);
    assert.equal(r.status, 400);
    assert.equal(r.json.error.code, 'too_many_fields');
    assert.equal(r.json.error.param, null);
  });
});

describe('broken bodies and clients', () => {
  test('a body that ends before the closing boundary is invalid_multipart_body', async () => {
    const s = await server();
    const r = await sendMultipart(s.port, [{ name: 'image', filename: 'a.png', data: bytes(200 * 1024) }], { close: false });
    assert.equal(r.status, 400);
    assert.equal(r.json.error.code, 'invalid_multipart_body');
    assert.equal(r.json.error.param, null);
    assert.match(r.json.error.message, /ended before the closing boundary/);
    // chunked too
    const r2 = await sendMultipart(s.port, [{ name: 'prompt', value: 'x' }], { close: false, chunked: true });
    assert.equal(r2.status, 400);
    assert.equal(r2.json.error.code, 'invalid_multipart_body');
    // no body at all
    const r3 = await send(s.port, Buffer.alloc(0), { 'content-type': 'multipart/form-data; boundary=abc' });
    assert.equal(r3.json.error.code, 'invalid_multipart_body');
  });

  test('no boundary, a malformed part header', async () => {
    const s = await server();
    const r = await send(s.port, Buffer.from('--x\r\n\r\n'), { 'content-type': 'multipart/form-data' });
    assert.equal(r.status, 400);
    assert.equal(r.json.error.code, 'invalid_multipart_body');
    assert.match(r.json.error.message, /boundary/);
    const bad = Buffer.from('--b\r\nContent-Disposition form-data\x01\r\n\r\nx\r\n--b--\r\n');
    const r2 = await send(s.port, bad, { 'content-type': 'multipart/form-data; boundary=b' });
    assert.equal(r2.status, 400);
    assert.equal(r2.json.error.code, 'invalid_multipart_body');
  });

  test('an unsupported Content-Type is a 400', async () => {
    const s = await server();
    const r = await send(s.port, Buffer.from('prompt=x'), { 'content-type': 'application/x-www-form-urlencoded' });
    assert.equal(r.status, 400);
    assert.equal(r.json.error.code, 'unsupported_content_type');
  });

  test('a client that goes away mid-upload: ClientAbortedError, nothing left in the spool', async () => {
    const s = await server();
    const boundary = 'abort-boundary';
    const head = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nx\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n\r\n`,
    );
    const socket = net.connect(s.port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    socket.write(
      `POST /v1/images/edits HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=${boundary}\r\n` +
        `Content-Length: ${40 * MiB}\r\n\r\n`,
    );
    socket.write(head);
    for (let i = 0; i < 8; i++) socket.write(bytes(256 * 1024, i));
    // wait until the part is really being written to disk
    await waitFor(async () => (await fsp.readdir(s.base)).length > 0);
    socket.destroy();
    await s.idle();
    assert.ok(s.outcomes[0]!.error instanceof ClientAbortedError, String(s.outcomes[0]!.error));
    assert.deepEqual(await fsp.readdir(s.base), []);
  });

  test('an abort signal stops the intake with its reason', async () => {
    const { parseMultipart } = await import('../../src/intake/multipart.js');
    const { createSpool } = await import('../../src/intake/spool.js');
    const { defaultLimits } = await import('../../src/config/index.js');
    const base = await fsp.mkdtemp(path.join(os.tmpdir(), 'intake-sig-'));
    const ac = new AbortController();
    const done = new Promise<unknown>((resolve) => {
      const srv = http.createServer(async (req, res) => {
        const spool = await createSpool(base);
        const p = parseMultipart(req, { spool, limits: defaultLimits(), signal: ac.signal });
        setTimeout(() => ac.abort(new Error('shutting down')), 50);
        const e = await p.catch((x: unknown) => x);
        await spool.cleanup();
        res.destroy();
        srv.close();
        resolve(e);
      });
      srv.listen(0, '127.0.0.1', () => {
        const port = (srv.address() as net.AddressInfo).port;
        const req = http.request({
          port,
          host: '127.0.0.1',
          method: 'POST',
          headers: { 'content-type': 'multipart/form-data; boundary=b', 'transfer-encoding': 'chunked' },
        });
        req.on('error', () => undefined);
        req.write('--b\r\nContent-Disposition: form-data; name="image"; filename="a"\r\n\r\nabc');
      });
    });
    const e = await done;
    assert.equal((e as Error).message, 'shutting down');
    assert.deepEqual(await fsp.readdir(base), []);
    await fsp.rm(base, { recursive: true, force: true });
  });
});

describe('answering before the body is read (discardRemaining)', () => {
  test('node http client streaming 300 MB gets the 413 JSON, the server reads little of it', async () => {
    const s = await server({ limits: { maxImageBytes: MiB } });
    const boundary = 'bigbody';
    const total = 300 * MiB;
    const chunk = bytes(MiB);
    const reply = await new Promise<{ status: number; json: any; written: number }>((resolve, reject) => {
      let written = 0;
      let got: { status: number; json: any } | null = null;
      const req = http.request({
        host: '127.0.0.1',
        port: s.port,
        method: 'POST',
        path: '/v1/images/edits',
        headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'transfer-encoding': 'chunked' },
        agent: false,
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          got = { status: res.statusCode!, json: JSON.parse(Buffer.concat(chunks).toString()) };
          resolve({ ...got, written });
        });
      });
      req.on('error', (e) => {
        if (!got) reject(e);
      });
      req.write(`--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="big.png"\r\n\r\n`);
      const pump = (): void => {
        while (written < total && !got && !req.destroyed) {
          written += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        if (written >= total) req.end(`\r\n--${boundary}--\r\n`);
      };
      pump();
    });
    assert.equal(reply.status, 413);
    assert.equal(reply.json.error.code, 'file_too_large');
    assert.equal(reply.json.error.param, 'image');
    assert.ok(reply.written < total, `the answer came after ${reply.written} bytes`);
  });

  test('curl uploading a 40 MB file over the cap prints the 413 JSON', { skip: !hasCurl() }, async () => {
    const s = await server({ limits: { maxImageBytes: MiB } });
    const big = path.join(dir, 'big.bin');
    await fsp.writeFile(big, Buffer.alloc(40 * MiB, 7));
    const out = await curl(['-sS', '-o', '-', '-w', '\n%{http_code}', '-F', 'prompt=x', '-F', `image=@${big}`, `${s.url}/v1/images/edits`]);
    const lines = out.stdout.trim().split('\n');
    assert.equal(lines.at(-1), '413', out.stdout + out.stderr);
    const j = JSON.parse(lines.slice(0, -1).join('\n'));
    assert.equal(j.error.code, 'file_too_large');
    assert.equal(j.error.param, 'image');
  });

  test('curl sending a body whose Content-Length is over the cap gets the 413', { skip: !hasCurl() }, async () => {
    const s = await server({ limits: { maxBodyBytes: 4 * MiB } });
    const big = path.join(dir, 'big2.bin');
    await fsp.writeFile(big, Buffer.alloc(40 * MiB, 7));
    const out = await curl(['-sS', '-o', '-', '-w', '\n%{http_code}', '-F', `image=@${big}`, `${s.url}/v1/images/edits`]);
    const lines = out.stdout.trim().split('\n');
    assert.equal(lines.at(-1), '413', out.stdout + out.stderr);
    assert.equal(JSON.parse(lines.slice(0, -1).join('\n')).error.code, 'request_too_large');
  });

  test('a client that reads only after sending everything still gets the 413 (lingering close)', async () => {
    // without the lingering close the server's kernel resets the connection while the
    // client is still sending, and such a client sees EPIPE and no answer at all
    const s = await server({ limits: { maxImageBytes: MiB } });
    const status = await new Promise<string>((resolve) => {
      const sock = net.connect(s.port, '127.0.0.1');
      sock.pause();
      const chunks: Buffer[] = [];
      let err = '';
      sock.on('error', (e) => (err = String((e as { code?: string }).code)));
      sock.on('data', (c: Buffer) => chunks.push(c));
      sock.on('close', () => resolve(Buffer.concat(chunks).toString('latin1').split('\r\n')[0] || `no answer (${err})`));
      sock.write(
        `POST / HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: ${30 * MiB + 200}\r\n\r\n` +
          '--b\r\nContent-Disposition: form-data; name="image"; filename="a"\r\n\r\n',
      );
      const buf = Buffer.alloc(MiB);
      let n = 0;
      const pump = (): void => {
        while (n < 30) {
          n++;
          if (!sock.write(buf)) return void sock.once('drain', pump);
        }
        sock.write('\r\n--b--\r\n', () => sock.resume());
      };
      pump();
      setTimeout(() => sock.resume(), 1500);
    });
    assert.equal(status, 'HTTP/1.1 413 Payload Too Large');
  });

  test('after an error with the whole body read, the connection stays usable', async () => {
    const s = await server();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const post = (body: Buffer): Promise<{ status: number; connection?: string }> =>
      new Promise((resolve, reject) => {
        const req = http.request(
          {
            host: '127.0.0.1',
            port: s.port,
            method: 'POST',
            path: '/',
            agent,
            headers: { 'content-type': 'multipart/form-data; boundary=b', 'content-length': String(body.length) },
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve({ status: res.statusCode!, connection: res.headers.connection }));
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    const bad = await post(multipartBody([{ name: 'photo', value: 'x' }, { name: 'photo', filename: 'p', data: png() }], 'b'));
    assert.equal(bad.status, 400);
    const good = await post(multipartBody([{ name: 'prompt', value: 'x' }], 'b'));
    assert.equal(good.status, 200);
    agent.destroy();
  });
});

// helpers

async function writeTemp(name: string, data: Buffer): Promise<string> {
  const p = path.join(dir, name);
  await fsp.writeFile(p, data);
  return p;
}

function hasCurl(): boolean {
  try {
    fs.accessSync('/usr/bin/curl', fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function curl(args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve) => {
    execFile('curl', args, { maxBuffer: 10 * MiB }, (err, stdout, stderr) => {
      resolve({ stdout, stderr, code: err ? ((err as { code?: number }).code ?? 1) : 0 });
    });
  });
}

async function waitFor(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('condition not met in time');
}
