/**
 * Resilience against the ComfyUI emulator: each fault a ComfyUI server (or
 * the proxy in front of it) has on a bad day, with the client's final status
 * and body and the attempts the request log recorded. Timeouts are short in
 * the config so the suite stays fast.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startComfyUiEmulator, type ComfyUiEmulator } from '../emulators/comfyui.js';
import { makePng } from '../helpers/images.js';
import { assertClosesWhenClientLeaves, assertNoSecrets, attemptsOf, entryOf, eventually, gateway, postEdit, type TestApp } from './helpers.js';

const WORKFLOW = path.resolve(import.meta.dirname, '../../examples/comfyui/img2img.json');
const KEY_A = 'comfy-a-0123456789abcdefSECRET';
const KEY_B = 'comfy-b-0123456789abcdefSECRET';

let small: Buffer;
let a: ComfyUiEmulator;
let b: ComfyUiEmulator;
let strict: ComfyUiEmulator;
let foreign: ComfyUiEmulator;
let t: TestApp;

before(async () => {
  small = await makePng(128, 96);
  // runs are done at the first look, so the attempts stay short (comfyui.test.ts polls a pending run)
  a = await startComfyUiEmulator({ apiKey: KEY_A, pollsBeforeDone: 0 });
  b = await startComfyUiEmulator({ apiKey: KEY_B, pollsBeforeDone: 0 });
  // a server without the workflow's checkpoint: ComfyUI refuses the prompt in validation
  strict = await startComfyUiEmulator({ checkpoints: ['some-other-model.safetensors'] });
  foreign = await new (a.constructor as typeof ComfyUiEmulator)().start('127.0.0.2');
  const fast = { connectMs: 1000, firstByteMs: 400, totalMs: 1500 };
  const breaker = { failures: 1000, cooldownMs: 1000 };
  t = await gateway(
    {
      providers: {
        a: { type: 'comfyui', baseUrl: a.baseUrl, apiKey: 'env:KEY_A', workflow: WORKFLOW, maxRetries: 1, timeouts: fast, breaker },
        b: { type: 'comfyui', baseUrl: b.baseUrl, apiKey: 'env:KEY_B', workflow: WORKFLOW, maxRetries: 0, timeouts: fast, breaker },
        strict: { type: 'comfyui', baseUrl: strict.baseUrl, workflow: WORKFLOW, maxRetries: 1, timeouts: fast, breaker },
      },
      models: {
        comfy: { deployments: [{ provider: 'a', model: 'sdxl' }, { provider: 'b', model: 'sdxl' }] },
        'only-a': { deployments: [{ provider: 'a', model: 'sdxl' }] },
        strict: { deployments: [{ provider: 'strict', model: 'sdxl' }, { provider: 'b', model: 'sdxl' }] },
      },
    },
    { env: { KEY_A, KEY_B }, logs: true },
  );
});

after(async () => {
  await t.close();
  await Promise.all([a.close(), b.close(), strict.close(), foreign.close()]);
});

function reset() {
  for (const e of [a, b, strict, foreign]) e.reset();
}

const on = (p: string) => ({ match: (r: { path: string }) => r.path.startsWith(p) });

const edit = (model: string, signal?: AbortSignal) => postEdit(t, { model, image: small }, signal);

const entry = (r: { headers: Headers }) => entryOf(t, r.headers.get('x-request-id'));

describe('faults, comfyui emulator', () => {
  test('429 with Retry-After: 1 on /prompt, then success: one retry, after at least 1 s', async () => {
    reset();
    a.fault({ kind: 'status', status: 429, headers: { 'retry-after': '1' }, body: 'Too Many Requests' }, on('/prompt'));
    const r = await edit('only-a');
    assert.equal(r.status, 200);
    assert.ok(r.ms >= 1000, `waited ${r.ms} ms`);
    assert.equal(a.requests.filter((q) => q.path === '/prompt').length, 2);
    const e = await entry(r);
    assert.deepEqual(attemptsOf(e), [['a/sdxl', 429], ['a/sdxl', 200]]);
    assert.equal(e.attempts[0].reason, 'HTTP 429: Too Many Requests');
    assert.ok(Buffer.from(r.body.data[0].b64_json, 'base64').equals(a.emitted.at(-1)!));
  });

  test('500 on /prompt until the second deployment serves it', async () => {
    reset();
    a.fault({ kind: 'status', status: 500, body: '500 Internal Server Error\n\nServer got itself in trouble' }, { times: Infinity, ...on('/prompt') });
    const r = await edit('comfy');
    a.clearFaults();
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-imagegate-deployment'), 'b/sdxl');
    assert.ok(Buffer.from(r.body.data[0].b64_json, 'base64').equals(b.emitted.at(-1)!));
    assert.deepEqual(attemptsOf(await entry(r)), [['a/sdxl', 500], ['a/sdxl', 500], ['b/sdxl', 200]]);
  });

  test('a hung /history hits the timeout: 504, not a hang, and the connections are given up', async () => {
    reset();
    a.fault({ kind: 'hang' }, { times: 2, ...on('/history/') });
    const r = await edit('only-a');
    assert.equal(r.status, 504);
    assert.equal(r.body.error.code, 'upstream_timeout');
    assert.match(r.body.error.message, /^The deployment of model 'only-a' timed out: a\/sdxl: no response within 400 ms \(first-byte timeout\) \(2 attempts\)\.$/);
    assert.ok(r.ms < 4000, `answered in ${r.ms} ms`);
    assert.deepEqual(attemptsOf(await entry(r)), [['a/sdxl', null], ['a/sdxl', null]]);
    const hung = new Set(a.requests.filter((q) => q.path.startsWith('/history/')).map((q) => q.connection));
    assert.ok(await eventually(() => a.connections.filter((c) => hung.has(c.id)).every((c) => c.closedAt !== null), 2000));
  });

  test('a connection reset in the middle of a /history body is retried', async () => {
    reset();
    a.fault({ kind: 'reset-mid-body' }, on('/history/'));
    const r = await edit('only-a');
    assert.equal(r.status, 200);
    const e = await entry(r);
    assert.deepEqual(attemptsOf(e), [['a/sdxl', null], ['a/sdxl', 200]]);
    assert.match(e.attempts[0].reason!, /^connection error/);
  });

  test('malformed JSON from /prompt is retried, then answered', async () => {
    reset();
    a.fault({ kind: 'malformed', body: '{"prompt_id": ' }, on('/prompt'));
    const r = await edit('only-a');
    assert.equal(r.status, 200);
    const e = await entry(r);
    assert.deepEqual(attemptsOf(e), [['a/sdxl', 200], ['a/sdxl', 200]]);
    assert.equal(e.attempts[0].reason, 'malformed response: HTTP 200 with a body that is not JSON (application/json)');
  });

  test('a workflow ComfyUI refuses in validation: 400 with its words, no retry, no fallback', async () => {
    reset();
    const r = await edit('strict');
    assert.equal(r.status, 400);
    assert.equal(r.body.error.code, 'upstream_rejected');
    assert.equal(
      r.body.error.message,
      "Deployment strict/sdxl refused the request: HTTP 400: Prompt outputs failed validation: node 1 (CheckpointLoaderSimple): Value not in list: ckpt_name: 'sd_xl_base_1.0.safetensors' not in [\"some-other-model.safetensors\"]",
    );
    assert.equal(strict.requests.filter((q) => q.path === '/prompt').length, 1);
    assert.equal(b.requests.length, 0);
    assert.deepEqual(attemptsOf(await entry(r)), [['strict/sdxl', 400]]);
  });

  test('a run that fails (out of memory) is run again', async () => {
    reset();
    a.failRuns(1);
    const r = await edit('only-a');
    assert.equal(r.status, 200);
    const e = await entry(r);
    assert.deepEqual(attemptsOf(e), [['a/sdxl', null], ['a/sdxl', 200]]);
    assert.equal(e.attempts[0].reason, 'ComfyUI run failed: node 6 (KSampler): torch.OutOfMemoryError: Allocation on device 0 would exceed allowed memory. (out of memory)');
    assert.equal(a.runs.filter((x) => x.status === 'error').length, 1);
  });

  test('a run that keeps failing falls back to the next deployment', async () => {
    reset();
    a.failRuns(2, 'RuntimeError', 'expected scalar type Half but found Float');
    const r = await edit('comfy');
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-imagegate-deployment'), 'b/sdxl');
    assert.deepEqual(attemptsOf(await entry(r)), [['a/sdxl', null], ['a/sdxl', null], ['b/sdxl', 200]]);
  });

  test('an output that names a URL elsewhere is asked of the provider\'s own /view, never followed', async () => {
    reset();
    const elsewhere = `http://127.0.0.2:${foreign.port}/view?filename=x.png`;
    a.rewriteOutput = (f) => ({ ...f, filename: elsewhere });
    const r = await edit('only-a');
    assert.equal(r.status, 502);
    assert.equal(foreign.requests.length, 0, 'no request reached the foreign host');
    const views = a.requests.filter((q) => q.path === '/view');
    assert.equal(views.length, 2);
    for (const v of views) assert.equal(v.query.get('filename'), elsewhere);
    assert.match(r.body.error.message, /GET \/view of .* answered HTTP 404/);
  });

  test('every deployment failing: 502 listing each, never a key', async () => {
    reset();
    a.fault({ kind: 'status', status: 500, body: `proxy error for key ${KEY_A}` }, { times: Infinity, ...on('/upload/image') });
    b.fault({ kind: 'status', status: 401, body: `bad key ${KEY_B}` }, { times: Infinity });
    const r = await edit('comfy');
    a.clearFaults();
    b.clearFaults();
    assert.equal(r.status, 502);
    assert.equal(r.body.error.message, "All 2 deployments of model 'comfy' failed: a/sdxl: HTTP 500: proxy error for key [redacted] (2 attempts); b/sdxl: HTTP 401: bad key [redacted].");
    const e = await entry(r);
    assertNoSecrets([JSON.stringify(r.body), JSON.stringify(e), ...t.logs], [KEY_A, KEY_B]);
    assert.ok(t.logs.length > 0);
  });

  test('a client that disconnects while the job runs: the upstream connection closes within 2 s', async () => {
    reset();
    a.fault({ kind: 'hang' }, on('/history/'));
    await assertClosesWhenClientLeaves(a, (signal) => edit('only-a', signal), (q) => q.path.startsWith('/history/'));
    assert.ok(await eventually(() => a.requests.filter((q) => q.path.startsWith('/history/')).length === 1, 500), 'no more polls');
  });
});
