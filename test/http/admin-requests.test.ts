/**
 * GET /admin/requests as OPERATOR.md fixes it: entries in its shape, newest
 * first, filters, cursor paging, and a clear 400 for a bad query value.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { makePng } from '../helpers/images.js';
import { startTestApp, type TestApp } from '../helpers/server.js';

let t: TestApp;
const ids: string[] = [];

before(async () => {
  t = await startTestApp();
  const png = await makePng(64, 64);
  for (let i = 0; i < 5; i++) {
    const fd = new FormData();
    fd.append('prompt', 'make it black and white');
    if (i !== 2) fd.append('image', new Blob([png], { type: 'image/png' }), 'a.png');
    const res = await fetch(`${t.url}/v1/images/edits`, { method: 'POST', headers: { authorization: `Bearer ${t.masterKey}` }, body: fd });
    await res.arrayBuffer();
    ids.push(res.headers.get('x-request-id')!);
  }
});
after(() => t.close());

const get = async (query: string) => {
  const res = await fetch(`${t.url}/admin/requests${query}`, { headers: { authorization: `Bearer ${t.masterKey}` } });
  return { status: res.status, body: (await res.json()) as any };
};

test('entries in the operator shape, newest first, with their attempts', async () => {
  const { status, body } = await get('');
  assert.equal(status, 200);
  assert.deepEqual(body.data.map((e: any) => e.id), [...ids].reverse());
  const ok = body.data[0];
  assert.deepEqual(Object.keys(ok), ['id', 'createdAt', 'keyId', 'model', 'deployment', 'status', 'errorCode', 'latencyMs', 'images', 'bytesIn', 'usage', 'costUsd', 'warnings', 'stream', 'user', 'attempts', 'outputs']);
  assert.match(ok.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.equal(ok.keyId, 'master');
  assert.equal(ok.deployment, 'local');
  assert.equal(ok.images, 1);
  assert.equal(ok.costUsd, '0');
  assert.equal(ok.usage.output_tokens, 4160);
  assert.equal(ok.attempts.length, 1);
  assert.equal(ok.attempts[0].deployment, 'local');
  assert.equal(ok.attempts[0].status, 200);
  assert.equal(ok.attempts[0].reason, null);
  const refused = body.data.find((e: any) => e.id === ids[2]);
  assert.equal(refused.status, 400);
  assert.equal(refused.errorCode, 'missing_required_parameter');
  assert.equal(refused.usage, null);
  assert.deepEqual(refused.attempts, []);
  assert.equal(body.nextCursor, null);
});

test('paging with nextCursor walks every entry once', async () => {
  const seen: string[] = [];
  let cursor = '';
  for (let page = 0; page < 5; page++) {
    const { body } = await get(`?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
    seen.push(...body.data.map((e: any) => e.id));
    if (!body.nextCursor) break;
    cursor = body.nextCursor;
  }
  assert.deepEqual(seen, [...ids].reverse());
});

test('filters: status, keyId, model, since', async () => {
  assert.deepEqual((await get('?status=400')).body.data.map((e: any) => e.id), [ids[2]]);
  assert.equal((await get('?keyId=key_nobody')).body.data.length, 0);
  assert.equal((await get('?model=gpt-image-1')).body.data.length, 4);
  assert.equal((await get(`?since=${Math.floor(Date.now() / 1000) + 3600}`)).body.data.length, 0);
  assert.equal((await get('?since=2020-01-01T00:00:00Z')).body.data.length, 5);
});

test('a bad value is a 400 naming it', async () => {
  for (const [q, param] of [
    ['?limit=abc', 'limit'],
    ['?limit=0', 'limit'],
    ['?limit=1001', 'limit'],
    ['?status=ok', 'status'],
    ['?since=yesterday', 'since'],
    ['?cursor=bogus', 'cursor'],
    ['?key_id=x', 'key_id'],
  ]) {
    const { status, body } = await get(q);
    assert.equal(status, 400, q);
    assert.equal(body.error.param, param, q);
  }
});
