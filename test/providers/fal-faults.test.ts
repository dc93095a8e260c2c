/**
 * Resilience against the fal emulator: each fault a provider has on a bad
 * day, with the client's final status and body and the attempts the request
 * log recorded. Timeouts are shortened in the config so the suite stays fast.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startFalEmulator, type FalEmulator } from '../emulators/fal.js';
import { assertUpstreamClosesOnDisconnect, attemptsOf, entryOf, eventually, gateway, pictures, postEdit, type Pictures, type TestApp } from './helpers.js';

const KEY_A = 'fal-primary:0123456789abcdefSECRET';
const KEY_B = 'fal-backup:0123456789abcdefSECRET';
const MODEL = 'fal-ai/flux-pro/kontext';
const A = `a/${MODEL}`;
const B = `b/${MODEL}`;

let pics: Pictures;
let a: FalEmulator;
let b: FalEmulator;
let foreign: FalEmulator;
let t: TestApp;

before(async () => {
  pics = await pictures();
  a = await startFalEmulator({ apiKey: KEY_A, queueMs: 20, processingMs: 80 });
  b = await startFalEmulator({ apiKey: KEY_B, queueMs: 20, processingMs: 80 });
  foreign = await startFalEmulator({ apiKey: KEY_A });
  const fast = { connectMs: 1000, firstByteMs: 400, totalMs: 3000 };
  t = await gateway(
    {
      providers: {
        a: { type: 'fal', baseUrl: a.baseUrl, apiKey: 'env:KEY_A', maxRetries: 1, timeouts: fast, breaker: { failures: 1000, cooldownMs: 1000 } },
        b: { type: 'fal', baseUrl: b.baseUrl, apiKey: 'env:KEY_B', maxRetries: 0, timeouts: fast, breaker: { failures: 1000, cooldownMs: 1000 } },
      },
      models: {
        kontext: { deployments: [{ provider: 'a', model: MODEL }, { provider: 'b', model: MODEL }] },
        'only-a': { deployments: [{ provider: 'a', model: MODEL }] },
      },
    },
    { env: { KEY_A, KEY_B }, logs: true },
  );
});

after(async () => {
  await t.close();
  await Promise.all([a.close(), b.close(), foreign.close()]);
  pics.cleanup();
});

function reset() {
  a.reset();
  b.reset();
  foreign.reset();
}

const isSubmit = (r: { method: string }) => r.method === 'POST';
const isStatus = (r: { method: string; path: string }) => r.method === 'GET' && r.path.endsWith('/status');
const submits = (e: FalEmulator) => e.requests.filter(isSubmit);

const edit = (model: string, extra: { prompt?: string; signal?: AbortSignal } = {}) =>
  postEdit(t, { model, prompt: extra.prompt ?? 'make it warmer', image: pics.square }, extra.signal);

const attempts = async (r: { headers: Headers }) => attemptsOf(await entryOf(t, r.headers.get('x-request-id')));

describe('faults, fal emulator', () => {
  test('429 with Retry-After: 1, then success: one retry, after at least 1 s', async () => {
    reset();
    a.fault({ kind: 'status', status: 429, headers: { 'retry-after': '1' }, body: { detail: 'Too many concurrent requests' } }, { match: isSubmit });
    const r = await edit('only-a');
    assert.equal(r.status, 200);
    assert.ok(r.ms >= 1000, `waited ${r.ms} ms`);
    assert.equal(submits(a).length, 2);
    const e = await entryOf(t, r.headers.get('x-request-id'));
    assert.deepEqual(attemptsOf(e), [[A, 429], [A, 200]]);
    assert.equal(e.attempts[0].reason, 'HTTP 429: Too many concurrent requests');
    assert.ok(Buffer.from(r.body.data[0].b64_json, 'base64').equals(a.emitted.at(-1)!));
  });

  test('500 until the second deployment serves it', async () => {
    reset();
    a.fault({ kind: 'status', status: 500, body: { detail: 'Internal Server Error' } }, { times: Infinity, match: isSubmit });
    const r = await edit('kontext');
    a.clearFaults();
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-imagegate-deployment'), B);
    assert.ok(Buffer.from(r.body.data[0].b64_json, 'base64').equals(b.emitted.at(-1)!));
    assert.deepEqual(await attempts(r), [[A, 500], [A, 500], [B, 200]]);
  });

  test('a hung upstream hits the timeout: 504, not a hang', async () => {
    reset();
    a.fault({ kind: 'hang' }, { times: 2 });
    const r = await edit('only-a');
    assert.equal(r.status, 504);
    assert.equal(r.body.error.code, 'upstream_timeout');
    assert.match(r.body.error.message, /^The deployment of model 'only-a' timed out: a\/fal-ai\/flux-pro\/kontext: no response within 400 ms \(first-byte timeout\) \(2 attempts\)\.$/);
    assert.ok(r.ms < 4000, `answered in ${r.ms} ms`);
    assert.deepEqual(await attempts(r), [[A, null], [A, null]]);
    const used = new Set(a.requests.map((q) => q.connection));
    assert.ok(await eventually(() => a.connections.filter((c) => used.has(c.id)).every((c) => c.closedAt !== null), 2000));
  });

  test('a connection reset in the middle of the body is retried', async () => {
    reset();
    a.fault({ kind: 'reset-mid-body' }, { match: isSubmit });
    const r = await edit('only-a');
    assert.equal(r.status, 200);
    const e = await entryOf(t, r.headers.get('x-request-id'));
    assert.deepEqual(attemptsOf(e), [[A, null], [A, 200]]);
    assert.match(e.attempts[0].reason!, /^connection error/);
  });

  test('malformed JSON is retried, then answered', async () => {
    reset();
    a.fault({ kind: 'malformed', body: '{"status": "IN_QUEUE", "request_id": ' }, { match: isSubmit });
    const r = await edit('only-a');
    assert.equal(r.status, 200);
    const e = await entryOf(t, r.headers.get('x-request-id'));
    assert.deepEqual(attemptsOf(e), [[A, 200], [A, 200]]);
    assert.equal(e.attempts[0].reason, 'malformed response: HTTP 200 with a body that is not JSON (application/json)');
  });

  test('a status answer that fails once does not cost a second request', async () => {
    reset();
    a.fault({ kind: 'status', status: 502, body: 'Bad Gateway' }, { match: isStatus });
    const r = await edit('only-a');
    assert.equal(r.status, 200);
    assert.equal(submits(a).length, 1);
    assert.ok(a.requests.filter(isStatus).length >= 2);
    assert.deepEqual(await attempts(r), [[A, 200]]);
  });

  test('a moderation refusal (has_nsfw_concepts): 400 with the provider\'s reason, no retry, no fallback', async () => {
    reset();
    a.script.push({ kind: 'nsfw' });
    const r = await edit('kontext');
    assert.equal(r.status, 400);
    assert.deepEqual(Object.keys(r.body.error).sort(), ['code', 'message', 'param', 'type']);
    assert.equal(r.body.error.code, 'moderation_blocked');
    assert.equal(r.body.error.type, 'image_generation_user_error');
    assert.equal(r.body.error.message, `Your request was rejected by the safety system of deployment ${A}: the provider's safety checker flagged the image (has_nsfw_concepts)`);
    assert.equal(submits(a).length, 1);
    assert.equal(a.requests.filter((q) => q.path.startsWith('/files/')).length, 0, 'the blacked-out image is not fetched');
    assert.equal(b.requests.length, 0);
    assert.deepEqual(await attempts(r), [[A, null]]);
  });

  test('a content_policy_violation on the result: 400 with the provider\'s reason, no retry, no fallback', async () => {
    reset();
    a.script.push({
      kind: 'error',
      status: 422,
      retryable: false,
      detail: [{ loc: ['body', 'prompt'], msg: 'The content was flagged by a content checker.', type: 'content_policy_violation', url: 'https://docs.fal.ai/errors#content_policy_violation' }],
    });
    const r = await edit('kontext');
    assert.equal(r.status, 400);
    assert.equal(r.body.error.code, 'moderation_blocked');
    assert.equal(r.body.error.message, `Your request was rejected by the safety system of deployment ${A}: prompt: The content was flagged by a content checker.`);
    assert.equal(b.requests.length, 0);
    assert.deepEqual(await attempts(r), [[A, 422]]);
  });

  test('an input the model refuses (422 on the result): 400 with its reason, no retry, no fallback', async () => {
    reset();
    a.script.push({ kind: 'error', status: 422, detail: [{ loc: ['body', 'image_url'], msg: 'Image dimensions are too small. Minimum is 256x256.', type: 'image_too_small' }] });
    const r = await edit('kontext');
    assert.equal(r.status, 400);
    assert.equal(r.body.error.code, 'upstream_rejected');
    assert.equal(r.body.error.message, `Deployment ${A} refused the request: HTTP 422: image_url: Image dimensions are too small. Minimum is 256x256.`);
    assert.equal(submits(a).length, 1);
    assert.equal(b.requests.length, 0);
  });

  test('an async job that errors: retried when fal says it may pass, else the next deployment at once', async () => {
    reset();
    a.script.push({ kind: 'error', status: 500, detail: 'Runner crashed while processing the request', retryable: true });
    const r = await edit('kontext');
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-imagegate-deployment'), A);
    const e = await entryOf(t, r.headers.get('x-request-id'));
    assert.deepEqual(attemptsOf(e), [[A, 500], [A, 200]]);
    assert.equal(e.attempts[0].reason, 'HTTP 500: Runner crashed while processing the request');

    reset();
    a.script.push({ kind: 'error', status: 500, detail: 'Model failed on this input', retryable: false });
    const r2 = await edit('kontext');
    assert.equal(r2.status, 200);
    assert.equal(r2.headers.get('x-imagegate-deployment'), B);
    assert.deepEqual(await attempts(r2), [[A, 500], [B, 200]]);
    assert.equal(submits(a).length, 1, 'not retried on a');
  });

  test('a polling URL on a foreign host is refused without a connection', async () => {
    reset();
    a.options.queueOrigin = foreign.url;
    try {
      const r = await edit('only-a');
      assert.equal(r.status, 503);
      assert.equal(r.body.error.code, 'upstream_unavailable');
      assert.equal(
        r.body.error.message,
        `The deployment of model 'only-a' could not serve the request now: ${A}: refused to follow a URL on 127.0.0.1:${foreign.port}, which is neither the provider's host nor in its trustedHosts.`,
      );
      assert.equal(foreign.requests.length, 0, 'the foreign host saw nothing');
      assert.equal(foreign.connections.length, 0, 'not even a connection');
      assert.equal(a.requests.filter(isStatus).length, 0, 'no status asked anywhere');
      assert.deepEqual(await attempts(r), [[A, null]]);
    } finally {
      a.options.queueOrigin = undefined;
    }
  });

  test('an image URL on a foreign host is refused without a connection', async () => {
    reset();
    a.options.cdnOrigin = foreign.url;
    try {
      const r = await edit('only-a');
      assert.equal(r.status, 503);
      assert.match(r.body.error.message, new RegExp(`refused to follow a URL on 127\\.0\\.0\\.1:${foreign.port}`));
      assert.equal(foreign.connections.length, 0);
    } finally {
      a.options.cdnOrigin = undefined;
    }
  });

  test('every deployment failing: 502 listing each one and its reason, never a key', async () => {
    reset();
    a.fault({ kind: 'status', status: 500, body: { detail: `internal error for key ${KEY_A}` } }, { times: Infinity });
    b.fault({ kind: 'status', status: 401, body: { detail: `No user found for Key ID and Secret ${KEY_B}` } }, { times: Infinity });
    const r = await edit('kontext');
    a.clearFaults();
    b.clearFaults();
    assert.equal(r.status, 502);
    assert.equal(
      r.body.error.message,
      `All 2 deployments of model 'kontext' failed: ${A}: HTTP 500: internal error for key [redacted] (2 attempts); ${B}: HTTP 401: No user found for Key ID and Secret [redacted].`,
    );
    const e = await entryOf(t, r.headers.get('x-request-id'));
    for (const text of [JSON.stringify(r.body), JSON.stringify(e), ...t.logs]) {
      assert.ok(!text.includes(KEY_A) && !text.includes(KEY_B), `a secret leaked: ${text.slice(0, 200)}`);
    }
    assert.ok(t.logs.length > 0, 'the logs were captured');
  });

  test('a client that disconnects: the upstream connection closes within 2 s', async () => {
    reset();
    await assertUpstreamClosesOnDisconnect(t, a, 'only-a', pics.square);
  });
});
