/** The upstream multipart body: streamed from the spool, or sent from memory as a few buffers; the same bytes either way. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { HeldBytes } from '../../src/held-bytes.js';
import { MultipartBody } from '../../src/providers/multipart.js';

const big = Buffer.alloc(100_000, 7);
const small = Buffer.from('tiny png bytes');

function body(image: { path: string } | { bytes: Buffer } | { held: HeldBytes }): MultipartBody {
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

test('an upload held as it arrived goes out as its pieces: the large ones not copied, the same bytes', async () => {
  // as intake keeps a 100,000-byte upload: views into the request's chunks, the last one short
  const pieces = [big.subarray(0, 40_000), big.subarray(40_000, 80_000), big.subarray(80_000, 99_900), big.subarray(99_900)];
  const held = new HeldBytes(pieces, big.length);
  const fromPieces = body({ held });
  const parts = fromPieces.buffers()!;
  for (const piece of pieces.slice(0, 3)) assert.ok(parts.includes(piece), 'a large piece goes out as it is');
  assert.ok(!parts.includes(pieces[3]!), 'a small piece is joined with the part headers after it');
  const fromOne = body({ bytes: big });
  const expected = Buffer.from((await fromOne.toBuffer()).toString('latin1').replaceAll(fromOne.boundary, fromPieces.boundary), 'latin1');
  assert.ok(Buffer.concat(parts).equals(expected));
  assert.ok((await fromPieces.toBuffer()).equals(expected), 'streamed, the same bytes');
  assert.equal(Buffer.concat(parts).length, fromPieces.length);
  assert.equal(held.pieces, pieces, 'nothing joined them');
});

test('HeldBytes: joined once, on first use, and the pieces let go', () => {
  const pieces = [Buffer.from('abc'), Buffer.from('de'), Buffer.from('f')];
  const held = new HeldBytes(pieces, 6);
  assert.equal(held.pieces, pieces);
  const joined = held.buffer;
  assert.equal(joined.toString(), 'abcdef');
  assert.equal(held.buffer, joined, 'kept');
  assert.deepEqual(held.pieces, [joined]);
  const one = Buffer.from('xyz');
  assert.equal(HeldBytes.of(one).buffer, one, 'a single piece is its own buffer');
});
