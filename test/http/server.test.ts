/**
 * Everything around the edit route: hosted URLs and their expiry (on a
 * manual clock), models, health, the admin API, the request log, headers.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/clock.js';
import { decode, makePng } from '../helpers/images.js';
import { startTestApp, type TestApp } from '../helpers/server.js';

let t: TestApp;
const clock = new ManualClock(Date.UTC(2026, 10, 23, 12, 0, 0));
let png: Buffer;

before(async () => {
  t = await startTestApp({ clock });
  png = await makePng(300, 200);
});
after(async () => {
  await t.close();
});

const auth = () => ({ authorization: `Bearer ${t.masterKey}` });

async function editForUrl(extra: Record<string, string> = {}): Promise<string> {
  const fd = new FormData();
  fd.append('image', new Blob([png], { type: 'image/png' }), 'a.png');
  fd.append('prompt', 'invert');
  fd.append('response_format', 'url');
  fd.append('quality', 'low');
  for (const [k, v] of Object.entries(extra)) fd.append(k, v);
  const res = await fetch(`${t.url}/v1/images/edits`, { method: 'POST', headers: auth(), body: fd });
  const body = (await res.json()) as any;
  assert.equal(res.status, 200, JSON.stringify(body));
  return body.data[0].url as string;
}

describe('hosted result URLs', () => {
  test('valid before expiry, 404 after (manual clock)', async () => {
    const url = await editForUrl();
    const u = new URL(url);
    assert.equal(u.origin, t.url);
    assert.equal(Number(u.searchParams.get('expires')), Math.floor(clock.now() / 1000) + 3600);
    const ok = await fetch(url);
    assert.equal(ok.status, 200);
    const img = await decode(Buffer.from(await ok.arrayBuffer()));
    assert.deepEqual([img.width, img.height], [1536, 1024]);

    clock.advance(59 * 60_000);
    assert.equal((await fetch(url)).status, 200, 'still valid at 59 minutes');
    clock.advance(60_000 + 1000);
    const gone = await fetch(url);
    assert.equal(gone.status, 404);
    const body = (await gone.json()) as any;
    assert.equal(body.error.code, 'image_not_found');
  });

  test('a tampered signature, id or expiry is a 404', async () => {
    const url = await editForUrl({ output_format: 'webp' });
    assert.equal((await fetch(url)).status, 200);
    const u = new URL(url);
    const sig = u.searchParams.get('sig')!;
    const flipped = new URL(url);
    flipped.searchParams.set('sig', (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1));
    assert.equal((await fetch(flipped)).status, 404);
    const later = new URL(url);
    later.searchParams.set('expires', String(Number(u.searchParams.get('expires')) + 3600));
    assert.equal((await fetch(later)).status, 404);
    const otherId = new URL(url.replace(/files\/([A-Za-z0-9])/, (_m, c) => `files/${c === 'x' ? 'y' : 'x'}`));
    assert.equal((await fetch(otherId)).status, 404);
    const noSig = new URL(url);
    noSig.searchParams.delete('sig');
    assert.equal((await fetch(noSig)).status, 404);
    assert.equal((await fetch(`${t.url}/v1/images/files/..%2f..%2fimagegate.db`)).status, 404);
  });
});

describe('warnings', () => {
  test('a prompt with line breaks, emoji and special-token text is answered; its warning header is safe', async () => {
    const fd = new FormData();
    fd.append('image', new Blob([png], { type: 'image/png' }), 'a.png');
    fd.append('prompt', 'bla\r\nX-Evil: 1 ünïcödé 🙂 <|endoftext|>');
    fd.append('quality', 'low');
    const res = await fetch(`${t.url}/v1/images/edits`, { method: 'POST', headers: auth(), body: fd });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-evil'), null);
    assert.equal(
      res.headers.get('x-imagegate-warning'),
      "instruction not understood: 'bla%0D%0AX-Evil: 1 %C3%BCn%C3%AFc%C3%B6d%C3%A9 %F0%9F%99%82 <|endoftext|>'; the image was returned unchanged",
    );
    const body = (await res.json()) as any;
    // "<|endoftext|>" counts as text, not as a special token
    assert.ok(body.usage.input_tokens_details.text_tokens > 10);
  });
});

describe('models and health', () => {
  test('GET /v1/models lists every served model', async () => {
    const res = await fetch(`${t.url}/v1/models`, { headers: auth() });
    assert.equal(res.status, 200);
    const body = (await res.json()) as any;
    assert.equal(body.object, 'list');
    const ids = body.data.map((m: any) => m.id);
    for (const id of ['gpt-image-1', 'gpt-image-1.5', 'dall-e-2', 'flux-kontext-pro']) assert.ok(ids.includes(id), id);
    assert.deepEqual(Object.keys(body.data[0]).sort(), ['created', 'id', 'object', 'owned_by']);
  });
  test('GET /v1/models/{id}, and 404 for an unknown one', async () => {
    const res = await fetch(`${t.url}/v1/models/gpt-image-1`, { headers: auth() });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as any).id, 'gpt-image-1');
    const missing = await fetch(`${t.url}/v1/models/nope`, { headers: auth() });
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as any).error.code, 'model_not_found');
  });
  test('models need a key', async () => {
    const res = await fetch(`${t.url}/v1/models`);
    assert.equal(res.status, 401);
  });
  test('/healthz answers without a key', async () => {
    const res = await fetch(`${t.url}/healthz`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: 'ok' });
    assert.match(res.headers.get('x-request-id')!, /^req_/);
  });
  test('an unknown route is a 404 in the envelope', async () => {
    const res = await fetch(`${t.url}/v1/images/nope`, { method: 'POST', headers: auth() });
    assert.equal(res.status, 404);
    const body = (await res.json()) as any;
    assert.equal(body.error.code, 'unknown_url');
  });
});

describe('admin API', () => {
  test('create, list, use and revoke a key; the master key only', async () => {
    const created = await fetch(`${t.url}/admin/keys`, {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'ci' }),
    });
    assert.equal(created.status, 201);
    const key = (await created.json()) as any;
    assert.match(key.key, /^sk-ig-[A-Za-z0-9]{40}$/);
    assert.equal(key.name, 'ci');

    const list = (await (await fetch(`${t.url}/admin/keys`, { headers: auth() })).json()) as any;
    const listed = list.data.find((k: any) => k.id === key.id);
    assert.ok(listed);
    assert.equal(listed.key, undefined, 'secrets are never listed');

    // a virtual key works on /v1 but not on /admin
    assert.equal((await fetch(`${t.url}/v1/models`, { headers: { authorization: `Bearer ${key.key}` } })).status, 200);
    const forbidden = await fetch(`${t.url}/admin/keys`, { headers: { authorization: `Bearer ${key.key}` } });
    assert.equal(forbidden.status, 403);

    const revoked = await fetch(`${t.url}/admin/keys/${key.id}`, { method: 'DELETE', headers: auth() });
    assert.equal(revoked.status, 200);
    assert.equal((await fetch(`${t.url}/v1/models`, { headers: { authorization: `Bearer ${key.key}` } })).status, 401);
    assert.equal((await fetch(`${t.url}/admin/keys/key_nope`, { method: 'DELETE', headers: auth() })).status, 404);
  });

  test('the request log records edits, failed ones included', async () => {
    const fd = new FormData();
    fd.append('prompt', 'x');
    const bad = await fetch(`${t.url}/v1/images/edits`, { method: 'POST', headers: auth(), body: fd });
    assert.equal(bad.status, 400);
    const id = bad.headers.get('x-request-id')!;
    const res = await fetch(`${t.url}/admin/requests?limit=50`, { headers: auth() });
    const body = (await res.json()) as any;
    const entry = body.data.find((e: any) => e.id === id);
    assert.ok(entry, 'failed request logged');
    assert.equal(entry.status, 400);
    assert.equal(entry.errorCode, 'missing_required_parameter');
    assert.equal(entry.keyId, 'master');
  });
});
