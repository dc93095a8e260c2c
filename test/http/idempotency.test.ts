/**
 * Idempotency-Key on one node: a resend gets the first answer byte for byte
 * and is charged once, whether it comes after the first or while the first
 * still runs; the same key with another request is a 409.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startOpenAiEmulator, type OpenAiEmulator } from '../emulators/openai.js';
import { gateway, pictures, type Pictures, type TestApp } from '../providers/helpers.js';

let pics: Pictures;
let up: OpenAiEmulator;
let t: TestApp;
let key: { id: string; key: string };

before(async () => {
  pics = await pictures();
  up = await startOpenAiEmulator({ apiKey: 'sk-up-0123456789abcdef' });
  t = await gateway(
    {
      providers: { up: { type: 'openai', baseUrl: up.baseUrl, apiKey: 'env:UP_KEY' } },
      models: { 'dall-e-2': { deployments: [{ provider: 'up', model: 'dall-e-2' }] } },
      prices: { 'dall-e-2': { perImage: { default: '0.02' } } },
    },
    { env: { UP_KEY: 'sk-up-0123456789abcdef' } },
  );
  const res = await fetch(`${t.url}/admin/keys`, { method: 'POST', headers: { authorization: `Bearer ${t.masterKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'idem', creditUsd: '1.00' }) });
  key = (await res.json()) as { id: string; key: string };
});

after(async () => {
  await t.close();
  await up.close();
  pics.cleanup();
});

function edit(idem: string, prompt = 'a hat', extra: Record<string, string> = {}) {
  const fd = new FormData();
  fd.append('model', 'dall-e-2');
  fd.append('prompt', prompt);
  fd.append('response_format', 'b64_json');
  for (const [k, v] of Object.entries(extra)) fd.append(k, v);
  fd.append('image', new Blob([fs.readFileSync(pics.small)], { type: 'image/png' }), 'a.png');
  return fetch(`${t.url}/v1/images/edits`, { method: 'POST', headers: { authorization: `Bearer ${key.key}`, 'idempotency-key': idem }, body: fd });
}

test('twice in a row: the first answer again, byte for byte, charged once', async () => {
  up.reset();
  const first = await edit('order-1');
  const a = Buffer.from(await first.arrayBuffer());
  const second = await edit('order-1');
  const b = Buffer.from(await second.arrayBuffer());
  assert.equal(first.status, 200);
  assert.equal(second.status, 200);
  assert.ok(a.equals(b), 'identical bodies');
  assert.equal(first.headers.get('x-imagegate-idempotent-replay'), null);
  assert.equal(second.headers.get('x-imagegate-idempotent-replay'), 'true');
  assert.equal(second.headers.get('x-imagegate-cost-usd'), '0.020000');
  assert.equal(up.requests.length, 1, 'the upstream ran once');
  assert.equal((await t.app.stores.ledger.balance(key.id)).charged, 20_000);
  const replayLog = await t.app.stores.requestLog.get(second.headers.get('x-request-id')!);
  assert.equal(replayLog?.costMicros, 0);
});

test('twice at once: one runs, the other waits for it; one charge, identical bodies', async () => {
  up.reset();
  const before = (await t.app.stores.ledger.balance(key.id)).charged;
  up.fault({ kind: 'delay', ms: 800 });
  const [x, y] = await Promise.all([edit('order-2'), edit('order-2')]);
  const [bx, by] = [Buffer.from(await x.arrayBuffer()), Buffer.from(await y.arrayBuffer())];
  assert.deepEqual([x.status, y.status], [200, 200]);
  assert.ok(bx.equals(by));
  assert.equal(up.requests.length, 1);
  assert.deepEqual([x.headers.get('x-imagegate-idempotent-replay'), y.headers.get('x-imagegate-idempotent-replay')].sort(), ['true', null].sort());
  assert.equal((await t.app.stores.ledger.balance(key.id)).charged - before, 20_000);
});

test('the same key with another request: 409 idempotency_key_reused', async () => {
  await (await edit('order-3')).arrayBuffer();
  const other = await edit('order-3', 'a different hat');
  assert.equal(other.status, 409);
  const err = ((await other.json()) as { error: { code: string; param: string } }).error;
  assert.deepEqual([err.code, err.param], ['idempotency_key_reused', 'Idempotency-Key']);
});

test('a client mistake is replayed too; an over-long key is a 400', async () => {
  const bad = await edit('order-4', 'x', { size: '9x9' });
  const again = await edit('order-4', 'x', { size: '9x9' });
  assert.equal(bad.status, 400);
  assert.equal(again.status, 400);
  assert.equal(await bad.text(), await again.text());
  assert.equal(again.headers.get('x-imagegate-idempotent-replay'), 'true');
  const long = await edit('k'.repeat(256));
  assert.equal(long.status, 400);
  assert.equal(((await long.json()) as { error: { param: string } }).error.param, 'Idempotency-Key');
});

test('an upstream failure is not kept: the resend runs again', async () => {
  up.reset();
  up.fault({ kind: 'status', status: 500 }, { times: 3 });
  const failed = await edit('order-5');
  assert.equal(failed.status, 502);
  const retried = await edit('order-5');
  assert.equal(retried.status, 200);
  assert.equal(retried.headers.get('x-imagegate-idempotent-replay'), null);
});
