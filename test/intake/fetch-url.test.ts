import assert from 'node:assert/strict';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { GatewayError } from '../../src/errors.js';
import { isPublicAddress } from '../../src/intake/address.js';
import { fetchImageUrl, type FetchImageOptions, type Resolver } from '../../src/intake/fetch-url.js';
import { png } from './helpers.js';
import { hasOpenssl, selfSigned, startImageHost, type Cert, type ImageHost } from './tls.js';

describe('isPublicAddress', () => {
  const refused = [
    '127.0.0.1',
    '127.255.255.254',
    '10.0.0.1',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '169.254.0.1',
    '0.0.0.0',
    '100.64.0.1',
    '100.127.255.255',
    '224.0.0.1',
    '239.255.255.250',
    '255.255.255.255',
    '::',
    '::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:169.254.169.254',
    '::ffff:10.0.0.1',
    '::127.0.0.1',
    '64:ff9b::a9fe:a9fe',
    '2002:7f00:1::',
    'fc00::1',
    'fd12:3456::1',
    'fe80::1',
    'fe80::1%eth0',
    'febf::1',
    'ff02::1',
    '2001:db8::1',
    'not an ip',
    '',
    '1.2.3',
  ];
  const allowed = [
    '1.1.1.1',
    '8.8.8.8',
    '93.184.216.34',
    '172.15.255.255',
    '172.32.0.1',
    '100.63.255.255',
    '100.128.0.1',
    '169.253.255.255',
    '2606:4700:4700::1111',
    '2a00:1450:4001:80b::200e',
    '::ffff:8.8.8.8',
    '2002:0808:0808::1',
    '64:ff9b::808:808',
  ];
  for (const a of refused) test(`refuses ${JSON.stringify(a)}`, () => assert.equal(isPublicAddress(a), false));
  for (const a of allowed) test(`allows ${a}`, () => assert.equal(isPublicAddress(a), true));
});

describe('fetchImageUrl', { skip: !hasOpenssl() && 'openssl CLI not available' }, () => {
  let cert: Cert;
  let host: ImageHost;
  let dir: string;
  const image = png(42);
  let n = 0;
  const dest = (): string => path.join(dir, `f${++n}`);
  const mapTo =
    (table: Record<string, string>): Resolver =>
    async (hostname) => {
      const address = table[hostname];
      if (!address) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
      return [{ address, family: address.includes(':') ? 6 : 4 }];
    };
  const opts = (extra: Partial<FetchImageOptions> = {}): FetchImageOptions => ({
    dest: dest(),
    maxBytes: 10_000,
    timeoutMs: 5_000,
    maxRedirects: 3,
    allowPrivate: false,
    ca: cert.cert,
    param: 'images[0].image_url',
    ...extra,
  });
  const refusal = async (url: string, extra: Partial<FetchImageOptions> = {}): Promise<GatewayError> => {
    const e = await fetchImageUrl(url, opts(extra)).then(
      () => assert.fail(`fetched ${url}`),
      (x: unknown) => x,
    );
    assert.ok(e instanceof GatewayError, String(e));
    assert.equal(e.status, 400);
    assert.equal(e.code, 'invalid_image_url');
    assert.equal(e.param, 'images[0].image_url');
    return e;
  };
  const PRIVATE = /resolves to a private, loopback or link-local address, which is not allowed/;

  before(async () => {
    cert = selfSigned();
    host = await startImageHost(cert, image);
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'intake-fetch-'));
  });
  after(async () => {
    await host.close();
    await fsp.rm(dir, { recursive: true, force: true });
  });
  afterEach(() => {
    host.hits.length = 0;
  });

  test('fetches over https with a trusted CA when private addresses are allowed', async () => {
    const o = opts({ allowPrivate: true });
    const got = await fetchImageUrl(`https://127.0.0.1:${host.port}/img`, o);
    assert.equal(got.size, image.length);
    assert.equal(got.contentType, 'image/png');
    assert.deepEqual(await fsp.readFile(o.dest), image);
  });

  test('the address check sits on the connection path: the same name is refused, then allowed', async () => {
    const resolve = mapTo({ 'public.test': '127.0.0.1' });
    const url = `https://public.test:${host.port}/img`;
    const e = await refusal(url, { resolve });
    assert.match(e.message, PRIVATE);
    assert.deepEqual(host.hits, []);
    const got = await fetchImageUrl(url, opts({ resolve, allowPrivate: true }));
    assert.equal(got.size, image.length);
    assert.deepEqual(host.hits, ['/img']);
  });

  for (const url of [
    'https://127.0.0.1/x.png',
    'https://localhost/x.png',
    'https://169.254.169.254/latest/meta-data/',
    'https://[::1]/x.png',
    'https://[::ffff:127.0.0.1]/x.png',
    'https://0.0.0.0/x.png',
    'https://10.1.2.3/x.png',
    'https://100.64.0.1/x.png',
    'https://[fe80::1]/x.png',
  ]) {
    test(`refuses ${url}`, async () => {
      const e = await refusal(url.replace('/x.png', `:${host.port}/img`).replace('/latest/meta-data/', `:${host.port}/img`));
      assert.match(e.message, PRIVATE);
      assert.deepEqual(host.hits, []);
    });
  }

  test('refuses names resolving to the metadata address, or to a mix of public and private', async () => {
    const e = await refusal(`https://metadata.test:${host.port}/img`, { resolve: mapTo({ 'metadata.test': '169.254.169.254' }) });
    assert.match(e.message, PRIVATE);
    const mixed: Resolver = async () => [
      { address: '93.184.216.34', family: 4 },
      { address: '127.0.0.1', family: 4 },
    ];
    assert.match((await refusal(`https://mixed.test:${host.port}/img`, { resolve: mixed })).message, PRIVATE);
    assert.deepEqual(host.hits, []);
  });

  test('refuses other schemes', async () => {
    for (const url of [`http://127.0.0.1:${host.port}/img`, 'http://example.com/a.png', 'ftp://example.com/a.png', 'file:///etc/passwd']) {
      const e = await refusal(url, { allowPrivate: true });
      assert.match(e.message, /only https:\/\/ URLs/);
    }
  });

  test('a redirect from an allowed host to 127.0.0.1 is refused', async () => {
    // img.test is an operator-trusted internal host; 127.0.0.1 is not
    const base = {
      resolve: mapTo({ 'img.test': '127.0.0.1', 'internal.test': '127.0.0.1' }),
      allowedHosts: ['img.test'],
    };
    const ok = await fetchImageUrl(`https://img.test:${host.port}/img`, opts(base));
    assert.equal(ok.size, image.length);
    host.hits.length = 0;

    const toLiteral = encodeURIComponent(`https://127.0.0.1:${host.port}/img`);
    const e = await refusal(`https://img.test:${host.port}/redirect?to=${toLiteral}`, base);
    assert.match(e.message, PRIVATE);
    const toName = encodeURIComponent(`https://internal.test:${host.port}/img`);
    const e2 = await refusal(`https://img.test:${host.port}/redirect?to=${toName}`, base);
    assert.match(e2.message, PRIVATE);
    // the redirects were fetched, the image behind them never was
    assert.deepEqual(host.hits, ['/redirect', '/redirect']);
  });

  test('redirects are followed (relative too), up to maxRedirects, https only', async () => {
    const allow = { allowPrivate: true };
    const got = await fetchImageUrl(`https://127.0.0.1:${host.port}/redirect?to=/img`, opts(allow));
    assert.equal(got.size, image.length);
    assert.equal(got.finalUrl, `https://127.0.0.1:${host.port}/img`);
    const loop = await refusal(`https://127.0.0.1:${host.port}/loop`, allow);
    assert.match(loop.message, /redirected more than 3 times/);
    assert.equal(host.hits.filter((h) => h === '/loop').length, 4);
    const toHttp = encodeURIComponent(`http://127.0.0.1:${host.port}/img`);
    const e = await refusal(`https://127.0.0.1:${host.port}/redirect?to=${toHttp}`, allow);
    assert.match(e.message, /redirected to a URL that is not https/);
  });

  test('size cap: by Content-Length and while streaming; exactly the cap passes', async () => {
    const allow = { allowPrivate: true, maxBytes: 5000 };
    const exact = await fetchImageUrl(`https://127.0.0.1:${host.port}/chunked?n=5000`, opts(allow));
    assert.equal(exact.size, 5000);
    for (const p of ['/big?n=5001', '/chunked?n=20000']) {
      const e = await fetchImageUrl(`https://127.0.0.1:${host.port}${p}`, opts(allow)).catch((x: unknown) => x);
      assert.ok(e instanceof GatewayError);
      assert.equal(e.status, 413);
      assert.equal(e.code, 'file_too_large');
      assert.equal(e.param, 'images[0].image_url');
    }
  });

  test('upstream status, timeout and an untrusted certificate are the URL’s fault (400)', async () => {
    const allow = { allowPrivate: true };
    const s404 = await refusal(`https://127.0.0.1:${host.port}/status?code=404`, allow);
    assert.match(s404.message, /HTTP status 404/);
    const slow = await refusal(`https://127.0.0.1:${host.port}/hang`, { ...allow, timeoutMs: 300 });
    assert.match(slow.message, /timed out after 300 ms/);
    const tls = await refusal(`https://127.0.0.1:${host.port}/img`, { ...allow, ca: undefined });
    assert.match(tls.message, /TLS certificate is not valid/);
    const refused = await refusal('https://127.0.0.1:1/img', allow);
    assert.match(refused.message, /connection was refused/);
    const unknown = await refusal('https://nowhere.test/img', { resolve: mapTo({}) });
    assert.match(unknown.message, /could not be resolved/);
    for (const e of [s404, slow, tls, refused]) assert.doesNotMatch(e.message, /127\.0\.0\.1|ECONN|stack/);
  });

  test('an abort signal stops the fetch with its reason', async () => {
    const ac = new AbortController();
    const p = fetchImageUrl(`https://127.0.0.1:${host.port}/hang`, opts({ allowPrivate: true, signal: ac.signal }));
    setTimeout(() => ac.abort(new Error('gone')), 50);
    await assert.rejects(p, /gone/);
  });
});
