/**
 * Two gateway nodes on one S3 bucket and one IMAGEGATE_URL_SECRET: a
 * `response_format=url` answer from node A is served by node B.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { makePng } from '../helpers/images.js';
import { startTestS3, type TestS3 } from '../helpers/s3.js';
import { startTestApp, type TestApp } from '../helpers/server.js';

async function editForUrl(node: TestApp, png: Buffer): Promise<Response> {
  const fd = new FormData();
  fd.append('image', new Blob([png], { type: 'image/png' }), 'a.png');
  fd.append('prompt', 'invert');
  fd.append('response_format', 'url');
  fd.append('quality', 'low');
  return fetch(`${node.url}/v1/images/edits`, { method: 'POST', headers: { authorization: `Bearer ${node.masterKey}` }, body: fd });
}

describe('hosted URLs across nodes sharing an S3 bucket', () => {
  let s3: TestS3;
  let nodeA: TestApp;
  let nodeB: TestApp;
  let png: Buffer;

  before(async () => {
    s3 = await startTestS3();
    const env = { ...s3.env, IMAGEGATE_URL_SECRET: crypto.randomBytes(32).toString('hex') };
    [nodeA, nodeB] = await Promise.all([startTestApp({ env }), startTestApp({ env })]);
    png = await makePng(64, 48);
  });
  after(async () => {
    await Promise.all([nodeA?.close(), nodeB?.close()]);
    await s3?.close();
  });

  test("node A's url answer is served by node B, byte for byte", async () => {
    const res = await editForUrl(nodeA, png);
    const body = (await res.json()) as { data: { url: string }[] };
    assert.equal(res.status, 200, JSON.stringify(body));
    const url = new URL(body.data[0]!.url);
    assert.equal(url.origin, nodeA.url);

    const fromA = await fetch(url);
    assert.equal(fromA.status, 200);
    const bytesA = Buffer.from(await fromA.arrayBuffer());

    const onB = new URL(url.pathname + url.search, nodeB.url);
    const fromB = await fetch(onB);
    assert.equal(fromB.status, 200);
    assert.equal(fromB.headers.get('content-type'), 'image/png');
    const bytesB = Buffer.from(await fromB.arrayBuffer());
    assert.equal(Number(fromB.headers.get('content-length')), bytesB.length);
    assert.ok(bytesB.equals(bytesA));
    assert.ok(bytesB.subarray(0, 8).equals(Buffer.from('\x89PNG\r\n\x1a\n', 'latin1')));

    // the image is in the bucket, under the gateway's prefix, and on neither node's disk
    const raw = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: s3.settings.credentials! });
    try {
      const listed = await raw.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: 'imagegate/' }));
      assert.ok(listed.Contents?.some((o) => o.Key === `imagegate/${url.pathname.split('/').at(-1)}`));
    } finally {
      raw.destroy();
    }
    for (const node of [nodeA, nodeB]) assert.equal(fs.existsSync(path.join(node.dataDir, 'blobs')), false);
  });

  test('a tampered signature is refused by B as it would be by A', async () => {
    const res = await editForUrl(nodeA, png);
    const { data } = (await res.json()) as { data: { url: string }[] };
    const url = new URL(data[0]!.url);
    const sig = url.searchParams.get('sig')!;
    url.searchParams.set('sig', (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1));
    const answer = await fetch(new URL(url.pathname + url.search, nodeB.url));
    assert.equal(answer.status, 404);
  });

  test('with the bucket down, url answers and hosted GETs are a 503 naming the store, and work again after', async () => {
    const res = await editForUrl(nodeA, png);
    const { data } = (await res.json()) as { data: { url: string }[] };
    const url = new URL(data[0]!.url);
    const onB = new URL(url.pathname + url.search, nodeB.url);
    await s3.stop();
    try {
      const started = Date.now();
      const get = await fetch(onB);
      const edit = await editForUrl(nodeA, png);
      assert.ok(Date.now() - started < 10_000);
      for (const answer of [get, edit]) {
        assert.equal(answer.status, 503);
        assert.equal(answer.headers.get('retry-after'), '2');
        const text = await answer.text();
        const envelope = JSON.parse(text) as { error: { type: string; code: string; message: string; param: null } };
        assert.equal(envelope.error.type, 'server_error');
        assert.equal(envelope.error.code, 'service_unavailable');
        assert.equal(envelope.error.param, null);
        assert.match(envelope.error.message, /S3/);
        for (const secret of [s3.endpoint, String(s3.port), 'S3RVER']) assert.ok(!text.includes(secret), text);
      }
    } finally {
      await s3.start();
    }
    assert.equal((await fetch(onB)).status, 200);
  });
});
