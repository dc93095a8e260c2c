import assert from 'node:assert/strict';
import http from 'node:http';
import { after, afterEach, before, describe, test } from 'node:test';
import { leftovers, png, send, sha256, startIntakeServer, type IntakeServer, type ServerOptions } from './helpers.js';
import { hasOpenssl, selfSigned, startImageHost, type Cert, type ImageHost } from './tls.js';

const MiB = 1024 * 1024;
const servers: IntakeServer[] = [];

afterEach(async () => {
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

const postJson = (s: IntakeServer, body: unknown, opts: { chunked?: boolean } = {}) =>
  send(s.port, Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)), { 'content-type': 'application/json' }, opts);

const dataUrl = (b: Buffer, type = 'image/png'): string => `data:${type};base64,${b.toString('base64')}`;

function assertError(r: { status: number; json: any }, status: number, code: string, param: string | null): void {
  assert.equal(r.status, status, JSON.stringify(r.json));
  assert.equal(r.json.error.code, code);
  assert.equal(r.json.error.param, param);
}

describe('JSON bodies', () => {
  test('data: URLs become spooled files; other keys pass through as JSON values, in order', async () => {
    const s = await server();
    const a = png(1);
    const b = png(2);
    const m = png(3);
    const r = await postJson(s, {
      model: 'gpt-image-1',
      prompt: 'p',
      images: [{ image_url: dataUrl(a) }, { image_url: dataUrl(b, 'image/webp') }],
      mask: { image_url: dataUrl(m) },
      n: 2,
      stream: false,
      user: null,
    });
    assert.equal(r.status, 200);
    assert.equal(r.json.intake.kind, 'json');
    assert.deepEqual(r.json.intake.fields, [
      ['model', 'gpt-image-1'],
      ['prompt', 'p'],
      ['n', 2],
      ['stream', false],
      ['user', null],
    ]);
    assert.deepEqual(
      r.json.intake.files.map((f: any) => [f.role, f.field, f.param, f.declaredType, f.sha256, f.explicitIndex, f.filename]),
      [
        ['image', 'images[0]', 'images[0].image_url', 'image/png', sha256(a), null, null],
        ['image', 'images[1]', 'images[1].image_url', 'image/webp', sha256(b), null, null],
        ['mask', 'mask', 'mask.image_url', 'image/png', sha256(m), null, null],
      ],
    );
    assert.equal(r.json.intake.bytesIn, Number(s.outcomes[0]!.headers['content-length']));
  });

  test('a large data URL is decoded in slices and arrives intact', async () => {
    const s = await server();
    const big = Buffer.alloc(3 * MiB + 7);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7919) & 0xff;
    const r = await postJson(s, { images: [{ image_url: dataUrl(big) }] });
    assert.equal(r.status, 200);
    assert.equal(r.json.intake.files[0].size, big.length);
    assert.equal(r.json.intake.files[0].sha256, sha256(big));
  });

  test('no images: no files (the contract reports what is missing)', async () => {
    const s = await server();
    const r = await postJson(s, { prompt: 'p' });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json.intake.files, []);
    assert.deepEqual(r.json.intake.fields, [['prompt', 'p']]);
  });

  test('other schemes are refused', async () => {
    const s = await server();
    for (const url of ['http://example.com/a.png', 'file:///etc/passwd', 'ftp://example.com/a.png', 'gopher://x/1', 'javascript:alert(1)', 'a.png']) {
      const r = await postJson(s, { images: [{ image_url: url }] });
      assertError(r, 400, 'invalid_image_url', 'images[0].image_url');
    }
    const m = await postJson(s, { images: [{ image_url: dataUrl(png()) }], mask: { image_url: 'http://x/m.png' } });
    assertError(m, 400, 'invalid_image_url', 'mask.image_url');
  });

  test('malformed data URLs are refused', async () => {
    const s = await server();
    for (const url of [
      'data:image/png,notbase64',
      'data:text/plain;base64,aGVsbG8=',
      'data:image/png;base64,a$b=',
      'data:image/png;base64,abc',
      'data:;base64,aGVsbG8=',
    ]) {
      const r = await postJson(s, { images: [{ image_url: dataUrl(png()) }, { image_url: url }] });
      assertError(r, 400, 'invalid_image_url', 'images[1].image_url');
    }
  });

  test('file_id is not found (no files store yet)', async () => {
    const s = await server();
    const r = await postJson(s, { images: [{ image_url: dataUrl(png()) }, { file_id: 'file-abc' }] });
    assertError(r, 404, 'file_not_found', 'images[1].file_id');
    const m = await postJson(s, { images: [{ image_url: dataUrl(png()) }], mask: { file_id: 'file-m' } });
    assertError(m, 404, 'file_not_found', 'mask.file_id');
  });

  test('image references must be objects with exactly one of image_url / file_id', async () => {
    const s = await server();
    assertError(await postJson(s, { images: 'x' }), 400, 'invalid_type', 'images');
    assertError(await postJson(s, { images: [{ image_url: dataUrl(png()) }, 'x'] }), 400, 'invalid_type', 'images[1]');
    assertError(await postJson(s, { images: [{ image_url: 'https://a/b', file_id: 'f' }] }), 400, 'invalid_value', 'images[0]');
    assertError(await postJson(s, { images: [{}] }), 400, 'invalid_value', 'images[0]');
    assertError(await postJson(s, { images: [{ image_url: 5 }] }), 400, 'invalid_type', 'images[0].image_url');
    assertError(await postJson(s, { images: [{ image_url: dataUrl(png()), detail: 'x' }] }), 400, 'unknown_parameter', 'images[0].detail');
    assertError(await postJson(s, { mask: [{ image_url: dataUrl(png()) }] }), 400, 'invalid_type', 'mask');
  });

  test('more than maxImages images is array_above_max_length on images', async () => {
    const s = await server();
    const one = { image_url: dataUrl(png()) };
    const ok = await postJson(s, { images: Array(16).fill(one) });
    assert.equal(ok.status, 200);
    assert.equal(ok.json.intake.files.length, 16);
    const r = await postJson(s, { images: Array(17).fill(one) });
    assertError(r, 400, 'array_above_max_length', 'images');
    assert.match(r.json.error.message, /maximum length 16, but got an array with length 17/);
  });

  test('invalid JSON, or JSON that is not an object', async () => {
    const s = await server();
    assertError(await postJson(s, '{"prompt": "x",'), 400, 'invalid_json', null);
    assertError(await postJson(s, ''), 400, 'invalid_json', null);
    assertError(await postJson(s, '[1,2]'), 400, 'invalid_json', null);
    assertError(await postJson(s, 'null'), 400, 'invalid_json', null);
  });

  test('over maxJsonBytes: by Content-Length before reading, and while streaming', async () => {
    const s = await server({ limits: { maxJsonBytes: 1000 } });
    const body = { prompt: 'x'.repeat(2000) };
    assertError(await postJson(s, body), 413, 'request_too_large', null);
    assertError(await postJson(s, body, { chunked: true }), 413, 'request_too_large', null);
    const ok = await postJson(s, { prompt: 'x'.repeat(900) });
    assert.equal(ok.status, 200);
  });

  test('a data URL over the per-image cap is a 413 naming it (cap chosen by fileLimitFor)', async () => {
    const s = await server({
      fileLimitFor: (role, fields) => {
        const model = fields.find(([n]) => n === 'model')?.[1];
        if (role === 'mask') return 500;
        return model === 'dall-e-2' ? 1000 : 5000;
      },
    });
    const img = (n: number) => ({ image_url: dataUrl(Buffer.alloc(n, 1)) });
    assert.equal((await postJson(s, { images: [img(5000)] })).status, 200);
    assertError(await postJson(s, { images: [img(5000), img(5001)] }), 413, 'file_too_large', 'images[1].image_url');
    assertError(await postJson(s, { model: 'dall-e-2', images: [img(1001)] }), 413, 'file_too_large', 'images[0].image_url');
    assertError(await postJson(s, { images: [img(10)], mask: img(501) }), 413, 'file_too_large', 'mask.image_url');
  });
});

describe('JSON bodies with https image URLs', { skip: !hasOpenssl() && 'openssl CLI not available' }, () => {
  let cert: Cert;
  let host: ImageHost;
  const image = png(77);
  before(async () => {
    cert = selfSigned();
    host = await startImageHost(cert, image);
  });
  after(async () => {
    await host.close();
  });

  test('an https URL is fetched into the spool (private allowed, CA trusted)', async () => {
    const s = await server({ allowPrivateUrls: true, ca: cert.cert });
    const r = await postJson(s, {
      images: [{ image_url: `https://127.0.0.1:${host.port}/img` }, { image_url: dataUrl(png(1)) }],
      mask: { image_url: `https://127.0.0.1:${host.port}/redirect?to=/img` },
    });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(
      r.json.intake.files.map((f: any) => [f.param, f.sha256, f.declaredType]),
      [
        ['images[0].image_url', sha256(image), 'image/png'],
        ['images[1].image_url', sha256(png(1)), 'image/png'],
        ['mask.image_url', sha256(image), 'image/png'],
      ],
    );
  });

  test('private, loopback and link-local addresses are refused by default', async () => {
    const s = await server({ ca: cert.cert });
    host.hits.length = 0;
    for (const h of ['127.0.0.1', 'localhost', '169.254.169.254', '[::1]', '10.0.0.1', '[::ffff:127.0.0.1]']) {
      const r = await postJson(s, { images: [{ image_url: dataUrl(png()) }, { image_url: `https://${h}:${host.port}/img` }] });
      assertError(r, 400, 'invalid_image_url', 'images[1].image_url');
      assert.match(r.json.error.message, /private, loopback or link-local address/);
    }
    assert.deepEqual(host.hits, []);
  });

  test('an oversized fetched image is a 413; a failing one stops the others and leaves nothing behind', async () => {
    const s = await server({ allowPrivateUrls: true, ca: cert.cert, limits: { maxImageBytes: 4000 } });
    const r = await postJson(s, {
      images: [
        { image_url: `https://127.0.0.1:${host.port}/hang` },
        { image_url: `https://127.0.0.1:${host.port}/chunked?n=100000` },
      ],
    });
    assertError(r, 413, 'file_too_large', 'images[1].image_url');
    const s404 = await postJson(s, { images: [{ image_url: `https://127.0.0.1:${host.port}/status?code=404` }] });
    assertError(s404, 400, 'invalid_image_url', 'images[0].image_url');
  });

  test('a client that goes away while the body is read', async () => {
    const s = await server();
    await new Promise<void>((resolve) => {
      const req = http.request({
        host: '127.0.0.1',
        port: s.port,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': '100000' },
      });
      req.on('error', () => resolve());
      req.write('{"prompt": "', () => setTimeout(() => req.destroy(), 50));
      req.on('close', () => resolve());
    });
    await s.idle();
    assert.equal((s.outcomes[0]!.error as Error).name, 'ClientAbortedError');
  });
});
