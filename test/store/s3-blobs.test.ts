import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import type { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ManualClock } from '../../src/clock.js';
import { StoreUnavailableError } from '../../src/store/errors.js';
import { createHostedImages } from '../../src/store/hosted.js';
import { S3BlobStore, isAwsEndpoint, type S3BlobStoreOptions } from '../../src/store/s3-blobs.js';
import { startTestS3, type TestS3 } from '../helpers/s3.js';

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const uniquePrefix = () => `t-${crypto.randomBytes(6).toString('hex')}/`;

/** how long `run` took to fail, and with what */
async function failure(run: () => Promise<unknown>): Promise<{ err: unknown; ms: number }> {
  const started = Date.now();
  try {
    await run();
  } catch (err) {
    return { err, ms: Date.now() - started };
  }
  assert.fail('expected a failure');
}

describe('S3BlobStore on a real S3-compatible server (s3rver)', () => {
  let s3: TestS3;
  let raw: S3Client;
  const stores: S3BlobStore[] = [];
  const open = (extra: Partial<S3BlobStoreOptions> = {}): S3BlobStore => {
    const store = new S3BlobStore({ ...s3.settings, prefix: uniquePrefix(), ...extra });
    stores.push(store);
    return store;
  };
  const keysUnder = async (prefix: string): Promise<string[]> => {
    const page = await raw.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: prefix }));
    return (page.Contents ?? []).map((o) => o.Key!).sort();
  };

  before(async () => {
    s3 = await startTestS3();
    raw = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: s3.settings.credentials!, requestChecksumCalculation: 'WHEN_REQUIRED' });
  });
  after(async () => {
    for (const store of stores) store.close();
    raw.destroy();
    await s3.close();
  });

  test('put then open gives back the exact bytes, size and content type', async () => {
    const blobs = open();
    const small = Buffer.from('\x89PNG\r\n\x1a\n pretend pixels');
    // larger than the SDK's threshold for Expect: 100-continue and for streamed uploads
    const large = crypto.randomBytes(3 * 1024 * 1024 + 17);
    await blobs.put('small.png', small, 'image/png');
    await blobs.put('large.webp', large, 'image/webp');
    for (const [key, bytes, type] of [['small.png', small, 'image/png'], ['large.webp', large, 'image/webp']] as const) {
      const got = await blobs.open(key);
      assert.ok(got, key);
      assert.deepEqual(got.info, { size: bytes.length, contentType: type });
      assert.ok((await readAll(got.stream)).equals(bytes), `${key}: bytes differ`);
    }
    assert.deepEqual(await keysUnder(blobs.prefix), [`${blobs.prefix}large.webp`, `${blobs.prefix}small.png`]);
  });

  test('put replaces; a missing key opens as null; delete is idempotent', async () => {
    const blobs = open();
    await blobs.put('k.bin', Buffer.from('one'), 'application/octet-stream');
    await blobs.put('k.bin', Buffer.from('second'), 'image/jpeg');
    const got = await blobs.open('k.bin');
    assert.equal(got?.info.contentType, 'image/jpeg');
    assert.equal((await readAll(got!.stream)).toString(), 'second');
    assert.equal(await blobs.open('never-written.png'), null);
    await blobs.delete('k.bin');
    assert.equal(await blobs.open('k.bin'), null);
    await blobs.delete('k.bin');
  });

  test('keys that are not plain names are refused before any request', async () => {
    const blobs = open();
    for (const key of ['../escape', 'a/b', '', '.', '..', 'sp ace']) {
      await assert.rejects(blobs.put(key, Buffer.from('x'), 'text/plain'), /invalid blob key/);
      await assert.rejects(blobs.open(key), /invalid blob key/);
    }
  });

  test('sweep deletes what is older than the cutoff under its prefix only, across list pages', async () => {
    const blobs = open({ listPageSize: 2 });
    const neighbour = open();
    for (let i = 0; i < 5; i++) await blobs.put(`old-${i}.png`, Buffer.from(`old ${i}`), 'image/png');
    await neighbour.put('other.png', Buffer.from('not ours'), 'image/png');
    const cutoff = Date.now() + 1000;
    // S3 keeps whole seconds: the new ones must land after the cutoff's second
    await new Promise((r) => setTimeout(r, 2100));
    for (let i = 0; i < 3; i++) await blobs.put(`new-${i}.png`, Buffer.from(`new ${i}`), 'image/png');

    assert.equal(await blobs.sweep(cutoff - 60_000), 0);
    assert.equal(await blobs.sweep(cutoff), 5);
    assert.deepEqual(await keysUnder(blobs.prefix), [0, 1, 2].map((i) => `${blobs.prefix}new-${i}.png`));
    assert.equal(await blobs.sweep(cutoff), 0);
    assert.deepEqual(await keysUnder(neighbour.prefix), [`${neighbour.prefix}other.png`]);
    // an object outside any gateway prefix survives a sweep of everything
    await raw.send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'elsewhere.txt', Body: 'x' }));
    assert.equal(await blobs.sweep(Date.now() + 60_000), 3);
    assert.deepEqual(await keysUnder('elsewhere'), ['elsewhere.txt']);
  });

  test('hosted images over S3: save → resolve → the same bytes, any holder of the secret', async () => {
    const clock = new ManualClock(Date.now());
    const secret = crypto.randomBytes(32);
    const prefix = uniquePrefix();
    const make = () =>
      createHostedImages({ blobs: open({ prefix }), secret, clock, ttlSeconds: 600, publicBaseUrl: 'https://img.example.com' });
    const nodeA = make();
    const nodeB = make();
    const png = crypto.randomBytes(4096);
    const saved = await nodeA.save(png, 'png');
    const u = new URL(saved.url);
    const name = u.pathname.split('/').at(-1)!;
    const query = { expires: u.searchParams.get('expires')!, sig: u.searchParams.get('sig')! };
    const got = await nodeB.resolve(name, query);
    assert.ok(got);
    assert.equal(got.contentType, 'image/png');
    assert.equal(got.size, png.length);
    assert.ok((await readAll(got.stream)).equals(png));
    clock.advance(600_000);
    assert.equal(await nodeB.resolve(name, query), null, 'expired');
  });

  test('a stopped server is a StoreUnavailableError within seconds; a restarted one is used again', async () => {
    const blobs = open();
    await blobs.put('before.png', Buffer.from('kept'), 'image/png');
    await s3.stop();
    try {
      for (const run of [
        () => blobs.put('during.png', Buffer.from('x'), 'image/png'),
        () => blobs.open('before.png'),
        () => blobs.delete('before.png'),
        () => blobs.sweep(Date.now()),
        () => blobs.check(),
      ]) {
        const { err, ms } = await failure(run);
        assert.ok(err instanceof StoreUnavailableError, String(err));
        assert.equal(err.store, 's3');
        assert.equal(err.status, 503);
        assert.equal(err.code, 'service_unavailable');
        assert.equal(err.headers['retry-after'], '2');
        assert.ok(ms < 2000, `failed after ${ms} ms`);
      }
    } finally {
      await s3.start();
    }
    const got = await blobs.open('before.png');
    assert.equal((await readAll(got!.stream)).toString(), 'kept');
    await blobs.check();
  });

  test('a server that accepts and never answers fails by the deadline, not a hang', async () => {
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => sockets.add(socket));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      const blobs = open({ endpoint: `http://127.0.0.1:${port}` });
      const { err, ms } = await failure(() => blobs.open('x.png'));
      assert.ok(err instanceof StoreUnavailableError, String(err));
      assert.match(err.message, /timeout/);
      // the default deadline is 4 s, inside OPERATOR.md's 5
      assert.ok(ms >= 3500 && ms < 5000, `failed after ${ms} ms`);
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });

  test('a body that stalls mid-stream errors after the socket timeout instead of hanging the reader', async () => {
    const stalled = http.createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': '1000' });
      res.write(Buffer.alloc(10));
    });
    await new Promise<void>((r) => stalled.listen(0, '127.0.0.1', r));
    const port = (stalled.address() as net.AddressInfo).port;
    try {
      const blobs = open({ endpoint: `http://127.0.0.1:${port}`, socketTimeoutMs: 500 });
      const got = await blobs.open('x.png');
      assert.ok(got);
      assert.equal(got.info.size, 1000);
      const started = Date.now();
      await assert.rejects(readAll(got.stream));
      assert.ok(Date.now() - started < 2_000);
    } finally {
      stalled.closeAllConnections();
      stalled.close();
    }
  });

  test('errors name the store and a code, never the credentials or the endpoint', async () => {
    const credentials = { accessKeyId: 'AKIAEXAMPLEKEYID1234', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
    const wrong = open({ credentials });
    const { err } = await failure(() => wrong.put('x.png', Buffer.from('x'), 'image/png'));
    assert.ok(err instanceof StoreUnavailableError);
    const missingBucket = open({ bucket: 'no-such-bucket-here' });
    const { err: err2 } = await failure(() => missingBucket.open('x.png'));
    assert.ok(err2 instanceof StoreUnavailableError, 'a missing bucket is not a missing blob');
    assert.match(err2.message, /NoSuchBucket/);
    for (const e of [err, err2]) {
      const text = `${e.message} ${JSON.stringify(e)} ${String(e.stack)}`;
      for (const secret of [credentials.accessKeyId, credentials.secretAccessKey, s3.endpoint, String(s3.port), 'S3RVER']) {
        assert.ok(!text.includes(secret), `error text quotes ${secret}: ${text}`);
      }
      assert.match(e.message, /^The image storage \(S3\) is unavailable \(/);
    }
  });
});

test('isAwsEndpoint: only AWS hosts keep the SDK default checksums', () => {
  assert.equal(isAwsEndpoint(null), true);
  assert.equal(isAwsEndpoint('https://s3.eu-west-1.amazonaws.com'), true);
  assert.equal(isAwsEndpoint('https://s3.cn-north-1.amazonaws.com.cn'), true);
  assert.equal(isAwsEndpoint('http://127.0.0.1:9000'), false);
  assert.equal(isAwsEndpoint('https://nyc3.digitaloceanspaces.com'), false);
  assert.equal(isAwsEndpoint('https://amazonaws.com.evil.example'), false);
  assert.equal(isAwsEndpoint('not a url'), false);
});
