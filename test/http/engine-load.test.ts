/**
 * The built-in engine works off the event loop: while a 1024x1024
 * content-aware fill runs in a worker thread, the server keeps answering,
 * and a client that goes away cancels the work.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { ellipseMask, makeLandscape } from '../../bench/lib/photo.js';
import { startTestApp, type TestApp } from '../helpers/server.js';

let t: TestApp;
let photo: Buffer;
let mask: Buffer;

before(async () => {
  t = await startTestApp(); // one engine thread
  const img = makeLandscape(1024);
  photo = await sharp(Buffer.from(img.data.buffer), { raw: { width: 1024, height: 1024, channels: 4 } }).png().toBuffer();
  const hole = ellipseMask(1024, 1024, 0.25);
  const m = Buffer.alloc(1024 * 1024 * 4, 255);
  for (let i = 0; i < hole.length; i++) if (hole[i]) m[i * 4 + 3] = 0;
  mask = await sharp(m, { raw: { width: 1024, height: 1024, channels: 4 } }).png().toBuffer();
});
after(async () => {
  assert.deepEqual(await t.spoolFiles(), []);
  await t.close();
});

function fillRequest(signal?: AbortSignal): Promise<Response> {
  const fd = new FormData();
  fd.append('image', new Blob([photo], { type: 'image/png' }), 'photo.png');
  fd.append('mask', new Blob([mask], { type: 'image/png' }), 'mask.png');
  fd.append('prompt', 'remove this');
  fd.append('size', '1024x1024');
  return fetch(`${t.url}/v1/images/edits`, { method: 'POST', headers: { authorization: `Bearer ${t.masterKey}` }, body: fd, signal });
}

async function healthLatency(): Promise<number> {
  const start = performance.now();
  const res = await fetch(`${t.url}/healthz`);
  await res.text();
  assert.equal(res.status, 200);
  return performance.now() - start;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * q))]!;

test('GET /healthz stays fast while a 1024x1024 fill runs', async () => {
  const idle: number[] = [];
  for (let i = 0; i < 30; i++) idle.push(await healthLatency());

  let done = false;
  const edit = fillRequest().then(async (res) => {
    done = true;
    return { status: res.status, body: (await res.json()) as any };
  });
  const busy: number[] = [];
  while (!done) {
    const ms = await healthLatency();
    if (!done) busy.push(ms);
  }
  const result = await edit;
  assert.equal(result.status, 200, JSON.stringify(result.body));
  assert.ok(busy.length >= 10, `only ${busy.length} answers while the fill ran`);
  const ratio = median(busy) / median(idle);
  // a fill on the event loop would hold answers for its whole run (about a second): a ratio in the hundreds
  assert.ok(ratio < 10, `busy/idle median ratio ${ratio.toFixed(1)} (idle ${median(idle).toFixed(2)} ms, busy ${median(busy).toFixed(2)} ms)`);
  assert.ok(quantile(busy, 0.9) < 50, `90th percentile while busy: ${quantile(busy, 0.9).toFixed(1)} ms`);
});

test('a client that goes away cancels the fill', async () => {
  const ac = new AbortController();
  const pending = fillRequest(ac.signal).catch((e: Error) => e);
  // wait until the request is in the engine (the body is read and validated quickly)
  await new Promise((r) => setTimeout(r, 300));
  ac.abort();
  assert.equal(((await pending) as Error).name, 'AbortError');

  // the worker was stopped, not left running: a quick edit right after is served by a fresh one
  const fd = new FormData();
  fd.append('image', new Blob([photo], { type: 'image/png' }), 'photo.png');
  fd.append('prompt', 'grayscale');
  fd.append('size', '1024x1024');
  const res = await fetch(`${t.url}/v1/images/edits`, { method: 'POST', headers: { authorization: `Bearer ${t.masterKey}` }, body: fd });
  assert.equal(res.status, 200);
  assert.equal(((await res.json()) as any).data.length, 1);

  let entry;
  for (let i = 0; i < 50 && !entry; i++) {
    entry = (await t.app.stores.requestLog.list({ limit: 10 })).find((e) => e.status === 499);
    if (!entry) await new Promise((r) => setTimeout(r, 20));
  }
  assert.ok(entry, 'the cancelled request is in the log');
  assert.equal(entry.errorCode, 'client_closed_request');
  assert.equal(entry.model, 'gpt-image-1');
});

test('a full engine queue answers 503 with Retry-After, and the queued edits still finish', async () => {
  const busy = await startTestApp({ env: { IMAGEGATE_ENGINE_MAX_QUEUE: '1' } });
  try {
    const send = () => {
      const fd = new FormData();
      fd.append('image', new Blob([photo], { type: 'image/png' }), 'photo.png');
      fd.append('mask', new Blob([mask], { type: 'image/png' }), 'mask.png');
      fd.append('prompt', 'remove this');
      fd.append('size', '1024x1024');
      return fetch(`${busy.url}/v1/images/edits`, { method: 'POST', headers: { authorization: `Bearer ${busy.masterKey}` }, body: fd }).then(
        async (res) => ({ status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as any }),
      );
    };
    // one runs, one waits, the third finds the queue full
    const results = await Promise.all([send(), send(), send()]);
    const statuses = results.map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, 200, 503], JSON.stringify(results.map((r) => [r.status, r.body.error?.code])));
    const refused = results.find((r) => r.status === 503)!;
    assert.equal(refused.retryAfter, '1');
    assert.equal(refused.body.error.code, 'service_unavailable');
    assert.equal(refused.body.error.type, 'server_error');
    assert.deepEqual(await busy.spoolFiles(), []);
  } finally {
    await busy.close();
  }
});
