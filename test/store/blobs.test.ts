import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { DiskBlobStore, isValidBlobKey } from '../../src/store/blobs.js';
import { tempDir } from './backends.js';

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function listFiles(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.path, e.name)));
}

describe('DiskBlobStore', () => {
  const root = tempDir('blobs');
  const dir = path.join(root, 'blobs');
  const blobs = new DiskBlobStore(dir);
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  test('put then open returns bytes, size and content type', async () => {
    const bytes = Buffer.from('\x89PNG fake image bytes');
    await blobs.put('abc123.png', bytes, 'image/png');
    const got = await blobs.open('abc123.png');
    assert.ok(got);
    assert.deepEqual(got.info, { size: bytes.length, contentType: 'image/png' });
    assert.deepEqual(await readAll(got.stream), bytes);
  });

  test('files fan out in two levels and no temp files remain', async () => {
    await blobs.put('fanout_key-1.webp', Buffer.alloc(10), 'image/webp');
    const files = listFiles(dir).filter((f) => f.endsWith('fanout_key-1.webp'));
    assert.equal(files.length, 1);
    assert.match(files[0]!, /^[0-9a-f]{2}[/\\][0-9a-f]{2}[/\\]fanout_key-1\.webp$/);
    assert.deepEqual(listFiles(dir).filter((f) => f.includes('~tmp-')), []);
  });

  test('put replaces an existing blob', async () => {
    await blobs.put('replace.bin', Buffer.from('one'), 'application/octet-stream');
    await blobs.put('replace.bin', Buffer.from('second'), 'image/jpeg');
    const got = await blobs.open('replace.bin');
    assert.equal(got?.info.contentType, 'image/jpeg');
    assert.equal((await readAll(got!.stream)).toString(), 'second');
  });

  test('open of an absent key is null; delete removes and is idempotent', async () => {
    assert.equal(await blobs.open('never-written'), null);
    await blobs.put('to-delete', Buffer.from('x'), 'text/plain');
    await blobs.delete('to-delete');
    assert.equal(await blobs.open('to-delete'), null);
    await blobs.delete('to-delete');
  });

  test('keys that could escape the directory are refused everywhere', async () => {
    const bad = ['', '.', '..', '../x', '..\\x', 'a/b', '/etc/passwd', 'a\0b', 'x~type', 'sp ace', 'é', 'a'.repeat(201)];
    for (const key of bad) {
      assert.equal(isValidBlobKey(key), false, JSON.stringify(key));
      await assert.rejects(blobs.put(key, Buffer.from('x'), 'text/plain'), /invalid blob key/, JSON.stringify(key));
      await assert.rejects(blobs.open(key), /invalid blob key/);
      await assert.rejects(blobs.delete(key), /invalid blob key/);
    }
    assert.equal(fs.existsSync(path.join(root, 'x')), false);
    for (const key of ['a', '..a', 'a..', 'A-Z_a.z-0.9', 'a'.repeat(200)]) assert.equal(isValidBlobKey(key), true, key);
  });

  test('a content type that could break a header is refused', async () => {
    await assert.rejects(blobs.put('ct', Buffer.from('x'), 'image/png\r\nX-Evil: 1'), /content type/);
    await assert.rejects(blobs.put('ct', Buffer.from('x'), 'nonsense'), /content type/);
  });

  test('sweep deletes blobs older than the cut-off by mtime and keeps newer ones', async () => {
    const sweepDir = path.join(root, 'sweep');
    const store = new DiskBlobStore(sweepDir);
    await store.put('old-1', Buffer.from('a'), 'image/png');
    await store.put('old-2', Buffer.from('b'), 'image/png');
    await store.put('fresh', Buffer.from('c'), 'image/png');
    const past = new Date(Date.now() - 3_600_000);
    for (const key of ['old-1', 'old-2']) {
      fs.utimesSync(store.pathFor(key), past, past);
      fs.utimesSync(store.pathFor(key) + '~type', past, past);
    }
    // leftovers of a crash mid-write, also old
    const orphanTemp = store.pathFor('fresh') + '~tmp-1-dead';
    fs.writeFileSync(orphanTemp, 'partial');
    fs.utimesSync(orphanTemp, past, past);

    assert.equal(await store.sweep(Date.now() - 60_000), 2);
    assert.equal(await store.open('old-1'), null);
    assert.equal(await store.open('old-2'), null);
    const fresh = await store.open('fresh');
    assert.ok(fresh);
    fresh.stream.destroy();
    assert.equal(fs.existsSync(orphanTemp), false);
    assert.deepEqual(listFiles(sweepDir).map((f) => path.basename(f)).sort(), ['fresh', 'fresh~type']);
    assert.equal(await store.sweep(Date.now() - 60_000), 0);
  });

  test('sweep of a store never written to is 0', async () => {
    assert.equal(await new DiskBlobStore(path.join(root, 'empty')).sweep(Date.now()), 0);
  });
});
