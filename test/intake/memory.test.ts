/**
 * Small uploads held in memory (spool.ts): a file within the file limit stays
 * in memory while the shared budget lasts, anything else goes to disk, and
 * every byte of the budget comes back whatever happened to the request.
 */
import assert from 'node:assert/strict';
import fsp from 'node:fs/promises';
import net from 'node:net';
import { afterEach, describe, test } from 'node:test';
import { ClientAbortedError } from '../../src/intake/shared.js';
import { bytes, leftovers, png, send, sendMultipart, sha256, startIntakeServer, type IntakeServer, type ServerOptions } from './helpers.js';

const KiB = 1024;
const servers: IntakeServer[] = [];

afterEach(async () => {
  for (const s of servers.splice(0)) {
    assert.deepEqual(await leftovers(s), []);
    assert.equal(s.area.heldBytes, 0, 'every byte held in memory is given back');
    await s.close();
  }
});

async function server(memory: { fileLimit: number; budget: number }, options: ServerOptions = {}): Promise<IntakeServer> {
  const s = await startIntakeServer({ ...options, memory });
  servers.push(s);
  return s;
}

const where = (r: { json: any }) => r.json.intake.files.map((f: any) => f.where);

describe('small uploads in memory', () => {
  test('files within the limit stay in memory, intact; a larger one goes to disk, intact', async () => {
    const s = await server({ fileLimit: 64 * KiB, budget: 1024 * KiB });
    const small = png(1);
    const limit = bytes(64 * KiB, 2);
    const big = bytes(64 * KiB + 1, 3);
    // chunked, so the body's size is not known up front and each file decides as it goes
    const r = await sendMultipart(
      s.port,
      [
        { name: 'prompt', value: 'p' },
        { name: 'image[]', filename: 'a.png', type: 'image/png', data: small },
        { name: 'image[]', filename: 'b.png', type: 'image/png', data: limit },
        { name: 'image[]', filename: 'c.png', type: 'image/png', data: big },
      ],
      { chunked: true },
    );
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(where(r), ['memory', 'memory', 'disk']);
    assert.deepEqual(r.json.intake.files.map((f: any) => f.sha256), [sha256(small), sha256(limit), sha256(big)]);
  });

  test('a held upload is kept as the pieces it arrived in, not joined, each piece most of the buffer it keeps', async () => {
    const s = await server({ fileLimit: 4096 * KiB, budget: 8192 * KiB });
    const photo = bytes(1024 * KiB, 5);
    const mask = png(2);
    const r = await sendMultipart(s.port, [
      { name: 'prompt', value: 'p' },
      { name: 'image', filename: 'a.png', type: 'image/png', data: photo },
      { name: 'mask', filename: 'm.png', type: 'image/png', data: mask },
    ]);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(where(r), ['memory', 'memory']);
    assert.deepEqual(r.json.intake.files.map((f: any) => f.sha256), [sha256(photo), sha256(mask)]);
    // 1 MiB comes off the socket in many reads: held as they came
    assert.ok(r.json.intake.files[0].pieces > 4, `the photo in ${r.json.intake.files[0].pieces} pieces`);
  });

  test('the budget is shared: past it, files go to disk', async () => {
    const s = await server({ fileLimit: 64 * KiB, budget: 100 * KiB });
    const a = bytes(60 * KiB, 1);
    const b = bytes(60 * KiB, 2);
    const r = await sendMultipart(
      s.port,
      [
        { name: 'prompt', value: 'p' },
        { name: 'image[]', filename: 'a.png', data: a },
        { name: 'image[]', filename: 'b.png', data: b },
      ],
      { chunked: true },
    );
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(where(r), ['memory', 'disk']);
    assert.deepEqual(r.json.intake.files.map((f: any) => f.sha256), [sha256(a), sha256(b)]);
  });

  test('a body declared larger than the file limit goes to disk from its first byte', async () => {
    const s = await server({ fileLimit: 64 * KiB, budget: 1024 * KiB });
    const r = await sendMultipart(s.port, [
      { name: 'prompt', value: 'p' },
      { name: 'image[]', filename: 'a.png', data: png(1) },
      { name: 'image[]', filename: 'b.png', data: bytes(100 * KiB) },
    ]);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(where(r), ['disk', 'disk']);
  });

  test('JSON data URLs: small ones decoded into memory, larger ones to disk', async () => {
    const s = await server({ fileLimit: 64 * KiB, budget: 1024 * KiB });
    const small = png(4);
    const big = bytes(80 * KiB, 5);
    const body = { prompt: 'p', images: [{ image_url: `data:image/png;base64,${small.toString('base64')}` }, { image_url: `data:image/png;base64,${big.toString('base64')}` }] };
    const r = await send(s.port, Buffer.from(JSON.stringify(body)), { 'content-type': 'application/json' });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(where(r), ['memory', 'disk']);
    assert.deepEqual(r.json.intake.files.map((f: any) => f.sha256), [sha256(small), sha256(big)]);
  });

  test('an error after files were held gives their room back', async () => {
    const s = await server({ fileLimit: 64 * KiB, budget: 1024 * KiB }, { limits: { maxImages: 1 } });
    const r = await sendMultipart(s.port, [
      { name: 'image[]', filename: 'a.png', data: png(1) },
      { name: 'image[]', filename: 'b.png', data: png(2) },
    ]);
    assert.equal(r.status, 400);
    assert.equal(r.json.error.code, 'array_above_max_length');
  });

  test('a client that goes away while its file is held: ClientAbortedError, the room given back', async () => {
    const s = await server({ fileLimit: 64 * KiB, budget: 1024 * KiB });
    const boundary = 'held-boundary';
    const socket = net.connect(s.port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    socket.write(`POST /v1/images/edits HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=${boundary}\r\nTransfer-Encoding: chunked\r\n\r\n`);
    const part = Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n\r\n`), bytes(20 * KiB)]);
    socket.write(`${part.length.toString(16)}\r\n`);
    socket.write(part);
    socket.write('\r\n');
    for (let i = 0; i < 100 && s.area.heldBytes === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(s.area.heldBytes > 0, 'the part is being held');
    socket.destroy();
    await s.idle();
    assert.ok(s.outcomes[0]!.error instanceof ClientAbortedError, String(s.outcomes[0]!.error));
    assert.deepEqual(await fsp.readdir(s.base), []);
  });
});
