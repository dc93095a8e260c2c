/** The upstream multipart body: streamed from the spool, or sent from memory as a few buffers; the same bytes either way. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { MultipartBody } from '../../src/providers/multipart.js';

const big = Buffer.alloc(100_000, 7);
const small = Buffer.from('tiny png bytes');

function body(image: { path: string } | { bytes: Buffer }): MultipartBody {
  return new MultipartBody()
    .field('model', 'gpt-image-1')
    .file('image[]', { ...image, size: big.length, format: 'png', width: 1, height: 1 }, 'image0')
    .file('mask', { bytes: small, size: small.length, format: 'png', width: 1, height: 1 }, 'mask')
    .field('prompt', 'p')
    .field('n', 2);
}

test('from memory: the streamed bytes, in few buffers, image bytes not copied', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imagegate-mp-'));
  try {
    const file = path.join(dir, 'a.png');
    fs.writeFileSync(file, big);
    const onDisk = body({ path: file });
    assert.equal(onDisk.buffers(), null, 'a file on disk is streamed');
    const streamed = await onDisk.toBuffer();

    const inMemory = body({ bytes: big });
    const parts = inMemory.buffers()!;
    assert.ok(parts.includes(big), 'the image bytes go out as they are');
    assert.equal(parts.length, 3, 'the small pieces before and after the image are joined');
    const joined = Buffer.concat(parts);
    assert.ok(joined.equals(Buffer.from(streamed.toString('latin1').replaceAll(onDisk.boundary, inMemory.boundary), 'latin1')));
    assert.equal(joined.length, inMemory.length);
    assert.equal(inMemory.buffers(), parts, 'kept for a retry');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
