import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { ManualClock } from '../../src/clock.js';
import { DiskBlobStore } from '../../src/store/blobs.js';
import { createHostedImages, loadOrCreateSecret, type HostedImages } from '../../src/store/hosted.js';
import { tempDir } from './backends.js';

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** the route's view of a hosted URL: the file name and the query */
function parse(url: string): { name: string; query: { expires?: string; sig?: string } } {
  const u = new URL(url);
  const name = u.pathname.split('/').at(-1)!;
  return { name, query: { expires: u.searchParams.get('expires') ?? undefined, sig: u.searchParams.get('sig') ?? undefined } };
}

function flipChar(s: string, index: number): string {
  const c = s[index] === 'A' ? 'B' : 'A';
  return s.slice(0, index) + c + s.slice(index + 1);
}

describe('hosted images', () => {
  const root = tempDir('hosted');
  after(() => fs.rmSync(root, { recursive: true, force: true }));
  const blobs = new DiskBlobStore(path.join(root, 'blobs'));
  const clock = new ManualClock(Date.UTC(2026, 0, 1, 12, 0, 0));
  const secret = crypto.randomBytes(32);
  const hosted: HostedImages = createHostedImages({
    blobs,
    secret,
    clock,
    ttlSeconds: 3600,
    publicBaseUrl: 'https://img.example.com/gw/',
  });
  const png = Buffer.from('\x89PNG\r\n\x1a\n pretend pixels');

  test('save gives an absolute signed URL under the base, and it resolves before expiry', async () => {
    const saved = await hosted.save(png, 'png');
    assert.match(
      saved.url,
      /^https:\/\/img\.example\.com\/gw\/v1\/images\/files\/[A-Za-z0-9]{24}\.png\?expires=\d+&sig=[A-Za-z0-9_-]{43}$/,
    );
    assert.equal(saved.expiresAt, clock.now() + 3600 * 1000);
    const { name, query } = parse(saved.url);
    assert.equal(query.expires, String(saved.expiresAt / 1000));
    clock.advance(3599 * 1000);
    const got = await hosted.resolve(name, query);
    assert.ok(got);
    assert.equal(got.contentType, 'image/png');
    assert.equal(got.size, png.length);
    assert.deepEqual(await readAll(got.stream), png);
  });

  test('after expiry the URL is refused (null → 404)', async () => {
    const saved = await hosted.save(png, 'png');
    const { name, query } = parse(saved.url);
    clock.advance(3600 * 1000);
    assert.equal(await hosted.resolve(name, query), null);
    clock.advance(86_400_000);
    assert.equal(await hosted.resolve(name, query), null);
  });

  test('tampered signature, id, extension or expiry are refused', async () => {
    const saved = await hosted.save(png, 'jpeg');
    const { name, query } = parse(saved.url);
    const open = await hosted.resolve(name, query);
    assert.equal(open?.contentType, 'image/jpeg');
    open?.stream.destroy();

    assert.equal(await hosted.resolve(name, { ...query, sig: flipChar(query.sig!, 5) }), null);
    assert.equal(await hosted.resolve(name, { ...query, sig: query.sig!.slice(0, -1) }), null);
    assert.equal(await hosted.resolve(name, { ...query, sig: query.sig + '=' }), null);
    assert.equal(await hosted.resolve(name, { expires: query.expires }), null);
    assert.equal(await hosted.resolve(flipChar(name, 0), query), null);
    assert.equal(await hosted.resolve(name.replace('.jpeg', '.png'), query), null);
    assert.equal(await hosted.resolve(name, { ...query, expires: String(Number(query.expires) + 86_400) }), null);
    assert.equal(await hosted.resolve(name, { ...query, expires: '0' + query.expires }), null);
    assert.equal(await hosted.resolve(name, { sig: query.sig }), null);
    assert.equal(await hosted.resolve('../../etc/passwd', query), null);

    // a URL signed with another secret
    const other = createHostedImages({ blobs, secret: crypto.randomBytes(32), clock, ttlSeconds: 3600, publicBaseUrl: 'http://x' });
    const foreign = parse((await other.save(png, 'png')).url);
    assert.equal(await hosted.resolve(foreign.name, foreign.query), null);
  });

  test('a valid signature for a blob that is gone is null', async () => {
    const saved = await hosted.save(png, 'webp');
    const { name, query } = parse(saved.url);
    await blobs.delete(name);
    assert.equal(await hosted.resolve(name, query), null);
  });

  test('publicBaseUrl may be a function read at save time', async () => {
    let port = 0;
    const late = createHostedImages({ blobs, secret, clock, ttlSeconds: 60, publicBaseUrl: () => `http://127.0.0.1:${port}` });
    port = 4567;
    const saved = await late.save(png, 'png');
    assert.ok(saved.url.startsWith('http://127.0.0.1:4567/v1/images/files/'));
    const { name, query } = parse(saved.url);
    const got = await late.resolve(name, query);
    assert.ok(got);
    got.stream.destroy();
  });

  test('bad configuration is refused', async () => {
    assert.throws(() => createHostedImages({ blobs, secret: Buffer.alloc(8), clock, ttlSeconds: 60, publicBaseUrl: 'http://x' }), /32 bytes/);
    assert.throws(() => createHostedImages({ blobs, secret, clock, ttlSeconds: 0, publicBaseUrl: 'http://x' }), /ttlSeconds/);
    const relative = createHostedImages({ blobs, secret, clock, ttlSeconds: 60, publicBaseUrl: '/relative' });
    await assert.rejects(relative.save(png, 'png'), /absolute/);
    const ftp = createHostedImages({ blobs, secret, clock, ttlSeconds: 60, publicBaseUrl: 'ftp://host' });
    await assert.rejects(ftp.save(png, 'png'), /http or https/);
  });

  test('ids are unique and unguessable in shape', async () => {
    const names = new Set<string>();
    for (let i = 0; i < 20; i++) names.add(parse((await hosted.save(png, 'png')).url).name);
    assert.equal(names.size, 20);
  });
});

describe('loadOrCreateSecret', () => {
  const dir = path.join(tempDir('secret'), 'data');
  after(() => fs.rmSync(path.dirname(dir), { recursive: true, force: true }));

  test('creates 32 random bytes once, mode 0600, and reuses them', () => {
    const first = loadOrCreateSecret(dir);
    assert.equal(first.length, 32);
    const file = path.join(dir, 'url-signing.key');
    if (process.platform !== 'win32') assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(loadOrCreateSecret(dir), first);
    assert.deepEqual(fs.readdirSync(dir), ['url-signing.key']);
  });

  test('a secret file of the wrong length is an error, not silently replaced', () => {
    const bad = tempDir('secret-bad');
    fs.writeFileSync(path.join(bad, 'url-signing.key'), 'short');
    assert.throws(() => loadOrCreateSecret(bad), /exactly 32 bytes/);
    fs.rmSync(bad, { recursive: true, force: true });
  });
});
